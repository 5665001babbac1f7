/**
 * The peers comparison's chart (bench/results/latency-throughput.svg) from a
 * run's figures: one line per system through its latency runs, p99 against
 * the rate it achieved, and the p99 target for reference.
 */

import { latencyThroughputSvg } from './chart.js';
import { latencyPoints } from './peers-figures.js';
import { profileOf, type ResultsFile } from './results-file.js';

/** The issue: "end-to-end latency at 10,000 records/s: ... p99 < 5 ms". */
const TARGET_P99_MS = 5;

/** null when the run measured no latency. */
export function peersChart(results: ResultsFile): string | null {
  const series = [...latencyPoints(results.figures)].map(([name, points]) => ({ name, points }));
  if (series.length === 0) return null;
  const commit = results.commit?.slice(0, 12) ?? 'unknown commit';
  return latencyThroughputSvg(series, {
    title: 'p99 delivery latency against throughput, 1 KiB records, open loop',
    caption: [
      `${results.startedAt}, profile ${profileOf(results)}, commit ${commit}; ${results.machine.cpuModel}, ${results.machine.cores} cores (shared)`,
      'one record per send call, producer and consumer in one child process per system; settings in latest.md',
    ],
    targetP99Ms: { valueMs: TARGET_P99_MS, label: `issue target: p99 < ${TARGET_P99_MS} ms at 10k/s` },
  });
}
