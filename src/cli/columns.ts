/**
 * Aligned text tables in the layout of Kafka's command-line tools, which
 * print `%-Ns` columns one space apart: each column but the last is padded
 * to the widest of its minimum width, its header and its values. Trailing
 * spaces are dropped.
 */

export interface Column {
  header: string;
  /** Kafka's format width for the column (its `%-15s`). */
  widthMin: number;
}

export function alignedTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = columns.map((column, i) => Math.max(column.widthMin, column.header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join(' ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)];
}
