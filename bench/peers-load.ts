/**
 * The load generator of bench/peers.bench.ts, run as a child process so the
 * client's CPU is not counted against Ferry's event loop (Ferry runs in the
 * parent; Redis and NATS run as their own servers):
 *
 *   node --import tsx bench/peers-load.ts '<PeersLoadJob[] as JSON>'
 *
 * One job per system, run one after the other in the same child (a child's
 * start-up costs about a second). A job: produce `records` values of
 * `valueBytes` into one partition / stream with that system's batching, then
 * consume them all from the start. Each client is the usual Node one, used the way its docs
 * recommend for throughput:
 *
 *   ferry-kafka  @platformatic/kafka (the faster encoder): send() of batchRecords messages, `inflight`
 *                sends at once, acks=1; kafkajs (the faster decoder) eachBatch from the beginning, no commits
 *   ferry-ws     FerryClient, binary encoding: produce() of batchRecords values, `inflight` at
 *                once, acks=1, each a binary produce frame of one record batch the client
 *                builds (CRC32C in JS) and the broker appends as sent; binary pushes,
 *                subscribe from earliest
 *   redis        ioredis: pipelines of batchRecords XADDs, `inflight` pipelines at once;
 *                XREADGROUP COUNT batchRecords NOACK (no pending-entries list: nothing is committed here either)
 *   nats         nats.js JetStream: async publish, acks awaited per window of batchRecords;
 *                a pull consumer (consume(), max_messages batchRecords), AckPolicy.None
 *
 * Consume time runs from the first record delivered to the last (group joins
 * and consumer creation excluded, for every system alike). Prints one JSON
 * line (PeersLoadResult[]) on stdout and exits. Nothing asserts on timing.
 */

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { FerryClient, type ProduceInput, type WebSocketConstructor } from '../src/client/index.js';

export type PeerSystem = 'ferry-kafka' | 'ferry-ws' | 'redis' | 'nats';

export interface PeersLoadJob {
  system: PeerSystem;
  /** host:port for ferry-kafka, redis and nats; ws://host:port for ferry-ws. */
  address: string;
  records: number;
  valueBytes: number;
  batchRecords: number;
  /** Batches in flight at once while producing (nats: ignored; one window of batchRecords publishes). */
  inflight: number;
}

export interface Phase {
  records: number;
  valueBytes: number;
  elapsedMs: number;
}

export interface PeersLoadResult {
  system: PeerSystem;
  produce: Phase;
  consume: Phase;
}

const TOPIC = 'peers';
const WAIT_MS = 120_000;
const MiB = 1024 * 1024;

interface Driver {
  /** Produces `batches` batches; the caller times it. */
  produce(batches: number): Promise<void>;
  /** Reads until `records` records; returns the value bytes seen and when the first record arrived. */
  consume(records: number): Promise<{ valueBytes: number; firstAt: number }>;
  close(): Promise<void>;
}

/** Runs `inflight` workers over batch numbers 0..batches-1. */
async function windowed(inflight: number, batches: number, send: () => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inflight, batches) }, async () => {
      while (next < batches) {
        next++;
        await send();
      }
    }),
  );
}

async function withinWait<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

// --- Ferry, Kafka door ----------------------------------------------------------------

async function ferryKafka(job: PeersLoadJob): Promise<Driver> {
  // Each client library is imported by its driver only: the bench runs one child per system, and
  // @platformatic/kafka alone takes about a second to load here.
  const { Producer } = await import('@platformatic/kafka');
  const { Kafka, logLevel } = await import('kafkajs');
  const bootstrapBrokers = [job.address];
  const producer = new Producer({ clientId: 'peers-bench', bootstrapBrokers, acks: 1 });
  const value = Buffer.alloc(job.valueBytes, 'x');
  const messages = Array.from({ length: job.batchRecords }, () => ({ topic: TOPIC, value, partition: 0 }));
  return {
    produce: async (batches) => {
      await windowed(job.inflight, batches, async () => {
        await producer.send({ messages });
      });
    },
    consume: async (records) => {
      // kafkajs, not @platformatic/kafka, for reading: in a CPU profile the latter's per-record
      // decoding (#pushRecords, readVarInt, GC) capped it at 60-80k records/s with Ferry mostly idle.
      const consumer = new Kafka({ clientId: 'peers-bench', brokers: bootstrapBrokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `peers-${Date.now()}`, maxBytes: 50 * MiB, maxBytesPerPartition: 10 * MiB });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        let seen = 0;
        let valueBytes = 0;
        let firstAt = 0;
        await new Promise<void>((resolve, reject) => {
          consumer
            .run({
              autoCommit: false,
              eachBatch: async ({ batch }) => {
                if (seen === 0) firstAt = performance.now();
                for (const message of batch.messages) valueBytes += message.value?.length ?? 0;
                seen += batch.messages.length;
                if (seen >= records) resolve();
              },
            })
            .catch(reject);
        });
        return { valueBytes, firstAt };
      } finally {
        await consumer.disconnect();
      }
    },
    close: () => producer.close(),
  };
}

// --- Ferry, WebSocket door -------------------------------------------------------------

