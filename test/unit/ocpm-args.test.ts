// The ocpm CLI's pure parts: argument parsing, table alignment, value formats, and its defaults kept
// equal to the service's (a CLI run with no options must find a service started with none).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '../../src/cli/args.js';
import { CliError, EXIT } from '../../src/cli/cli-error.js';
import { formatAge, formatBytes, formatCost } from '../../src/cli/format.js';
import { DEFAULT_URL } from '../../src/cli/help.js';
import { runCli } from '../../src/cli/main.js';
import { formatTable } from '../../src/cli/table.js';
import { DEFAULT_DATA_DIR } from '../../src/cli/token.js';
import { CONFIG_VARIABLES } from '../../src/config/config.js';

const fallback = (name: string): string | undefined => CONFIG_VARIABLES.find((variable) => variable.name === name)?.fallback;

function usageErrorOf(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (error) {
    assert.ok(error instanceof CliError);
    assert.equal(error.exitCode, EXIT.usage);
    return error.message;
  }
  assert.fail(`no usage error for ${argv.join(' ')}`);
}

describe('ocpm argument parsing', () => {
  it('takes options before or after the command, as --name value or --name=value', () => {
    const parsed = parseArgs(['--json', 'sessions', '--state=busy', '--limit', '5', '-h']);
    assert.equal(parsed.command, 'sessions');
    assert.deepEqual(parsed.positionals, []);
    assert.deepEqual(Object.fromEntries(parsed.options), { json: true, state: 'busy', limit: '5', help: true });
  });

  it('keeps everything after -- as positionals (an id starting with a dash)', () => {
    assert.deepEqual(parseArgs(['session', '--', '-odd']).positionals, ['-odd']);
  });

  it('refuses unknown options, a missing value, and a value for a flag', () => {
    assert.equal(usageErrorOf(['status', '--bogus=1']), 'unknown option --bogus');
    assert.equal(usageErrorOf(['sessions', '--limit']), 'option --limit needs a value');
    assert.equal(usageErrorOf(['sessions', '--limit', '--json']), 'option --limit needs a value');
    assert.equal(usageErrorOf(['status', '--json=yes']), 'option --json takes no value');
  });

  it('checks arity, per-command options and integer values before calling anything (exit 2)', async () => {
    for (const argv of [
      ['session'],
      ['abort', 'a', 'b'],
      ['status', '--state', 'idle'],
      ['sessions', '--limit', '0'],
      ['sessions', '--state', 'nap'],
      ['help', 'nope'],
    ]) {
      const stderr: string[] = [];
      const code = await runCli(argv, { env: {}, cwd: '/', stdout: () => undefined, stderr: (text) => stderr.push(text) });
      assert.equal(code, EXIT.usage, argv.join(' '));
      assert.match(stderr.join(''), /^ocpm: [^\n]+\nRun `ocpm --help` for usage\.\n$/);
    }
  });
});

describe('ocpm tables and formats', () => {
  it('aligns columns, right-aligns numbers (a missing one is -) and trims trailing blanks', () => {
    const table = formatTable(
      [
        ['a', 5, 'x'],
        ['longer', '-', ''],
        ['b', 1234, 'yz'],
      ],
      { headers: ['NAME', 'N', 'NOTE'] },
    );
    assert.equal(table, ['NAME       N  NOTE', 'a          5  x', 'longer     -', 'b       1234  yz'].join('\n'));
  });

  it('formats ages, sizes and costs', () => {
    const now = 10_000_000;
    assert.equal(formatAge(now - 42_000, now), '42s ago');
    assert.equal(formatAge(now - 5 * 60_000, now), '5m ago');
    assert.equal(formatAge(null, now), '-');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(65_011_712), '62.0 MiB');
    assert.equal(formatCost(0.001), '$0.0010');
  });

  it("defaults to the service's own defaults: its port on 127.0.0.1 and its data dir", () => {
    assert.equal(DEFAULT_URL, `http://127.0.0.1:${fallback('PORT')}`);
    assert.equal(DEFAULT_DATA_DIR, fallback('OCPM_DATA_DIR'));
  });
});
