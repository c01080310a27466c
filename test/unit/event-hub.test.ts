// EventHub: one subscription to an `opencode serve` instance's /global/event stream, fanned out to the
// listeners of each opencode session. Driven by a real HTTP server on port 0 that speaks SSE the way
// opencode does (`data: <json>\n\n`, /global/event wrapping each bus event as { directory, payload }).
// No sleeps: every wait is for something observable (a request reaching the server, a marker event
// delivered, a log line written).
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import { EventHub } from '../../src/manager/server/event-hub.js';
import type { BusEvent } from '../../src/opencode-wire/bus-events.js';
import { OpencodeClient } from '../../src/manager/server/opencode-client.js';
import { findFreePort } from '../../src/util/free-port.js';

const basic = (password: string): string => `Basic ${Buffer.from(`opencode:${password}`).toString('base64')}`;

/** One /global/event request the server took. */
class Upstream {
  readonly closed: Promise<unknown>;
  constructor(
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
  ) {
    this.closed = once(res, 'close');
  }

  open(): void {
    this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    this.res.flushHeaders();
  }

  write(raw: string | Buffer): void {
    this.res.write(raw);
  }

  /** One bus event the way /global/event sends it. */
  send(event: BusEvent, directory = '/work/repo'): void {
    this.write(`data: ${JSON.stringify({ directory, payload: event })}\n\n`);
  }
}

type Responder = (upstream: Upstream) => void;

class SseServer extends EventEmitter {
  readonly upstreams: Upstream[] = [];
  /** How to answer the next requests, in order; once empty, each request gets an open stream. */
  readonly plan: Responder[] = [];
  private readonly server: http.Server;
  baseUrl = '';

  constructor() {
    super();
    this.server = http.createServer((req, res) => {
      const upstream = new Upstream(req, res);
      this.upstreams.push(upstream);
      const responder = req.url === '/global/event' ? (this.plan.shift() ?? ((u: Upstream) => u.open())) : notFound;
      responder(upstream);
      this.emit('upstream', upstream);
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The `n`th request (1-based) the server takes, once it has arrived. */
  async upstream(n: number): Promise<Upstream> {
    while (this.upstreams.length < n) await once(this, 'upstream');
    return this.upstreams[n - 1]!;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function notFound(upstream: Upstream): void {
  upstream.res.writeHead(404, { 'content-type': 'text/plain' });
  upstream.res.end('not found');
}

/** A debug logger whose lines the test can wait for. */
class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger;
  private readonly events = new EventEmitter();

  constructor() {
    const stream = new PassThrough();
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let end = pending.indexOf('\n');
      while (end !== -1) {
        this.lines.push(JSON.parse(pending.slice(0, end)) as Record<string, unknown>);
        pending = pending.slice(end + 1);
        end = pending.indexOf('\n');
        this.events.emit('line');
      }
    });
    this.logger = createLogger({ level: 'debug', format: 'json', stream });
  }

  matching(message: string): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line.message === message);
  }

  async waitFor(message: string, count: number): Promise<void> {
    while (this.matching(message).length < count) await once(this.events, 'line');
  }
}

/** Records one session's events and lets the test wait for the next ones. */
class Recorder {
  readonly events: BusEvent[] = [];
  private readonly arrivals = new EventEmitter();
  readonly listener = (event: BusEvent): void => {
    this.events.push(event);
    this.arrivals.emit('event');
  };

  async waitFor(count: number): Promise<BusEvent[]> {
    while (this.events.length < count) await once(this.arrivals, 'event');
    return this.events;
  }
}

const MARKER_SESSION = 'ses_marker';

/**
 * Sends a marker event down `upstream` and waits until the hub delivers it. Events on one stream are
 * dispatched in order, so everything sent before the marker has been dispatched (or dropped) by then.
 */
async function flush(hub: EventHub, upstream: Upstream): Promise<void> {
  const marker = new Recorder();
  const unsubscribe = hub.subscribe(MARKER_SESSION, marker.listener);
  upstream.send({ type: 'session.idle', properties: { sessionID: MARKER_SESSION } });
  await marker.waitFor(1);
  unsubscribe();
}

const INTERRUPTED = 'Event stream interrupted';

/** Every wait is for an event; when a broken hub never produces it, the test fails here instead of hanging. */
const bounded = { timeout: 10_000 };

