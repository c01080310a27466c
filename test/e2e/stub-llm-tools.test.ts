// The stub model's `TOOL:<kind>:<base64url>` triggers against the REAL opencode binary (no service in
// between): the model calls opencode's own bash/read/write tools and echoes what came back, which is
// what the isolation suite builds on. Also the stub's HTTP answers for a tool turn, without opencode.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import {
  decideAnswer,
  parseToolOutput,
  parseToolOutputs,
  startStubLlm,
  toolMessage,
  TOOL_CALL_DESCRIPTION,
  type StubLlm,
} from '../fixtures/stub-llm/server.mjs';
import { makeTempDir, PROJECT_ROOT } from '../helpers/fixtures.js';
import { pidsWithEnv } from '../helpers/processes.js';

const OPENCODE = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'opencode');
const RUN_TIMEOUT_MS = 120_000;

interface RunResult {
  code: number | null;
  events: Array<Record<string, any>>;
  stderr: string;
  /** The text of the last `text` event (the final answer). */
  answer: string;
}

describe('stub LLM TOOL: triggers with the real opencode', () => {
  let stub: StubLlm;
  let temp: { dir: string; remove: () => Promise<void> };
  let workspace: string;
  const tag = `STUB_LLM_TOOLS_TEST_TAG=${randomUUID()}`;

  before(async () => {
    stub = await startStubLlm();
    temp = await makeTempDir('stub-llm-tools');
    workspace = path.join(temp.dir, 'ws');
    await mkdir(workspace, { recursive: true });
    await writeFile(path.join(workspace, 'marker.txt'), 'marker-content-42\n');
  });
  after(async () => {
    await stub.close();
    assert.deepEqual(pidsWithEnv(tag), [], 'no opencode process or tool child is left');
    await temp.remove();
  });

  /** One `opencode run --format json` turn, message on stdin (closed), private HOME/XDG/TMPDIR. */
  async function runOpencode(message: string): Promise<RunResult> {
    const home = path.join(temp.dir, 'home');
    const tmp = path.join(temp.dir, `tmp-${randomUUID()}`);
    await mkdir(home, { recursive: true });
    await mkdir(tmp, { recursive: true });
    const [tagName, tagValue] = tag.split('=') as [string, string];
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_DATA_HOME: `${home}/.local/share`,
      XDG_CONFIG_HOME: `${home}/.config`,
      XDG_STATE_HOME: `${home}/.local/state`,
      XDG_CACHE_HOME: `${home}/.cache`,
      TMPDIR: tmp,
      PWD: workspace,
      OPENCODE_CONFIG_CONTENT: JSON.stringify(stubOpencodeConfig(stub.baseURL, { permission: { '*': 'allow' } })),
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_SHARE: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
      [tagName]: tagValue,
    };
    const child = spawn(OPENCODE, ['run', '--format', 'json', '--dir', workspace, '--title', 'stub-llm-tools'], {
      cwd: workspace,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(message);
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    const [code] = (await once(child, 'close')) as [number | null];
    clearTimeout(timer);
    const events = stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, any>);
    const texts = events.filter((e) => e.type === 'text');
    return { code, events, stderr, answer: (texts.at(-1)?.part?.text as string | undefined) ?? '' };
  }

  const explain = (r: RunResult): string => `exit ${r.code}; stderr ${r.stderr.slice(-2000)}; events ${JSON.stringify(r.events).slice(-4000)}`;

  it('bash: the command runs in the workspace and its output comes back between the markers', async () => {
    const r = await runOpencode(`please ${toolMessage('bash', 'echo hello-from-tool; cat marker.txt')}`);
    assert.equal(r.code, 0, explain(r));
    assert.equal(parseToolOutput(r.answer), 'hello-from-tool\nmarker-content-42\n', explain(r));
    const tool = r.events.find((e) => e.type === 'tool_use');
    assert.equal(tool?.part?.tool, 'bash', explain(r));
    assert.equal(tool?.part?.state?.status, 'completed', explain(r));
    assert.equal(tool?.part?.state?.input?.command, 'echo hello-from-tool; cat marker.txt');
    assert.equal(tool?.part?.state?.input?.description, TOOL_CALL_DESCRIPTION);
  });

  it('write, read, list and a failing read in one turn: each result is echoed in order', async () => {
    const written = path.join(workspace, 'written.txt');
    const missing = path.join(workspace, 'missing.txt');
    const message = [
      toolMessage('write', { filePath: written, content: 'written by the write tool\nline 2\n' }),
      toolMessage('read', path.join(workspace, 'marker.txt')),
      toolMessage('list', workspace),
      toolMessage('read', missing),
    ].join('\n');
    const r = await runOpencode(message);
    assert.equal(r.code, 0, explain(r));
    assert.equal(await readFile(written, 'utf8'), 'written by the write tool\nline 2\n');
    const outputs = parseToolOutputs(r.answer);
    assert.equal(outputs.length, 4, explain(r));
    assert.match(outputs[0]!, /Wrote file successfully/);
    assert.match(outputs[1]!, /marker-content-42/);
    assert.match(outputs[2]!, /written\.txt/);
    assert.match(outputs[2]!, /marker\.txt/);
    // A tool error is echoed the same way (here: opencode's read error).
    assert.match(outputs[3]!, /not found/i);
    assert.ok(outputs[3]!.includes(missing));
    const tools = r.events.filter((e) => e.type === 'tool_use').map((e) => `${e.part.tool}:${e.part.state.status}`);
    assert.deepEqual(tools, ['write:completed', 'read:completed', 'read:completed', 'read:error']);
  });
});

