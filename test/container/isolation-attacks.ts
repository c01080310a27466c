// Container test, isolation: runs the image as Kubernetes would (uid 1000, read-only root, no added
// capabilities, podman's default seccomp profile) with its bundled opencode against the stub model
// on the host, and has session A's agent run the attack list of test/helpers/isolation-attacks.ts
// against session B, the service and a canary process. Prints one line per attack; exits 1 on any
// leak, planted file or failed legitimate work.
//   node --import tsx test/container/isolation-attacks.ts IMAGE
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import { parseToolOutputs, startStubLlm, toolMessage } from '../fixtures/stub-llm/server.mjs';
import { attacks, legitimateWork, PLANTED_FILES, SUCCESS_MARKERS } from '../helpers/isolation-attacks.js';
import { findFreePort } from '../../src/util/free-port.js';

const image = process.argv[2];
if (image === undefined) throw new Error('usage: isolation-attacks.ts IMAGE');
const say = (line: string): void => void process.stdout.write(`[container] isolation: ${line}\n`);
const podman = (...args: string[]): string => execFileSync('podman', args, { encoding: 'utf8' }).trim();
const secret = (what: string): string => `${what}-${randomBytes(8).toString('hex')}`;

const secrets = {
  token: randomBytes(16).toString('hex'),
  victimFile: secret('VICTIM-FILE'),
  victimWords: secret('VICTIM-WORDS'),
  canaryEnv: secret('CANARY-ENV'),
  providerKey: secret('sk-PROVIDER-KEY'),
};
const stub = await startStubLlm();
const port = await findFreePort();
const name = `ocpm-test-isolation-${process.pid}`;
const base = `http://127.0.0.1:${port}`;
const config = JSON.stringify(stubOpencodeConfig(stub.baseURL, { permission: { '*': 'allow' } })).replace('"apiKey":"x"', `"apiKey":"${secrets.providerKey}"`);
let failed = 0;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${secrets.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(180_000),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function send(session: string, text: string): Promise<string> {
  const answer = await api('POST', `/api/sessions/${session}/messages`, { text });
  if (answer.status !== 200) throw new Error(`message to ${session}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return String(answer.body.text);
}

try {
  // Host network: the container reaches the stub on the host's loopback; nothing is published.
  podman(
    'run',
    '-d',
    '--name',
    name,
    '--network=host',
    '--read-only',
    '--tmpfs',
    '/tmp:rw,exec,mode=1777',
    '-v',
    `${name}-home:/home/node`,
    '-v',
    `${name}-workspaces:/workspaces`,
    '-v',
    `${name}-data:/data`,
    '--cap-drop=all',
    '--security-opt=no-new-privileges',
    '-e',
    `PORT=${port}`,
    '-e',
    'HOST=127.0.0.1',
    '-e',
    `OCPM_API_TOKEN=${secrets.token}`,
    '-e',
    'OCPM_ISOLATION=required',
    '-e',
    `OPENCODE_CONFIG_CONTENT=${config}`,
    image,
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    const ready = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline || podman('inspect', name, '--format', '{{.State.Running}}') !== 'true') {
      throw new Error(`the container never got ready:\n${spawnSync('podman', ['logs', name], { encoding: 'utf8' }).stdout.slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const status = (await api('GET', '/api/opencode/status')).body;
  if (status.isolation?.enforced !== true) throw new Error(`isolation is not enforced in the image: ${JSON.stringify(status.isolation)}`);
  say(`ready; status isolation ${JSON.stringify(status.isolation)}; uid ${podman('exec', name, 'id', '-u')}`);

  for (const id of ['a', 'b']) {
    const put = await api('PUT', `/api/sessions/${id}`, { workspace: id });
    if (put.status !== 201) throw new Error(`PUT ${id}: ${put.status}`);
  }
  podman('exec', name, 'sh', '-c', `printf %s '${secrets.victimFile}' > /workspaces/b/secret.txt`);
  podman('exec', '-d', name, 'env', `CANARY=${secrets.canaryEnv}`, 'sleep', '600');
  const canaryPid = Number(podman('exec', name, 'sh', '-c', `grep -l '${secrets.canaryEnv}' /proc/[0-9]*/environ 2>/dev/null | head -n1 | cut -d/ -f3`));
  await send('b', `remember ${secrets.victimWords} MARK:b`);

  const targets = {
    victimWorkspace: '/workspaces/b',
    victimRelative: '../b',
    dataDir: '/data',
    servicePid: 1,
    canaryPid,
    victimFile: 'secret.txt',
    servicePort: 3000,
  };
  const forbidden = [...Object.values(secrets), 'OPENCODE_SERVER_PASSWORD', 'OPENCODE_CONFIG_CONTENT', ...SUCCESS_MARKERS];
  for (const attack of attacks(targets)) {
    const answer = await send('a', attack.message);
    const leaked = forbidden.filter((word) => answer.includes(word));
    const ran = parseToolOutputs(answer).length > 0;
    if (leaked.length > 0 || !ran) failed += 1;
    say(`${leaked.length > 0 ? 'LEAK' : ran ? 'blocked' : 'NO TOOL OUTPUT'}: ${attack.name}${leaked.length > 0 ? ` (${answer.slice(0, 500)})` : ''}`);
  }
  // opencode's own process holds only the gateway's key: its read tool prints its environment, directly
  // or through a link the agent planted, and the operator's key and the stub's address are not in it.
  await send('a', toolMessage('bash', 'ln -sf /proc/self/environ own-environ'));
  for (const [what, path] of [
    ['its environment', '/proc/self/environ'],
    ['a planted link to it', '/workspaces/a/own-environ'],
  ] as const) {
    const answer = await send('a', toolMessage('read', path));
    const leaked = [secrets.providerKey, `:${stub.port}`].filter((word) => answer.includes(word));
    const read = answer.includes('ocpm-vk-');
    if (leaked.length > 0 || !read) failed += 1;
    say(
      `${leaked.length > 0 ? 'LEAK' : read ? 'no key' : 'NOT READ'}: opencode's read tool on ${what}${leaked.length > 0 || !read ? ` (${answer.slice(0, 300)})` : ''}`,
    );
  }
  if (!stub.calls.every((received) => received.headers.authorization === `Bearer ${secrets.providerKey}`)) {
    failed += 1;
    say('the stub model did not always receive the real key');
  }
  const planted = podman('exec', name, 'ls', '/workspaces/b')
    .split('\n')
    .filter((file) => PLANTED_FILES.includes(file));
  if (planted.length > 0) {
    failed += 1;
    say(`PLANTED in B's workspace: ${planted.join(', ')}`);
  }
  if (podman('exec', name, 'sh', '-c', `kill -0 ${canaryPid} && echo alive`) !== 'alive') {
    failed += 1;
    say('the canary process was killed');
  }
  for (const work of legitimateWork('/workspaces/a')) {
    const answer = await send('a', work.message);
    const ok = answer.includes(work.expect);
    if (!ok) failed += 1;
    say(`${ok ? 'works' : 'BROKEN'}: ${work.name}${ok ? '' : ` (${answer.slice(0, 500)})`}`);
  }
  const again = await send('b', 'again MARK:b2');
  if (again !== 'stub answer user_messages=2 marker=b2') {
    failed += 1;
    say(`B's conversation did not continue: ${again}`);
  }
} catch (error) {
  failed += 1;
  say(`FAIL: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  spawnSync('podman', ['rm', '-f', '-t', '5', name], { stdio: 'ignore' });
  spawnSync('podman', ['volume', 'rm', '-f', `${name}-workspaces`, `${name}-data`, `${name}-home`], { stdio: 'ignore' });
  await stub.close();
}
say(failed === 0 ? 'PASS: no leak, nothing planted, own work succeeds' : `FAIL: ${failed} problem(s)`);
process.exit(failed === 0 ? 0 : 1);
