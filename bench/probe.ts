/**
 * What the broker spent while a load ran: CPU (in cores), peak RSS and
 * event-loop lag of the bench process, where every suite runs its broker
 * (load generators run in child processes, so they are not counted).
 *
 *   const { result, usage } = await probeBroker(() => runLoadScript(...));
 *   figures.push(...brokerUsageFigures('kafka produce kcat 1KiB', usage));
 *
 * probeServerProcess measures a peer's server (redis-server, nats-server)
 * the same way from /proc, without the event-loop lag it does not have, so
 * the peers comparison can set Ferry's CPU and memory beside theirs.
 */

import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Figure } from './storage.bench.js';

/** How often RSS is sampled; a peak between samples can be missed, by design cheaply. */
const RSS_SAMPLE_MS = 50;
const MiB = 1024 * 1024;
const NS_PER_MS = 1e6;
/** USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on every Linux Node runs on (getconf CLK_TCK). */
const PROC_TICKS_PER_SECOND = 100;
/** utime and stime: fields 14 and 15 of /proc/<pid>/stat, i.e. 12 and 13 after the ')' closing the command name. */
const PROC_STAT_UTIME_AFTER_COMM = 11;
const PROC_STAT_STIME_AFTER_COMM = 12;

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

/**
 * One usage over several runs (rounds of the same load): CPU weighted by wall
 * time, the highest RSS, and the worst round's loop lag (p99s do not add up).
 */
export function combineUsage(usages: readonly BrokerUsage[]): BrokerUsage {
  if (usages.length === 0) throw new Error('combineUsage of no runs');
  const wallMs = usages.reduce((sum, usage) => sum + usage.wallMs, 0);
  return {
    cpuCores: usages.reduce((sum, usage) => sum + usage.cpuCores * usage.wallMs, 0) / wallMs,
    rssMaxBytes: Math.max(...usages.map((usage) => usage.rssMaxBytes)),
    eventLoopLagP99Ms: Math.max(...usages.map((usage) => usage.eventLoopLagP99Ms)),
    eventLoopLagMaxMs: Math.max(...usages.map((usage) => usage.eventLoopLagMaxMs)),
    wallMs,
  };
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

// --- a server in its own process -------------------------------------------------------

export interface ServerUsage {
  cpuCores: number;
  rssMaxBytes: number;
  wallMs: number;
}

/** User + system CPU seconds of process `pid` so far. */
function processCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[PROC_STAT_UTIME_AFTER_COMM]) + Number(fields[PROC_STAT_STIME_AFTER_COMM])) / PROC_TICKS_PER_SECOND;
}

/** Resident set of process `pid` now (VmRSS), 0 once it is gone. */
function processRssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Runs `load` and measures the server process `pid` meanwhile (Linux /proc; CPU at 10 ms granularity). */
export async function probeServerProcess<T>(pid: number, load: () => Promise<T>): Promise<{ result: T; usage: ServerUsage }> {
  let rssMaxBytes = processRssBytes(pid);
  const sampler = setInterval(() => (rssMaxBytes = Math.max(rssMaxBytes, processRssBytes(pid))), RSS_SAMPLE_MS);
  const cpuBefore = processCpuSeconds(pid);
  const startedAt = performance.now();
  try {
    const result = await load();
    const wallMs = performance.now() - startedAt;
    rssMaxBytes = Math.max(rssMaxBytes, processRssBytes(pid));
    return { result, usage: { cpuCores: ((processCpuSeconds(pid) - cpuBefore) * 1000) / wallMs, rssMaxBytes, wallMs } };
  } finally {
    clearInterval(sampler);
  }
}

/** The figure names serverUsageFigures(run) reports: brokerUsageNames(run) but the loop lag. */
export function serverUsageNames(run: string): string[] {
  return [`${run} broker cpu`, `${run} broker rss max`];
}

/** Two figures per run, named as brokerUsageFigures' so Ferry's and a peer's sit side by side. */
export function serverUsageFigures(run: string, server: string, usage: ServerUsage): [cpu: Figure, rss: Figure] {
  const over = `${server} process during ${run}, ${(usage.wallMs / 1000).toFixed(1)} s incl. client start-up`;
  return [
    { name: `${run} broker cpu`, value: usage.cpuCores, unit: 'cores', better: 'lower', note: `user+system CPU (/proc/<pid>/stat) / wall time, ${over}` },
    { name: `${run} broker rss max`, value: usage.rssMaxBytes / MiB, unit: 'MiB', better: 'lower', note: `peak VmRSS, sampled every ${RSS_SAMPLE_MS} ms, ${over}` },
  ];
}
