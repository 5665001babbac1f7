/**
 * The markdown of a run: the figures table (printed by every run, the body of
 * latest.md) and its cells. Pure functions of the figures.
 */

import type { Figure } from '../storage.bench.js';
import type { MachineInfo } from './results-file.js';

/** Three significant digits below 100, whole numbers with thousands separators above. */
export function formatValue(value: number | null): string {
  if (value === null) return 'n/a';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

/** null when the figure has no target or no value. */
export function meetsTarget(figure: Figure): boolean | null {
  if (figure.target === undefined || figure.value === null) return null;
  return figure.better === 'higher' ? figure.value >= figure.target : figure.value <= figure.target;
}

export function targetCell(figure: Figure): string {
  if (figure.target === undefined) return '';
  const bound = `${figure.better === 'higher' ? '≥' : '≤'} ${figure.target.toLocaleString('en-US')}`;
  const met = meetsTarget(figure);
  return met === null ? bound : `${bound} ${met ? 'met' : '**missed**'}`;
}

export function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** One markdown table: a header row and an alignment row, then `rows`, each cell escaped. */
export function markdownTable(header: readonly string[], alignments: readonly ('left' | 'right')[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  const rule = `|${alignments.map((alignment) => (alignment === 'right' ? '--:' : '---')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function figuresTable(figures: readonly Figure[]): string {
  return markdownTable(
    ['benchmark', 'value', 'unit', '±%', 'target', 'notes'],
    ['left', 'right', 'left', 'right', 'left', 'left'],
    figures.map((figure) => [figure.name, formatValue(figure.value), figure.unit, figure.rmePercent === undefined ? '' : figure.rmePercent.toFixed(1), targetCell(figure), figure.note ?? '']),
  );
}

export function machineLine(machine: MachineInfo, commit: string | null): string {
  const memoryGiB = (machine.totalMemoryBytes / 2 ** 30).toFixed(0);
  return `${machine.cpuModel}, ${machine.cores} cores, ${memoryGiB} GiB, ${machine.platform} ${machine.kernel} ${machine.arch}; Node ${machine.nodeVersion}; crc32c: ${machine.crc32cImplementation}${machine.hardwareCrc32c ? ' (SSE4.2)' : ''}; commit ${commit?.slice(0, 12) ?? 'unknown'}`;
}
