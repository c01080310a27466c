// Which API token the CLI sends: OCPM_API_TOKEN (its first token), else --token-file, else
// OCPM_API_TOKEN_FILE (the service's mounted Secret, so `kubectl exec … ocpm` works as it is), else the
// token the service generated in its data dir (OCPM_DATA_DIR, default ./data, as the service resolves it).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTokenFile } from '../auth/token-file.js';
import { CliError, EXIT } from './cli-error.js';

/** The service's OCPM_DATA_DIR default (src/config/settings-service.ts; a unit test keeps them equal). */
export const DEFAULT_DATA_DIR = './data';

export interface TokenSources {
  readonly env: NodeJS.ProcessEnv;
  /** --token-file */
  readonly tokenFile: string | undefined;
  readonly cwd: string;
}

export function resolveToken({ env, tokenFile, cwd }: TokenSources): string {
  const fromEnv = parseTokenFile(env.OCPM_API_TOKEN ?? '')[0];
  if (fromEnv !== undefined) return fromEnv;
  if (tokenFile !== undefined) return firstTokenIn(path.resolve(cwd, tokenFile), '--token-file');
  if (env.OCPM_API_TOKEN_FILE) return firstTokenIn(path.resolve(cwd, env.OCPM_API_TOKEN_FILE), 'OCPM_API_TOKEN_FILE');
  const dataDir = env.OCPM_DATA_DIR || DEFAULT_DATA_DIR;
  return firstTokenIn(path.resolve(cwd, dataDir, 'api-token'), `the data dir (OCPM_DATA_DIR=${dataDir})`, true);
}

/**
 * The token for a command that works without one: undefined when no source is named (OCPM_API_TOKEN,
 * --token-file, OCPM_API_TOKEN_FILE) and the data dir's token cannot be read. A named source that
 * fails is still an error: the operator asked for it.
 */
export function findToken(sources: TokenSources): string | undefined {
  const { env, tokenFile } = sources;
  const named = parseTokenFile(env.OCPM_API_TOKEN ?? '').length > 0 || tokenFile !== undefined || Boolean(env.OCPM_API_TOKEN_FILE);
  if (named) return resolveToken(sources);
  try {
    return resolveToken(sources);
  } catch (error) {
    if (error instanceof CliError) return undefined;
    throw error;
  }
}

function firstTokenIn(file: string, source: string, isFallback = false): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    const hint = isFallback ? ': set OCPM_API_TOKEN or pass --token-file' : '';
    throw new CliError(EXIT.unreachable, `no API token: cannot read ${file} from ${source} (${reason})${hint}`);
  }
  const token = parseTokenFile(text)[0];
  if (token === undefined) throw new CliError(EXIT.unreachable, `no API token: ${file} from ${source} holds no token`);
  return token;
}
