// How this module types what it parses: the SDK's shapes (`@opencode-ai/sdk/v2`, the version of the
// binary) name the keys, and every value is still checked at run time (it comes from another process).

/** An SDK shape as it arrives over the wire: the SDK's keys, each value still to be checked. */
export type Unchecked<T> = { readonly [K in keyof T]?: unknown };

/** A finite number, or 0 (a missing or malformed count counts as nothing). */
export function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
