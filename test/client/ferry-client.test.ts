/**
 * FerryClient in Node against a broker served the way `ferry start` serves
 * it (startServer), on 127.0.0.1 port 0, with the `ws` package's WebSocket
 * (Node 20 has no global one). Every wait is bounded; nothing asserts on
 * timing.
 */

import { createRequire } from 'node:module';
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FerryClient, FerryClientError, type ConnectionChange, type ConsumedRecord, type Encoding, type Subscription, type WebSocketConstructor } from '../../src/client/index.js';
import { startServer, type RunningServer } from '../../src/protocol/server.js';
import { buildBatch } from '../../src/storage/batch-builder.js';
import { CompressionCodec } from '../../src/storage/record-batch.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;
const WAIT_MS = 15_000;
const logger = pino({ level: 'silent' });

afterAll(closeSharedStoragePool);

interface Running {
  broker: Broker;
  server: RunningServer;
  dataDir: string;
  url: string;
  stop(): Promise<void>;
}

async function start(options: { dataDir?: string; port?: number; autoCreateTopics?: boolean } = {}): Promise<Running> {
  const dataDir = options.dataDir ?? tempDir('ferry-client-');
  const broker = await Broker.open({ dataDir, autoCreateTopics: options.autoCreateTopics ?? true });
  const server = await startServer({ broker, host: '127.0.0.1', port: options.port ?? 0, logger });
  return {
    broker,
    server,
    dataDir,
    url: `ws://127.0.0.1:${server.port}`,
    stop: async () => {
      server.close();
      await broker.close();
    },
  };
}

/**
 * A free port, found by binding port 0 and letting it go with no connection
 * made. The restart test serves on it as a fixed port: uSockets sets
 * SO_REUSEADDR only for a non-zero port, and without it the first server's
 * TIME_WAIT connections would keep the second from binding the same port.
 */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The next `count` records of an iteration, with a bounded wait. */
