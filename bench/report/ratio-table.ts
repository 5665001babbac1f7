/**
 * The ratio tables of the peers comparison (issue 5: "a ratio table (Ferry /
 * Redis, Ferry / NATS, Ferry / reference) for throughput and for p99 latency
 * at fixed rates"), with each system's settings and broker usage next to
 * them. Ratios are computed here from the systems' own figures, so a table
 * cell and the figures it divides are always of the same run.
 */

import {
  FERRY_SYSTEMS,
  LATENCY_RATIO_TARGET,
  latencyName,
  achievedRateName,
  ALL_LATENCY_RATES,
  PHASES,
  REFERENCE_FIGURE,
  SYSTEMS,
  THROUGHPUT_RATIO_TARGET,
  throughputUsageRun,
  latencyUsageRun,
  type FerrySystem,
  type PhaseName,
} from '../peers/names.js';
import { LATENCY_CLIENT_SETTINGS, SERVER_SETTINGS, THROUGHPUT_CLIENT_SETTINGS, THROUGHPUT_RECORDS } from '../peers/settings.js';
import type { Figure } from '../storage.bench.js';
import { formatValue, markdownTable } from './markdown.js';
import { lookup, throughputOf, type FigureLookup } from './peers-figures.js';

/** Ferry's raw-client produce of 1 MiB batches (bench/reference.bench.ts), the issue's reference workload. */
const RAW_PRODUCE_FIGURE = 'kafka produce raw 1MiB batches';
/** The issue: "within 2 times of the physical reference". */
const REFERENCE_RATIO_TARGET = 0.5;
/** An achieved rate this far under the one asked for means the system fell behind: its p99 is queueing. */
const FELL_BEHIND_RATIO = 0.95;

const ratio = (mine: number | null, theirs: number | null): number | null => (mine === null || theirs === null || theirs === 0 ? null : mine / theirs);

export interface ThroughputRatioRow {
  workload: string;
  ferry: FerrySystem;
  ferryRecordsPerSecond: number | null;
  overRedis: number | null;
  overNats: number | null;
  /** Ferry's MB/s over the physical reference's (tcp to file), produce only. */
  overReference: number | null;
}

export function throughputRatioRows(figures: readonly Figure[]): ThroughputRatioRow[] {
  const value = lookup(figures);
  const reference = value(REFERENCE_FIGURE);
  const rows: ThroughputRatioRow[] = PHASES.flatMap((phase: PhaseName) =>
    FERRY_SYSTEMS.map((ferry) => {
      const mine = throughputOf(value, phase, ferry);
      return {
        workload: `${phase} 1 KiB`,
        ferry,
        ferryRecordsPerSecond: mine.recordsPerSecond,
        overRedis: ratio(mine.recordsPerSecond, throughputOf(value, phase, 'redis').recordsPerSecond),
        overNats: ratio(mine.recordsPerSecond, throughputOf(value, phase, 'nats').recordsPerSecond),
        // The reference receives bytes into a file: a produce path, not a consume one.
        overReference: phase === 'produce' ? ratio(mine.megabytesPerSecond, reference) : null,
      };
    }),
  );
  rows.push({ workload: 'produce 1 MiB batches, raw client', ferry: 'ferry-kafka', ferryRecordsPerSecond: value(`${RAW_PRODUCE_FIGURE} (records/s)`), overRedis: null, overNats: null, overReference: ratio(value(RAW_PRODUCE_FIGURE), reference) });
  return rows.filter((row) => row.ferryRecordsPerSecond !== null);
}

export interface LatencyRatioRow {
  ratePerSecond: number;
  ferry: FerrySystem;
  ferryP99Ms: number | null;
  /** Records/s delivered while recording, when under the rate asked for (the p99 is then queueing). */
  ferryFellBehindAt: number | null;
  redisP99Ms: number | null;
  natsP99Ms: number | null;
  overRedis: number | null;
  overNats: number | null;
}

function fellBehindAt(value: FigureLookup, system: FerrySystem, ratePerSecond: number): number | null {
  const achieved = value(achievedRateName(system, ratePerSecond));
  return achieved !== null && achieved < ratePerSecond * FELL_BEHIND_RATIO ? achieved : null;
}

export function latencyRatioRows(figures: readonly Figure[]): LatencyRatioRow[] {
  const value = lookup(figures);
  return ALL_LATENCY_RATES.flatMap((ratePerSecond) =>
    FERRY_SYSTEMS.map((ferry) => {
      const ferryP99Ms = value(latencyName(ferry, ratePerSecond, 'p99'));
      const redisP99Ms = value(latencyName('redis', ratePerSecond, 'p99'));
      const natsP99Ms = value(latencyName('nats', ratePerSecond, 'p99'));
      return { ratePerSecond, ferry, ferryP99Ms, ferryFellBehindAt: fellBehindAt(value, ferry, ratePerSecond), redisP99Ms, natsP99Ms, overRedis: ratio(ferryP99Ms, redisP99Ms), overNats: ratio(ferryP99Ms, natsP99Ms) };
    }),
  ).filter((row) => row.ferryP99Ms !== null);
}

