/**
 * One producer or one consumer of bench/load.ts, as a child process of its
 * own (so the load's CPU is neither the broker's nor the other clients'):
 *
 *   node --import tsx bench/load-worker.ts '<WorkerJob as JSON>'
 *
 * It connects, prints READY_LINE (scale-child.ts) and waits for the
 * parent's go line, which carries the run's start as epoch ms, common to
 * every child. A consumer joins its group (or starts reading its partitions)
 * in between, when the parent sends `join` to every consumer at once.
 *
 *   producer  sends records stamped as load-records.ts says, a batch to one
 *             partition per request, partitions in turn (producer i starts at
 *             partition i). Open loop (ratePerSecond > 0): record n is due at
 *             start + n / rate (open-loop.ts), and a batch goes when its last
 *             record is due, so the wait to fill a batch counts in latency;
 *             no request waits for another's answer. Closed loop (rate 0):
 *             `inflight` requests at a time, each stamped when built. Sends
 *             for warmupMs + durationMs, then waits for every answer.
 *   consumer  reads, marks each record in its SeenRecords and records due time
 *             to delivery in an HDR histogram for records due after the
 *             warm-up. Once the parent sends `end <log end offsets>` (after
 *             every producer finished) it reads its partitions up to those
 *             offsets, prints its result, and stays in its group until the
 *             parent says `exit` (a member leaving early would hand its
 *             partitions to one still reading, which would read them again).
 *
 * The result is one JSON line, the last on stdout. Nothing here judges
 * timing; the parent adds the figures up.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import { openConsumer, openProducer, PRODUCE_REQUESTS_INFLIGHT_MAX, type Acks, type DoorJob, type ProducerDriver } from './load-doors.js';
import { readStamp, SEQUENCES_MAX, SeenRecords, stampedValue, type Stamp } from './load-records.js';
import { epochNowMs, latencyHistogram, latencyMicros, sendOpenLoop } from './open-loop.js';
import { parentLine, READY_LINE, waitForGo } from './scale-child.js';

export interface ProducerJob extends DoorJob {
  role: 'producer';
  producers: number;
  recordBytes: number;
  batchRecords: number;
  acks: Acks;
  /** This producer's share of the rate, records/s; 0: closed loop. */
  ratePerSecond: number;
  /** Closed loop: requests at once. */
  inflight: number;
  warmupMs: number;
  durationMs: number;
}

export interface ConsumerJob extends DoorJob {
  role: 'consumer';
  producers: number;
  consumers: number;
  group: string;
  /** Each partition's log end before the run: where a consumer without a group (http) starts. */
  startOffsets: number[];
  warmupMs: number;
}

export type WorkerJob = ProducerJob | ConsumerJob;

export interface ProducerResult {
  role: 'producer';
  index: number;
  /** Sequences 0 .. sent - 1 went out. */
  sent: number;
  /** Acknowledged records due after the warm-up (with acks 0: sent). */
  measured: number;
  requests: number;
  failed: number;
  failedRanges: Array<[first: number, count: number]>;
  /** More requests failed than failedRanges holds: the loss count is then a guess. */
  failedRangesTruncated: boolean;
  errors: number;
  errorMessages: string[];
  /** Set when the producer stopped early: unanswered requests passed the limit (open loop: the rate is beyond reach). */
  stoppedEarly: string | null;
}

export interface ConsumerResult {
  role: 'consumer';
  index: number;
  partitions: number[];
  /** Records read, duplicates and unreadable values included. */
  read: number;
  /** Records due after the warm-up: the latency samples. */
  recorded: number;
  duplicates: number;
  /** Values without a stamp of this run. */
  unreadable: number;
  /** The latency histogram, hdr-histogram-js compressed base64. */
  histogram: string;
  /** When the last record due after the warm-up arrived, epoch ms. */
  lastRecordedDeliveryMs: number;
  /** SeenRecords.encode(). */
  seen: string[];
  /** false: stopped DRAIN_IDLE_MS after its last record, short of the log end (partition: [position, end]). */
  drained: boolean;
  shortOf: Array<[partition: number, position: number, end: number]>;
}

/** Unanswered requests (all of one producer's) that end an open-loop run: the broker is not keeping up. */
const OUTSTANDING_REQUESTS_MAX = PRODUCE_REQUESTS_INFLIGHT_MAX;
/** How long a producer waits for its last answers. */
const WAIT_MS = 30_000;
/** How long a consumer short of the log end waits for its next record before it gives up. */
const DRAIN_IDLE_MS = 15_000;
const DRAIN_CHECK_MS = 10;
const FAILED_RANGES_MAX = 1_000;
const ERROR_MESSAGES_MAX = 3;
const CLOSE_WAIT_MS = 5_000;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A producer's requests: counts, failures and what is still unanswered. */
class Requests {
  readonly result: ProducerResult;
  /** Each unanswered request's records: [first, count]. */
  private readonly unanswered = new Map<Promise<void>, [number, number]>();
  /** Set once answers are no longer waited for: a late one is not counted (it was, as failed). */
  private over = false;

