/**
 * The latency load generator of bench/peers.bench.ts: end-to-end delivery
 * latency of one system at fixed rates, run as a child process (one per
 * system, so the parent can measure the broker meanwhile):
 *
 *   node --import tsx bench/peers-latency-load.ts '<PeersLatencyJob as JSON>'
 *
 * Producer and consumer live in this child, each on its own connection, each
 * used the way its library's docs suggest for low latency: one record per
 * send call, no linger, nothing awaited before the next send (what a client
 * coalesces within one event-loop turn by itself, it may); the consumer waits
 * on the server (long poll, blocking read, pull request held open):
 *
 *   ferry-kafka  @platformatic/kafka Producer, acks=1, the records of one event-loop turn
 *                in one send() (as Kafka producers batch with linger.ms=0); Consumer
 *                stream from the log end, maxWaitTime 500 ms, minBytes 1
 *   ferry-ws     FerryClient (binary encoding, binary produce frames): produce() of one
 *                record, acks=1 (the client itself sends one turn's calls as one request);
 *                subscribe from latest on a second client
 *   redis        ioredis: XADD per record, auto-pipelining (the commands of one event-loop
 *                turn in one write); XREAD BLOCK on a second connection
 *   nats         nats.js JetStream: js.publish per record (ack awaited, not before
 *                the next); pull consumer consume(), DeliverPolicy.New, AckPolicy.None
 *
 * Open loop (bench/open-loop.ts): record i is due at start + i / rate and
 * carries its due time in its value, so a system falling behind shows up as
 * latency (no coordinated omission). Before the first rate the producer sends
 * marker records until the consumer sees one, so no record is produced before
 * the consumer reads from the end. Rates run one after the other on the same
 * topic / stream; each starts once the previous one's records all arrived.
 * Prints one JSON line (PeersLatencyResult) on stdout and exits. Nothing
 * asserts on timing.
 */

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryClient, type ConsumedRecord, type WebSocketConstructor } from '../src/client/index.js';
import { LatencyRecorder, sendOpenLoop, stampDueTime, type LatencySummary } from './open-loop.js';
import type { PeerSystem } from './peers-load.js';

export interface PeersLatencyJob {
  system: PeerSystem;
  /** host:port for ferry-kafka, redis and nats; ws://host:port for ferry-ws. */
  address: string;
  valueBytes: number;
  /** Records/s, run one after the other. */
  rates: readonly number[];
  warmupSeconds: number;
  seconds: number;
}

export interface LatencyRun extends LatencySummary {
  ratePerSecond: number;
  sent: number;
  /** Sends the client refused (its request queue full: the system fell behind the rate); never delivered. */
  refused: number;
  /** The first refusal's message, '' if none. */
  firstRefusal: string;
  /** Recorded records over the time from the first recorded one's due time to the last delivery. */
  achievedPerSecond: number;
}

export interface PeersLatencyResult {
  system: PeerSystem;
  runs: LatencyRun[];
}

const TOPIC = 'latency';
const WAIT_MS = 60_000;
/** Marker values sent until the consumer sees one; never recorded. */
const READY_MARKER = 'ready';
const READY_INTERVAL_MS = 20;
/** A stamp (performance.now() in ms with 4 decimals) fits in this many leading bytes of the value. */
const STAMP_BYTES_MAX = 24;
/** Consumer-side batch limits: what a read may return at once. */
const READ_RECORDS_MAX = 1000;
const FETCH_WAIT_MS = 500;
/** Kafka produce requests one connection may have unanswered: enough never to be the limit at these rates. */
const PRODUCE_INFLIGHT_MAX = 1000;

interface LatencyDriver {
  /** Starts reading from the end; `onValue` is called with every value's leading text, as it arrives. */
  subscribe(onValue: (text: string) => void): Promise<void>;
  /** Sends one record; the schedule never waits on the promise. */
  send(value: Buffer): Promise<unknown>;
  close(): Promise<void>;
}

function leadingText(value: Uint8Array | null | undefined): string {
  if (value === null || value === undefined) return '';
  return Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, STAMP_BYTES_MAX)).toString('latin1');
}

async function withinWait<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

// --- drivers -----------------------------------------------------------------------------

/**
 * Records sent in the same turn of the event loop go out as one send() (one
 * Produce request): what Kafka's own producers do with linger.ms=0, batching
 * whatever accumulated while the sender was busy. @platformatic/kafka sends
 * one request per send() call, and one message per request was client-bound
 * here (the child at a full core, ~6-7k records/s of 1 KiB, Ferry at 0.3 cores).
 */