/** A ratio with its verdict against `target` ('' when not measured). */
export function ratioCell(value: number | null, target: number, better: 'higher' | 'lower'): string {
  if (value === null) return '';
  const met = better === 'higher' ? value >= target : value <= target;
  return met ? value.toFixed(2) : `**${value.toFixed(2)}** missed`;
}

const numberCell = (value: number | null): string => (value === null ? '' : formatValue(value));

export function throughputRatioTable(figures: readonly Figure[]): string | null {
  const rows = throughputRatioRows(figures);
  if (rows.length === 0) return null;
  return markdownTable(
    ['workload', 'Ferry door', 'Ferry records/s', 'Ferry / Redis', 'Ferry / NATS', 'Ferry / reference'],
    ['left', 'left', 'right', 'right', 'right', 'right'],
    rows.map((row) => [
      row.workload,
      row.ferry,
      numberCell(row.ferryRecordsPerSecond),
      ratioCell(row.overRedis, THROUGHPUT_RATIO_TARGET, 'higher'),
      ratioCell(row.overNats, THROUGHPUT_RATIO_TARGET, 'higher'),
      ratioCell(row.overReference, REFERENCE_RATIO_TARGET, 'higher'),
    ]),
  );
}

export function latencyRatioTable(figures: readonly Figure[]): string | null {
  const rows = latencyRatioRows(figures);
  if (rows.length === 0) return null;
  return markdownTable(
    ['rate (records/s)', 'Ferry door', 'Ferry p99 ms', 'Redis p99 ms', 'NATS p99 ms', 'Ferry / Redis', 'Ferry / NATS'],
    ['right', 'left', 'right', 'right', 'right', 'right', 'right'],
    rows.map((row) => [
      row.ratePerSecond.toLocaleString('en-US'),
      row.ferry,
      `${numberCell(row.ferryP99Ms)}${row.ferryFellBehindAt === null ? '' : ` (fell behind: ${formatValue(row.ferryFellBehindAt)}/s)`}`,
      numberCell(row.redisP99Ms),
      numberCell(row.natsP99Ms),
      ratioCell(row.overRedis, LATENCY_RATIO_TARGET, 'lower'),
      ratioCell(row.overNats, LATENCY_RATIO_TARGET, 'lower'),
    ]),
  );
}

/** Broker CPU and peak RSS per system, during its throughput and its latency run. */
export function usageTable(figures: readonly Figure[]): string | null {
  const value = lookup(figures);
  const rows = SYSTEMS.map((system) => [
    system,
    numberCell(value(`${throughputUsageRun(system)} broker cpu`)),
    numberCell(value(`${throughputUsageRun(system)} broker rss max`)),
    numberCell(value(`${latencyUsageRun(system)} broker cpu`)),
    numberCell(value(`${latencyUsageRun(system)} broker rss max`)),
  ]).filter((cells) => cells.slice(1).some((cell) => cell !== ''));
  if (rows.length === 0) return null;
  return markdownTable(['system', 'throughput run: broker CPU (cores)', 'RSS max (MiB)', 'latency run: broker CPU (cores)', 'RSS max (MiB)'], ['left', 'right', 'right', 'right', 'right'], rows);
}

export function settingsTable(): string {
  return markdownTable(
    ['system', 'server', 'throughput clients', 'latency clients'],
    ['left', 'left', 'left', 'left'],
    SYSTEMS.map((system) => [system, SERVER_SETTINGS[system], THROUGHPUT_CLIENT_SETTINGS[system], LATENCY_CLIENT_SETTINGS[system]]),
  );
}

/** The peers section of the printed report and latest.md; null when the run measured no peers figure. */
export function peersReport(figures: readonly Figure[], chartFile: string | null): string | null {
  const throughput = throughputRatioTable(figures);
  const latency = latencyRatioTable(figures);
  if (throughput === null && latency === null) return null;
  const sections = ['## Ferry beside Redis Streams and NATS JetStream', ''];
  if (throughput !== null) {
    sections.push(
      `### Throughput ratios (target: ≥ ${THROUGHPUT_RATIO_TARGET} × each peer's records/s; ≥ ${REFERENCE_RATIO_TARGET} × the physical reference's MB/s)`,
      '',
      `${THROUGHPUT_RECORDS.full.toLocaleString('en-US')} records of 1 KiB (${THROUGHPUT_RECORDS.quick.toLocaleString('en-US')} in the quick profile), each system's best batching, produced then consumed. Ferry / reference: Ferry's MB/s of values over ${REFERENCE_FIGURE}'s MB/s of bytes from a loopback socket appended to a file with no protocol (for the raw client's 1 MiB batches, batch bytes over the same).`,
      '',
      throughput,
      '',
    );
  }
  if (latency !== null) {
    sections.push(`### p99 delivery latency at equal rates (target: Ferry / peer ≤ ${LATENCY_RATIO_TARGET})`, '', 'Open loop, one 1 KiB record per send, due time to delivery.', '', latency, '');
  }
  if (chartFile !== null) sections.push(`Latency against throughput: [${chartFile}](${chartFile}).`, '');
  const usage = usageTable(figures);
  if (usage !== null) sections.push('### Broker usage', '', "Ferry: the bench process, where its broker runs (child clients not counted); Redis and NATS: their server process, from /proc. Over each child's whole run, start-up included.", '', usage, '');
  sections.push('### Settings', '', settingsTable(), '');
  return sections.join('\n');
}
