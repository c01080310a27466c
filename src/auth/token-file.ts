// The token file format, shared by the service (OCPM_API_TOKEN_FILE) and the ocpm CLI: kept apart from
// api-tokens.ts so the CLI reads it without loading the service's configuration.

/** Tokens in a file: one per line or comma-separated; blank lines and `#` comments ignored. */
export function parseTokenFile(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
