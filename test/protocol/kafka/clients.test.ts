/**
 * Real Kafka clients against the Kafka door, and the same records seen
 * through every door: kafkajs (keys, headers, gzip, snappy), kcat (-P with
 * keys and headers, -C from the beginning to the end), librdkafka's Python
 * binding (a group consumer committing by hand), and cross-door reads —
 * what kcat produced read over WebSocket and HTTP with identical keys,
 * values, headers and offsets; what a WebSocket client produced read by
 * kafkajs.
 */

import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { CompressionCodecs, CompressionTypes, Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import snappy from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../../src/broker/broker.js';
import { FerryClient, type ConsumedRecord, type WebSocketConstructor } from '../../../src/client/index.js';
import { startKafkaServer, type RunningKafkaServer } from '../../../src/protocol/kafka/server.js';
import { startServer, type RunningServer } from '../../../src/protocol/server.js';
import { decodeBatches } from '../../../src/storage/records.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { tempDir } from '../../storage/helpers.js';

const run = promisify(execFile);
const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;
const WAIT_MS = 20_000;
const logger = pino({ level: 'silent' });

// kafkajs ships no snappy codec; this one uses the broker's own snappy dependency (raw snappy, as librdkafka writes it).
CompressionCodecs[CompressionTypes.Snappy] = () => ({
  compress: async (encoder: { buffer: Buffer }) => snappy.compress(encoder.buffer),
  decompress: async (buffer: Buffer) => snappy.uncompress(buffer, { asBuffer: true }) as Promise<Buffer>,
});

let broker: Broker;
let kafkaDoor: RunningKafkaServer;
let webDoor: RunningServer;
let bootstrap: string;
let kafka: Kafka;

beforeAll(async () => {
  broker = await Broker.open({ dataDir: tempDir('ferry-clients-'), groups: { initialRebalanceDelayMs: 0, offsetsTopicPartitions: 3 } });
  kafkaDoor = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger });
  webDoor = await startServer({ broker, host: '127.0.0.1', port: 0, logger });
  bootstrap = `127.0.0.1:${kafkaDoor.port}`;
  kafka = new Kafka({ clientId: 'ferry-clients-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
});

afterAll(async () => {
  webDoor.close();
  await kafkaDoor.close();
  await broker.close();
  await closeSharedStoragePool();
});

interface Seen {
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Reads a whole partition with kafkajs from the beginning, until `count` messages arrived. */
async function kafkajsRead(topic: string, count: number): Promise<Seen[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}`, sessionTimeout: 6000, heartbeatInterval: 500 });
  const seen: Seen[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kafkajs read ${seen.length} of ${count} within ${WAIT_MS} ms`)), WAIT_MS);
      void consumer.run({
        eachMessage: async ({ message }: { message: KafkaMessage }) => {
          seen.push({
            offset: Number(message.offset),
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
          });
          if (seen.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return seen.sort((a, b) => a.offset - b.offset);
}

function wsSeen(record: ConsumedRecord): Seen {
  const headers: Record<string, string> = {};
  for (const header of record.headers) headers[header.key] = header.value === null ? '' : Buffer.from(header.value).toString();
  return { offset: record.offset, key: record.keyText, value: record.valueText, headers };
}

describe('kafkajs', () => {
  it.each([
    ['none', CompressionTypes.None, 0],
    ['gzip', CompressionTypes.GZIP, 1],
    ['snappy', CompressionTypes.Snappy, 2],
  ])('produces keys, values and headers (%s) and reads them back exactly', async (name, compression, codecId) => {
    const topic = `kafkajs-${name}`;
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const messages = Array.from({ length: 25 }, (_, i) => ({ key: `key-${i}`, value: `value-${i}-${'x'.repeat(i * 10)}`, headers: { trace: `t-${i}`, source: 'kafkajs' }, partition: 0 }));
    const [acked] = await producer.send({ topic, compression, acks: -1, messages });
    await producer.disconnect();
    expect(acked).toMatchObject({ topicName: topic, partition: 0, errorCode: 0, baseOffset: '0' });

    // Stored as the producer compressed it: the batch's codec bits are the producer's.
    const stored = decodeBatches(broker.log(topic, 0).read(0, 1 << 20).bytes);
    expect(stored.every((batch) => batch.compression === codecId)).toBe(true);

    const seen = await kafkajsRead(topic, messages.length);
    expect(seen).toEqual(messages.map((m, i) => ({ offset: i, key: m.key, value: m.value, headers: m.headers })));
  });
});

describe('kcat', () => {
  it('-P with -K keys and -H headers, then -C -o beginning -e reads back exactly that', async () => {
    const topic = 'kcat-lines';
    await broker.createTopic(topic);
    const lines = Array.from({ length: 20 }, (_, i) => `k${i}:payload number ${i}`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('kcat', ['-b', bootstrap, '-P', '-t', topic, '-p', '0', '-K:', '-H', 'origin=kcat', '-H', 'kind=line', '-X', 'acks=all'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}: ${stderr}`))));
      child.stdin.end(`${lines.join('\n')}\n`);
    });
    const { stdout } = await run('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o|%k|%s|%h\n'], { timeout: WAIT_MS });
    expect(stdout.trim().split('\n')).toEqual(lines.map((line, i) => `${i}|${line.split(':')[0]}|${line.slice(line.indexOf(':') + 1)}|origin=kcat,kind=line`));
  });

  it('what kcat produced reads identically over WebSocket and HTTP', async () => {
    const topic = 'kcat-lines';
    const client = await FerryClient.connect(`ws://127.0.0.1:${webDoor.port}`, { WebSocket, encoding: 'binary' });
    const viaWs: Seen[] = [];
    try {
      const subscription = client.subscribe(topic, { from: 'earliest' });
      for await (const record of subscription) {
        viaWs.push(wsSeen(record));
        if (viaWs.length === 20) break;
      }
    } finally {
      await client.close();
    }
    const response = await fetch(`http://127.0.0.1:${webDoor.port}/v3/clusters/${broker.clusterId}/topics/${topic}/partitions/0/records?offset=0`);
    const body = (await response.json()) as { records: Array<{ offset: number; key: string; value: string; headers: Array<{ name: string; value: string }> }> };
    const viaHttp = body.records.map((r) => ({ offset: r.offset, key: r.key, value: r.value, headers: Object.fromEntries(r.headers.map((h) => [h.name, h.value])) }));
    const expected = Array.from({ length: 20 }, (_, i) => ({ offset: i, key: `k${i}`, value: `payload number ${i}`, headers: { origin: 'kcat', kind: 'line' } }));
    expect(viaWs).toEqual(expected);
    expect(viaHttp).toEqual(expected);
  });
});

describe('cross-door', () => {
  it('records produced over WebSocket are read by kafkajs with the same keys, values, headers and offsets', async () => {
    const topic = 'from-websocket';
    await broker.createTopic(topic);
    const client = await FerryClient.connect(`ws://127.0.0.1:${webDoor.port}`, { WebSocket, encoding: 'json' });
    const records = Array.from({ length: 10 }, (_, i) => ({ key: `ws-${i}`, value: `hello ${i}`, headers: { via: 'websocket' }, partition: 0 }));
    try {
      const produced = await client.produce(topic, records);
      expect(produced.map((r) => r.offset)).toEqual(records.map((_, i) => i));
    } finally {
      await client.close();
    }
    const seen = await kafkajsRead(topic, records.length);
    expect(seen).toEqual(records.map((r, i) => ({ offset: i, key: r.key, value: r.value, headers: { via: 'websocket' } })));
  });
});

describe('confluent-kafka-python (librdkafka)', () => {
  it('a group consumer with manual commits reads everything once and its commits are the broker\'s', async () => {
    const topic = 'python-group';
    await broker.createTopic(topic, { partitions: 2 });
    await broker.produce(topic, Array.from({ length: 30 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), partition: i % 2 })));
    const script = `
import json, sys
from confluent_kafka import Consumer
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'py-group', 'auto.offset.reset': 'earliest',
              'enable.auto.commit': False, 'session.timeout.ms': 6000})
c.subscribe([sys.argv[2]])
seen = []
while len(seen) < 30:
    m = c.poll(10.0)
    if m is None:
        break
    if m.error():
        raise SystemExit(str(m.error()))
    seen.append([m.partition(), m.offset(), m.key().decode(), m.value().decode()])
    c.commit(message=m, asynchronous=False)
c.close()
print(json.dumps(seen))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, bootstrap, topic], { timeout: WAIT_MS * 2 });
    const seen = JSON.parse(stdout) as Array<[number, number, string, string]>;
    expect(seen).toHaveLength(30);
    const expected = Array.from({ length: 30 }, (_, i) => [i % 2, Math.floor(i / 2), `k${i}`, `v${i}`]);
    expect([...seen].sort((a, b) => a[0] - b[0] || a[1] - b[1])).toEqual([...expected].sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number)));
    expect(broker.groups.fetchOffsets('py-group', null).map((entry) => [entry.partition, entry.offset])).toEqual([
      [0, 15n],
      [1, 15n],
    ]);
  });
});
