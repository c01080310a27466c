// How values read in tables: ages, times left, byte sizes, costs, token counts, yes/no. A missing value is `-`.

export const NONE = '-';

/** `42s ago`, `5m ago`, `3h ago`, `2d ago` from a time in ms since the epoch. */
export function formatAge(atMs: number | null | undefined, nowMs: number): string {
  if (typeof atMs !== 'number' || atMs <= 0) return NONE;
  const seconds = Math.max(0, Math.round((nowMs - atMs) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** `in 42s`, `in 5m`, `in 3h`, `in 2d` until a time in ms since the epoch; `now` once it has passed. */
export function formatUntil(atMs: number | null | undefined, nowMs: number): string {
  if (typeof atMs !== 'number' || !Number.isFinite(atMs) || atMs <= 0) return NONE;
  const seconds = Math.round((atMs - nowMs) / 1000);
  if (seconds <= 0) return 'now';
  if (seconds < 60) return `in ${seconds}s`;
  if (seconds < 3600) return `in ${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `in ${Math.floor(seconds / 3600)}h`;
  return `in ${Math.floor(seconds / 86_400)}d`;
}

/** `512 B`, `1.5 KiB`, `590.0 MiB`. */
export function formatBytes(bytes: number | null | undefined): string {
  if (typeof bytes !== 'number') return NONE;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Provider costs are fractions of a dollar: four decimals. */
export function formatCost(cost: number | null | undefined): string {
  return typeof cost === 'number' ? `$${cost.toFixed(4)}` : NONE;
}

export function formatCount(value: number | null | undefined): string | number {
  return typeof value === 'number' ? value : NONE;
}

export function yesNo(value: boolean | null | undefined): string {
  return value === undefined || value === null ? NONE : value ? 'yes' : 'no';
}
