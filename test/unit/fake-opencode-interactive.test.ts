// The fake opencode's interactive-turn knobs (test/fixtures/fake-opencode/README.md, "Interactive turns"):
// real child processes of the fake, real HTTP on port 0, waits on events (no sleeps).
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAKE_OPENCODE } from '../helpers/fixtures.js';

interface Wrapped {
  directory?: string;
  payload: { type: string; properties: Record<string, any> };
}

function request(base: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(new URL(p, base), { method, headers: data ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout ${method} ${p}`)));
    req.on('error', reject);
    req.end(data);
  });
}

describe('fake opencode: interactive turns', () => {
  let tmp: string;
  let ws: string;
  let child: ChildProcessWithoutNullStreams;
  let base: string;
  let stream: http.ClientRequest;
  const events: Wrapped[] = [];
  const waiters: { pred: (e: Wrapped) => boolean; resolve: (e: Wrapped) => void }[] = [];
  const D = () => `directory=${encodeURIComponent(ws)}`;

  /** The first event (from index `from`) that matches. */
  function next(pred: (e: Wrapped) => boolean, from = 0): Promise<Wrapped> {
    const found = events.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => waiters.push({ pred, resolve }));
  }
  const ofType = (type: string, sessionID?: string) => (e: Wrapped) =>
    e.payload.type === type && (sessionID === undefined || e.payload.properties.sessionID === sessionID);
  const idle = (sessionID: string) => (e: Wrapped) =>
    e.payload.type === 'session.status' && e.payload.properties.sessionID === sessionID && e.payload.properties.status.type === 'idle';

  async function newSession(): Promise<string> {
    const r = await request(base, 'POST', `/session?${D()}`, { title: 't' });
    assert.equal(r.status, 200);
    return r.json.id;
  }
  function send(sessionID: string, text: string) {
    return request(base, 'POST', `/session/${sessionID}/message?${D()}`, { parts: [{ type: 'text', text }] });
  }

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fake-interactive-'));
    ws = path.join(tmp, 'ws');
    child = spawn(FAKE_OPENCODE, ['serve', '--hostname', '127.0.0.1', '--port', '0'], {
      env: { ...process.env, HOME: tmp, XDG_DATA_HOME: path.join(tmp, 'data'), TMPDIR: tmp, OPENCODE_SERVER_PASSWORD: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    base = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`fake exited ${code}`)));
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
    });
    await new Promise<void>((resolve) => {
      stream = http.get(new URL('/global/event', base), (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (!line.startsWith('data: ')) continue;
            const e = JSON.parse(line.slice(6)) as Wrapped;
            if (e.payload.type === 'server.connected') resolve();
            events.push(e);
            for (const w of [...waiters]) {
              if (w.pred(e)) {
                waiters.splice(waiters.indexOf(w), 1);
                w.resolve(e);
              }
            }
          }
        });
      });
    });
  });
  after(async () => {
    stream?.destroy();
    child?.kill('SIGKILL');
    await rm(tmp, { recursive: true, force: true });
  });

  it('permission asked -> GET /permission lists it -> reply once -> the answer says permission=once', async () => {
    const sid = await newSession();
    const from = events.length;
    const answer = send(sid, 'hello\n#fake ask patterns=git%20push');
    await next(ofType('session.status', sid), from);
    const asked = await next(ofType('permission.asked', sid), from);
    const req = asked.payload.properties;
    assert.equal(asked.directory, path.resolve(ws));
    assert.match(req.id, /^per_/);
    assert.deepEqual(
      { permission: req.permission, patterns: req.patterns, metadata: req.metadata, always: req.always },
      { permission: 'bash', patterns: ['git push'], metadata: { command: 'git push' }, always: ['git *'] },
    );
    assert.match(req.tool.messageID, /^msg_/);
    const listed = await request(base, 'GET', `/permission?${D()}`);
    assert.deepEqual(
      listed.json.map((r: any) => r.id),
      [req.id],
    );
    const reply = await request(base, 'POST', `/permission/${req.id}/reply?${D()}`, { reply: 'once' });
    assert.deepEqual(reply, { status: 200, json: true });
    const replied = await next(ofType('permission.replied', sid), from);
    assert.deepEqual(replied.payload.properties, { sessionID: sid, requestID: req.id, reply: 'once' });
    const r = await answer;
    assert.equal(r.status, 200);
    assert.equal(r.json.info.error, undefined);
    assert.equal(r.json.info.finish, 'stop');
    assert.match(r.json.parts.find((p: any) => p.type === 'text').text, /: hello \[permission=once\]$/);
    await next(idle(sid), from);
    assert.deepEqual((await request(base, 'GET', `/permission?${D()}`)).json, []);
    // answered id: 404 like the real server
    const again = await request(base, 'POST', `/permission/${req.id}/reply?${D()}`, { reply: 'once' });
    assert.equal(again.status, 404);
    assert.deepEqual(again.json, { _tag: 'PermissionNotFoundError', requestID: req.id, message: `Permission request not found: ${req.id}` });
  });

  it('reject without a message ends the turn: no text, no error, finish tool-calls', async () => {
    const sid = await newSession();
    const from = events.length;
    const answer = send(sid, 'hello\n#fake ask');
    const asked = await next(ofType('permission.asked', sid), from);
    await request(base, 'POST', `/permission/${asked.payload.properties.id}/reply?${D()}`, { reply: 'reject' });
    const r = await answer;
    assert.equal(r.json.info.error, undefined);
    assert.equal(r.json.info.finish, 'tool-calls');
    assert.equal(
      r.json.parts.some((p: any) => p.type === 'text'),
      false,
    );
    const tool = r.json.parts.find((p: any) => p.type === 'tool');
    assert.equal(tool.state.status, 'error');
    assert.equal(tool.state.error, 'The user rejected permission to use this specific tool call.');
    await next(idle(sid), from);
  });

  it('reject with a message: the turn goes on and the answer carries the feedback', async () => {
    const sid = await newSession();
    const from = events.length;
    const answer = send(sid, 'hello\n#fake ask');
    const asked = await next(ofType('permission.asked', sid), from);
    await request(base, 'POST', `/permission/${asked.payload.properties.id}/reply?${D()}`, { reply: 'reject', message: 'use ls' });
    const r = await answer;
    assert.match(r.json.parts.find((p: any) => p.type === 'text').text, /\[permission=reject: use ls\]$/);
  });

  it('a subagent asks: session.created of the child carries parentID, the request carries the child id', async () => {
    const sid = await newSession();
    const from = events.length;
    const answer = send(sid, 'hello\n#fake ask subagent');
    const created = await next((e) => e.payload.type === 'session.created' && e.payload.properties.info.parentID === sid, from);
    const childId = created.payload.properties.sessionID;
    const asked = await next(ofType('permission.asked', childId), from);
    await request(base, 'POST', `/permission/${asked.payload.properties.id}/reply?${D()}`, { reply: 'once' });
    const r = await answer;
    assert.match(r.json.parts.find((p: any) => p.type === 'text').text, new RegExp(`\\[subagent=${childId}\\] \\[permission=once\\]$`));
    await next(idle(childId), from);
  });

  it('question asked -> reply with answers -> question.replied, the answer includes the answers', async () => {
    const sid = await newSession();
    const from = events.length;
    const answer = send(sid, 'pick\n#fake question=Which%20color? options=red,blue');
    const asked = await next(ofType('question.asked', sid), from);
    const q = asked.payload.properties;
    assert.deepEqual(
      q.questions.map((x: any) => [x.question, x.options.map((o: any) => o.label)]),
      [['Which color?', ['red', 'blue']]],
    );
    assert.deepEqual(
      (await request(base, 'GET', `/question?${D()}`)).json.map((x: any) => x.id),
      [q.id],
    );
    assert.deepEqual(await request(base, 'POST', `/question/${q.id}/reply?${D()}`, { answers: [['blue']] }), { status: 200, json: true });
    const replied = await next(ofType('question.replied', sid), from);
    assert.deepEqual(replied.payload.properties, { sessionID: sid, requestID: q.id, answers: [['blue']] });
    const r = await answer;
    assert.match(r.json.parts.find((p: any) => p.type === 'text').text, /\[answers=\[\["blue"\]\]\]$/);
  });

  it('question rejected -> question.rejected, the turn ends without text', async () => {
    const sid = await newSession();
    const from = events.length;
    const answer = send(sid, 'pick\n#fake question');
    const asked = await next(ofType('question.asked', sid), from);
    assert.deepEqual(await request(base, 'POST', `/question/${asked.payload.properties.id}/reject?${D()}`), { status: 200, json: true });
    await next(ofType('question.rejected', sid), from);
    const r = await answer;
    assert.equal(r.json.info.finish, 'tool-calls');
    assert.equal(r.json.parts.find((p: any) => p.type === 'tool').state.error, 'The user dismissed this question');
  });

  it('abort while a permission is pending: MessageAbortedError, idle, the request stays listed (as on the real server)', async () => {
    const sid = await newSession();
    const from = events.length;
    const answer = send(sid, 'hello\n#fake ask');
    const asked = await next(ofType('permission.asked', sid), from);
    assert.deepEqual(await request(base, 'POST', `/session/${sid}/abort?${D()}`), { status: 200, json: true });
    const r = await answer;
    assert.equal(r.json.info.error.name, 'MessageAbortedError');
    const tool = r.json.parts.find((p: any) => p.type === 'tool');
    assert.deepEqual([tool.state.status, tool.state.error, tool.state.metadata], ['error', 'Tool execution aborted', { interrupted: true }]);
    await next(idle(sid), from);
    const id = asked.payload.properties.id;
    assert.deepEqual(
      (await request(base, 'GET', `/permission?${D()}`)).json.map((x: any) => x.id),
      [id],
    );
    assert.equal(
      events.slice(from).some((e) => e.payload.type === 'permission.replied'),
      false,
    );
    // a late reply is still accepted and only emits permission.replied
    assert.deepEqual(await request(base, 'POST', `/permission/${id}/reply?${D()}`, { reply: 'reject' }), { status: 200, json: true });
    await next(ofType('permission.replied', sid), from);
  });

  it('unknown ids: 404 with the real bodies; a bad reply value: 400', async () => {
    const p = await request(base, 'POST', `/permission/per_nope/reply?${D()}`, { reply: 'once' });
    assert.deepEqual(p, { status: 404, json: { _tag: 'PermissionNotFoundError', requestID: 'per_nope', message: 'Permission request not found: per_nope' } });
    const q = await request(base, 'POST', `/question/que_nope/reply?${D()}`, { answers: [] });
    assert.deepEqual(q, { status: 404, json: { _tag: 'QuestionNotFoundError', requestID: 'que_nope', message: 'Question request not found: que_nope' } });
    const qr = await request(base, 'POST', `/question/que_nope/reject?${D()}`);
    assert.equal(qr.status, 404);
    const bad = await request(base, 'POST', `/permission/per_nope/reply?${D()}`, { reply: 'maybe' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.name, 'BadRequest');
  });

  it('run: ask is auto-rejected (stderr line, exit 0, no text); --auto approves it', async () => {
    const run = (extra: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(FAKE_OPENCODE, ['run', '--format', 'json', '--dir', tmp, ...extra], {
          cwd: tmp,
          env: { ...process.env, PWD: tmp, HOME: tmp, XDG_DATA_HOME: path.join(tmp, 'data'), TMPDIR: tmp },
        });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('close', (code) => resolve({ code, stdout, stderr }));
        c.stdin.end('hi\n#fake ask patterns=echo%20x\n');
      });
    const rejected = await run([]);
    assert.equal(rejected.code, 0);
    assert.equal(rejected.stderr, '\x1b[93m\x1b[1m! \x1b[0mpermission requested: bash (echo x); auto-rejecting\n');
    const lines = rejected.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.type),
      ['step_start', 'tool_use', 'step_finish'],
    );
    assert.equal(lines[1].part.state.error, 'The user rejected permission to use this specific tool call.');
    assert.equal(lines[2].part.reason, 'tool-calls');
    const approved = await run(['--auto']);
    assert.equal(approved.code, 0);
    assert.equal(approved.stderr, '');
    const types = approved.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      types.map((l) => l.type),
      ['step_start', 'tool_use', 'step_finish', 'step_start', 'text', 'step_finish'],
    );
    assert.match(types[4].part.text, /\[permission=auto\]$/);
  });
});
