/**
 * FerryClient's binary produce against a broker served as `ferry start`
 * serves it (startServer: HTTP and WebSocket on one port), with the `ws`
 * package's WebSocket: records produced as client-built batches read back
 * over the WebSocket door and over HTTP, the JSON fallback where the broker's
 * partitioner must place records, and the broker's errors. Every wait is
 * bounded; nothing asserts on timing.
 */

import { createRequire } from 'node:module';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { partitionForKey } from '../../src/broker/murmur2.js';
import { FerryClient, type ConsumedRecord, type Subscription, type WebSocketConstructor } from '../../src/client/index.js';
import { startServer } from '../../src/protocol/server.js';
import { batchSize } from '../../src/storage/record-batch.js';
import { decodeBatches } from '../../src/storage/records.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;
const WAIT_MS = 15_000;

afterAll(closeSharedStoragePool);

async function start(autoCreateTopics = true): Promise<{ broker: Broker; port: number; stop(): Promise<void> }> {
  const broker = await Broker.open({ dataDir: tempDir('ferry-binary-produce-'), autoCreateTopics });
  const server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  return {
    broker,
    port: server.port,
    stop: async () => {
      server.close();
      await broker.close();
    },
  };
}

async function take(subscription: Subscription, count: number): Promise<ConsumedRecord[]> {
  const records: ConsumedRecord[] = [];
  const deadline = Date.now() + WAIT_MS;
  while (records.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${records.length} of ${count} records within ${WAIT_MS} ms`);
    const next = await subscription.next();
    if (next.done) throw new Error(`iteration ended after ${records.length} of ${count} records`);
    records.push(next.value);
  }
  return records;
}

interface HttpRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  value_encoding?: string;
  headers: Array<{ name: string; value: string | null }>;
}

async function readOverHttp(port: number, clusterId: string, topic: string, partition: number): Promise<HttpRecord[]> {
  const response = await fetch(`http://127.0.0.1:${port}/v3/clusters/${clusterId}/topics/${topic}/partitions/${partition}/records?offset=0`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { records: HttpRecord[] }).records;
}

describe('FerryClient binary produce', () => {
  it('sends client-built batches that read back the same over the WebSocket door and over HTTP', async () => {
    const running = await start();
    const client = await FerryClient.connect(`ws://127.0.0.1:${running.port}`, { WebSocket, encoding: 'binary' });
    const reader = await FerryClient.connect(`ws://127.0.0.1:${running.port}`, { WebSocket, encoding: 'json' });
    try {
      await running.broker.createTopic('orders', { partitions: 2 });
      const bytes = Uint8Array.from([0, 0xff, 0x80]);
      const produced = await client.produce(
        'orders',
        [
          { key: 'k', value: 'héllo', headers: [{ key: 'h', value: 'v' }], partition: 1, timestamp: 1_000 },
          { value: bytes, headers: { trace: null }, partition: 1, timestamp: 999 },
          { key: 'gone', value: null, partition: 1, timestamp: new Date(1_002) },
        ],
        { acks: 1 },
      );
      expect(produced).toEqual([
        { partition: 1, offset: 0, timestamp: 1_000 },
        { partition: 1, offset: 1, timestamp: 999 },
        { partition: 1, offset: 2, timestamp: 1_002 },
      ]);

      const subscription = reader.subscribe('orders', { from: 'earliest', partitions: [1] });
      const records = await take(subscription, 3);
      expect(records.map((r) => [r.offset, r.timestamp, r.keyText, r.headers.map((h) => [h.key, h.value === null ? null : new TextDecoder().decode(h.value)])])).toEqual([
        [0, 1_000, 'k', [['h', 'v']]],
        [1, 999, null, [['trace', null]]],
        [2, 1_002, 'gone', []],
      ]);
      expect(records.map((r) => r.value)).toEqual([new TextEncoder().encode('héllo'), bytes, null]);

      const overHttp = await readOverHttp(running.port, running.broker.clusterId, 'orders', 1);
      expect(overHttp.map((r) => [r.offset, r.timestamp, r.key, r.value, r.value_encoding, r.headers])).toEqual([
        [0, 1_000, 'k', 'héllo', undefined, [{ name: 'h', value: 'v' }]],
        [1, 999, null, Buffer.from(bytes).toString('base64'), 'base64', [{ name: 'trace', value: null }]],
        [2, 1_002, 'gone', null, undefined, []],
      ]);
      subscription.close();
    } finally {
      await client.close();
      await reader.close();
      await running.stop();
    }
  });

  it('splits a large produce into several batches of one frame with consecutive offsets, and lets the broker place keyed records', async () => {
    const running = await start();
    // Binary produce on a JSON-push connection, by option; batches of at most 4 KiB.
    const client = await FerryClient.connect(`ws://127.0.0.1:${running.port}`, { WebSocket, encoding: 'json', produceEncoding: 'binary', batchBytesMax: 4096 });
    try {
      await running.broker.createTopic('many', { partitions: 3 });
      const values = Array.from({ length: 500 }, (_, i) => `value-${i}-`.padEnd(100, '.'));
      const produced = await client.produce(
        'many',
        values.map((value) => ({ value })),
      );
      const partition = produced[0]!.partition;
      expect(produced.map((r) => r.partition).every((p) => p === partition)).toBe(true);
      expect(produced.map((r) => r.offset)).toEqual(values.map((_, i) => i));
      const storedBytes = (await running.broker.fetch('many', partition, 0, { maxBytes: 1 << 20 })).bytes;
      const sizes: number[] = [];
      for (let at = 0; at < storedBytes.length; at += sizes.at(-1)!) sizes.push(batchSize(storedBytes, at));
      expect(sizes.length).toBeGreaterThan(10);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
      const stored = decodeBatches(storedBytes);
      expect(stored.flatMap((batch) => batch.records.map((r) => r.value?.toString()))).toEqual(values);

      // Keyed records without a partition go as JSON: Kafka's partitioner places them.
      const keyed = await client.produce('many', [{ key: 'user-1', value: 'a' }, { key: 'user-2', value: 'b' }]);
      expect(keyed.map((r) => r.partition)).toEqual([partitionForKey(Buffer.from('user-1'), 3), partitionForKey(Buffer.from('user-2'), 3)]);
      // Records naming different partitions: JSON too, each where it asked.
      const mixed = await client.produce('many', [{ value: 'x', partition: 0 }, { value: 'y', partition: 2 }]);
      expect(mixed.map((r) => r.partition)).toEqual([0, 2]);
    } finally {
      await client.close();
      await running.stop();
    }
  });

  it('sends the calls of one event-loop turn as one frame, each call answered with its own records, and fails them together', async () => {
    const running = await start(false);
    const client = await FerryClient.connect(`ws://127.0.0.1:${running.port}`, { WebSocket, encoding: 'binary' });
    try {
      await running.broker.createTopic('merged', { partitions: 1 });
      const calls = Array.from({ length: 10 }, (_, i) =>
        i % 2 === 0 ? client.produce('merged', { value: `single-${i}` }).then((r) => r.offset) : client.produce('merged', [{ value: `pair-${i}-a` }, { value: `pair-${i}-b` }]).then((rs) => rs.map((r) => r.offset)),
      );
      expect(await Promise.all(calls)).toEqual([0, [1, 2], 3, [4, 5], 6, [7, 8], 9, [10, 11], 12, [13, 14]]);
      const stored = decodeBatches((await running.broker.fetch('merged', 0, 0, { maxBytes: 1 << 20 })).bytes);
      expect(stored).toHaveLength(1);
      expect(stored[0]!.records.map((r) => r.value?.toString())).toEqual(['single-0', 'pair-1-a', 'pair-1-b', 'single-2', 'pair-3-a', 'pair-3-b', 'single-4', 'pair-5-a', 'pair-5-b', 'single-6', 'pair-7-a', 'pair-7-b', 'single-8', 'pair-9-a', 'pair-9-b']);

      // Another turn, another frame; a frame that fails fails every call merged into it.
      const failing = [client.produce('merged', { value: 'ok', partition: 5 }), client.produce('merged', { value: 'also', partition: 5 })];
      for (const call of failing) await expect(call).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
      expect(await client.produce('merged', { value: 'next turn' })).toMatchObject({ offset: 15 });
    } finally {
      await client.close();
      await running.stop();
    }
  });

  it('rejects with the broker error in the protocol terms, and the connection carries on', async () => {
    const running = await start(false);
    const client = await FerryClient.connect(`ws://127.0.0.1:${running.port}`, { WebSocket, encoding: 'binary' });
    try {
      await expect(client.produce('missing', { value: 'x' })).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true });
      await running.broker.createTopic('small', { configs: { 'max.message.bytes': '200' } });
      await expect(client.produce('small', { value: 'x'.repeat(300) })).rejects.toMatchObject({ errorName: 'MESSAGE_TOO_LARGE', errorCode: 10 });
      await expect(client.produce('small', { value: 'x', partition: 3 })).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
      // Over the broker's frame limit: refused here, the socket is not dropped.
      await expect(client.produce('small', { value: new Uint8Array(17 * 1024 * 1024) })).rejects.toMatchObject({ errorName: 'MESSAGE_TOO_LARGE', retriable: false });
      expect(await client.produce('small', { value: 'fits' })).toMatchObject({ partition: 0, offset: 0 });
      expect(await client.produce('small', { value: 'acks 0' }, { acks: 0 })).toMatchObject({ offset: -1 });
      await client.ping();
      expect(client.connected).toBe(true);
    } finally {
      await client.close();
      await running.stop();
    }
  });
});
