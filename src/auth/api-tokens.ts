// Where the API's bearer tokens come from: OCPM_API_TOKEN (a list, for rotation), OCPM_API_TOKEN_FILE
// (a mounted Secret, re-read when it changes), or, when neither is set, a token generated at first boot
// and kept in OCPM_DATA_DIR/api-token (mode 0600, reused later). Logs name the file, never a token.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, TOKEN_PATTERN, type Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { errorMessage } from '../util/guards.js';
import { parseTokenFile } from './token-file.js';
import { TokenVerifier } from './token-verifier.js';

export { parseTokenFile };

/** The auth section, and the data dir a generated token is kept in. */
export type AuthSettings = Config['auth'] & { readonly dataDir: string };

/** How often (at most) a failed check re-reads the token file, so a rotated Secret is picked up. */
const FILE_RECHECK_MS = 5000;

export interface ApiAuth {
  /** undefined when auth is disabled (OCPM_AUTH=disabled). */
  readonly verifier: TokenVerifier | undefined;
  /** Re-reads the token file if it changed; true when the accepted tokens were replaced. */
  refresh(): boolean;
  /** The first accepted token: what this replica sends its peers when OCPM_PEER_TOKEN is unset. */
  primaryToken(): string | undefined;
}

function readTokenFile(file: string): { tokens: string[]; mtimeMs: number } {
  let text: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('OCPM_API_TOKEN_FILE', 'a readable file', `${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  const tokens = parseTokenFile(text);
  if (tokens.length === 0 || tokens.some((token) => !TOKEN_PATTERN.test(token))) {
    throw new ConfigError('OCPM_API_TOKEN_FILE', 'a file with at least one token (printable ASCII, no spaces)', file);
  }
  return { tokens, mtimeMs };
}

/** The generated token: created once with mode 0600, reused on later boots. */
function generatedToken(dataDir: string, logger: Logger): string {
  const file = path.join(dataDir, 'api-token');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing !== '') {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      logger.info('API token loaded from the data dir; send it as "Authorization: Bearer <token>"', { file });
      return existing;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  logger.info('No OCPM_API_TOKEN or OCPM_API_TOKEN_FILE set: generated an API token; send it as "Authorization: Bearer <token>"', { file });
  return token;
}

export function loadApiAuth(settings: AuthSettings, logger: Logger, recheckMs = FILE_RECHECK_MS): ApiAuth {
  if (settings.auth === 'disabled') {
    logger.warn('OCPM_AUTH=disabled: the API takes requests without a token; binding to 127.0.0.1 only');
    return { verifier: undefined, refresh: () => false, primaryToken: () => undefined };
  }
  const file = settings.apiTokenFile;
  if (file === undefined) {
    const tokens = settings.apiToken.length > 0 ? settings.apiToken : [generatedToken(settings.dataDir, logger)];
    if (settings.apiToken.length > 0) logger.info('API tokens from OCPM_API_TOKEN', { count: tokens.length });
    return { verifier: new TokenVerifier(tokens), refresh: () => false, primaryToken: () => tokens[0] };
  }

  let current = readTokenFile(file);
  const verifier = new TokenVerifier([...settings.apiToken, ...current.tokens]);
  logger.info('API tokens from OCPM_API_TOKEN_FILE', { file, count: verifier.size });
  let checkedAt = Date.now();
  const refresh = (): boolean => {
    if (Date.now() - checkedAt < recheckMs) return false;
    checkedAt = Date.now();
    try {
      if (statSync(file).mtimeMs === current.mtimeMs) return false;
      current = readTokenFile(file);
    } catch (error) {
      // A Secret being swapped can be briefly unreadable: keep the tokens we have.
      logger.warn('Token file could not be re-read; keeping the current tokens', { file, error: errorMessage(error) });
      return false;
    }
    verifier.replace([...settings.apiToken, ...current.tokens]);
    logger.info('API tokens reloaded from OCPM_API_TOKEN_FILE', { file, count: verifier.size });
    return true;
  };
  return { verifier, refresh, primaryToken: () => settings.apiToken[0] ?? current.tokens[0] };
}