async function take(subscription: Subscription, count: number): Promise<ConsumedRecord[]> {
  const records: ConsumedRecord[] = [];
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${records.length} of ${count} records within ${WAIT_MS} ms`)), WAIT_MS).unref());
  while (records.length < count) {
    const next = await Promise.race([subscription.next(), timeout]);
    if (next.done) throw new Error(`iteration ended after ${records.length} of ${count} records`);
    records.push(next.value);
  }
  return records;
}

function withinWait<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS).unref())]);
}

describe.each<Encoding>(['json', 'binary'])('FerryClient (%s)', (encoding) => {
  it('produces single records and batches, and iterates them with keys, values and headers', async () => {
    const running = await start();
    const client = await FerryClient.connect(running.url, { WebSocket, encoding });
    try {
      await running.broker.createTopic('events', { partitions: 2 });
      const subscription = client.subscribe('events', { from: 'earliest' });
      expect(await subscription.ready).toEqual([{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }]);

      const one = await client.produce('events', { key: 'k', value: 'first', headers: { source: 'test' }, partition: 0, timestamp: 1_000 });
      expect(one).toEqual({ partition: 0, offset: 0, timestamp: 1_000 });
      const bytes = Uint8Array.from([0, 0xff, 0x80]);
      const batch = await client.produce('events', [{ value: bytes, partition: 1 }, { value: null, key: 'deleted', partition: 1 }, { value: 'third', partition: 1 }], { acks: 1 });
      expect(batch.map((r) => [r.partition, r.offset])).toEqual([[1, 0], [1, 1], [1, 2]]);

      const records = await take(subscription, 4);
      const byPartition = (partition: number): ConsumedRecord[] => records.filter((r) => r.partition === partition);
      expect(byPartition(0).map((r) => [r.offset, r.keyText, r.valueText, r.timestamp, r.headerText('source')])).toEqual([[0, 'k', 'first', 1_000, 'test']]);
      expect(byPartition(1).map((r) => r.offset)).toEqual([0, 1, 2]);
      expect(byPartition(1)[0]!.value).toEqual(bytes);
      expect(byPartition(1)[1]!.value).toBeNull();
      expect(byPartition(1)[1]!.keyText).toBe('deleted');
      expect(byPartition(1)[2]!.valueText).toBe('third');
      expect(records.every((r) => r.topic === 'events')).toBe(true);
      expect(subscription.currentPositions()).toEqual([{ partition: 0, offset: 1 }, { partition: 1, offset: 3 }]);
    } finally {
      await client.close();
      await running.stop();
    }
  });

  it('delivers gzip batches appended by a Kafka-style producer, and ends the iteration on break', async () => {
    const running = await start();
    const client = await FerryClient.connect(running.url, { WebSocket, encoding });
    try {
      await running.broker.createTopic('zipped');
      const values = Array.from({ length: 20 }, (_, i) => `zipped-${i}`.repeat(10));
      await running.broker.produceBatches('zipped', 0, buildBatch(values.map((v) => ({ value: Buffer.from(v), timestamp: 5n })), { compression: CompressionCodec.Gzip }));
      const seen: string[] = [];
      for await (const record of client.subscribe('zipped', { from: { offset: 5 } })) {
        seen.push(record.valueText!);
        if (seen.length === 15) break;
      }
      expect(seen).toEqual(values.slice(5));
      // The broken-off subscription is gone; the connection still serves others.
      const again = client.subscribe('zipped', { from: { timestamp: 5 }, partitions: [0] });
      expect((await take(again, 1))[0]!.offset).toBe(0);
      again.close();
      expect(await again.next()).toEqual({ done: true, value: undefined });
    } finally {
      await client.close();
      await running.stop();
    }
  });

  it('iterates through many credit windows: credit goes back as the iteration moves on', async () => {
    const running = await start();
    const client = await FerryClient.connect(running.url, { WebSocket, encoding, windowBytes: 4 * 1024 });
    try {
      await running.broker.createTopic('windows', { partitions: 3 });
      const values = Array.from({ length: 300 }, (_, i) => `${i}:`.padEnd(200, '.'));
      for (let i = 0; i < values.length; i += 10) await client.produce('windows', values.slice(i, i + 10).map((value, j) => ({ value, partition: (i + j) % 3 })));
      const subscription = client.subscribe('windows', { from: 'earliest' });
      const records = await take(subscription, values.length); // ~60 KiB of batches through a 4 KiB window
      expect(records.map((r) => r.valueText).sort()).toEqual([...values].sort());
      for (const partition of [0, 1, 2]) {
        const offsets = records.filter((r) => r.partition === partition).map((r) => r.offset);
        expect(offsets).toEqual(offsets.map((_, i) => i));
      }
      subscription.close();
    } finally {
      await client.close();
      await running.stop();
    }
  });

  it('reconnects after the broker restarts on the same data dir and port, and resumes where it left off', async () => {
    let running = await start({ port: await freePort() });
    const changes: ConnectionChange['state'][] = [];
    let reconnecting: () => void = () => undefined;
    const client = await FerryClient.connect(running.url, {
      WebSocket,
      encoding,
      reconnectDelayMinMs: 20,
      reconnectDelayMaxMs: 200,
      onConnectionChange: (change) => {
        changes.push(change.state);
        if (change.state === 'reconnecting') reconnecting();
      },
    });
    try {
      await running.broker.createTopic('durable', { partitions: 2 });
      const subscription = client.subscribe('durable', { from: 'latest' });
      await subscription.ready;
      const before = await client.produce('durable', Array.from({ length: 10 }, (_, i) => ({ value: `before-${i}`, partition: i % 2 })));
      expect(before.map((r) => r.offset)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
      expect((await take(subscription, 10)).map((r) => r.valueText).sort()).toEqual(before.map((_, i) => `before-${i}`).sort());

      const lost = new Promise<void>((resolve) => (reconnecting = resolve));
      const port = running.server.port;
      await running.stop();
      await withinWait(lost, 'client noticed the restart');
      // Sent while the broker is down: queued until the client is back.
      const during = client.produce('durable', [{ value: 'during-0', partition: 0 }, { value: 'during-1', partition: 1 }]);
      during.catch(() => undefined); // awaited below; a failure before then must not go unhandled
      running = await start({ dataDir: running.dataDir, port });
      expect((await withinWait(during, 'produce queued across the restart')).map((r) => [r.partition, r.offset])).toEqual([[0, 5], [1, 5]]);
      await running.broker.produce('durable', [{ value: Buffer.from('after-0'), partition: 0 }, { value: Buffer.from('after-1'), partition: 1 }]);

      const resumed = await take(subscription, 4);
      expect(resumed.map((r) => `${r.partition}@${r.offset}:${r.valueText}`).sort()).toEqual(['0@5:during-0', '0@6:after-0', '1@5:during-1', '1@6:after-1']);
      expect(changes).toEqual(expect.arrayContaining(['open', 'reconnecting']));
      expect(changes.at(-1)).toBe('open');
      expect(client.connected).toBe(true);
    } finally {
      await client.close();
      await running.stop();
    }
  });
});

describe('FerryClient errors', () => {
  it('rejects produce and subscribe with the broker error, and a connect nobody answers', async () => {
    const running = await start({ autoCreateTopics: false });
    const client = await FerryClient.connect(`${running.url}/ws`, { WebSocket });
    try {
      const produced = client.produce('missing', { value: 'x' });
      await expect(produced).rejects.toSatisfy((error: unknown) => error instanceof FerryClientError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION' && error.errorCode === 3 && error.retriable);
      const subscription = client.subscribe('missing');
      await expect(subscription.ready).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
      await expect(subscription.next()).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
      expect(await subscription.next()).toEqual({ done: true, value: undefined });
      const tooLarge = client.produce('missing', { value: 'x'.repeat(17 * 1024 * 1024) });
      await expect(tooLarge).rejects.toMatchObject({ errorName: 'MESSAGE_TOO_LARGE', retriable: false });
      await client.ping(); // the connection survived
      expect(client.connected).toBe(true);
    } finally {
      await client.close();
    }
    await expect(client.produce('missing', { value: 'x' })).rejects.toMatchObject({ errorName: 'CLIENT_CLOSED' });
    const port = running.server.port;
    await running.stop();
    await expect(FerryClient.connect(`ws://127.0.0.1:${port}`, { WebSocket })).rejects.toMatchObject({ errorName: 'NETWORK_EXCEPTION' });
  });
});

describe('FerryClient metadata', () => {
  it('on a single node names that broker as the only one and the leader of every partition', async () => {
    const running = await start();
    const client = await FerryClient.connect(running.url, { WebSocket });
    try {
      await running.broker.createTopic('led', { partitions: 2 });
      const metadata = await client.metadata(['led']);
      const self = running.broker.brokerId;
      expect(metadata.brokers).toEqual([{ id: self, host: '127.0.0.1', http_port: running.server.port }]);
      expect(metadata.topics).toEqual([{ topic: 'led', partitions: [0, 1].map((partition) => ({ partition, leader: self, leader_epoch: expect.any(Number) })) }]);
      await expect(client.metadata(['no-such-topic'])).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
    } finally {
      await client.close();
    }
  });
});