describe('stub LLM TOOL: triggers over HTTP (no opencode)', () => {
  let stub: StubLlm;
  before(async () => {
    stub = await startStubLlm();
  });
  after(async () => {
    await stub.close();
  });

  const bashTool = {
    type: 'function',
    function: {
      name: 'bash',
      parameters: { type: 'object', properties: { command: { type: 'string' }, timeout: { type: 'integer' } }, required: ['command', 'timeout'] },
    },
  };

  async function complete(body: Record<string, unknown>): Promise<{ status: number; text: string }> {
    const res = await fetch(`${stub.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }

  it('non-streaming: a tool call with the decoded command and the required fields filled in', async () => {
    const messages = [{ role: 'user', content: toolMessage('bash', 'id -u && cat /etc/passwd') }];
    const res = await complete({ model: 'stub-model', messages, tools: [bashTool] });
    assert.equal(res.status, 200);
    const choice = JSON.parse(res.text).choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls[0].function.name, 'bash');
    assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), {
      command: 'id -u && cat /etc/passwd',
      description: TOOL_CALL_DESCRIPTION,
      timeout: 120000,
    });
  });

  it('streaming: the tool call, then the echo of the tool result verbatim', async () => {
    const user = { role: 'user', content: [{ type: 'text', text: `x ${toolMessage('bash', 'cat /nope')} y` }] };
    const first = await complete({ model: 'stub-model', stream: true, messages: [user], tools: [bashTool] });
    const chunks = first.text
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)));
    const args = chunks.map((c) => c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '').join('');
    assert.equal(JSON.parse(args).command, 'cat /nope');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');
    const callId = chunks[0].choices[0].delta.tool_calls[0].id;
    const result = 'cat: /nope: Permission denied\n';
    const messages = [
      user,
      { role: 'assistant', content: '', tool_calls: [{ id: callId, type: 'function', function: { name: 'bash', arguments: args } }] },
      { role: 'tool', tool_call_id: callId, content: result },
    ];
    const second = await complete({ model: 'stub-model', stream: true, messages, tools: [bashTool] });
    const text = second.text
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)).choices[0]?.delta?.content ?? '')
      .join('');
    assert.equal(text, `TOOL_OUTPUT_BEGIN\n${result}\nTOOL_OUTPUT_END`);
    assert.equal(parseToolOutput(text), result);
  });

  it('leaves RUN_TOOL, MARK: and unknown tools alone', () => {
    assert.deepEqual(decideAnswer({ messages: [{ role: 'user', content: 'hi MARK:a' }] }), { kind: 'text', text: 'stub answer user_messages=1 marker=a' });
    const runTool = decideAnswer({ messages: [{ role: 'user', content: 'RUN_TOOL' }], tools: [bashTool] });
    assert.equal(runTool.kind, 'tool');
    assert.equal(runTool.kind === 'tool' && runTool.arguments, JSON.stringify({ command: 'echo tool-ran' }));
    const unknown = decideAnswer({ messages: [{ role: 'user', content: toolMessage('edit', { filePath: '/x' }) }], tools: [bashTool] });
    assert.equal(unknown.kind, 'text');
    assert.match(unknown.kind === 'text' ? unknown.text : '', /tool edit is not offered/);
    assert.equal(parseToolOutput('no markers here'), undefined);
  });
});
