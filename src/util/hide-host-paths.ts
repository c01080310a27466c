// What a client sees of paths in opencode's events: paths in the session's workspace become relative
// to it (`.` for the workspace itself), and the host's own paths (the service's checkout and data
// dir, other workspaces, private TMPDIRs) are replaced, so no response shows where things live.
export const HOST_PATH = '[host path]';

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface PathHider {
  (value: unknown): unknown;
}

/**
 * A function that rewrites every string inside a value (objects and arrays are copied).
 * `hostPrefixes`: directories whose paths are hidden unless they lie in the workspace.
 */
export function pathHider(workspace: string, hostPrefixes: readonly string[]): PathHider {
  const inWorkspace = new RegExp(`${escape(workspace)}(?=/|(?![^"'\\s:,;)\\]}]))/?`, 'g');
  const prefixes = [...new Set(hostPrefixes.filter((prefix) => prefix.length > 1))].sort((a, b) => b.length - a.length);
  const host = prefixes.length === 0 ? undefined : new RegExp(`(?:${prefixes.map(escape).join('|')})[^\\s"'\`:,;()[\\]{}]*`, 'g');
  const rewrite = (text: string): string => {
    const relative = text.replace(inWorkspace, (match) => (match.endsWith('/') ? '' : '.'));
    return host === undefined ? relative : relative.replace(host, HOST_PATH);
  };
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return rewrite(value);
    if (depth > 20 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = walk(item, depth + 1);
    return out;
  };
  return (value) => walk(value, 0);
}