function sendTogetherPerTurn(sendBatch: (values: Buffer[]) => Promise<unknown>): (value: Buffer) => Promise<unknown> {
  let waiting: Array<{ value: Buffer; settle: (outcome: Promise<unknown>) => void }> = [];
  const flush = (): void => {
    const batch = waiting;
    waiting = [];
    const sent = sendBatch(batch.map((each) => each.value));
    for (const each of batch) each.settle(sent);
  };
  return (value) =>
    new Promise((resolve) => {
      if (waiting.length === 0) queueMicrotask(flush);
      waiting.push({ value, settle: resolve });
    });
}

async function ferryKafka(job: PeersLatencyJob): Promise<LatencyDriver> {
  const { Consumer, Producer } = await import('@platformatic/kafka');
  const bootstrapBrokers = [job.address];
  // maxInflights: the default 5 requests per connection caps small sends at 5 per round trip.
  const producer = new Producer({ clientId: 'peers-latency', bootstrapBrokers, acks: 1, maxInflights: PRODUCE_INFLIGHT_MAX });
  const consumer = new Consumer({ clientId: 'peers-latency', groupId: `peers-latency-${Date.now()}`, bootstrapBrokers, maxWaitTime: FETCH_WAIT_MS, minBytes: 1 });
  return {
    subscribe: async (onValue) => {
      const stream = await consumer.consume({ topics: [TOPIC], mode: 'latest', autocommit: false });
      stream.on('data', (message: { value: Buffer }) => onValue(leadingText(message.value)));
    },
    send: sendTogetherPerTurn((values) => producer.send({ messages: values.map((value) => ({ topic: TOPIC, value, partition: 0 })) })),
    close: async () => {
      await consumer.close(true);
      await producer.close();
    },
  };
}

async function ferryWs(job: PeersLatencyJob): Promise<LatencyDriver> {
  const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;
  const producer = await FerryClient.connect(job.address, { WebSocket, encoding: 'binary', produceEncoding: 'binary' });
  const consumer = await FerryClient.connect(job.address, { WebSocket, encoding: 'binary' });
  return {
    subscribe: async (onValue) => {
      const subscription = consumer.subscribe(TOPIC, { from: 'latest' });
      await subscription.ready;
      void (async () => {
        for await (const record of subscription as AsyncIterable<ConsumedRecord>) onValue(leadingText(record.value));
      })();
    },
    send: (value) => producer.produce(TOPIC, { value }, { acks: 1 }),
    close: async () => {
      await producer.close();
      await consumer.close();
    },
  };
}

type StreamEntries = Array<[id: Buffer, fields: Buffer[]]>;

async function redis(job: PeersLatencyJob): Promise<LatencyDriver> {
  const { Redis } = await import('ioredis');
  const [host, port] = job.address.split(':');
  // RESP2: XREAD answers [[key, entries]]. A blocking read holds its connection, so the reader has its own.
  const options = { host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, protocol: 2 } as const;
  // Auto-pipelining: commands issued in the same event-loop turn go out in one write, ioredis's own
  // answer to many small commands (as records of a turn share one Produce request on the Kafka door).
  const writer = new Redis({ ...options, enableAutoPipelining: true });
  const reader = new Redis(options);
  await writer.connect();
  await reader.connect();
  let reading = true;
  return {
    subscribe: async (onValue) => {
      let lastId: Buffer | string = '$';
      const read = async (): Promise<void> => {
        while (reading) {
          const reply = (await reader.callBuffer('XREAD', 'COUNT', READ_RECORDS_MAX, 'BLOCK', FETCH_WAIT_MS, 'STREAMS', TOPIC, lastId)) as Array<[Buffer, StreamEntries]> | null;
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            onValue(leadingText(fields[1]));
            lastId = id;
          }
        }
      };
      // XADD creates the stream; '$' on a missing stream reads from its creation on.
      void read().catch((error: unknown) => {
        if (reading) throw error;
      });
    },
    send: (value) => writer.xadd(TOPIC, '*', 'v', value),
    close: async () => {
      reading = false;
      writer.disconnect();
      reader.disconnect();
    },
  };
}

async function nats(job: PeersLatencyJob): Promise<LatencyDriver> {
  const { AckPolicy, connect, DeliverPolicy, StorageType } = await import('nats');
  const connection = await connect({ servers: job.address });
  const manager = await connection.jetstreamManager();
  await manager.streams.add({ name: TOPIC, subjects: [TOPIC], storage: StorageType.File, num_replicas: 1 });
  const jetstream = connection.jetstream();
  // nats.js captures a stack per publish for a later timeout; the peers throughput load measured that as its largest cost.
  Error.stackTraceLimit = 0;
  return {
    subscribe: async (onValue) => {
      await manager.consumers.add(TOPIC, { durable_name: 'latency', ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.New });
      const messages = await (await jetstream.consumers.get(TOPIC, 'latency')).consume({ max_messages: READ_RECORDS_MAX });
      void (async () => {
        for await (const message of messages) onValue(leadingText(message.data));
      })();
    },
    send: (value) => jetstream.publish(TOPIC, value),
    close: () => connection.close(),
  };
}

