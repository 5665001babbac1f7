/**
 * The soak's Kafka clients, all kafkajs: producers with idempotence and
 * acks=all sending one record per send, round robin over the partitions,
 * each value `p<producer>-<sequence>` (unique, numbered per producer); a
 * consumer in a group reading all along; and the final read-back of every
 * partition from offset 0 to its high watermark by a fresh consumer.
 * Only acknowledged records are promised: a send that fails after kafkajs's
 * retries is counted and its value never sent again.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';

export interface Acked {
  producer: number;
  sequence: number;
  value: string;
  partition: number;
  offset: number;
  /** performance.now() when the acknowledgement arrived. */
  ackAtMs: number;
}

/** What a consumer was served, by partition then offset. */
export type Served = Map<number, Map<number, string>>;

const KAFKAJS_LOG = process.env.DEBUG_KAFKAJS ? logLevel.DEBUG : logLevel.NOTHING;
/** A request to a paused broker is given up after this (kafkajs waits 30 s by default), then retried elsewhere. */
const REQUEST_TIMEOUT_MS = 4_000;
/** After a failed send: not a hot loop while no leader takes writes. */
const FAILED_SEND_PAUSE_MS = 100;
const READ_BACK_WAIT_MS = 120_000;
const POLL_MS = 100;

function kafka(clientId: string, brokers: string[]): Kafka {
  return new Kafka({ clientId, brokers, logLevel: KAFKAJS_LOG, requestTimeout: REQUEST_TIMEOUT_MS, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } });
}

export class SoakProducer {
  /** In acknowledgement order. */
  readonly acked: Acked[] = [];
  failedSends = 0;
  readonly failureMessages = new Map<string, number>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly index: number,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly partitions: number,
  ) {}

  static async start(index: number, brokers: string[], topic: string, partitions: number): Promise<SoakProducer> {
    const producer = kafka(`ferry-soak-producer-${index}`, brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const soak = new SoakProducer(index, producer, topic, partitions);
    soak.loop = soak.run();
    return soak;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.producer.disconnect();
  }

  private async run(): Promise<void> {
    for (let sequence = 0; !this.stopped; sequence++) {
      const value = `p${this.index}-${sequence}`;
      // Partitions in turn (offset by producer), so every partition is written all along and a failover shows at once.
      const partition = (sequence + this.index) % this.partitions;
      try {
        const [result] = await this.producer.send({ topic: this.topic, acks: -1, messages: [{ value, partition }] });
        this.acked.push({ producer: this.index, sequence, value, partition: result!.partition, offset: Number(result!.baseOffset), ackAtMs: performance.now() });
      } catch (error) {
        this.failedSends++;
        const message = (error as Error).message;
        this.failureMessages.set(message, (this.failureMessages.get(message) ?? 0) + 1);
        await sleep(FAILED_SEND_PAUSE_MS);
      }
    }
  }
}

/** The first acknowledgement for `partition` that arrived at or after `sinceMs`, across producers. */
export function firstAckSince(producers: readonly SoakProducer[], partition: number, sinceMs: number): Acked | undefined {
  let first: Acked | undefined;
  for (const producer of producers) {
    // Acks are in arrival order: search back from the newest only as far as `sinceMs`.
    for (let i = producer.acked.length - 1; i >= 0 && producer.acked[i]!.ackAtMs >= sinceMs; i--) {
      const acked = producer.acked[i]!;
      if (acked.partition === partition && (!first || acked.ackAtMs < first.ackAtMs)) first = acked;
    }
  }
  return first;
}

function serve(served: Served, partition: number, offset: number, value: string): string | undefined {
  let byOffset = served.get(partition);
  if (!byOffset) served.set(partition, (byOffset = new Map()));
  const before = byOffset.get(offset);
  if (before === undefined) byOffset.set(offset, value);
  return before;
}

/** A group consumer reading from the beginning while the faults go on; redeliveries are allowed, changed records are not. */
export class LiveConsumer {
  readonly served: Served = new Map();
  records = 0;
  /** kafkajs CRASH events' errors (it restarts the consumer after each). */
  readonly crashes: string[] = [];
  /** The same offset served with two different values: a record read that the log later lost. */
  readonly conflicts: string[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(brokers: string[], topic: string): Promise<LiveConsumer> {
    const consumer = kafka('ferry-soak-consumer', brokers).consumer({ groupId: `ferry-soak-live-${Date.now()}` });
    const live = new LiveConsumer(consumer);
    consumer.on(consumer.events.CRASH, (event) => live.crashes.push(String(event.payload.error?.message ?? event.payload.error)));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    // No offset commits: the soak checks the partitions' logs, not group offsets; a restarted consumer reads from the start again.
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const value = message.value!.toString();
        const before = serve(live.served, partition, Number(message.offset), value);
        if (before !== undefined && before !== value) live.conflicts.push(`partition ${partition} offset ${message.offset}: served "${before}", later "${value}"`);
        live.records++;
      },
    });
    return live;
  }

  /** Resolves true once every acknowledged record was served, false after `waitMs`. */
  async caughtUp(acked: readonly Acked[], waitMs: number): Promise<boolean> {
    const deadline = performance.now() + waitMs;
    while (performance.now() < deadline) {
      if (acked.every((record) => this.served.get(record.partition)?.get(record.offset) !== undefined)) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** Every record of the topic, per partition, from offset 0 to the high watermark, in the order read. */
export async function readBack(brokers: string[], topic: string): Promise<Map<number, Array<{ offset: number; value: string }>>> {
  const client = kafka('ferry-soak-reader', brokers);
  const admin = client.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const read = new Map<number, Array<{ offset: number; value: string }>>(ends.map(({ partition }) => [partition, []]));
  const next = new Map<number, number>(ends.map(({ partition }) => [partition, 0]));
  const done = (): boolean => ends.every(({ partition, high }) => next.get(partition)! >= Number(high));
  const consumer = client.consumer({ groupId: `ferry-soak-reader-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        read.get(partition)!.push({ offset: Number(message.offset), value: message.value!.toString() });
        next.set(partition, Number(message.offset) + 1);
      },
    });
    const deadline = performance.now() + READ_BACK_WAIT_MS;
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`read-back not at the high watermarks after ${READ_BACK_WAIT_MS} ms: ${JSON.stringify(ends.map(({ partition, high }) => ({ partition, high, next: next.get(partition) })))}`);
      await sleep(POLL_MS);
    }
  } finally {
    await consumer.disconnect();
  }
  return read;
}
