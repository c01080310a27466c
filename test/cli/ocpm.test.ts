// ocpm as an operator runs it: a child process through the bin's launcher (bin/ocpm.mjs), against the
// real service on port 0 with the fake opencode. Routes other branches add (reset, restart-instance,
// the sessions list's state filter) are tested when this service's OpenAPI document has them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT, makeTempDir } from '../helpers/fixtures.js';
import { TEST_API_TOKEN, call, callOk } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

const LAUNCHER = path.join(PROJECT_ROOT, 'bin', 'ocpm.mjs');

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ocpm args…` with only the environment given (plus PATH/HOME), from `cwd`. */
function ocpm(args: readonly string[], env: Record<string, string>, cwd: string): Promise<CliRun> {
  const child = spawn(process.execPath, [LAUNCHER, ...args], {
    cwd,
    // The source, not a dist/ a past `npm run build` may have left behind.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, OCPM_CLI_FROM_SOURCE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The columns line up: between every two header cells there is a gap of 2+ positions that is blank
 * on every row (numbers are right-aligned, text left-aligned, so cell starts alone do not tell).
 */
function assertAligned(table: string, firstHeader: string): void {
  const lines = table.split('\n').filter((line) => line !== '');
  const header = lines.findIndex((line) => line.startsWith(firstHeader));
  assert.ok(header >= 0, `a table with header ${firstHeader} in:\n${table}`);
  const headerLine = lines[header] ?? '';
  const rows = lines.slice(header + 1).filter((line) => /^\S/.test(line) && !line.startsWith('('));
  assert.ok(rows.length > 0, 'the table has rows');
  const blank = (at: number): boolean => [headerLine, ...rows].every((line) => (line[at] ?? ' ') === ' ');
  let gaps = 0;
  for (let at = 0, run = 0; at < headerLine.length; at++) {
    run = blank(at) ? run + 1 : 0;
    if (run === 2) gaps++;
  }
  const cells = headerLine.trim().split(/ {2,}/).length;
  assert.equal(gaps, cells - 1, `${cells} aligned columns in:\n${table}`);
}

describe('ocpm against a per-message service', () => {
  let svc: TestService;
  let token: string;
  let cwd: { dir: string; remove: () => Promise<void> };
  let env: Record<string, string>;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

  before(async () => {
    // No OCPM_API_TOKEN: the service generates its token in the data dir, where ocpm looks last.
    svc = await startTestService({ OCPM_API_TOKEN: '' });
    token = (await readFile(path.join(svc.dataDir, 'api-token'), 'utf8')).trim();
    cwd = await makeTempDir('cli');
    env = { OCPM_URL: svc.url, OCPM_API_TOKEN: token };
    await callOk(`${svc.url}/api/sessions/alpha`, 'PUT', { workspace: 'alpha' }, auth());
    await callOk(`${svc.url}/api/sessions/alpha/messages`, 'POST', { text: 'hello' }, auth());
    await callOk(`${svc.url}/api/sessions/beta`, 'PUT', { workspace: 'beta' }, auth());
  });

  after(async () => {
    await svc?.close();
    await cwd?.remove();
  });

  it('status prints an aligned key/value table, and --json the raw answer', async () => {
    const table = await ocpm(['status'], env, cwd.dir);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^state {2,}ready$/m);
    assert.match(table.stdout, /^mode {2,}per-session/m);
    assert.match(table.stdout, /^sessions {2,}2$/m);
    assert.doesNotMatch(table.stdout, /summary only/);
    const values = table.stdout
      .trim()
      .split('\n')
      .map((line) => /^\S.*? {2,}(?=\S)/.exec(line)?.[0].length);
    assert.equal(new Set(values).size, 1, `every value starts in the same column:\n${table.stdout}`);

    const json = await ocpm(['status', '--json', '--url', svc.url], { OCPM_API_TOKEN: token }, cwd.dir);
    assert.equal(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout);
    assert.equal(status.detail, 'full');
    assert.equal(status.state, 'ready');
    assert.equal(status.sessions, 2);
  });

  it('status finds the token in the data dir as the other commands do', async () => {
    const fromDataDir = await ocpm(['status'], { OCPM_URL: svc.url, OCPM_DATA_DIR: svc.dataDir }, cwd.dir);
    assert.equal(fromDataDir.code, 0, fromDataDir.stderr);
    assert.match(fromDataDir.stdout, /^sessions {2,}2$/m);
  });

  it('status without a token, or with a wrong one, prints the summary the service answers and says so', async () => {
    // cwd has no data/api-token: no token is found, and status goes on without one.
    const none = await ocpm(['status'], { OCPM_URL: svc.url }, cwd.dir);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /^state {2,}ready$/m);
    assert.match(none.stdout, /^mode {2,}per-session$/m);
    assert.doesNotMatch(none.stdout, /^(sessions|running turns|usage) /m);
    assert.match(none.stdout, /^\(summary only: no API token found; set OCPM_API_TOKEN or pass --token-file for the full status\)$/m);
    const json = JSON.parse((await ocpm(['status', '--json'], { OCPM_URL: svc.url }, cwd.dir)).stdout);
    assert.equal(json.detail, 'summary');
    assert.equal(json.sessions, undefined);

    const wrong = await ocpm(['status'], { OCPM_URL: svc.url, OCPM_API_TOKEN: 'not-the-token' }, cwd.dir);
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.match(wrong.stdout, /^\(summary only: the service did not accept the API token\)$/m);

    // A token source the operator names must work, as for every command.
    const missingFile = await ocpm(['status', '--token-file', 'nosuch-token-file'], { OCPM_URL: svc.url }, cwd.dir);
    assert.equal(missingFile.code, 3);
    assert.match(missingFile.stderr, /^ocpm: no API token: cannot read \S+nosuch-token-file /);
  });

  it('sessions lists every session in aligned columns; --json is the service answer', async () => {
    const table = await ocpm(['sessions'], env, cwd.dir);
    assert.equal(table.code, 0, table.stderr);
    assertAligned(table.stdout, 'ID');
    assert.match(table.stdout, /^alpha +idle +\S*alpha +1 /m);
    assert.match(table.stdout, /^beta +idle /m);

    const json = await ocpm(['sessions', '--json'], env, cwd.dir);
    assert.deepEqual(JSON.parse(json.stdout), await callOk(`${svc.url}/api/sessions`, 'GET', undefined, auth()));
  });

  it('session <id> shows one session; an unknown one is the service error on one line, exit 1', async () => {
    const shown = await ocpm(['session', 'alpha'], env, cwd.dir);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^id {2,}alpha$/m);
    assert.match(shown.stdout, /^messages {2,}1$/m);
    assert.match(shown.stdout, /^opencode session {2,}ses_/m);

    const missing = await ocpm(['session', 'nosuch'], env, cwd.dir);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^ocpm: session_not_found: No session nosuch\n$/);
  });

  it('abort <id> ends a running turn; a second abort is session_idle, exit 1', async () => {
    await callOk(`${svc.url}/api/sessions/hanging`, 'PUT', { workspace: 'hanging' }, auth());
    const turn = call(`${svc.url}/api/sessions/hanging/messages`, 'POST', { text: 'wait\n#fake hang' }, auth());
    await waitFor('the turn to run', async () =>
      (await callOk(`${svc.url}/api/sessions/hanging`, 'GET', undefined, auth())).busy === true ? true : undefined,
    );

    const aborted = await ocpm(['abort', 'hanging'], env, cwd.dir);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.match(aborted.stdout, /aborted the running turn of hanging/);
    const answer = await turn;
    assert.equal(answer.status, 409);
    assert.equal(answer.body.error.code, 'aborted');

    const again = await ocpm(['abort', 'hanging'], env, cwd.dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^ocpm: session_idle: [^\n]*\n$/);
  });

  it('takes the token from --token-file, from OCPM_DATA_DIR, and from ./data by default', async () => {
    const file = path.join(cwd.dir, 'token');
    await writeFile(file, `# ops token\n${token}\n`);
    const fromFile = await ocpm(['sessions', '--token-file', file], { OCPM_URL: svc.url }, cwd.dir);
    assert.equal(fromFile.code, 0, fromFile.stderr);

    const fromDataDir = await ocpm(['sessions'], { OCPM_URL: svc.url, OCPM_DATA_DIR: svc.dataDir }, cwd.dir);
    assert.equal(fromDataDir.code, 0, fromDataDir.stderr);

    // The service's default data dir is ./data: run where the service's data dir is ./data.
    assert.equal(path.basename(svc.dataDir), 'data');
    const fromDefault = await ocpm(['sessions'], { OCPM_URL: svc.url }, path.dirname(svc.dataDir));
    assert.equal(fromDefault.code, 0, fromDefault.stderr);
    assert.match(fromDefault.stdout, /^alpha /m);
  });

  it('a wrong token is one unauthorized line, exit 1; no token at all is exit 3', async () => {
    const wrong = await ocpm(['sessions'], { OCPM_URL: svc.url, OCPM_API_TOKEN: 'not-the-token' }, cwd.dir);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^ocpm: unauthorized: [^\n]*\n$/);

    const none = await ocpm(['sessions'], { OCPM_URL: svc.url }, cwd.dir);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /^ocpm: no API token: cannot read \S+api-token [^\n]*\n$/);
  });

  it('an unreachable service is exit 3, naming the URL tried and how to give another; an unknown command or option exit 2', async () => {
    // A port that was just listened on and closed again: nothing listens there.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve, reject) => closed.close((error) => (error ? reject(error) : resolve())));
    const url = `http://127.0.0.1:${port}`;
    const hint = "pass --url <url> or set the OCPM_URL environment variable to the service's address";

    const fromFlag = await ocpm(['status', '--url', url], {}, cwd.dir);
    assert.equal(fromFlag.code, 3);
    assert.equal(fromFlag.stdout, '');
    assert.equal(fromFlag.stderr, `ocpm: cannot reach the service at ${url} (from --url): ECONNREFUSED, nothing listens there; ${hint}\n`);

    // Through OCPM_URL, with a path prefix, for a command that needs the token: the same, naming its source.
    const fromEnv = await ocpm(['sessions'], { OCPM_URL: `${url}/ops`, OCPM_API_TOKEN: token }, cwd.dir);
    assert.equal(fromEnv.code, 3);
    assert.equal(fromEnv.stderr, `ocpm: cannot reach the service at ${url}/ops (from OCPM_URL): ECONNREFUSED, nothing listens there; ${hint}\n`);

    for (const args of [['frobnicate'], ['status', '--bogus'], ['session'], ['sessions', '--limit', 'x'], []]) {
      const run = await ocpm(args, env, cwd.dir);
      assert.equal(run.code, 2, `ocpm ${args.join(' ')}`);
      assert.match(run.stderr, /^ocpm: [^\n]+\nRun `ocpm --help` for usage\.\n$/, `ocpm ${args.join(' ')}`);
    }
  });

  it('--help lists every command with the exit codes; each command has its own help', async () => {
    const overview = await ocpm(['--help'], {}, cwd.dir);
    assert.equal(overview.code, 0);
    const commands = ['status', 'sessions', 'session', 'abort', 'reset', 'pending', 'answer', 'instances', 'restart-instance', 'usage'];
    for (const command of commands) assert.match(overview.stdout, new RegExp(`^ {2}${command}\\b`, 'm'));
    assert.match(overview.stdout, /^ {2}3 {2}the service cannot be reached/m);
    const asked = commands.flatMap((command) => [
      ['help', command],
      [command, '--help'],
    ]);
    // Independent child processes: run them side by side.
    const helps = await Promise.all(asked.map((args) => ocpm(args, {}, cwd.dir)));
    helps.forEach((help, i) => {
      const args = asked[i] ?? [];
      const command = args[0] === 'help' ? args[1] : args[0];
      assert.equal(help.code, 0, `ocpm ${args.join(' ')}`);
      assert.match(help.stdout, new RegExp(`^Usage: ocpm ${command}\\b`), `ocpm ${args.join(' ')}`);
      assert.match(help.stdout, /^Exit codes:$/m);
    });
  });

  it('usage prints a row per session, with totals when the service reports them', async () => {
    const run = await ocpm(['usage'], env, cwd.dir);
    assert.equal(run.code, 0, run.stderr);
    assertAligned(run.stdout, 'SESSION');
    assert.match(run.stdout, /^alpha /m);
    const status = await callOk(`${svc.url}/api/opencode/status`, 'GET', undefined, auth());
    if (status.usage === undefined) assert.match(run.stdout, /this service reports no usage totals/);
    else assert.match(run.stdout, /^TOTAL /m);
    const json = JSON.parse((await ocpm(['usage', '--json'], env, cwd.dir)).stdout);
    assert.deepEqual(json.totals, status.usage ?? null);
    assert.ok(json.sessions.some((session: { id: string }) => session.id === 'alpha'));
  });

  it('reset <id> starts the session over', async () => {
    const before = await callOk(`${svc.url}/api/sessions/alpha`, 'GET', undefined, auth());
    const run = await ocpm(['reset', 'alpha'], env, cwd.dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^reset alpha$/m);
    const after = await callOk(`${svc.url}/api/sessions/alpha`, 'GET', undefined, auth());
    assert.notEqual(after.opencodeSessionId, before.opencodeSessionId);
  });

  it('pending with nothing asked says so; an unknown session or request is the service error, exit 1', async () => {
    const none = await ocpm(['pending'], env, cwd.dir);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'no pending requests\n');
    const oneSession = await ocpm(['pending', 'beta'], env, cwd.dir);
    assert.equal(oneSession.stdout, 'no pending requests in session beta\n');
    assert.deepEqual(JSON.parse((await ocpm(['pending', 'beta', '--json'], env, cwd.dir)).stdout), { permissions: [], questions: [] });

    const missing = await ocpm(['pending', 'nosuch'], env, cwd.dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ocpm: session_not_found: No session nosuch\n$/);
    const unknown = await ocpm(['answer', 'beta', 'per_nosuch', 'once'], env, cwd.dir);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^ocpm: request_not_found: [^\n]*per_nosuch[^\n]*\n$/);
  });

  it('sessions --state filters', async () => {
    const busy = await ocpm(['sessions', '--state', 'busy'], env, cwd.dir);
    assert.equal(busy.code, 0, busy.stderr);
    assert.doesNotMatch(busy.stdout, /^alpha /m);
    const paged = JSON.parse((await ocpm(['sessions', '--limit', '1', '--json'], env, cwd.dir)).stdout);
    assert.equal(paged.sessions.length, 1);
    assert.equal(paged.limit, 1);
    assert.ok(paged.total >= 2);
  });
});