const DRIVERS: Record<PeerSystem, (job: PeersLatencyJob) => Promise<LatencyDriver>> = { 'ferry-kafka': ferryKafka, 'ferry-ws': ferryWs, redis, nats };

// --- the run -------------------------------------------------------------------------------

/**
 * Where delivered values go: nowhere until the first rate starts, markers
 * never to a recorder. A run is complete once every record sent and not
 * refused by the client has arrived.
 */
class Delivery {
  markerSeen = false;
  lastDeliveredAtMs = 0;
  private recorder: LatencyRecorder | null = null;
  private refused = 0;
  private onComplete: (() => void) | null = null;

  onValue(text: string): void {
    if (text.startsWith(READY_MARKER)) {
      this.markerSeen = true;
      return;
    }
    if (this.recorder === null) throw new Error(`a record arrived outside any run: ${JSON.stringify(text)}`);
    this.lastDeliveredAtMs = performance.now();
    this.recorder.delivered(text, this.lastDeliveredAtMs);
    this.checkComplete();
  }

  /** A send the client refused (its queue full: the system fell behind); that record never arrives. */
  onRefused(): void {
    this.refused++;
    this.checkComplete();
  }

  /** Routes the next records to `recorder`; resolves once `recorder.total` less those refused arrived. */
  expect(recorder: LatencyRecorder): Promise<void> {
    this.recorder = recorder;
    this.refused = 0;
    return new Promise((resolve) => {
      this.onComplete = resolve;
    });
  }

  private checkComplete(): void {
    if (this.recorder !== null && this.recorder.received + this.refused >= this.recorder.total) this.onComplete?.();
  }
}

/** Sends markers until the consumer sees one: from then on every record sent is read. */
async function awaitConsumer(driver: LatencyDriver, delivery: Delivery, valueBytes: number): Promise<void> {
  const marker = Buffer.from(READY_MARKER.padEnd(valueBytes, ' '), 'latin1');
  const deadline = performance.now() + WAIT_MS;
  while (!delivery.markerSeen) {
    if (performance.now() > deadline) throw new Error(`the consumer saw no marker within ${WAIT_MS} ms`);
    await driver.send(marker);
    await sleep(READY_INTERVAL_MS);
  }
  // Markers still in flight arrive before the first stamped record and are skipped.
}

async function runRate(job: PeersLatencyJob, driver: LatencyDriver, delivery: Delivery, ratePerSecond: number): Promise<LatencyRun> {
  const warmup = Math.round(ratePerSecond * job.warmupSeconds);
  const total = warmup + Math.max(1, Math.round(ratePerSecond * job.seconds));
  const recorder = new LatencyRecorder(warmup, total);
  const arrived = delivery.expect(recorder);
  let refused = 0;
  let firstRefusal = '';
  const refuse = (error: unknown): void => {
    refused++;
    firstRefusal ||= error instanceof Error ? error.message : String(error);
    delivery.onRefused();
  };
  const sends: Array<Promise<unknown>> = [];
  const started = await sendOpenLoop(ratePerSecond, total, (dueAtMs) => {
    sends.push(driver.send(Buffer.from(stampDueTime(dueAtMs, job.valueBytes), 'latin1')).catch(refuse));
  });
  const what = `${job.system} at ${ratePerSecond} records/s`;
  await withinWait(Promise.all(sends), `${what}: acknowledgements`);
  await withinWait(arrived, `${what}: delivery of ${total} records (${refused} refused)`);
  if (recorder.recorded === 0) throw new Error(`${what}: no record delivered after the warm-up (${refused} of ${total} refused: ${firstRefusal})`);
  const firstRecordedDueAtMs = started + (warmup * 1000) / ratePerSecond;
  const summary = recorder.summary();
  return { ratePerSecond, sent: total, refused, firstRefusal, achievedPerSecond: summary.recorded / ((delivery.lastDeliveredAtMs - firstRecordedDueAtMs) / 1000), ...summary };
}

async function run(job: PeersLatencyJob): Promise<PeersLatencyResult> {
  const driver = await DRIVERS[job.system](job);
  const delivery = new Delivery();
  await driver.subscribe((text) => delivery.onValue(text));
  await awaitConsumer(driver, delivery, job.valueBytes);
  const runs: LatencyRun[] = [];
  for (const ratePerSecond of job.rates) runs.push(await runRate(job, driver, delivery, ratePerSecond));
  await driver.close();
  return { system: job.system, runs };
}

try {
  const argument = process.argv[2];
  if (argument === undefined) throw new Error('usage: node --import tsx bench/peers-latency-load.ts <PeersLatencyJob as JSON>');
  const result = await run(JSON.parse(argument) as PeersLatencyJob);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (error) {
  process.stderr.write(`peers-latency-load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
