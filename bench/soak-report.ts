/**
 * The soak's printed report: cycles survived by fault kind, failover times
 * (p50/p95/max over cycles, a cycle's figure being its slowest partition),
 * records and sends, and each invariant with its first violations.
 */

import type { InvariantResult } from './soak-check.js';
import { FAULT_KINDS, type CycleResult, type PartitionFailover } from './soak-faults.js';

export interface SoakSummary {
  seed: number;
  durationSeconds: number;
  leaseTtlSeconds: number;
  partitions: number;
  cycles: readonly CycleResult[];
  acked: number;
  failedSends: number;
  failureMessages: ReadonlyMap<string, number>;
  recordsInLog: number;
  liveConsumerRecords: number;
  liveConsumerCrashes: readonly string[];
  unexpectedExits: readonly string[];
  invariants: readonly InvariantResult[];
  logsDir: string | null;
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)]!;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function distribution(name: string, values: number[]): string {
  if (values.length === 0) return `  ${name.padEnd(34)} (no samples)`;
  const sorted = [...values].sort((a, b) => a - b);
  return `  ${name.padEnd(34)} p50 ${seconds(percentile(sorted, 0.5)).padStart(8)}  p95 ${seconds(percentile(sorted, 0.95)).padStart(8)}  max ${seconds(sorted.at(-1)!).padStart(8)}  (${values.length} cycles)`;
}

/** Each cycle's slowest partition by `pick`, over the cycles where some partition has the figure. */
function perCycle(cycles: readonly CycleResult[], pick: (failover: PartitionFailover) => number | null): number[] {
  return cycles.flatMap((cycle) => {
    const values = cycle.failovers.map(pick).filter((value): value is number => value !== null);
    return values.length === 0 ? [] : [Math.max(...values)];
  });
}

export function cycleLine(cycle: CycleResult): string {
  const what = `cycle ${cycle.index} ${cycle.kind.padEnd(5)} broker ${cycle.victim}${cycle.wasController ? ' (controller)' : ''}${cycle.pauseMs === null ? '' : ` paused ${seconds(cycle.pauseMs)}`}`;
  if (cycle.error) return `${what}: FAILED: ${cycle.error}`;
  const parts = cycle.failovers.map((f) => `p${f.partition} ${f.elected ? `detect ${seconds(f.faultToDetectionMs!)} +produce ${seconds(f.detectionToProduceMs!)}` : 'kept'} = ${seconds(f.faultToProduceMs)}`);
  return `${what}: ${parts.join(', ')} (cycle ${seconds(cycle.tookMs)})`;
}

export function printReport(summary: SoakSummary): void {
  const ok = summary.cycles.filter((cycle) => !cycle.error);
  const lines = [
    '',
    `Soak report (seed ${summary.seed}, ${summary.durationSeconds} s of faults, lease TTL ${summary.leaseTtlSeconds} s, ${summary.partitions} partitions, RF 3, min.insync.replicas 2)`,
    `  cycles survived: ${ok.length} of ${summary.cycles.length} — ${FAULT_KINDS.map((kind) => `${kind} ${ok.filter((cycle) => cycle.kind === kind).length}`).join(', ')}`,
    `  pauses that outlasted leadership (new leader elected): ${ok.filter((c) => c.kind === 'pause' && c.failovers.some((f) => f.elected)).length} of ${ok.filter((c) => c.kind === 'pause').length}`,
    'Failover (per cycle, slowest partition the victim led):',
    distribution('fault -> detection (new leader)', perCycle(ok, (f) => f.faultToDetectionMs)),
    distribution('detection -> first produce', perCycle(ok, (f) => f.detectionToProduceMs)),
    distribution('fault -> first produce', perCycle(ok, (f) => f.faultToProduceMs)),
    ...FAULT_KINDS.map((kind) => distribution(`  fault -> first produce (${kind})`, perCycle(ok.filter((c) => c.kind === kind), (f) => f.faultToProduceMs))),
    `Records: ${summary.acked} acknowledged, ${summary.failedSends} failed sends, ${summary.recordsInLog} in the log; live consumer served ${summary.liveConsumerRecords} (${summary.liveConsumerCrashes.length} crashes)`,
    ...[...new Set(summary.liveConsumerCrashes)].map((message) => `  live consumer crash x${summary.liveConsumerCrashes.filter((m) => m === message).length}: ${message}`),
    ...[...summary.failureMessages].map(([message, count]) => `  failed send x${count}: ${message}`),
    ...summary.unexpectedExits.map((line) => `  UNEXPECTED EXIT: ${line}`),
    ...summary.cycles.filter((cycle) => cycle.error).map((cycle) => `  ${cycleLine(cycle)}`),
    'Invariants:',
    ...summary.invariants.flatMap((invariant) => [`  ${invariant.violations === 0 ? 'ok  ' : 'FAIL'} ${invariant.name}${invariant.violations === 0 ? '' : ` (${invariant.violations} violations)`}`, ...invariant.examples.map((example) => `         ${example}`)]),
    ...(summary.logsDir ? [`Broker logs kept in ${summary.logsDir}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
