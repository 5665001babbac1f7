/**
 * bench/results/latest.md: the committed table, written by an unfiltered
 * full-profile run (`npm run bench:full`) so it holds every figure, and
 * reproducible by running that command again. The peers comparison (ratio
 * tables, broker usage, settings, the chart's link) comes first, then every
 * figure.
 */

import { figuresTable, machineLine, meetsTarget } from './markdown.js';
import { peersReport } from './ratio-table.js';
import type { ResultsFile } from './results-file.js';

export const LATEST_COMMAND = 'npm run bench:full';

export function latestMarkdown(results: ResultsFile, chartFile: string | null): string {
  const missed = results.figures.filter((figure) => meetsTarget(figure) === false).map((figure) => figure.name);
  const peers = peersReport(results.figures, chartFile);
  return [
    '# Ferry benchmarks: latest full run',
    '',
    `Written by \`${LATEST_COMMAND}\` (profile full, every suite). ${results.startedAt}, ${(results.durationMs / 1000).toFixed(0)} s. ${machineLine(results.machine, results.commit)}.`,
    '',
    'Rates in decimal units (1 MB/s = 10^6 bytes/s, 1 GB/s = 10^9 bytes/s); sizes binary (KiB, MiB). ±% is the relative margin of error of the timing. The machine is shared: figures swing between runs.',
    '',
    ...(peers === null ? [] : [peers]),
    '## Every figure',
    '',
    figuresTable(results.figures),
    '',
    missed.length === 0 ? 'Every target met.' : `Targets missed: ${missed.join(', ')}.`,
    '',
  ].join('\n');
}
