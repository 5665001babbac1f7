/**
 * How a run compares with earlier saved runs of the same profile (a quick
 * run's 5,000 records say nothing about a full run's 200,000): each figure
 * with the newest earlier run that has it, by name and unit.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { Figure } from '../storage.bench.js';
import { formatValue, markdownTable } from './markdown.js';
import { profileOf, type ResultsFile, type RunProfile } from './results-file.js';

/** A change within this ratio either way is reported as noise. */
const NOISE_RATIO = 0.05;

export interface PreviousRun {
  file: string;
  results: ResultsFile;
}

/** Earlier saved runs of `profile` in `resultsDir`, newest first. */
export function previousRuns(resultsDir: string, profile: RunProfile, warn: (message: string) => void): PreviousRun[] {
  if (!fs.existsSync(resultsDir)) return [];
  const runs: PreviousRun[] = [];
  for (const file of fs.readdirSync(resultsDir).filter((name) => name.endsWith('.json')).sort().reverse()) {
    try {
      const results = JSON.parse(fs.readFileSync(path.join(resultsDir, file), 'utf8')) as ResultsFile;
      if (results.options !== undefined && Array.isArray(results.figures) && profileOf(results) === profile) runs.push({ file, results });
    } catch {
      warn(`skipping unreadable results file ${file}`);
    }
  }
  return runs;
}

function verdict(figure: Figure, ratio: number): string {
  if (Math.abs(ratio - 1) <= NOISE_RATIO) return '~ same';
  const improved = figure.better === 'higher' ? ratio > 1 : ratio < 1;
  return improved ? 'better' : '**worse**';
}

/** null when no figure has an earlier value to compare with. */
export function comparisonTable(figures: readonly Figure[], previous: readonly PreviousRun[]): string | null {
  const rows: string[][] = [];
  for (const figure of figures) {
    for (const run of previous) {
      const before = run.results.figures.find((candidate) => candidate.name === figure.name && candidate.unit === figure.unit);
      if (before === undefined || before.value === null) continue;
      if (figure.value === null || before.value === 0) break;
      const ratio = figure.value / before.value;
      rows.push([figure.name, formatValue(before.value), formatValue(figure.value), figure.unit, ratio.toFixed(2), verdict(figure, ratio), run.file]);
      break;
    }
  }
  if (rows.length === 0) return null;
  return markdownTable(['benchmark', 'previous', 'now', 'unit', 'now/previous', 'change', 'previous run'], ['left', 'right', 'right', 'left', 'right', 'left', 'left'], rows);
}