describe('ocpm against a server-mode service', () => {
  let svc: TestService;
  let cwd: { dir: string; remove: () => Promise<void> };
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_POOL_SIZE: '2' });
    cwd = await makeTempDir('cli');
  });
  after(async () => {
    await svc?.close();
    await cwd?.remove();
  });

  it('instances shows each pool instance, with its pid, in aligned columns (it sends the token)', async () => {
    const status = await waitFor('two instances', async () => {
      const body = await callOk(`${svc.url}/api/opencode/status`, 'GET');
      return body.processManager.instances?.length === 2 && body.processManager.instances.every((i: { pid: unknown }) => typeof i.pid === 'number')
        ? body
        : undefined;
    });
    const env = { OCPM_URL: svc.url, OCPM_API_TOKEN: TEST_API_TOKEN };
    const run = await ocpm(['instances'], env, cwd.dir);
    assert.equal(run.code, 0, run.stderr);
    assertAligned(run.stdout, 'ID');
    for (const instance of status.processManager.instances) assert.match(run.stdout, new RegExp(`^${instance.id} +${instance.pid} `, 'm'));
    const json = JSON.parse((await ocpm(['instances', '--json'], env, cwd.dir)).stdout);
    assert.equal(json.processManager.instances.length, 2);
  });

  it('instances without a token is exit 3, with a refused one exit 1: the summary lists no instances', async () => {
    const none = await ocpm(['instances'], { OCPM_URL: svc.url }, cwd.dir);
    assert.equal(none.code, 3);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^ocpm: no API token found: the status without one lists no instances; [^\n]*\n$/);
    const wrong = await ocpm(['instances', '--json'], { OCPM_URL: svc.url, OCPM_API_TOKEN: 'not-the-token' }, cwd.dir);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, '');
    assert.match(wrong.stderr, /^ocpm: unauthorized: the service did not accept the API token [^\n]*\n$/);
  });

  it('pending lists the permission requests and questions turns wait on; answer … once lets the turn finish', async () => {
    const env = { OCPM_URL: svc.url, OCPM_API_TOKEN: TEST_API_TOKEN };
    const pendingOf = (id: string): Promise<{ permissions: Array<{ id: string }>; questions: Array<{ id: string }> }> =>
      callOk(`${svc.url}/api/sessions/${id}/pending`, 'GET');
    for (const id of ['asker', 'quiz']) await callOk(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id });
    // The fake opencode's knobs: a bash call that asks a permission, and a question with two options.
    const turn = call(`${svc.url}/api/sessions/asker/messages`, 'POST', { text: '#fake ask patterns=echo%20hi\nplease' });
    const quiz = call(`${svc.url}/api/sessions/quiz/messages`, 'POST', { text: '#fake question=Which%20colour%3F options=red,blue\npick' });
    const requestId = await waitFor('the permission request', async () => (await pendingOf('asker')).permissions[0]?.id);
    const questionId = await waitFor('the question', async () => (await pendingOf('quiz')).questions[0]?.id);
    await waitFor('both sessions to wait on the user', async () => {
      const { sessions } = await callOk(`${svc.url}/api/sessions`, 'GET');
      return sessions.filter((session: { waitingOnUser: boolean }) => session.waitingOnUser).length === 2;
    });

    const listed = await ocpm(['pending'], env, cwd.dir);
    assert.equal(listed.code, 0, listed.stderr);
    assertAligned(listed.stdout, 'SESSION');
    assert.match(listed.stdout, /^SESSION +REQUEST +KIND +ASKS +EXPIRES$/m);
    assert.match(listed.stdout, new RegExp(`^asker +${requestId} +permission +bash: echo hi +in \\d+[smh]$`, 'm'));
    assert.match(listed.stdout, new RegExp(`^quiz +${questionId} +question +Which colour\\? \\[red, blue\\] +in \\d+[smh]$`, 'm'));
    const one = await ocpm(['pending', 'asker'], env, cwd.dir);
    assert.match(one.stdout, new RegExp(`^asker +${requestId} +permission `, 'm'));
    assert.doesNotMatch(one.stdout, /^quiz /m);
    assert.deepEqual(JSON.parse((await ocpm(['pending', 'asker', '--json'], env, cwd.dir)).stdout), await pendingOf('asker'));
    const all = JSON.parse((await ocpm(['pending', '--json'], env, cwd.dir)).stdout);
    assert.deepEqual(
      all.permissions.map((request: { id: string }) => request.id),
      [requestId],
    );
    assert.deepEqual(
      all.questions.map((request: { id: string }) => request.id),
      [questionId],
    );

    // Bad arguments are usage errors, and nothing is sent: the request is still pending afterwards.
    for (const args of [
      ['answer', 'asker', requestId, 'maybe'],
      ['answer', 'asker', requestId],
      ['answer', 'asker', requestId, 'once', '--message', 'why'],
      ['answer', 'asker', requestId, 'once', 'extra'],
    ]) {
      const run = await ocpm(args, env, cwd.dir);
      assert.equal(run.code, 2, `ocpm ${args.join(' ')}`);
      assert.match(run.stderr, /^ocpm: [^\n]+\nRun `ocpm --help` for usage\.\n$/, `ocpm ${args.join(' ')}`);
    }
    assert.deepEqual(
      (await pendingOf('asker')).permissions.map((request) => request.id),
      [requestId],
    );

    const answered = await ocpm(['answer', 'asker', requestId, 'once'], env, cwd.dir);
    assert.equal(answered.code, 0, answered.stderr);
    assert.equal(answered.stdout, `answered permission request ${requestId} of session asker: once\n`);
    const done = await turn;
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.match(done.body.text as string, /: please \[permission=once\]$/);
    const again = await ocpm(['answer', 'asker', requestId, 'once'], env, cwd.dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^ocpm: request_already_answered: [^\n]+\n$/);

    // reject --message reaches the model: the fake's turn goes on and ends with it.
    const second = call(`${svc.url}/api/sessions/asker/messages`, 'POST', { text: '#fake ask patterns=echo%20bye\nagain' });
    const secondId = await waitFor('the second permission request', async () => (await pendingOf('asker')).permissions[0]?.id);
    const rejected = await ocpm(['answer', 'asker', secondId, 'reject', '--message', 'use printf', '--json'], env, cwd.dir);
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.deepEqual(JSON.parse(rejected.stdout), { id: secondId, reply: 'reject' });
    const secondDone = await second;
    assert.equal(secondDone.status, 200, JSON.stringify(secondDone.body));
    assert.match(secondDone.body.text as string, /\[permission=reject: use printf\]$/);

    // The question is not a permission: answer refuses it (the service's error); the API rejects it here.
    const notPermission = await ocpm(['answer', 'quiz', questionId, 'once'], env, cwd.dir);
    assert.equal(notPermission.code, 1);
    assert.match(notPermission.stderr, /^ocpm: request_not_found: /);
    await callOk(`${svc.url}/api/sessions/quiz/questions/${questionId}`, 'POST', { reject: true });
    assert.equal((await quiz).status, 403);
    const none = await ocpm(['pending'], env, cwd.dir);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'no pending requests\n');
  });

  it('restart-instance <name> restarts one', async () => {
    const { processManager } = await callOk(`${svc.url}/api/opencode/status`, 'GET');
    const name: string = processManager.instances[0].id;
    const run = await ocpm(['restart-instance', name], { OCPM_URL: svc.url, OCPM_API_TOKEN: TEST_API_TOKEN }, cwd.dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^${name} `, 'm'));
  });
});
