/**
 * What a bench/load.ts run found, from the children's results: rates over
 * the measured time, the merged latency histogram, every record accounted
 * for (load-records.ts), the broker's usage, and the errors that make the
 * run fail; as JSON (LoadReport) or as a table.
 */

import * as hdr from 'hdr-histogram-js';
import type { Encoding } from '../src/client/index.js';
import type { BrokerUsageReport, MetricsSample } from './load-broker.js';
import type { LoadOptions } from './load-options.js';
import { accountRecords, type RecordAccount } from './load-records.js';
import type { ConsumerResult, ProducerResult } from './load-worker.js';
import { latencyHistogram, latencyPercentilesMs } from './open-loop.js';

const MB = 1_000_000;

/** The workload as the options gave it (`rate`: records/s over all producers, 0 for closed loop). */
type Workload = Pick<LoadOptions, 'door' | 'topic' | 'partitions' | 'recordBytes' | 'batch' | 'producers' | 'consumers' | 'acks' | 'flushMessages' | 'flushMs' | 'rate' | 'inflight' | 'durationSeconds' | 'warmupSeconds'>;

export interface LoadReport extends Workload {
  ok: boolean;
  /** ws only. */
  encoding: Encoding | null;
  produced: { records: number; failed: number; requests: number; recordsPerSecond: number; mbPerSecond: number };
  /** null with --consumers 0. */
  consumed: { records: number; recordsPerSecond: number; mbPerSecond: number; lost: number; duplicates: number; unexpected: number } | null;
  latencyMs: { p50: number; p99: number; p999: number; max: number; samples: number } | null;
  broker: BrokerUsageReport;
  errors: string[];
}

export interface Measured {
  startMs: number;
  produced: ProducerResult[];
  consumed: ConsumerResult[];
  metricsAfter: MetricsSample | null;
}

function mergeLatency(consumed: readonly ConsumerResult[]): LoadReport['latencyMs'] {
  const merged = latencyHistogram();
  let samples = 0;
  for (const result of consumed) {
    merged.add(hdr.decodeFromCompressedBase64(result.histogram));
    samples += result.recorded;
  }
  if (samples === 0) return { p50: Number.NaN, p99: Number.NaN, p999: Number.NaN, max: Number.NaN, samples };
  const { p50Ms, p99Ms, p999Ms, maxMs } = latencyPercentilesMs(merged);
  return { p50: p50Ms, p99: p99Ms, p999: p999Ms, max: maxMs, samples };
}

function errorsOf(options: LoadOptions, measured: Measured, account: RecordAccount | null): string[] {
  const errors: string[] = [];
  for (const producer of measured.produced) {
    if (producer.stoppedEarly !== null) errors.push(`producer ${producer.index} stopped early: ${producer.stoppedEarly}`);
    if (producer.errors > 0) errors.push(`producer ${producer.index}: ${producer.errors} errors (${producer.failed} records in failed or unanswered requests), first: ${producer.errorMessages.join('; ')}`);
    if (producer.failedRangesTruncated) errors.push(`producer ${producer.index}: too many failed requests to track each: the loss count is approximate`);
  }
  for (const consumer of measured.consumed) {
    if (!consumer.drained) errors.push(`consumer ${consumer.index} stopped short of the log end: ${consumer.shortOf.map(([partition, position, end]) => `partition ${partition} at ${position} of ${end}`).join(', ')}`);
    if (consumer.unreadable > 0) errors.push(`consumer ${consumer.index}: ${consumer.unreadable} records without this run's stamp`);
  }
  if (account !== null) {
    if (account.lost > 0) errors.push(`${account.lost} records acknowledged and never read (lost)`);
    if (account.duplicates > 0) errors.push(`${account.duplicates} records read more than once (duplicates)`);
  }
  if (options.consumers > 0 && measured.consumed.every((consumer) => consumer.partitions.length === 0)) errors.push('no consumer was assigned a partition');
  return errors;
}