  constructor(
    private readonly driver: ProducerDriver,
    index: number,
  ) {
    this.result = { role: 'producer', index, sent: 0, measured: 0, requests: 0, failed: 0, failedRanges: [], failedRangesTruncated: false, errors: 0, errorMessages: [], stoppedEarly: null };
  }

  get outstanding(): number {
    return this.unanswered.size;
  }

  /** Sends records first .. first + values.length - 1, `measured` of them due after the warm-up. */
  send(partition: number, first: number, values: string[], measured: number): Promise<void> {
    this.result.sent = first + values.length;
    this.result.requests++;
    const request = this.driver.send(partition, values).then(
      () => {
        if (!this.over) this.result.measured += measured;
      },
      (error: unknown) => {
        if (!this.over) this.failed(first, values.length, error);
      },
    );
    this.unanswered.set(request, [first, values.length]);
    void request.finally(() => this.unanswered.delete(request));
    return request;
  }

  stop(reason: string): void {
    this.result.stoppedEarly ??= reason;
  }

  async answered(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, WAIT_MS)));
    await Promise.race([Promise.all(this.unanswered.keys()), timeout]);
    clearTimeout(timer);
    this.over = true;
    // Unanswered: the broker may or may not have them, as with a failed request.
    for (const [first, count] of this.unanswered.values()) this.failed(first, count, new Error(`no answer within ${WAIT_MS} ms of the end`));
  }

  private failed(first: number, count: number, error: unknown): void {
    this.result.failed += count;
    if (this.result.failedRanges.length < FAILED_RANGES_MAX) this.result.failedRanges.push([first, count]);
    else this.result.failedRangesTruncated = true;
    this.error(message(error));
  }

  private error(text: string): void {
    this.result.errors++;
    if (this.result.errorMessages.length < ERROR_MESSAGES_MAX) this.result.errorMessages.push(text);
  }
}

function partitionOf(job: ProducerJob, batch: number): number {
  return (job.index + batch) % job.partitions;
}

/** Records due at start + n / rate; a batch goes when its last record is due. */
async function openLoop(job: ProducerJob, requests: Requests, startMs: number): Promise<void> {
  const warmupEndMs = startMs + job.warmupMs;
  const total = Math.min(SEQUENCES_MAX, Math.max(1, Math.round((job.ratePerSecond * (job.warmupMs + job.durationMs)) / 1000)));
  let values: string[] = [];
  let measured = 0;
  let batch = 0;
  await sendOpenLoop(job.ratePerSecond, total, (dueAt, sequence) => {
    if (requests.result.stoppedEarly !== null) return;
    const dueMs = performance.timeOrigin + dueAt;
    values.push(stampedValue(dueMs, job.index, sequence, job.recordBytes));
    if (dueMs >= warmupEndMs) measured++;
    if (values.length < job.batchRecords && sequence < total - 1) return;
    if (requests.outstanding >= OUTSTANDING_REQUESTS_MAX) {
      requests.stop(`${OUTSTANDING_REQUESTS_MAX} requests unanswered at record ${sequence}: the broker (or this client) is not keeping up with ${job.ratePerSecond} records/s per producer`);
      return;
    }
    void requests.send(partitionOf(job, batch++), sequence + 1 - values.length, values, measured);
    values = [];
    measured = 0;
  });
}

/** `inflight` requests at a time until the end; each batch's records stamped when it is built. */
async function closedLoop(job: ProducerJob, requests: Requests, startMs: number): Promise<void> {
  const warmupEndMs = startMs + job.warmupMs;
  const endMs = warmupEndMs + job.durationMs;
  let next = 0;
  let batch = 0;
  await Promise.all(
    Array.from({ length: job.inflight }, async () => {
      for (let nowMs = epochNowMs(); nowMs < endMs && next + job.batchRecords <= SEQUENCES_MAX; nowMs = epochNowMs()) {
        const first = next;
        next += job.batchRecords;
        const values = Array.from({ length: job.batchRecords }, (_, i) => stampedValue(nowMs, job.index, first + i, job.recordBytes));
        await requests.send(partitionOf(job, batch++), first, values, nowMs >= warmupEndMs ? values.length : 0);
      }
    }),
  );
}

