/**
 * What the broker spent while a load ran: CPU (in cores), peak RSS and
 * event-loop lag of the bench process, where every suite runs its broker
 * (load generators run in child processes, so they are not counted).
 *
 *   const { result, usage } = await probeBroker(() => runLoadScript(...));
 *   figures.push(...brokerUsageFigures('kafka produce kcat 1KiB', usage));
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Figure } from './storage.bench.js';

/** How often RSS is sampled; a peak between samples can be missed, by design cheaply. */
const RSS_SAMPLE_MS = 50;
const MiB = 1024 * 1024;
const NS_PER_MS = 1e6;

export interface BrokerUsage {
  /** User + system CPU time over wall time: 1.0 is one core busy all along. */
  cpuCores: number;
  rssMaxBytes: number;
  eventLoopLagP99Ms: number;
  eventLoopLagMaxMs: number;
  wallMs: number;
}

/** Runs `load` and measures the bench process meanwhile. */
export async function probeBroker<T>(load: () => Promise<T>): Promise<{ result: T; usage: BrokerUsage }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let rssMaxBytes = process.memoryUsage.rss();
  const sampler = setInterval(() => (rssMaxBytes = Math.max(rssMaxBytes, process.memoryUsage.rss())), RSS_SAMPLE_MS);
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  delay.enable();
  try {
    const result = await load();
    const wallMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuBefore);
    rssMaxBytes = Math.max(rssMaxBytes, process.memoryUsage.rss());
    return {
      result,
      usage: {
        cpuCores: (cpu.user + cpu.system) / 1000 / wallMs,
        rssMaxBytes,
        eventLoopLagP99Ms: delay.percentile(99) / NS_PER_MS,
        eventLoopLagMaxMs: delay.max / NS_PER_MS,
        wallMs,
      },
    };
  } finally {
    delay.disable();
    clearInterval(sampler);
  }
}

/** The figure names brokerUsageFigures(run) reports, for a suite's figureNames. */
export function brokerUsageNames(run: string): string[] {
  return [`${run} broker cpu`, `${run} broker rss max`, `${run} broker loop lag p99`];
}

/** Three figures per run: `<run> broker cpu` (cores), `... rss max` (MiB), `... loop lag p99` (ms; max in the note). */
export function brokerUsageFigures(run: string, usage: BrokerUsage): [cpu: Figure, rss: Figure, lag: Figure] {
  const over = `broker (bench process) during ${run}, ${(usage.wallMs / 1000).toFixed(1)} s incl. client start-up`;
  return [
    { name: `${run} broker cpu`, value: usage.cpuCores, unit: 'cores', better: 'lower', note: `user+system CPU / wall time, ${over}` },
    { name: `${run} broker rss max`, value: usage.rssMaxBytes / MiB, unit: 'MiB', better: 'lower', note: `peak resident set, sampled every ${RSS_SAMPLE_MS} ms, ${over}` },
    { name: `${run} broker loop lag p99`, value: usage.eventLoopLagP99Ms, unit: 'ms', better: 'lower', note: `monitorEventLoopDelay p99 (max ${usage.eventLoopLagMaxMs.toFixed(1)} ms), ${over}` },
  ];
}