export function report(options: LoadOptions, partitions: number, measured: Measured, broker: BrokerUsageReport): LoadReport {
  const { produced, consumed } = measured;
  const account = consumed.length === 0 ? null : accountRecords(produced, consumed.map((result) => result.seen), consumed.reduce((sum, result) => sum + result.duplicates, 0));
  const sent = produced.reduce((sum, result) => sum + result.sent, 0);
  const failed = produced.reduce((sum, result) => sum + result.failed, 0);
  const producedPerSecond = produced.reduce((sum, result) => sum + result.measured, 0) / options.durationSeconds;
  const recorded = consumed.reduce((sum, result) => sum + result.recorded, 0);
  const warmupEndMs = measured.startMs + options.warmupSeconds * 1000;
  const lastDeliveryMs = Math.max(0, ...consumed.map((result) => result.lastRecordedDeliveryMs));
  const consumedPerSecond = recorded === 0 ? 0 : recorded / ((lastDeliveryMs - warmupEndMs) / 1000);
  const errors = errorsOf(options, measured, account);
  return {
    ok: errors.length === 0,
    door: options.door,
    encoding: options.door === 'ws' ? options.encoding : null,
    topic: options.topic,
    partitions,
    recordBytes: options.recordBytes,
    batch: options.batch,
    producers: options.producers,
    consumers: options.consumers,
    acks: options.acks,
    flushMessages: options.flushMessages,
    flushMs: options.flushMs,
    rate: options.rate,
    inflight: options.inflight,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    produced: {
      records: sent - failed,
      failed,
      requests: produced.reduce((sum, result) => sum + result.requests, 0),
      recordsPerSecond: producedPerSecond,
      mbPerSecond: (producedPerSecond * options.recordBytes) / MB,
    },
    consumed:
      account === null
        ? null
        : { records: account.consumed, recordsPerSecond: consumedPerSecond, mbPerSecond: (consumedPerSecond * options.recordBytes) / MB, lost: account.lost, duplicates: account.duplicates, unexpected: account.unexpected },
    latencyMs: consumed.length === 0 ? null : mergeLatency(consumed),
    broker,
    errors,
  };
}

function figure(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

function plural(value: number, noun: string): string {
  return `${count(value)} ${noun}${value === 1 ? '' : 's'}`;
}

export function table(result: LoadReport): string {
  const loop = result.rate > 0 ? `open loop at ${count(result.rate)} records/s` : `closed loop, ${result.inflight} requests in flight per producer`;
  const flush = [result.flushMessages === null ? null : `flush.messages=${result.flushMessages}`, result.flushMs === null ? null : `flush.ms=${result.flushMs}`].filter((each) => each !== null).join(' ');
  const lines = [
    `${result.door} door${result.encoding === null ? '' : ` (${result.encoding})`}, topic ${result.topic}: ${plural(result.partitions, 'partition')}, ${count(result.recordBytes)} B records, ${count(result.batch)} per request, acks=${result.acks}${flush === '' ? '' : `, ${flush}`}`,
    `${plural(result.producers, 'producer')}, ${plural(result.consumers, 'consumer')}, ${loop}, ${result.warmupSeconds} s warm-up + ${result.durationSeconds} s`,
    '',
    `  produced   ${figure(result.produced.recordsPerSecond).padStart(14)} records/s ${figure(result.produced.mbPerSecond, 2).padStart(10)} MB/s   ${count(result.produced.records)} records in ${count(result.produced.requests)} requests${result.produced.failed > 0 ? `, ${count(result.produced.failed)} in failed requests` : ''}`,
  ];
  if (result.consumed !== null) {
    const { consumed } = result;
    lines.push(`  consumed   ${figure(consumed.recordsPerSecond).padStart(14)} records/s ${figure(consumed.mbPerSecond, 2).padStart(10)} MB/s   ${count(consumed.records)} records, ${count(consumed.lost)} lost, ${count(consumed.duplicates)} duplicates${consumed.unexpected > 0 ? `, ${count(consumed.unexpected)} of failed requests` : ''}`);
  }
  if (result.latencyMs !== null) {
    const { latencyMs } = result;
    lines.push(`  latency    p50 ${figure(latencyMs.p50, 2)} ms   p99 ${figure(latencyMs.p99, 2)} ms   p99.9 ${figure(latencyMs.p999, 2)} ms   max ${figure(latencyMs.max, 2)} ms   (${count(latencyMs.samples)} records, due time to delivery)`);
  }
  const { broker } = result;
  const rss = broker.rssMaxMiB !== null ? `rss max ${figure(broker.rssMaxMiB)} MiB` : broker.rssEndMiB !== null ? `rss at end ${figure(broker.rssEndMiB)} MiB` : 'rss n/a';
  const lag = broker.loopLagP99Ms === null ? 'event-loop lag n/a (no /metrics)' : `event-loop lag p99 ${figure(broker.loopLagP99Ms, 2)} ms (max ${figure(broker.loopLagMaxMs ?? Number.NaN, 2)} ms)`;
  lines.push(`  broker     ${broker.started ? `pid ${broker.pid}` : 'running broker'}: cpu ${figure(broker.cpuCores ?? Number.NaN, 2)} cores   ${rss}   ${lag}   over ${figure(broker.wallMs / 1000)} s`);
  lines.push(result.errors.length === 0 ? '  errors     none' : `  ERRORS     ${result.errors.join('\n             ')}`);
  return lines.join('\n');
}
