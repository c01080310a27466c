// Aligned plain-text columns for people: every column as wide as its widest cell, two spaces apart,
// numbers right-aligned so their digits line up (a
// column of numbers may have `-` for a missing value). No colours, so the output pipes and greps cleanly.

export type Cell = string | number;

export interface TableOptions {
  /** Header row; left out for a key/value listing. */
  readonly headers?: readonly string[];
}

export function formatTable(rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const all: (readonly Cell[])[] = options.headers === undefined ? [...rows] : [options.headers, ...rows];
  const columns = Math.max(0, ...all.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) => Math.max(...all.map((row) => String(row[column] ?? '').length)));
  const rightAligned = Array.from({ length: columns }, (_, column) => isNumeric(rows.map((row) => row[column])));
  return all
    .map((row) =>
      widths
        .map((width, column) => {
          const text = String(row[column] ?? '');
          return rightAligned[column] === true ? text.padStart(width) : text.padEnd(width);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A column of numbers, some perhaps missing (`-`), is right-aligned. */
function isNumeric(cells: readonly (Cell | undefined)[]): boolean {
  return cells.some((cell) => typeof cell === 'number') && cells.every((cell) => typeof cell === 'number' || cell === '-');
}
