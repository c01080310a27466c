// OpencodeClient against a real HTTP server on port 0: what each call sends (method, path, directory
// query, basic auth, JSON body), what it makes of the answer, and how failures come out (non-2xx,
// the web UI's HTML, timeouts, aborts, nothing listening).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { OpencodeClient, OpencodeHttpError, classifyHealthFailure, neverConnected } from '../../src/manager/server/opencode-client.js';
import { findFreePort } from '../../src/util/free-port.js';

interface Seen {
  readonly method: string;
  readonly pathname: string;
  readonly query: Record<string, string>;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

function json(res: http.ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** A broken client may leave a request hanging: the test then fails on this bound. */
const bounded = { timeout: 10_000 };

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('OpencodeClient', () => {
  const seen: Seen[] = [];
  let handler: Handler = (_req, res) => json(res, 200, true);
  let server: http.Server;
  let baseUrl: string;
  let client: OpencodeClient;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const entry: Seen = {
          method: req.method ?? '',
          pathname: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        seen.push(entry);
        handler(req, res, entry);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new OpencodeClient(baseUrl, 's3cret');
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
    handler = (_req, res) => json(res, 200, true);
  });

  function only(): Seen {
    assert.equal(seen.length, 1, `expected one request, saw ${seen.length}`);
    return seen[0]!;
  }

  describe('requests', () => {
    it('sends basic auth as user "opencode" by default, or the given user, on every request', bounded, async () => {
      handler = (_req, res) => json(res, 200, { healthy: true, version: '1.2.3' });
      await client.health(5_000);
      assert.equal(only().headers.authorization, basic('opencode', 's3cret'));
      seen.length = 0;
      await new OpencodeClient(baseUrl, 'pw2', 'alice').health(5_000);
      assert.equal(only().headers.authorization, basic('alice', 'pw2'));
    });

    it('health: GET /global/health, no body, asks for JSON, and reads healthy and version', bounded, async () => {
      handler = (_req, res) => json(res, 200, { healthy: true, version: '1.2.3' });
      assert.deepEqual(await client.health(5_000), { healthy: true, version: '1.2.3' });
      const request = only();
      assert.equal(request.method, 'GET');
      assert.equal(request.pathname, '/global/health');
      assert.deepEqual(request.query, {});
      assert.equal(request.headers.accept, 'application/json');
      assert.equal(request.headers['content-type'], undefined);
      assert.equal(request.body, '');
    });

    it('health: only a literal `healthy: true` counts, and a missing version is undefined', bounded, async () => {
      handler = (_req, res) => json(res, 200, { healthy: 'true', version: 7 });
      assert.deepEqual(await client.health(5_000), { healthy: false, version: undefined });
      handler = (_req, res) => json(res, 200, [true]);
      assert.deepEqual(await client.health(5_000), { healthy: false, version: undefined });
    });

    it('createSession: POST /session?directory=… with a JSON title, answering the new id', bounded, async () => {
      handler = (_req, res) => json(res, 200, { id: 'ses_abc', title: 'x' });
      const directory = '/work/space with spaces/ünï&x=1';
      assert.equal(await client.createSession(directory, 'My title', 5_000), 'ses_abc');
      const request = only();
      assert.equal(request.method, 'POST');
      assert.equal(request.pathname, '/session');
      assert.deepEqual(request.query, { directory });
      assert.equal(request.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(request.body), { title: 'My title' });
    });

    it('createSession: an answer without a string id is an error', bounded, async () => {
      handler = (_req, res) => json(res, 200, { id: 42 });
      await assert.rejects(client.createSession('/d', 't', 5_000), /without an id/);
    });

    it('sendMessage: POST /session/<encoded id>/message?directory=… with the message, answering info and the object parts', bounded, async () => {
      handler = (_req, res) => json(res, 200, { info: { id: 'msg_1', role: 'assistant' }, parts: [{ type: 'text', text: 'hi' }, 'junk', null, 3] });
      const message = { parts: [{ type: 'text' as const, text: 'hello' }], model: { providerID: 'p', modelID: 'm' }, agent: 'build' };
      const answer = await client.sendMessage('ses/1?x', '/repo', message, AbortSignal.timeout(5_000));
      assert.deepEqual(answer, { info: { id: 'msg_1', role: 'assistant' }, parts: [{ type: 'text', text: 'hi' }] });
      const request = only();
      assert.equal(request.method, 'POST');
      assert.equal(request.pathname, '/session/ses%2F1%3Fx/message');
      assert.deepEqual(request.query, { directory: '/repo' });
      assert.deepEqual(JSON.parse(request.body), message);
    });

    it('sendMessage: an answer without info is an error; missing parts are an empty list', bounded, async () => {
      handler = (_req, res) => json(res, 200, { parts: [] });
      await assert.rejects(client.sendMessage('s', '/d', { parts: [] }, AbortSignal.timeout(5_000)), /without info/);
      handler = (_req, res) => json(res, 200, { info: { id: 'm' } });
      assert.deepEqual(await client.sendMessage('s', '/d', { parts: [] }, AbortSignal.timeout(5_000)), { info: { id: 'm' }, parts: [] });
    });

    it('abortSession, deleteSession and disposeDirectory: method, path and directory, no body', bounded, async () => {
      await client.abortSession('ses 1', '/a', 5_000);
      await client.deleteSession('ses 2', '/b', 5_000);
      await client.disposeDirectory('/c', 5_000);
      assert.deepEqual(
        seen.map((s) => [s.method, s.pathname, s.query, s.body]),
        [
          ['POST', '/session/ses%201/abort', { directory: '/a' }, ''],
          ['DELETE', '/session/ses%202', { directory: '/b' }, ''],
          ['POST', '/instance/dispose', { directory: '/c' }, ''],
        ],
      );
    });

    it('replyPermission: POST /permission/<encoded id>/reply?directory=… with the reply, and the message only when given', bounded, async () => {
      await client.replyPermission('per/1', '/repo', 'once', undefined, 5_000);
      await client.replyPermission('per_2', '/repo two', 'reject', 'Not in this workspace', 5_000);
      assert.deepEqual(
        seen.map((s) => [s.method, s.pathname, s.query, JSON.parse(s.body) as unknown, s.headers['content-type']]),
        [
          ['POST', '/permission/per%2F1/reply', { directory: '/repo' }, { reply: 'once' }, 'application/json'],
          ['POST', '/permission/per_2/reply', { directory: '/repo two' }, { reply: 'reject', message: 'Not in this workspace' }, 'application/json'],
        ],
      );
    });

    it('replyQuestion and rejectQuestion: POST /question/<id>/reply with the answers, /reject with no body', bounded, async () => {
      await client.replyQuestion('que 1', '/q', [['Yes'], ['red', 'blue'], []], 5_000);
      await client.rejectQuestion('que 2', '/q', 5_000);
      assert.deepEqual(
        seen.map((s) => [s.method, s.pathname, s.query, s.body === '' ? '' : (JSON.parse(s.body) as unknown)]),
        [
          ['POST', '/question/que%201/reply', { directory: '/q' }, { answers: [['Yes'], ['red', 'blue'], []] }],
          ['POST', '/question/que%202/reject', { directory: '/q' }, ''],
        ],
      );
    });

    it('sessionStatus: GET /session/status?directory=…, answering each session status type (malformed entries left out)', bounded, async () => {
      handler = (_req, res) =>
        json(res, 200, { ses_a: { type: 'busy' }, ses_b: { type: 'retry', attempt: 2, message: 'x', next: 1 }, ses_c: 'idle', ses_d: { kind: 'busy' } });
      assert.deepEqual(await client.sessionStatus('/s', 5_000), { ses_a: 'busy', ses_b: 'retry' });
      const request = only();
      assert.equal(request.method, 'GET');
      assert.equal(request.pathname, '/session/status');
      assert.deepEqual(request.query, { directory: '/s' });
      assert.equal(request.body, '');
      handler = (_req, res) => json(res, 200, [1, 2]);
      assert.deepEqual(await client.sessionStatus('/s', 5_000), {});
    });

    it('the directory goes as the `directory` query only: no x-opencode-directory header (one server, many directories)', bounded, async () => {
      await client.abortSession('s', '/only/query', 5_000);
      await client.sessionStatus('/only/query', 5_000);
      for (const request of seen) {
        assert.equal(request.headers['x-opencode-directory'], undefined);
        assert.deepEqual(request.query, { directory: '/only/query' });
        assert.equal(request.headers.authorization, basic('opencode', 's3cret'));
      }
      assert.equal(seen.length, 2);
    });

    it('request: extra query parameters, and an empty JSON answer is undefined', bounded, async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end();
      };
      assert.equal(await client.request('GET', '/x', { query: { a: '1', b: 'two words' } }), undefined);
      assert.deepEqual(only().query, { a: '1', b: 'two words' });
    });

    it('openGlobalEvents: GET /global/event asking for an event stream, answering the body', bounded, async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('data: {"type":"server.connected","properties":{}}\n\n');
      };
      const body = await client.openGlobalEvents(AbortSignal.timeout(5_000));
      assert.equal(await new Response(body).text(), 'data: {"type":"server.connected","properties":{}}\n\n');
      const request = only();
      assert.equal(request.method, 'GET');
      assert.equal(request.pathname, '/global/event');
      assert.equal(request.headers.accept, 'text/event-stream');
      assert.equal(request.headers.authorization, basic('opencode', 's3cret'));
    });
  });

  describe('failures', () => {
    it('a non-2xx answer is an OpencodeHttpError with status, path and body, classified bad_status', bounded, async () => {
      handler = (_req, res) => json(res, 404, { name: 'NotFoundError', data: { message: 'Session not found' } });
      const error = await client.deleteSession('gone', '/d', 5_000).then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof OpencodeHttpError);
      assert.equal(error.status, 404);
      assert.equal(error.path, '/session/gone');
      assert.match(error.bodyText, /Session not found/);
      assert.match(error.message, /opencode answered 404 to \/session\/gone: .*Session not found/);
      assert.equal(classifyHealthFailure(error), 'bad_status');
      assert.equal(neverConnected(error), false);
    });

    it('replies and status: a non-2xx answer is an OpencodeHttpError with the path and the body as sent', bounded, async () => {
      const body = '{"name":"NotFoundError","data":{"message":"Permission request per_x not found"}}';
      handler = (_req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(body);
      };
      const calls: [() => Promise<unknown>, string][] = [
        [() => client.replyPermission('per_x', '/d', 'always', undefined, 5_000), '/permission/per_x/reply'],
        [() => client.replyQuestion('que_x', '/d', [['a']], 5_000), '/question/que_x/reply'],
        [() => client.rejectQuestion('que_x', '/d', 5_000), '/question/que_x/reject'],
        [() => client.sessionStatus('/d', 5_000), '/session/status'],
      ];
      for (const [call, path] of calls) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(error instanceof OpencodeHttpError);
          assert.equal(error.status, 404);
          assert.equal(error.path, path);
          assert.equal(error.bodyText, body);
          assert.equal(neverConnected(error), false);
          return true;
        });
      }
    });

    it('a 5xx with a large body keeps the body but bounds the message', bounded, async () => {
      const big = 'E'.repeat(5_000);
      handler = (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(big);
      };
      await assert.rejects(client.health(5_000), (error: unknown) => {
        assert.ok(error instanceof OpencodeHttpError);
        assert.equal(error.status, 500);
        assert.equal(error.bodyText, big);
        assert.ok(error.message.length < 400, `message is ${error.message.length} chars`);
        return true;
      });
    });

    it('a 200 that is not JSON (the web UI answering an unknown route) is an OpencodeHttpError', bounded, async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>opencode</title>');
      };
      await assert.rejects(client.createSession('/d', 't', 5_000), (error: unknown) => {
        assert.ok(error instanceof OpencodeHttpError);
        assert.equal(error.status, 200);
        assert.equal(error.path, '/session');
        assert.match(error.bodyText, /doctype html/);
        return true;
      });
    });

    it('openGlobalEvents: a non-2xx answer is an OpencodeHttpError for /global/event', bounded, async () => {
      handler = (_req, res) => {
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end('Unauthorized');
      };
      await assert.rejects(client.openGlobalEvents(AbortSignal.timeout(5_000)), (error: unknown) => {
        assert.ok(error instanceof OpencodeHttpError);
        assert.equal(error.status, 401);
        assert.equal(error.path, '/global/event');
        assert.equal(error.bodyText, 'Unauthorized');
        return true;
      });
    });

    it('times out on a server that takes the request and never answers, classified timeout', bounded, async () => {
      let answer: (() => void) | undefined;
      handler = (_req, res) => (answer = () => json(res, 200, { healthy: true }));
      const started = performance.now();
      const error = await client.health(150).then(
        () => assert.fail('expected a timeout'),
        (e: unknown) => e,
      );
      const elapsed = performance.now() - started;
      answer?.();
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'TimeoutError');
      assert.equal(classifyHealthFailure(error), 'timeout');
      assert.equal(neverConnected(error), false, 'the request reached the server');
      assert.equal(seen.length, 1);
      assert.ok(elapsed >= 140, `gave up after ${elapsed.toFixed(0)} ms, before the 150 ms timeout`);
    });

    it('the timeout also bounds a body that never finishes', bounded, async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":');
      };
      await assert.rejects(client.createSession('/d', 't', 150), (error: unknown) => error instanceof Error && error.name === 'TimeoutError');
    });

    it("the caller's signal aborts a request in flight (sendMessage has no timeout of its own)", bounded, async () => {
      const controller = new AbortController();
      handler = () => controller.abort(new Error('the run was cancelled'));
      await assert.rejects(client.sendMessage('s', '/d', { parts: [] }, controller.signal), /the run was cancelled/);
      assert.equal(seen.length, 1);
    });

    it('either a timeout or the signal ends a request, whichever comes first', bounded, async () => {
      handler = () => undefined;
      const controller = new AbortController();
      const pending = client.request('GET', '/slow', { timeoutMs: 60_000, signal: controller.signal });
      await new Promise<void>((resolve) => server.once('request', () => resolve()));
      controller.abort();
      await assert.rejects(pending, (error: unknown) => error instanceof Error && error.name === 'AbortError');
      await assert.rejects(
        client.request('GET', '/slow', { timeoutMs: 100, signal: new AbortController().signal }),
        (error: unknown) => error instanceof Error && error.name === 'TimeoutError',
      );
    });

    it('nothing listening: the replies, the status and sendMessage are never connected too', bounded, async () => {
      const port = await findFreePort();
      const dead = new OpencodeClient(`http://127.0.0.1:${port}`, 'pw');
      const calls: (() => Promise<unknown>)[] = [
        () => dead.replyPermission('p', '/d', 'once', undefined, 5_000),
        () => dead.replyQuestion('q', '/d', [['a']], 5_000),
        () => dead.rejectQuestion('q', '/d', 5_000),
        () => dead.sessionStatus('/d', 5_000),
        () => dead.sendMessage('s', '/d', { parts: [] }, AbortSignal.timeout(5_000)),
      ];
      for (const call of calls) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(!(error instanceof OpencodeHttpError));
          assert.equal(neverConnected(error), true, String(error));
          return true;
        });
      }
    });

    it('nothing listening: a refused connection, classified refused and never connected', bounded, async () => {
      const port = await findFreePort();
      const error = await new OpencodeClient(`http://127.0.0.1:${port}`, 'pw').health(5_000).then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof Error);
      assert.ok(!(error instanceof OpencodeHttpError));
      assert.equal(classifyHealthFailure(error), 'refused');
      assert.equal(neverConnected(error), true);
    });
  });
});