async function ferryWs(job: PeersLoadJob): Promise<Driver> {
  const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;
  const client = await FerryClient.connect(job.address, { WebSocket, encoding: 'binary', produceEncoding: 'binary' });
  const value = new Uint8Array(job.valueBytes).fill(0x78);
  const batch: ProduceInput[] = Array.from({ length: job.batchRecords }, () => ({ value }));
  return {
    produce: async (batches) => {
      await windowed(job.inflight, batches, async () => {
        await client.produce(TOPIC, batch, { acks: 1 });
      });
    },
    consume: async (records) => {
      let seen = 0;
      let valueBytes = 0;
      let firstAt = 0;
      for await (const record of client.subscribe(TOPIC, { from: 'earliest' })) {
        if (seen === 0) firstAt = performance.now();
        valueBytes += record.value?.length ?? 0;
        if (++seen >= records) break;
      }
      return { valueBytes, firstAt };
    },
    close: () => client.close(),
  };
}

// --- Redis Streams ---------------------------------------------------------------------

type StreamEntries = Array<[id: Buffer, fields: Buffer[]]>;

async function redis(job: PeersLoadJob): Promise<Driver> {
  const { Redis } = await import('ioredis');
  const [host, port] = job.address.split(':');
  const client = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, protocol: 2 }); // RESP2: XREADGROUP answers [[key, entries]]
  await client.connect();
  const value = Buffer.alloc(job.valueBytes, 'x');
  return {
    produce: async (batches) => {
      await windowed(job.inflight, batches, async () => {
        const pipeline = client.pipeline();
        for (let i = 0; i < job.batchRecords; i++) pipeline.xadd(TOPIC, '*', 'v', value);
        const replies = (await pipeline.exec()) ?? [];
        const failed = replies.find(([error]) => error !== null);
        if (failed !== undefined) throw failed[0];
      });
    },
    consume: async (records) => {
      await client.xgroup('CREATE', TOPIC, 'peers', '0');
      let seen = 0;
      let valueBytes = 0;
      let firstAt = 0;
      while (seen < records) {
        const reply = (await client.callBuffer('XREADGROUP', 'GROUP', 'peers', 'c1', 'COUNT', job.batchRecords, 'NOACK', 'STREAMS', TOPIC, '>')) as Array<[Buffer, StreamEntries]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) throw new Error(`redis: stream ended after ${seen} of ${records} entries`);
        if (seen === 0) firstAt = performance.now();
        for (const [, fields] of entries) valueBytes += fields[1]?.length ?? 0;
        seen += entries.length;
      }
      return { valueBytes, firstAt };
    },
    close: async () => {
      client.disconnect();
    },
  };
}

// --- NATS JetStream --------------------------------------------------------------------

async function nats(job: PeersLoadJob): Promise<Driver> {
  const { AckPolicy, connect, DeliverPolicy, StorageType } = await import('nats');
  const connection = await connect({ servers: job.address });
  const manager = await connection.jetstreamManager();
  await manager.streams.add({ name: TOPIC, subjects: [TOPIC], storage: StorageType.File, num_replicas: 1 });
  const jetstream = connection.jetstream();
  const value = new Uint8Array(job.valueBytes).fill(0x78);
  return {
    produce: async (batches) => {
      // nats.js builds an Error per request up front (the stack for a later timeout); capturing
      // the stack was the client's largest cost in a profile, so none is captured while publishing.
      const stackTraceLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        for (let window = 0; window < batches; window++) {
          const acks = Array.from({ length: job.batchRecords }, () => jetstream.publish(TOPIC, value));
          await Promise.all(acks);
        }
      } finally {
        Error.stackTraceLimit = stackTraceLimit;
      }
    },
    consume: async (records) => {
      await manager.consumers.add(TOPIC, { durable_name: 'peers', ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
      const consumer = await jetstream.consumers.get(TOPIC, 'peers');
      const messages = await consumer.consume({ max_messages: job.batchRecords });
      let seen = 0;
      let valueBytes = 0;
      let firstAt = 0;
      for await (const message of messages) {
        if (seen === 0) firstAt = performance.now();
        valueBytes += message.data.length;
        if (++seen >= records) break;
      }
      // Not close(): after the loop's break it never resolves (nats.js 2.29 against server 2.9); stop() ends the pulls.
      messages.stop();
      return { valueBytes, firstAt };
    },
    close: () => connection.close(),
  };
}

const DRIVERS: Record<PeerSystem, (job: PeersLoadJob) => Promise<Driver>> = { 'ferry-kafka': ferryKafka, 'ferry-ws': ferryWs, redis, nats };

/** Produces then consumes with one system; the driver is closed before the next system starts. */
async function run(job: PeersLoadJob): Promise<PeersLoadResult> {
  const driver = await DRIVERS[job.system](job);
  const batches = Math.ceil(job.records / job.batchRecords);
  const records = batches * job.batchRecords;

  const produceStarted = performance.now();
  await withinWait(driver.produce(batches), `${job.system} produce ${records} records`);
  const produceMs = performance.now() - produceStarted;

  const consumed = await withinWait(driver.consume(records), `${job.system} consume ${records} records`);
  const consumeMs = performance.now() - consumed.firstAt;
  await driver.close();
  return {
    system: job.system,
    produce: { records, valueBytes: records * job.valueBytes, elapsedMs: produceMs },
    consume: { records, valueBytes: consumed.valueBytes, elapsedMs: consumeMs },
  };
}

async function main(): Promise<void> {
  const argument = process.argv[2];
  if (argument === undefined) throw new Error('usage: node --import tsx bench/peers-load.ts <PeersLoadJob[] as JSON>');
  const jobs = JSON.parse(argument) as PeersLoadJob[];
  const results: PeersLoadResult[] = [];
  // One after the other, never at once: each system gets both cores' share it would get alone.
  for (const job of jobs) results.push(await run(job));
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

try {
  await main();
  process.exit(0);
} catch (error) {
  process.stderr.write(`peers-load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
