/**
 * The storage engine's benchmarks, run by bench/run.ts. Each suite returns
 * figures (a value, a unit, which direction is better, the target if
 * it sets one); run.ts prints, saves and compares them.
 *
 *   crc32c      GB/s of every CRC32C implementation on 1 MiB and 4 KiB
 *   validate    MB/s of produce-time batch validation
 *   append      MB/s and batches/s into the page cache; the cost of fsync per append
 *   read        MB/s of sequential 1 MiB reads of cached segments; µs per random read
 *   index       ns per offset-index lookup, JS binary search vs the WASM core's
 *   compaction  MB/s and records/s of log.compact(), and event-loop lag meanwhile
 *
 * Append and read also time the bare syscall they sit on (file-io.ts's
 * writeAt / readAt on the same bytes, in alternating rounds) as "baseline"
 * figures: this machine's page-cache speed swings by up to 2x between runs
 * and within one (see primePageCache), and the ratio to the baseline, given
 * in the notes, is what Ferry's own code costs.
 *
 * Units are decimal (1 MB/s = 10^6 bytes/s, 1 GB/s = 10^9 bytes/s); sizes are
 * binary (KiB, MiB). Everything timed uses batches built once beforehand:
 * 1 KiB records (16-byte key, 1000-byte pseudo-random value), uncompressed.
 * Figure names are stable identifiers: run.ts compares runs by name and
 * test/bench/smoke.test.ts lists them.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { Bench, type FnHook } from 'tinybench';
import { buildBatch, type RecordInput } from '../src/storage/batch-builder.js';
import { validateBatches } from '../src/storage/batch-validator.js';
import { crc32cReference } from '../src/storage/crc32c-reference.js';
import { readAt, writeAt } from '../src/storage/file-io.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../src/storage/log-config.js';
import { native } from '../src/storage/native.js';
import { OFFSET_INDEX_ENTRY_BYTES, OFFSET_INDEX_POSITION_OFFSET, OffsetIndex } from '../src/storage/offset-index.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { BATCH_HEADER_BYTES, RECORDS_COUNT_OFFSET } from '../src/storage/record-batch.js';
import { LOG_FILE_SUFFIX, segmentFileName } from '../src/storage/segment-files.js';
import { wasmCore } from '../src/storage/wasm-core.js';

export interface Figure {
  /** Stable identifier across runs. */
  name: string;
  /** null when this machine cannot measure it (e.g. the native addon did not load). */
  value: number | null;
  unit: string;
  better: 'higher' | 'lower';
  /** Relative margin of error of the timing, in percent (tinybench's rme). */
  rmePercent?: number;
  /** The goal, in `unit`, in the `better` direction. */
  target?: number;
  /** What was measured, in a few words. */
  note?: string;
}

/**
 * quick: the smoke run of `npm test` (seconds); default: `npm run bench` (minutes);
 * full: `npm run bench:full`, which adds the long runs (scale, catch-up of 1 GB).
 */
export type Profile = 'quick' | 'default' | 'full';

export interface SuiteContext {
  /** profile === 'quick' */
  quick: boolean;
  profile: Profile;
  /** Whether the figure `name` is selected by --filter. */
  wants(name: string): boolean;
  /** A fresh directory under the run's temporary root (removed at the end of the run). */
  tempDir(label: string): string;
  progress(message: string): void;
}

export interface Suite {
  name: string;
  /** Every figure the suite can produce, for --filter and the smoke test. */
  figureNames: readonly string[];
  run(context: SuiteContext): Promise<Figure[]>;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const MB = 1e6;
const GB = 1e9;

/** A 16-byte key and a 1000-byte value encode as a record of about 1 KiB (1025 bytes with framing). */
const RECORD_KEY_BYTES = 16;
const RECORD_VALUE_BYTES = 1000;
/** Upper bound of one encoded record, for sizing batches (exact size checked after building). */
const RECORD_ENCODED_BYTES_MAX = 1026;

// --- timing -----------------------------------------------------------------

export interface Timing {
  /** Mean time of one iteration. */
  meanMs: number;
  rmePercent: number;
  /** Sum of all timed iterations (warm-up excluded). */
  totalMs: number;
  iterations: number;
}

interface MeasureOptions {
  async?: boolean;
  /** Untimed, before each iteration (e.g. recycling a log that grew too big). */
  beforeEach?: () => void | Promise<void>;
  /** Untimed, once before warm-up and once before the timed run (mode 'warmup' or 'run'). */
  beforeAll?: FnHook;
}

/** Timed milliseconds per task (warm-up excluded). */
const TASK_TIME_MS = 1500;
const TASK_TIME_MS_QUICK = 60;

/** One tinybench task: `fn` is one iteration. */
export async function measure(context: SuiteContext, label: string, fn: () => unknown, options: MeasureOptions = {}, timeMs = context.quick ? TASK_TIME_MS_QUICK : TASK_TIME_MS): Promise<Timing> {
  context.progress(`  ${label}`);
  const bench = new Bench({
    time: timeMs,
    warmupTime: context.quick ? 15 : Math.min(300, timeMs / 2),
    iterations: context.quick ? 4 : 16,
    warmupIterations: context.quick ? 2 : 4,
    throws: true,
  });
  bench.add(label, fn, { async: options.async ?? false, beforeEach: options.beforeEach, beforeAll: options.beforeAll });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`benchmark ${label} ended ${result.state}`);
  return { meanMs: result.latency.mean, rmePercent: result.latency.rme, totalMs: result.totalTime, iterations: result.latency.samplesCount };
}

interface AlternatingTask {
  label: string;
  fn: () => unknown;
  options?: MeasureOptions;
}

