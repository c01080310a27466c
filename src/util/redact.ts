// Redaction for what leaves the process: log fields whose names say they hold a secret, bearer
// credentials inside free text, and (for the open status endpoint) filesystem paths.

const SECRET_KEY = /(token|password|passwd|secret|authorization|api[_-]?key|cookie)/i;
const BEARER_IN_TEXT = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const ABSOLUTE_PATH = /(?<![\w.:/])\/(?:[^\s/'"`:,;()[\]{}]+\/)*[^\s/'"`:,;()[\]{}]*/g;
export const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Masks `Bearer <token>` / `Basic <credentials>` inside a string. */
export function redactCredentials(text: string): string {
  return text.replace(BEARER_IN_TEXT, (_match, scheme: string) => `${scheme} ${REDACTED}`);
}

/** Replaces absolute paths with `<path>`, for text shown without authentication. */
export function redactPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, (match) => (match.length > 1 ? '<path>' : match));
}

/** A copy of a log record's fields with secret-named fields masked and credentials in strings hidden. */
export function redactFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactCredentials(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactFields(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      isSecretKey(key) && item !== undefined && item !== null && typeof item !== 'number' && typeof item !== 'boolean'
        ? REDACTED
        : redactFields(item, depth + 1);
  }
  return out;
}