async function produce(job: ProducerJob): Promise<ProducerResult> {
  const driver = await openProducer(job, job.acks, job.ratePerSecond > 0 ? PRODUCE_REQUESTS_INFLIGHT_MAX : job.inflight);
  const requests = new Requests(driver, job.index);
  process.stdout.write(`${READY_LINE}\n`);
  const startMs = Number(await waitForGo());
  await sleep(Math.max(0, startMs - epochNowMs()));
  if (job.ratePerSecond > 0) await openLoop(job, requests, startMs);
  else await closedLoop(job, requests, startMs);
  await requests.answered();
  await driver.close();
  return requests.result;
}

// --- consumer ------------------------------------------------------------------------------

/** What a consumer has read so far. */
class Reading {
  readonly seen: SeenRecords;
  readonly histogram = latencyHistogram();
  /** Partition -> the offset after the last record read. */
  readonly positions = new Map<number, number>();
  warmupEndMs = Number.POSITIVE_INFINITY;
  read = 0;
  recorded = 0;
  unreadable = 0;
  lastRecordedDeliveryMs = 0;
  private readonly stamp: Stamp = { dueMs: 0, producer: 0, sequence: 0 };

  constructor(private readonly job: ConsumerJob) {
    this.seen = new SeenRecords(job.producers);
    job.startOffsets.forEach((offset, partition) => this.positions.set(partition, offset));
  }

  onRecord(partition: number, offset: number, value: Uint8Array | string | null, deliveredAtMs: number): void {
    this.read++;
    if (offset >= (this.positions.get(partition) ?? 0)) this.positions.set(partition, offset + 1);
    if (!readStamp(value, this.stamp) || this.stamp.producer >= this.job.producers) {
      this.unreadable++;
      return;
    }
    this.seen.mark(this.stamp.producer, this.stamp.sequence);
    if (this.stamp.dueMs < this.warmupEndMs) return;
    this.histogram.recordValue(latencyMicros(deliveredAtMs - this.stamp.dueMs));
    this.recorded++;
    this.lastRecordedDeliveryMs = Math.max(this.lastRecordedDeliveryMs, deliveredAtMs);
  }

  /** Partitions of `partitions` not yet read up to `ends`: [partition, position, end]. */
  shortOf(partitions: readonly number[], ends: readonly number[]): Array<[number, number, number]> {
    return partitions.map((partition): [number, number, number] => [partition, this.positions.get(partition) ?? 0, ends[partition] ?? 0]).filter(([, position, end]) => position < end);
  }
}

async function consume(job: ConsumerJob): Promise<void> {
  const reading = new Reading(job);
  let failure: Error | null = null;
  const driver = await openConsumer(
    job,
    { group: job.group, consumers: job.consumers, startOffsets: job.startOffsets },
    (partition, offset, value, deliveredAtMs) => reading.onRecord(partition, offset, value, deliveredAtMs),
    (error) => (failure ??= error),
  );
  process.stdout.write(`${READY_LINE}\n`);
  await parentLine('join');
  await driver.join();
  reading.warmupEndMs = Number(await waitForGo()) + job.warmupMs;
  const ends = JSON.parse(await parentLine('end')) as number[];

  let readAtLastCheck = -1;
  let progressAtMs = performance.now();
  for (;;) {
    if (failure !== null) throw failure;
    if (reading.shortOf(driver.partitions(), ends).length === 0) break;
    if (reading.read !== readAtLastCheck) {
      readAtLastCheck = reading.read;
      progressAtMs = performance.now();
    } else if (performance.now() - progressAtMs > DRAIN_IDLE_MS) {
      break;
    }
    await sleep(DRAIN_CHECK_MS);
  }
  const shortOf = reading.shortOf(driver.partitions(), ends);
  const result: ConsumerResult = {
    role: 'consumer',
    index: job.index,
    partitions: driver.partitions(),
    read: reading.read,
    recorded: reading.recorded,
    duplicates: reading.seen.duplicates,
    unreadable: reading.unreadable,
    histogram: hdr.encodeIntoCompressedBase64(reading.histogram),
    lastRecordedDeliveryMs: reading.lastRecordedDeliveryMs,
    seen: reading.seen.encode(),
    drained: shortOf.length === 0,
    shortOf,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await parentLine('exit');
  await Promise.race([driver.close(), sleep(CLOSE_WAIT_MS)]);
}

try {
  const argument = process.argv[2];
  if (argument === undefined) throw new Error('usage: node --import tsx bench/load-worker.ts <WorkerJob as JSON>');
  const job = JSON.parse(argument) as WorkerJob;
  if (job.role === 'producer') process.stdout.write(`${JSON.stringify(await produce(job))}\n`);
  else await consume(job);
  process.exit(0);
} catch (error) {
  // Exit now: a failed client leaves sockets open (a reconnecting client, a waiting fetch) that would keep this process alive.
  process.stderr.write(`load-worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`, () => process.exit(1));
}