/** Rounds of alternating tasks in a full run; the page cache's speed on this machine drifts over seconds. */
const ALTERNATING_ROUNDS = 4;

/**
 * Times tasks in alternating rounds (A B A B ...) and sums each task's rounds,
 * so a drift in the machine's speed hits every task alike and their ratio
 * holds. The ±% is the larger of tinybench's margin and half the spread
 * between rounds.
 */
async function measureAlternating<const Tasks extends readonly AlternatingTask[]>(context: SuiteContext, tasks: Tasks): Promise<{ [K in keyof Tasks]: Timing }> {
  const rounds = context.quick ? 1 : ALTERNATING_ROUNDS;
  const timeMs = (context.quick ? TASK_TIME_MS_QUICK : TASK_TIME_MS) / rounds;
  const perTask: Timing[][] = tasks.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, task] of tasks.entries()) {
      const label = rounds > 1 ? `${task.label} (round ${round + 1} of ${rounds})` : task.label;
      perTask[i]!.push(await measure(context, label, task.fn, task.options, timeMs));
    }
  }
  const combined = perTask.map((timings): Timing => {
    const totalMs = timings.reduce((sum, timing) => sum + timing.totalMs, 0);
    const iterations = timings.reduce((sum, timing) => sum + timing.iterations, 0);
    const means = timings.map((timing) => timing.meanMs);
    const meanMs = totalMs / iterations;
    const spreadPercent = ((Math.max(...means) - Math.min(...means)) / 2 / meanMs) * 100;
    return { meanMs, totalMs, iterations, rmePercent: Math.max(spreadPercent, ...timings.map((timing) => timing.rmePercent)) };
  });
  return combined as { [K in keyof Tasks]: Timing };
}

function perSecond(units: number, ms: number): number {
  return units / (ms / 1000);
}

/** Results land here so no call is ever dead code to the JIT. */
let blackhole = 0;

// --- inputs -----------------------------------------------------------------

/** mulberry32: deterministic inputs, so two runs time the same work. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function noiseBytes(length: number, random: () => number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i += 4) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return bytes;
}

/** Makes 1 KiB records with pseudo-random values and keys `key-000000000042`. */
class RecordMaker {
  private readonly random: () => number;
  private readonly noise: Buffer;

  constructor(seed: number) {
    this.random = prng(seed);
    this.noise = noiseBytes(4 * MiB, this.random);
  }

  record(keyNumber: number, timestamp: bigint): RecordInput {
    const from = Math.floor(this.random() * (this.noise.length - RECORD_VALUE_BYTES));
    const key = Buffer.from(`key-${String(keyNumber).padStart(RECORD_KEY_BYTES - 4, '0')}`);
    return { key, value: this.noise.subarray(from, from + RECORD_VALUE_BYTES), timestamp };
  }

  /**
   * The largest batch of 1 KiB records that fits `bytesMax`; record i of it
   * has key keyOf(firstRecord + i). Returns the batch and its record count.
   */
  batchUpTo(bytesMax: number, firstRecord = 0, keyOf: (n: number) => number = (n) => n): { batch: Buffer; recordCount: number } {
    const timestamp = BigInt(Date.now());
    let count = Math.max(1, Math.floor((bytesMax - BATCH_HEADER_BYTES) / RECORD_ENCODED_BYTES_MAX));
    for (;;) {
      const records = Array.from({ length: count }, (_, i) => this.record(keyOf(firstRecord + i), timestamp));
      const batch = buildBatch(records);
      if (batch.length <= bytesMax) return { batch, recordCount: count };
      if (count === 1) throw new Error(`a single record does not fit ${bytesMax} bytes`);
      count--;
    }
  }

  /** `count` distinct batches of up to `bytesMax` each. */
  batches(count: number, bytesMax: number): Buffer[] {
    return Array.from({ length: count }, () => this.batchUpTo(bytesMax).batch);
  }
}

function totalBytes(buffers: readonly Buffer[]): number {
  return buffers.reduce((sum, buffer) => sum + buffer.length, 0);
}

// --- logs in temporary directories ---------------------------------------------

function logConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, ...overrides };
}

/**
 * Closes and deletes a scratch log. The segment files are truncated first:
 * close() fdatasyncs, and hundreds of MiB of dirty page cache would otherwise
 * be written to disk for nothing (and slow down the next benchmark).
 */
async function discardLog(log: PartitionLog): Promise<void> {
  for (const name of fs.readdirSync(log.dir)) {
    if (name.endsWith('.log')) fs.truncateSync(path.join(log.dir, name), 0);
  }
  await log.close();
  fs.rmSync(log.dir, { recursive: true, force: true });
}

/**
 * Writes `bytes` to a scratch file in 1 MiB pieces, then truncates and deletes
 * it, just before a page-cache benchmark. This machine is a VM with a
 * virtio-balloon that reports free pages back to the host: the first touch of
 * a page the guest freed more than ~2 s ago (or never used) faults in the
 * host, and page-cache writes into such memory run near 0.25 GB/s instead of
 * 3+ GB/s. A broker's page cache in steady state reuses memory it already
 * holds, so the timed appends should too: priming, then a small log cap
 * (pages freed and reused within milliseconds) keep them on warm memory.
 */
