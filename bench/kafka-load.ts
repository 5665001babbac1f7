/**
 * The kafkajs load generator of bench/kafka.bench.ts, run as a child process
 * so the client's CPU is not counted against the broker's event loop:
 *
 *   node --import tsx bench/kafka-load.ts '<KafkaLoadJob as JSON>'
 *
 * Prints its result as one JSON line on stdout and exits. Nothing here
 * asserts on timing.
 */

import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';

export type KafkaLoadJob =
  | { mode: 'kafkajs-produce'; bootstrap: string; topic: string; valueBytes: number; batchRecords: number; inflight: number; seconds: number }
  | { mode: 'kafkajs-consume'; bootstrap: string; topic: string; records: number };

export type KafkaLoadResult =
  | { mode: 'kafkajs-produce'; records: number; valueBytes: number; elapsedMs: number }
  | { mode: 'kafkajs-consume'; records: number; valueBytes: number; elapsedMs: number };

const WAIT_MS = 120_000;

function client(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'ferry-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
}

async function produce(job: Extract<KafkaLoadJob, { mode: 'kafkajs-produce' }>): Promise<KafkaLoadResult> {
  const producer = client(job.bootstrap).producer({ maxInFlightRequests: job.inflight });
  await producer.connect();
  const value = Buffer.alloc(job.valueBytes, 'x');
  const messages = Array.from({ length: job.batchRecords }, () => ({ value, partition: 0 }));
  const started = performance.now();
  const deadline = started + job.seconds * 1000;
  let records = 0;
  await Promise.all(
    Array.from({ length: job.inflight }, async () => {
      while (performance.now() < deadline) {
        await producer.send({ topic: job.topic, acks: 1, messages });
        records += messages.length;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  await producer.disconnect();
  return { mode: 'kafkajs-produce', records, valueBytes: records * job.valueBytes, elapsedMs };
}

async function consume(job: Extract<KafkaLoadJob, { mode: 'kafkajs-consume' }>): Promise<KafkaLoadResult> {
  const consumer = client(job.bootstrap).consumer({ groupId: `bench-${Date.now()}`, maxBytes: 50 * 1024 * 1024, maxBytesPerPartition: 10 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic: job.topic, fromBeginning: true });
  let records = 0;
  let valueBytes = 0;
  let started = 0;
  const elapsedMs = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${records} of ${job.records} within ${WAIT_MS} ms`)), WAIT_MS);
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (started === 0) started = performance.now();
        for (const message of batch.messages) valueBytes += message.value?.length ?? 0;
        records += batch.messages.length;
        if (records >= job.records) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      },
    });
  });
  await consumer.disconnect();
  return { mode: 'kafkajs-consume', records, valueBytes, elapsedMs };
}

const job = JSON.parse(process.argv[2] ?? '{}') as KafkaLoadJob;
const result = job.mode === 'kafkajs-produce' ? await produce(job) : await consume(job);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