describe('EventHub', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(password = 'pw'): Promise<{ server: SseServer; hub: EventHub; log: LogCapture; upstream: Upstream }> {
    const server = await new SseServer().listen();
    cleanups.push(() => server.close());
    const log = new LogCapture();
    const hub = new EventHub(new OpencodeClient(server.baseUrl, password), log.logger);
    cleanups.push(() => hub.close());
    await hub.whenConnected();
    return { server, hub, log, upstream: await server.upstream(1) };
  }

  describe('listener faults', () => {
    it('a second call of an old unsubscribe leaves a newer listener of the same session alone', bounded, async () => {
      const { hub, upstream } = await setup();
      const old = new Recorder();
      const unsubscribeOld = hub.subscribe('ses_a', old.listener);
      unsubscribeOld();
      const fresh = new Recorder();
      hub.subscribe('ses_a', fresh.listener);
      unsubscribeOld();
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a' } });
      await flush(hub, upstream);
      assert.equal(fresh.events.length, 1);
      assert.equal(old.events.length, 0);
    });

    it('a listener that throws neither starves the others nor cuts the stream', bounded, async () => {
      const { server, hub, log, upstream } = await setup();
      hub.subscribe('ses_a', () => {
        throw new Error('listener bug');
      });
      const other = new Recorder();
      hub.subscribe('ses_a', other.listener);
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a' } });
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a' } });
      await flush(hub, upstream);
      assert.equal(other.events.length, 2);
      assert.equal(log.matching(INTERRUPTED).length, 0);
      assert.equal(server.upstreams.length, 1, 'no reconnect');
    });
  });

  describe('connecting', () => {
    it('opens GET /global/event with the instance password, and says when it is connected', bounded, async () => {
      const server = await new SseServer().listen();
      cleanups.push(() => server.close());
      const hub = new EventHub(new OpencodeClient(server.baseUrl, 'instance-pw'), new LogCapture().logger);
      cleanups.push(() => hub.close());
      assert.equal(hub.isConnected, false);
      await hub.whenConnected();
      assert.equal(hub.isConnected, true);
      const upstream = await server.upstream(1);
      assert.equal(upstream.req.method, 'GET');
      assert.equal(upstream.req.url, '/global/event');
      assert.equal(upstream.req.headers.authorization, basic('instance-pw'));
      assert.equal(upstream.req.headers.accept, 'text/event-stream');
      assert.equal(server.upstreams.length, 1);
    });

    it('whenConnected waits for the response headers, not just the request', bounded, async () => {
      const server = await new SseServer().listen();
      cleanups.push(() => server.close());
      let release!: () => void;
      server.plan.push((u) => (release = () => u.open()));
      const hub = new EventHub(new OpencodeClient(server.baseUrl, 'pw'), new LogCapture().logger);
      cleanups.push(() => hub.close());
      let connected = false;
      void hub.whenConnected().then(() => (connected = true));
      await server.upstream(1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(connected, false);
      assert.equal(hub.isConnected, false);
      release();
      await hub.whenConnected();
      assert.equal(hub.isConnected, true);
    });
  });

  describe('dispatch', () => {
    it("delivers each event to the listeners of its session, wherever the event keeps the session's id", bounded, async () => {
      const { hub, upstream } = await setup();
      const a = new Recorder();
      const a2 = new Recorder();
      const b = new Recorder();
      hub.subscribe('ses_a', a.listener);
      hub.subscribe('ses_a', a2.listener);
      hub.subscribe('ses_b', b.listener);
      const forA: BusEvent[] = [
        { type: 'session.status', properties: { sessionID: 'ses_a', status: { type: 'busy' } } },
        { type: 'message.part.updated', properties: { part: { id: 'prt_1', sessionID: 'ses_a', type: 'text', text: 'hi' } } },
        { type: 'message.updated', properties: { info: { id: 'msg_1', sessionID: 'ses_a', role: 'assistant' } } },
        { type: 'custom.event', properties: { message: { sessionID: 'ses_a' } } },
        { type: 'session.updated', properties: { info: { id: 'ses_a', title: 'renamed' } } },
      ];
      for (const event of forA) upstream.send(event);
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_b' } });
      await flush(hub, upstream);
      assert.deepEqual(a.events, forA);
      assert.deepEqual(a2.events, forA);
      assert.deepEqual(b.events, [{ type: 'session.idle', properties: { sessionID: 'ses_b' } }]);
    });

    it('accepts the unwrapped /event form too, and gives listeners { type, properties } without the directory', bounded, async () => {
      const { hub, upstream } = await setup();
      const a = new Recorder();
      hub.subscribe('ses_a', a.listener);
      upstream.write(`data: ${JSON.stringify({ type: 'session.idle', properties: { sessionID: 'ses_a' } })}\n\n`);
      upstream.write(
        `data: ${JSON.stringify({ directory: '/x', payload: { type: 'session.error', properties: { sessionID: 'ses_a', error: { name: 'E' } } } })}\n\n`,
      );
      await a.waitFor(2);
      assert.deepEqual(a.events, [
        { type: 'session.idle', properties: { sessionID: 'ses_a' } },
        { type: 'session.error', properties: { sessionID: 'ses_a', error: { name: 'E' } } },
      ]);
      assert.equal('directory' in a.events[1]!, false);
    });

    it("does not take an id from a non-session event's info.id", bounded, async () => {
      const { hub, upstream } = await setup();
      const a = new Recorder();
      hub.subscribe('msg_1', a.listener);
      upstream.send({ type: 'message.updated', properties: { info: { id: 'msg_1' } } });
      await flush(hub, upstream);
      assert.deepEqual(a.events, []);
    });

    it('skips malformed and foreign lines without dropping the stream', bounded, async () => {
      const { server, hub, upstream, log } = await setup();
      const a = new Recorder();
      const everything = new Recorder();
      hub.subscribe('ses_a', a.listener);
      // Ids a hub could make up for an event without one.
      hub.subscribe('undefined', everything.listener);
      hub.subscribe('', everything.listener);
      upstream.write('data: not json\n\n');
      upstream.write('data: {"type":"session.idle","properties":{"sessionID":"ses_a"}\n\n'); // truncated JSON
      upstream.write('data: ["session.idle"]\n\n');
      upstream.write('data: "session.idle"\n\n');
      upstream.write('data: null\n\n');
      upstream.write('data: 42\n\n');
      upstream.write('data: {"properties":{"sessionID":"ses_a"}}\n\n'); // no type
      upstream.write('data: {"type":7,"properties":{"sessionID":"ses_a"}}\n\n');
      upstream.write('data: {"payload":{"properties":{"sessionID":"ses_a"}}}\n\n'); // wrapped, no type
      upstream.write('data: {"type":"server.connected","properties":{}}\n\n'); // no session
      upstream.write('data: {"type":"session.idle","properties":{"sessionID":42}}\n\n');
      upstream.write(': keep-alive comment\n\n');
      upstream.write('event: ping\nid: 7\nretry: 1000\n\n'); // no data line
      upstream.write('\n\n\n');
      upstream.write('garbage without a field name\n\n');
      await flush(hub, upstream);
      assert.deepEqual(a.events, []);
      assert.deepEqual(everything.events, []);
      // The stream survived all of it: same connection, still connected, nothing logged as a failure.
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a' } });
      await a.waitFor(1);
      assert.equal(hub.isConnected, true);
      assert.equal(server.upstreams.length, 1);
      assert.deepEqual(log.matching(INTERRUPTED), []);
    });

    it('an event whose properties are missing or not an object has no session and is skipped', bounded, async () => {
      const { hub, upstream } = await setup();
      const a = new Recorder();
      hub.subscribe('ses_a', a.listener);
      upstream.write('data: {"type":"session.idle","properties":"ses_a"}\n\n');
      upstream.write('data: {"type":"session.idle"}\n\n');
      await flush(hub, upstream);
      assert.deepEqual(a.events, []);
    });

    it('reassembles events split across chunks (mid-line and mid-character), CRLF lines, named events and multi-line data', bounded, async () => {
      const { hub, upstream } = await setup();
      const a = new Recorder();
      hub.subscribe('ses_a', a.listener);
      const text = 'grüße 👋';
      const bytes = Buffer.from(`data: ${JSON.stringify({ type: 'message.part.updated', properties: { part: { sessionID: 'ses_a', text } } })}\n\n`);
      const inEmoji = bytes.indexOf(Buffer.from('👋')) + 2;
      upstream.write(bytes.subarray(0, 10));
      upstream.write(bytes.subarray(10, inEmoji));
      upstream.write(bytes.subarray(inEmoji, bytes.length - 1));
      upstream.write(bytes.subarray(bytes.length - 1));
      upstream.write('event: message\r\ndata: {"type":"session.idle",\r\ndata: "properties":{"sessionID":"ses_a"}}\r\n\r\n');
      upstream.write(
        'data: {"type":"session.status","properties":{"sessionID":"ses_a"}}\n\ndata: {"type":"session.compacted","properties":{"sessionID":"ses_a"}}\n\n',
      );
      await a.waitFor(4);
      assert.deepEqual(
        a.events.map((e) => e.type),
        ['message.part.updated', 'session.idle', 'session.status', 'session.compacted'],
      );
      assert.equal((a.events[0]!.properties.part as { text: string }).text, text);
    });
  });

  describe('subscribe and unsubscribe', () => {
    it("stops delivering to a listener once it unsubscribes; the session's other listeners keep theirs", bounded, async () => {
      const { hub, upstream } = await setup();
      const first = new Recorder();
      const second = new Recorder();
      const unsubscribeFirst = hub.subscribe('ses_a', first.listener);
      hub.subscribe('ses_a', second.listener);
      upstream.send({ type: 'session.status', properties: { sessionID: 'ses_a', n: 1 } });
      await second.waitFor(1);
      unsubscribeFirst();
      upstream.send({ type: 'session.status', properties: { sessionID: 'ses_a', n: 2 } });
      await second.waitFor(2);
      await flush(hub, upstream);
      assert.deepEqual(
        first.events.map((e) => e.properties.n),
        [1],
      );
      assert.deepEqual(
        second.events.map((e) => e.properties.n),
        [1, 2],
      );
    });

    it('a session whose last listener left can be subscribed again', bounded, async () => {
      const { hub, upstream } = await setup();
      const before = new Recorder();
      hub.subscribe('ses_a', before.listener)();
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a', n: 1 } });
      await flush(hub, upstream);
      assert.deepEqual(before.events, []);
      const again = new Recorder();
      hub.subscribe('ses_a', again.listener);
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a', n: 2 } });
      await again.waitFor(1);
      assert.deepEqual(again.events, [{ type: 'session.idle', properties: { sessionID: 'ses_a', n: 2 } }]);
      assert.deepEqual(before.events, []);
    });

    it('a listener may unsubscribe itself while an event is being delivered', bounded, async () => {
      const { hub, upstream } = await setup();
      const seen: string[] = [];
      const unsubscribeOnce = hub.subscribe('ses_a', () => {
        seen.push('once');
        unsubscribeOnce();
      });
      const always = new Recorder();
      hub.subscribe('ses_a', always.listener);
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a' } });
      upstream.send({ type: 'session.idle', properties: { sessionID: 'ses_a' } });
      await always.waitFor(2);
      assert.deepEqual(seen, ['once']);
    });
  });

  describe('reconnecting', () => {
    it("reconnects when the stream ends, and the same subscribers get the new stream's events", bounded, async () => {
      const { server, hub, upstream } = await setup();
      const a = new Recorder();
      hub.subscribe('ses_a', a.listener);
      let connectedWhileReconnecting: boolean | undefined;
      server.plan.push((u) => {
        connectedWhileReconnecting = hub.isConnected;
        u.open();
      });
      upstream.res.end();
      const second = await server.upstream(2);
      assert.equal(connectedWhileReconnecting, false, 'isConnected is false between streams');
      assert.equal(second.req.headers.authorization, basic('pw'));
      second.send({ type: 'session.idle', properties: { sessionID: 'ses_a' } });
      await a.waitFor(1);
      assert.equal(hub.isConnected, true);
      assert.equal(server.upstreams.length, 2);
    });

    it('reconnects after the connection is cut mid-stream', bounded, async () => {
      const { server, hub, upstream, log } = await setup();
      const a = new Recorder();
      hub.subscribe('ses_a', a.listener);
      upstream.write('data: {"type":"session.idle","prop'); // half an event, then the socket dies
      upstream.req.socket.destroy();
      const second = await server.upstream(2);
      second.send({ type: 'session.idle', properties: { sessionID: 'ses_a', n: 2 } });
      await a.waitFor(1);
      assert.deepEqual(a.events, [{ type: 'session.idle', properties: { sessionID: 'ses_a', n: 2 } }]);
      await log.waitFor(INTERRUPTED, 1);
      assert.equal(log.matching(INTERRUPTED).length, 1);
    });

    it('keeps retrying after a non-2xx answer; whenConnected waits for a stream that opens', bounded, async () => {
      const server = await new SseServer().listen();
      cleanups.push(() => server.close());
      server.plan.push(
        (u) => {
          u.res.writeHead(503, { 'content-type': 'text/plain' });
          u.res.end('starting');
        },
        (u) => {
          u.res.writeHead(401, { 'content-type': 'text/plain' });
          u.res.end('no');
        },
      );
      const log = new LogCapture();
      const hub = new EventHub(new OpencodeClient(server.baseUrl, 'pw'), log.logger);
      cleanups.push(() => hub.close());
      let connected = false;
      void hub.whenConnected().then(() => (connected = true));
      await log.waitFor(INTERRUPTED, 2);
      assert.equal(connected, false);
      await hub.whenConnected();
      assert.equal(server.upstreams.length, 3);
      const interrupted = log.matching(INTERRUPTED);
      assert.match(String(interrupted[0]!.error), /503.*starting/);
      assert.match(String(interrupted[1]!.error), /401/);
      assert.equal(interrupted[0]!.level, 'debug');
    });

    it('keeps retrying while nothing listens, until closed; close() resolves whenConnected', bounded, async () => {
      const port = await findFreePort();
      const log = new LogCapture();
      const hub = new EventHub(new OpencodeClient(`http://127.0.0.1:${port}`, 'pw'), log.logger);
      cleanups.push(() => hub.close());
      let connected = false;
      void hub.whenConnected().then(() => (connected = true));
      await log.waitFor(INTERRUPTED, 2);
      assert.equal(connected, false);
      assert.equal(hub.isConnected, false);
      hub.close();
      await hub.whenConnected();
      assert.equal(hub.isConnected, false);
    });
  });

  describe('close', () => {
    it('ends the upstream request, logs no failure, stops delivering and does not reconnect', bounded, async () => {
      const server = await new SseServer().listen();
      cleanups.push(() => server.close());
      const log = new LogCapture();
      const closing = new EventHub(new OpencodeClient(server.baseUrl, 'closing'), log.logger);
      cleanups.push(() => closing.close());
      await closing.whenConnected();
      // A second hub on the same server that stays open: its reconnect pause is the yardstick for
      // "the closed hub would have reconnected by now".
      const control = new EventHub(new OpencodeClient(server.baseUrl, 'control'), new LogCapture().logger);
      cleanups.push(() => control.close());
      await control.whenConnected();
      const closingUpstream = await server.upstream(1);
      const controlUpstream = await server.upstream(2);
      assert.equal(closingUpstream.req.headers.authorization, basic('closing'));

      const a = new Recorder();
      closing.subscribe('ses_a', a.listener);
      closing.close();
      await closingUpstream.closed;
      assert.equal(closing.isConnected, false);
      await closing.whenConnected();

      controlUpstream.res.end();
      const controlAgain = await server.upstream(3);
      assert.equal(controlAgain.req.headers.authorization, basic('control'), 'only the open hub reconnected');
      await flush(control, controlAgain);
      assert.equal(server.upstreams.length, 3);
      assert.deepEqual(a.events, []);
      assert.deepEqual(log.matching(INTERRUPTED), []);
    });

    it('abandons a connection that has not answered yet, and resolves whenConnected', bounded, async () => {
      const server = await new SseServer().listen();
      cleanups.push(() => server.close());
      server.plan.push(() => undefined); // takes the request, never answers
      const hub = new EventHub(new OpencodeClient(server.baseUrl, 'pw'), new LogCapture().logger);
      cleanups.push(() => hub.close());
      const upstream = await server.upstream(1);
      hub.close();
      await hub.whenConnected();
      await upstream.closed;
      assert.equal(hub.isConnected, false);
    });

    it('is idempotent', bounded, async () => {
      const { hub, upstream } = await setup();
      hub.close();
      hub.close();
      await upstream.closed;
      await hub.whenConnected();
      assert.equal(hub.isConnected, false);
    });
  });
});