export function primePageCache(dir: string, bytes: number): void {
  const file = path.join(dir, 'prime.dat');
  const chunk = Buffer.alloc(MiB, 0x5a);
  const fd = fs.openSync(file, 'w');
  try {
    for (let position = 0; position < bytes; position += chunk.length) fs.writeSync(fd, chunk, 0, chunk.length, position);
    fs.ftruncateSync(fd, 0); // frees the pages before any reach the disk
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

/** Appends `batches` round-robin until the log holds at least `bytesMin`. */
async function fillLog(log: PartitionLog, batches: readonly Buffer[], bytesMin: number): Promise<void> {
  for (let i = 0; log.sizeBytes < bytesMin; i++) await log.append(batches[i % batches.length]!);
}

// --- 1. CRC32C --------------------------------------------------------------------

const CRC_SIZES = [
  { label: '1MiB', bytes: MiB },
  { label: '4KiB', bytes: 4 * KiB },
] as const;

const CRC_VARIANTS = ['native-hw', 'native-sw', 'wasm+copy', 'wasm-staged', 'reference'] as const;
type CrcVariant = (typeof CRC_VARIANTS)[number];

const CRC_TARGETS_GBPS: Partial<Record<CrcVariant, number>> = { 'native-hw': 5, 'wasm+copy': 1, 'wasm-staged': 1 };

const CRC_NOTES: Record<CrcVariant, string> = {
  'native-hw': 'native.crc32c (SSE4.2)',
  'native-sw': 'native.crc32cSoftware (slicing-by-8 C++)',
  'wasm+copy': 'wasmCore.crc32c, copy into linear memory included',
  'wasm-staged': 'wasmCore.raw.crc32c on bytes already in linear memory',
  reference: 'crc32cReference, pure TS, byte at a time',
};

function crcFigureName(variant: CrcVariant, sizeLabel: string): string {
  return `crc32c ${variant} ${sizeLabel}`;
}

/** Each variant sums buffer[start, end); the staged one sums the same bytes' copy in linear memory. */
function crcFunctions(buffer: Buffer): Record<CrcVariant, ((start: number, end: number) => number) | null> {
  const ptr = wasmCore.raw.alloc(buffer.length) >>> 0;
  if (ptr === 0) throw new Error(`WASM core: no room to stage ${buffer.length} bytes`);
  wasmCore.view(ptr, buffer.length).set(buffer);
  const addon = native;
  return {
    'native-hw': addon ? (start, end) => addon.crc32c(buffer, start, end) : null,
    'native-sw': addon ? (start, end) => addon.crc32cSoftware(buffer, start, end) : null,
    'wasm+copy': (start, end) => wasmCore.crc32c(buffer, start, end),
    'wasm-staged': (start, end) => wasmCore.raw.crc32c(ptr + start, end - start, 0) >>> 0,
    reference: (start, end) => crc32cReference(buffer, start, end),
  };
}

async function runCrc32c(context: SuiteContext): Promise<Figure[]> {
  const buffer = noiseBytes(MiB, prng(1));
  const functions = crcFunctions(buffer);
  // Every implementation must agree with the reference before any is timed.
  for (const [variant, crc] of Object.entries(functions)) {
    for (const [start, end] of [[0, MiB], [4 * KiB, 8 * KiB], [1, 4097]] as const) {
      if (crc && crc(start, end) !== crc32cReference(buffer, start, end)) throw new Error(`crc32c ${variant} disagrees with the reference on [${start}, ${end})`);
    }
  }
  const figures: Figure[] = [];
  for (const variant of CRC_VARIANTS) {
    for (const size of CRC_SIZES) {
      const name = crcFigureName(variant, size.label);
      if (!context.wants(name)) continue;
      const crc = functions[variant];
      const figure: Figure = { name, value: null, unit: 'GB/s', better: 'higher', target: CRC_TARGETS_GBPS[variant], note: CRC_NOTES[variant] };
      figures.push(figure);
      if (crc === null) {
        figure.note = 'native addon not loaded';
        continue;
      }
      // One iteration sums the whole 1 MiB, in calls of `size.bytes` over consecutive slices.
      const timing = await measure(context, name, () => {
        let sum = 0;
        for (let start = 0; start < MiB; start += size.bytes) sum ^= crc(start, start + size.bytes);
        blackhole ^= sum;
      });
      figure.value = perSecond(MiB, timing.meanMs) / GB;
      figure.rmePercent = timing.rmePercent;
    }
  }
  return figures;
}

// --- 2. Batch validation ---------------------------------------------------------

const VALIDATE_FIGURES = { large: 'validate 1MiB batch', small: 'validate 16KiB batch' } as const;

async function runValidate(context: SuiteContext): Promise<Figure[]> {
  const maker = new RecordMaker(2);
  const rules = { maxMessageBytes: DEFAULT_LOG_CONFIG.maxMessageBytes, requireKeys: false };
  const cases = [
    { name: VALIDATE_FIGURES.large, batches: maker.batches(1, MiB) },
    { name: VALIDATE_FIGURES.small, batches: maker.batches(64, 16 * KiB) },
  ];
  const figures: Figure[] = [];
  for (const { name, batches } of cases) {
    if (!context.wants(name)) continue;
    const bytes = totalBytes(batches);
    const records = batches.reduce((sum, batch) => sum + batch.readInt32BE(RECORDS_COUNT_OFFSET), 0);
    const timing = await measure(context, name, () => {
      let counted = 0;
      for (const batch of batches) counted += validateBatches(batch, rules).recordCount;
      if (counted !== records) throw new Error(`${name}: validated ${counted} records, expected ${records}`);
    });
    const note = `validateBatches: CRC32C + WASM record walk; ${records / batches.length} records of 1 KiB per batch`;
    figures.push({ name, value: perSecond(bytes, timing.meanMs) / MB, unit: 'MB/s', better: 'higher', rmePercent: timing.rmePercent, note });
  }
  return figures;
}

// --- 3. Append ------------------------------------------------------------------------

const APPEND_FIGURES = {
  smallBaseline: 'baseline pwrite 16KiB',
  largeBaseline: 'baseline pwrite 1MiB',
  small: 'append 16KiB batches',
  smallRate: 'append 16KiB batches (rate)',
  large: 'append 1MiB batches',
  largeRate: 'append 1MiB batches (rate)',
  fsync: 'append fsync 16KiB x64 in flight',
  fsyncRate: 'append fsync 16KiB x64 in flight (rate)',
  fsyncP99: 'append fsync 16KiB x64 in flight p99 latency',
  fsyncMax: 'append fsync 16KiB x64 in flight max latency',
  fsyncGroup: 'append fsync batches per fdatasync',
} as const;

/** A log is discarded once it holds this much (see primePageCache for why it is small). */
const APPEND_LOG_BYTES_MAX = 64 * MiB;
/** Bound on the fsync figure's log: it is limited by the disk, a few hundred MB/s at most. */
const FSYNC_LOG_BYTES_MAX = 1024 * MiB;
/** In-flight appends in the fsync-per-append figure (a busy producer's window across connections). */
const FSYNC_APPENDS_IN_FLIGHT = 64;

/**
 * Appends into a log that is thrown away (and a fresh one opened) whenever it
 * passes `capBytes`, between timed iterations, so disk use stays bounded.
 */
class RecyclingLog {
  log: PartitionLog | null = null;

  constructor(
    private readonly context: SuiteContext,
    private readonly config: LogConfig,
    private readonly capBytes: number,
  ) {}

  async current(): Promise<PartitionLog> {
    if (this.log !== null && this.log.sizeBytes < this.capBytes) return this.log;
    await this.discard();
    this.log = await PartitionLog.open({ dir: this.context.tempDir('append'), config: this.config });
    return this.log;
  }

  async discard(): Promise<void> {
    if (this.log !== null) await discardLog(this.log);
    this.log = null;
  }
}

async function runAppend(context: SuiteContext): Promise<Figure[]> {
  const maker = new RecordMaker(3);
  const capBytes = APPEND_LOG_BYTES_MAX;
  const smallBatches = maker.batches(64, 16 * KiB);
  const figures: Figure[] = [];
  const cases = [
    { name: APPEND_FIGURES.small, rateName: APPEND_FIGURES.smallRate, baselineName: APPEND_FIGURES.smallBaseline, batches: smallBatches, target: undefined },
    { name: APPEND_FIGURES.large, rateName: APPEND_FIGURES.largeRate, baselineName: APPEND_FIGURES.largeBaseline, batches: maker.batches(4, MiB), target: 1000 },
  ];
  for (const { name, rateName, baselineName, batches, target } of cases) {
    if (![name, rateName, baselineName].some((wanted) => context.wants(wanted))) continue;
    primePageCache(context.tempDir('prime'), 2 * capBytes);
    const bytes = totalBytes(batches);
    const logs = new RecyclingLog(context, logConfig(), capBytes);
    const pwrite = new PwriteBaseline(context, capBytes);
    let log = await logs.current();
    try {
      // One iteration writes every batch of the set, one call each (about 1 MiB or 4 MiB).
      const [baseline, timing] = await measureAlternating(context, [
        { label: baselineName, fn: () => pwrite.write(batches), options: { beforeEach: () => pwrite.recycle() } },
        {
          label: name,
          fn: async () => {
            for (const batch of batches) await log.append(batch);
          },
          options: { async: true, beforeEach: async () => { log = await logs.current(); } },
        },
      ]);
      const recordsPerBatch = batches[0]!.readInt32BE(RECORDS_COUNT_OFFSET);
      const note = `PartitionLog.append, ${recordsPerBatch} records of 1 KiB per batch, no fsync, log recycled at ${capBytes / MiB} MiB; ${(baseline.meanMs / timing.meanMs).toFixed(2)}x of baseline`;
      figures.push(
        { name: baselineName, value: perSecond(bytes, baseline.meanMs) / MB, unit: 'MB/s', better: 'higher', rmePercent: baseline.rmePercent, note: 'writeAt (native pwrite) of the same batches, file recycled at the same size' },
        { name, value: perSecond(bytes, timing.meanMs) / MB, unit: 'MB/s', better: 'higher', rmePercent: timing.rmePercent, target, note },
        { name: rateName, value: perSecond(batches.length, timing.meanMs), unit: 'batches/s', better: 'higher', rmePercent: timing.rmePercent, note: 'same run' },
      );
    } finally {
      await logs.discard();
      pwrite.close();
    }
  }
  if ([APPEND_FIGURES.fsync, APPEND_FIGURES.fsyncRate, APPEND_FIGURES.fsyncP99, APPEND_FIGURES.fsyncMax, APPEND_FIGURES.fsyncGroup].some((name) => context.wants(name))) {
    figures.push(...(await runAppendFsync(context, smallBatches)));
  }
  return figures.filter((figure) => context.wants(figure.name));
}

/** The write the append path ends in, alone: one writeAt per batch at the end of a file truncated every `capBytes`. */
class PwriteBaseline {
  private readonly fd: number;
  private position = 0;

  constructor(context: SuiteContext, private readonly capBytes: number) {
    this.fd = fs.openSync(path.join(context.tempDir('pwrite'), 'baseline.dat'), 'w');
  }

  write(batches: readonly Buffer[]): void {
    for (const batch of batches) {
      writeAt(this.fd, batch, this.position);
      this.position += batch.length;
    }
  }

  recycle(): void {
    if (this.position < this.capBytes) return;
    fs.ftruncateSync(this.fd, 0);
    this.position = 0;
  }

  close(): void {
    fs.ftruncateSync(this.fd, 0);
    fs.closeSync(this.fd);
  }
}

/**
 * flush.messages=1: every append resolves only after an fdatasync covering it.
 * FSYNC_APPENDS_IN_FLIGHT producers each append, wait, append again, so group
 * commit has company to batch. A custom loop rather than tinybench: the figure
 * is aggregate throughput at a fixed concurrency, not one call's latency.
 */
async function runAppendFsync(context: SuiteContext, batches: readonly Buffer[]): Promise<Figure[]> {
  context.progress(`  ${APPEND_FIGURES.fsync}`);
  const log = await PartitionLog.open({ dir: context.tempDir('append-fsync'), config: logConfig({ flushMessages: 1 }) });
  try {
    const pipeline = async (durationMs: number): Promise<{ appends: number; bytes: number; elapsedMs: number; latenciesMs: number[] }> => {
      const latenciesMs: number[] = [];
      let bytes = 0;
      const startMs = performance.now();
      const deadlineMs = startMs + durationMs;
      const producer = async (batch: Buffer): Promise<void> => {
        while (performance.now() < deadlineMs && log.sizeBytes < FSYNC_LOG_BYTES_MAX) {
          const sentMs = performance.now();
          await log.append(batch);
          latenciesMs.push(performance.now() - sentMs);
          bytes += batch.length;
        }
      };
      await Promise.all(Array.from({ length: FSYNC_APPENDS_IN_FLIGHT }, (_, i) => producer(batches[i % batches.length]!)));
      return { appends: latenciesMs.length, bytes, elapsedMs: performance.now() - startMs, latenciesMs };
    };
    if (!context.quick) await pipeline(300);
    const flushesBefore = log.flushCount;
    const run = await pipeline(context.quick ? 300 : 3000);
    const flushes = log.flushCount - flushesBefore;
    run.latenciesMs.sort((a, b) => a - b);
    const p99Ms = run.latenciesMs[Math.min(run.latenciesMs.length - 1, Math.floor(run.latenciesMs.length * 0.99))] ?? 0;
    const note = `flush.messages=1, ${FSYNC_APPENDS_IN_FLIGHT} appends in flight, ${(run.elapsedMs / 1000).toFixed(1)} s`;
    const wanted: Figure[] = [
      { name: APPEND_FIGURES.fsync, value: perSecond(run.bytes, run.elapsedMs) / MB, unit: 'MB/s', better: 'higher', note },
      { name: APPEND_FIGURES.fsyncRate, value: perSecond(run.appends, run.elapsedMs), unit: 'batches/s', better: 'higher', note: 'same run' },
      { name: APPEND_FIGURES.fsyncP99, value: p99Ms, unit: 'ms', better: 'lower', note: 'append call to resolution, same run' },
      // The max shows starvation that a p99 can hide: 63 of 64 producers stuck behind one is under 1% of appends.
      { name: APPEND_FIGURES.fsyncMax, value: run.latenciesMs.at(-1) ?? 0, unit: 'ms', better: 'lower', note: 'same run; near the run length means some producer starved' },
      { name: APPEND_FIGURES.fsyncGroup, value: flushes > 0 ? run.appends / flushes : null, unit: 'batches', better: 'higher', note: `group commit: ${flushes} fdatasync rounds` },
    ];
    return wanted.filter((figure) => context.wants(figure.name));
  } finally {
    await discardLog(log);
  }
}

// --- 4. Read ----------------------------------------------------------------------------

const READ_FIGURES = { baseline: 'baseline pread 1MiB', sequential: 'read sequential 1MiB', random: 'read random 64KiB', sendfile: 'read sendfile 1MiB to a socket', copied: 'read+write 1MiB to a socket' } as const;
const RANDOM_READS_PER_ITERATION = 16;

async function runRead(context: SuiteContext): Promise<Figure[]> {
  const logBytes = context.quick ? 32 * MiB : 256 * MiB;
  context.progress(`  writing a ${logBytes / MiB} MiB log of 16 KiB batches`);
  const log = await PartitionLog.open({ dir: context.tempDir('read'), config: logConfig() });
  const figures: Figure[] = [];
  try {
    await fillLog(log, new RecordMaker(4).batches(64, 16 * KiB), logBytes);
    const logEnd = log.logEndOffset;
    const note = `${logBytes / MiB} MiB log in the page cache, 16 KiB batches`;

    if (context.wants(READ_FIGURES.sequential) || context.wants(READ_FIGURES.baseline)) {
      const baseline = new PreadBaseline(path.join(log.dir, segmentFileName(0, LOG_FILE_SUFFIX)), log.sizeBytes);
      // Bytes are counted in timed iterations only (beforeAll says which phase runs).
      let counting = false;
      const countTimed: FnHook = (mode) => { counting = mode === 'run'; };
      let nextOffset = 0;
      let bytesRead = 0;
      let baselineBytes = 0;
      try {
        const [baselineTiming, timing] = await measureAlternating(context, [
          {
            label: READ_FIGURES.baseline,
            fn: () => {
              const read = baseline.read();
              if (counting) baselineBytes += read;
            },
            options: { beforeAll: countTimed },
          },
          {
            label: READ_FIGURES.sequential,
            fn: () => {
              const read = log.read(nextOffset, MiB);
              if (counting) bytesRead += read.bytes.length;
              nextOffset = read.nextOffset >= logEnd ? 0 : read.nextOffset;
            },
            options: { beforeAll: countTimed },
          },
        ]);
        const baselineValue = perSecond(baselineBytes, baselineTiming.totalMs) / MB;
        const sequential = perSecond(bytesRead, timing.totalMs) / MB;
        figures.push(
          { name: READ_FIGURES.baseline, value: baselineValue, unit: 'MB/s', better: 'higher', rmePercent: baselineTiming.rmePercent, note: `readAt (native pread) of 1 MiB into a new Buffer, front to back; ${note}` },
          { name: READ_FIGURES.sequential, value: sequential, unit: 'MB/s', better: 'higher', rmePercent: timing.rmePercent, target: 2000, note: `PartitionLog.read(offset, 1 MiB) front to back, wrapping; ${note}; ${(sequential / baselineValue).toFixed(2)}x of baseline` },
        );
      } finally {
        baseline.close();
      }
    }

    if ((context.wants(READ_FIGURES.sendfile) || context.wants(READ_FIGURES.copied)) && native) {
      const sender = native;
      const sink = await SocketSink.start();
      let nextOffset = 0;
      let bytesSent = 0;
      let bytesCopied = 0;
      let counting = false;
      const countTimed: FnHook = (mode) => { counting = mode === 'run'; };
      const advance = (after: number): void => {
        nextOffset = after >= logEnd ? 0 : after;
      };
      try {
        const [zeroCopy, copied] = await measureAlternating(context, [
          {
            label: READ_FIGURES.sendfile,
            fn: async () => {
              const { range, nextOffset: after } = log.readFileRange(nextOffset, MiB);
              try {
                const sent = range ? await sender.sendfile(sink.fd, range.fd, range.position, range.sizeBytes) : 0;
                if (counting) bytesSent += sent;
              } finally {
                range?.release();
              }
              advance(after);
            },
            options: { async: true, beforeAll: countTimed },
          },
          {
            label: READ_FIGURES.copied,
            fn: async () => {
              const read = log.read(nextOffset, MiB);
              await new Promise((resolve) => sink.socket.write(read.bytes, resolve));
              if (counting) bytesCopied += read.bytes.length;
              advance(read.nextOffset);
            },
            options: { async: true, beforeAll: countTimed },
          },
        ]);
        const zeroCopyValue = perSecond(bytesSent, zeroCopy.totalMs) / MB;
        const copiedValue = perSecond(bytesCopied, copied.totalMs) / MB;
        figures.push(
          { name: READ_FIGURES.sendfile, value: zeroCopyValue, unit: 'MB/s', better: 'higher', rmePercent: zeroCopy.rmePercent, note: `PartitionLog.readFileRange + native.sendfile to a loopback TCP socket drained by another process; ${note}; ${(zeroCopyValue / copiedValue).toFixed(2)}x of read+write` },
          { name: READ_FIGURES.copied, value: copiedValue, unit: 'MB/s', better: 'higher', rmePercent: copied.rmePercent, note: `PartitionLog.read + socket.write of the bytes, same socket; ${note}` },
        );
      } finally {
        await sink.stop();
      }
    }

    if (context.wants(READ_FIGURES.random)) {
      const random = prng(5);
      const offsets = Array.from({ length: 4096 }, () => Math.floor(random() * logEnd));
      let next = 0;
      const timing = await measure(context, READ_FIGURES.random, () => {
        for (let i = 0; i < RANDOM_READS_PER_ITERATION; i++) {
          blackhole ^= log.read(offsets[next]!, 64 * KiB).bytes.length;
          next = (next + 1) % offsets.length;
        }
      });
      figures.push({ name: READ_FIGURES.random, value: (timing.meanMs * 1000) / RANDOM_READS_PER_ITERATION, unit: 'µs/read', better: 'lower', rmePercent: timing.rmePercent, note: `PartitionLog.read(random offset, 64 KiB); ${note}` });
    }
  } finally {
    await discardLog(log);
  }
  return figures.filter((figure) => context.wants(figure.name));
}

/**
 * A loopback TCP connection whose far end is a separate process that reads and
 * discards everything: where the zero-copy read path sends its bytes.
 */
class SocketSink {
  private constructor(
    private readonly drain: ChildProcess,
    readonly socket: net.Socket,
    readonly fd: number,
  ) {}

  static async start(): Promise<SocketSink> {
    const drain = spawn(process.execPath, ['-e', "require('node:net').createServer((s) => s.resume()).listen(0, '127.0.0.1', function () { console.log(this.address().port); })"], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve) => drain.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    // libuv's descriptor of the socket (an internal but long-stable field on Unix): sendfile writes to it directly.
    const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
    return new SocketSink(drain, socket, fd);
  }

  async stop(): Promise<void> {
    this.socket.destroy();
    this.drain.kill();
    await new Promise((resolve) => this.drain.once('exit', resolve));
  }
}

/** What PartitionLog.read sits on, alone: a new Buffer and one readAt of 1 MiB per read, front to back through `file`. */
class PreadBaseline {
  private readonly fd: number;
  private position = 0;

  constructor(file: string, private readonly fileBytes: number) {
    this.fd = fs.openSync(file, 'r');
  }

  /** Returns the bytes read. */
  read(): number {
    const bytes = Buffer.allocUnsafe(MiB);
    const read = readAt(this.fd, bytes, 0, bytes.length, this.position);
    this.position = this.position + 2 * MiB > this.fileBytes ? 0 : this.position + MiB;
    return read;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

// --- 5. Offset index lookup --------------------------------------------------------

const INDEX_FIGURES = { js: 'index lookup OffsetIndex', wasm: 'index lookup wasm indexFloor' } as const;
const INDEX_ENTRIES = 100_000;
const INDEX_LOOKUPS_PER_ITERATION = 1024;
/** Offsets per indexed batch, and bytes between index entries: about index.interval.bytes. */
const INDEX_OFFSET_STRIDE = 16;
const INDEX_POSITION_STRIDE = 4200;

async function runIndex(context: SuiteContext): Promise<Figure[]> {
  // The file in Kafka's .index layout: relative offset int32 BE, position int32 BE.
  const entries = Buffer.alloc(INDEX_ENTRIES * OFFSET_INDEX_ENTRY_BYTES);
  for (let i = 0; i < INDEX_ENTRIES; i++) {
    entries.writeInt32BE(i * INDEX_OFFSET_STRIDE, i * OFFSET_INDEX_ENTRY_BYTES);
    entries.writeInt32BE(i * INDEX_POSITION_STRIDE, i * OFFSET_INDEX_ENTRY_BYTES + OFFSET_INDEX_POSITION_OFFSET);
  }
  const file = path.join(context.tempDir('index'), '00000000000000000000.index');
  fs.writeFileSync(file, entries);
  const index = OffsetIndex.open(file, 0);
  if (index.entryCount !== INDEX_ENTRIES) throw new Error(`index holds ${index.entryCount} entries, expected ${INDEX_ENTRIES}`);

  const ptr = wasmCore.raw.alloc(entries.length) >>> 0;
  if (ptr === 0) throw new Error(`WASM core: no room to stage ${entries.length} bytes of index`);
  wasmCore.view(ptr, entries.length).set(entries);
  // Same answer as OffsetIndex.lookup: the entry's position, 0 when no entry is <= target.
  const wasmLookup = (memory: DataView, offset: number): number => {
    const slot = wasmCore.raw.indexFloor(ptr, INDEX_ENTRIES, OFFSET_INDEX_ENTRY_BYTES, offset);
    return slot < 0 ? 0 : memory.getInt32(ptr + slot * OFFSET_INDEX_ENTRY_BYTES + OFFSET_INDEX_POSITION_OFFSET);
  };

  const random = prng(6);
  const targets = Int32Array.from({ length: 4096 }, () => Math.floor(random() * INDEX_ENTRIES * INDEX_OFFSET_STRIDE));
  const check = new DataView(wasmCore.raw.memory.buffer);
  for (const target of targets) {
    if (index.lookup(target) !== wasmLookup(check, target)) throw new Error(`index lookup of ${target}: OffsetIndex and wasm indexFloor disagree`);
  }

  const figures: Figure[] = [];
  const note = `${INDEX_ENTRIES / 1000}k entries, random targets`;
  try {
    if (context.wants(INDEX_FIGURES.js)) {
      let next = 0;
      const timing = await measure(context, INDEX_FIGURES.js, () => {
        let sum = 0;
        for (let i = 0; i < INDEX_LOOKUPS_PER_ITERATION; i++) {
          sum += index.lookup(targets[next]!);
          next = (next + 1) & (targets.length - 1);
        }
        blackhole ^= sum;
      });
      figures.push({ name: INDEX_FIGURES.js, value: (timing.meanMs * 1e6) / INDEX_LOOKUPS_PER_ITERATION, unit: 'ns/lookup', better: 'lower', rmePercent: timing.rmePercent, note: `OffsetIndex.lookup (JS binary search on an Int32Array); ${note}` });
    }
    if (context.wants(INDEX_FIGURES.wasm)) {
      let next = 0;
      let memory = check;
      const timing = await measure(
        context,
        INDEX_FIGURES.wasm,
        () => {
          let sum = 0;
          for (let i = 0; i < INDEX_LOOKUPS_PER_ITERATION; i++) {
            sum += wasmLookup(memory, targets[next]!);
            next = (next + 1) & (targets.length - 1);
          }
          blackhole ^= sum;
        },
        // A view made after the last call that may grow memory (nothing in the loop allocates).
        { beforeAll: () => { memory = new DataView(wasmCore.raw.memory.buffer); } },
      );
      figures.push({ name: INDEX_FIGURES.wasm, value: (timing.meanMs * 1e6) / INDEX_LOOKUPS_PER_ITERATION, unit: 'ns/lookup', better: 'lower', rmePercent: timing.rmePercent, note: `wasmCore.raw.indexFloor on entries staged once, + reading the position; ${note}` });
    }
  } finally {
    index.close();
  }
  return figures;
}

// --- 6, 7. Compaction and the event loop meanwhile ---------------------------------------

const COMPACTION_FIGURES = {
  throughput: 'compaction',
  rate: 'compaction (rate)',
  lagP99: 'compaction event-loop lag p99',
  lagMax: 'compaction event-loop lag max',
  lagIdleP99: 'compaction event-loop lag p99 idle',
} as const;
/** Distinct keys of the full run; the quick run's small log gets fewer, so that it compacts something too. */
const COMPACTION_KEYS = 10_000;
const COMPACTION_KEYS_QUICK = 1_000;
/** The lag sampler's timer interval: subtracted from each measured interval to leave the lag. */
const LAG_RESOLUTION_MS = 1;
/** The target: event-loop lag p99 < 5 ms while compaction runs. */
const COMPACTION_LAG_P99_TARGET_MS = 5;

interface CompactionRun {
  wallMs: number;
  bytesRead: number;
  recordsRead: number;
  recordsKept: number;
}

/**
 * Event-loop delay: a LAG_RESOLUTION_MS timer records how late each tick
 * fires, while started. monitorEventLoopDelay's histograms cannot be merged
 * and count the time they were disabled as one late tick, so samples of
 * several runs are pooled here instead (a p99 of one run's ~200 samples is
 * its third worst). Two of them: during every compaction, and idle for as
 * long right after each, since this shared machine's timer jitter alone
 * reaches 5-10 ms at times.
 */
class LagSampler {
  private readonly histogram: RecordableHistogram = createHistogram();
  private timer: NodeJS.Timeout | null = null;

  start(): void {
    let last = performance.now();
    const tick = (): void => {
      const now = performance.now();
      this.histogram.record(Math.max(1, Math.round((now - last - LAG_RESOLUTION_MS) * 1000)));
      last = now;
      this.timer = setTimeout(tick, LAG_RESOLUTION_MS);
    };
    this.timer = setTimeout(tick, LAG_RESOLUTION_MS);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  get count(): number {
    return this.histogram.count;
  }

  percentileMs(percentile: number): number {
    return this.histogram.percentile(percentile) / 1000;
  }

  get maxMs(): number {
    return this.histogram.max / 1000;
  }
}

interface LagSamplers {
  compacting: LagSampler;
  idle: LagSampler;
}

/** Keyed batches whose records cycle through every key in a shuffled order. */
function keyedBatches(maker: RecordMaker, keys: number, count: number, bytesMax: number): Buffer[] {
  const random = prng(8);
  const order = Array.from({ length: keys }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const batches: Buffer[] = [];
  let record = 0;
  for (let i = 0; i < count; i++) {
    const built = maker.batchUpTo(bytesMax, record, (n) => order[n % keys]!);
    batches.push(built.batch);
    record += built.recordCount;
  }
  return batches;
}

async function compactOnce(context: SuiteContext, config: LogConfig, batches: readonly Buffer[], logBytes: number, lag: LagSamplers | null = null): Promise<CompactionRun> {
  const log = await PartitionLog.open({ dir: context.tempDir('compaction'), config });
  try {
    await fillLog(log, batches, logBytes);
    await log.flush(); // roll() fdatasyncs old segments in the background: let that finish first
    lag?.compacting.start();
    const startMs = performance.now();
    const stats = await log.compact();
    const wallMs = performance.now() - startMs;
    lag?.compacting.stop();
    if (stats === null) throw new Error(`compaction did not run on a log of ${log.segmentCount} segments`);
    if (stats.threadId === threadId) throw new Error('compaction ran on the event-loop thread, not in the pool');
    if (lag) {
      lag.idle.start();
      await new Promise((resolve) => setTimeout(resolve, wallMs));
      lag.idle.stop();
    }
    return { wallMs, bytesRead: stats.bytesRead, recordsRead: stats.recordsRead, recordsKept: stats.recordsKept };
  } finally {
    await discardLog(log);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * A long single operation, so timed by hand rather than by tinybench: a log
 * rebuilt for every run, the first run preceded by a small compaction that
 * starts the pool's worker (its start-up is not compaction).
 */
async function runCompaction(context: SuiteContext): Promise<Figure[]> {
  const logBytes = context.quick ? 8 * MiB : 64 * MiB;
  const segmentBytes = context.quick ? 2 * MiB : 8 * MiB;
  const runs = context.quick ? 1 : 3;
  const config = logConfig({ cleanupCompact: true, cleanupDelete: false, segmentBytes });
  const keys = context.quick ? COMPACTION_KEYS_QUICK : COMPACTION_KEYS;
  const batches = keyedBatches(new RecordMaker(7), keys, 1024, 16 * KiB);

  context.progress('  starting the storage pool worker');
  await compactOnce(context, logConfig({ cleanupCompact: true, cleanupDelete: false, segmentBytes: 256 * KiB }), batches, MiB);
  const results: CompactionRun[] = [];
  const lag: LagSamplers = { compacting: new LagSampler(), idle: new LagSampler() };
  for (let i = 0; i < runs; i++) {
    context.progress(`  compaction run ${i + 1} of ${runs}: ${logBytes / MiB} MiB, ${segmentBytes / MiB} MiB segments`);
    results.push(await compactOnce(context, config, batches, logBytes, lag));
  }
  const kept = median(results.map((run) => run.recordsKept));
  const read = median(results.map((run) => run.recordsRead));
  const setup = `${logBytes / MiB} MiB of 1 KiB records over ${keys / 1000}k keys, ${segmentBytes / MiB} MiB segments; median of ${runs}`;
  const figures: Figure[] = [
    { name: COMPACTION_FIGURES.throughput, value: median(results.map((run) => perSecond(run.bytesRead, run.wallMs) / MB)), unit: 'MB/s', better: 'higher', note: `input bytes / wall time of log.compact(); ${setup}` },
    { name: COMPACTION_FIGURES.rate, value: median(results.map((run) => perSecond(run.recordsRead, run.wallMs))), unit: 'records/s', better: 'higher', note: `records read; ${kept} of ${read} kept` },
    { name: COMPACTION_FIGURES.lagP99, value: lag.compacting.percentileMs(99), unit: 'ms', better: 'lower', target: COMPACTION_LAG_P99_TARGET_MS, note: `lateness of a 1 ms timer during log.compact() (cleaning and install in the pool, the swap on the event loop), ${lag.compacting.count} samples of ${runs} runs pooled; idle machine's p99 in the next row` },
    { name: COMPACTION_FIGURES.lagMax, value: lag.compacting.maxMs, unit: 'ms', better: 'lower', note: `worst sample of ${runs} runs (idle for as long right after: max ${lag.idle.maxMs.toFixed(1)} ms)` },
    { name: COMPACTION_FIGURES.lagIdleP99, value: lag.idle.percentileMs(99), unit: 'ms', better: 'lower', note: `the same timer with the process idle for as long as each compaction took, right after it (${lag.idle.count} samples): this machine's own timer jitter` },
  ];
  return figures.filter((figure) => context.wants(figure.name));
}

// --- the suite list ----------------------------------------------------------------------

export const SUITES: readonly Suite[] = [
  { name: 'crc32c', figureNames: CRC_VARIANTS.flatMap((variant) => CRC_SIZES.map((size) => crcFigureName(variant, size.label))), run: runCrc32c },
  { name: 'validate', figureNames: Object.values(VALIDATE_FIGURES), run: runValidate },
  { name: 'append', figureNames: Object.values(APPEND_FIGURES), run: runAppend },
  { name: 'read', figureNames: Object.values(READ_FIGURES), run: runRead },
  { name: 'index', figureNames: Object.values(INDEX_FIGURES), run: runIndex },
  { name: 'compaction', figureNames: Object.values(COMPACTION_FIGURES), run: runCompaction },
];
