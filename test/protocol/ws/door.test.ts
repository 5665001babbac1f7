/**
 * The WebSocket door over the raw protocol (protocol.ts): a broker and a uWS
 * app on 127.0.0.1, port 0, and sockets speaking JSON and binary by hand.
 * Every wait is bounded; nothing asserts on timing.
 */

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.js';
import type { WebSocketDoor } from '../../../src/protocol/ws/index.js';
import { WS_LIMITS } from '../../../src/protocol/ws/limits.js';
import { RECORDS_FRAME_HEADER_BYTES, readRecordsFrameHeader, type ProducedMessage, type ServerMessage } from '../../../src/protocol/ws/protocol.js';
import { buildBatch } from '../../../src/storage/batch-builder.js';
import { decodeBatches } from '../../../src/storage/records.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { KIB, NodeWebSocket, TestSocket, WAIT_MS, startDoor, until, type Harness } from './door-harness.js';

const text = (value: string): Buffer => Buffer.from(value);

afterAll(closeSharedStoragePool);

let harness: Harness;
beforeAll(async () => {
  harness = await startDoor({ payloadBytesMax: 64 * KIB });
});
afterAll(() => harness.close());

type Produced = ProducedMessage;
type Subscribed = Extract<ServerMessage, { type: 'subscribed' }>;
type ErrorAnswer = Extract<ServerMessage, { type: 'error' }>;

function subscriptionStats(door: WebSocketDoor, topic: string): ReturnType<WebSocketDoor['stats']>[number]['subscriptions'][number] | undefined {
  return door.stats().flatMap((connection) => connection.subscriptions).find((subscription) => subscription.topic === topic);
}

describe('produce', () => {
  it('answers each request with its id and one result per record, for text, base64 and null values', async () => {
    await harness.broker.createTopic('produce-json', { partitions: 2 });
    const socket = await TestSocket.open(harness.port);
    const nonUtf8 = Buffer.from([0xff, 0x00, 0xfe]);
    socket.send({
      type: 'produce',
      id: 'a',
      topic: 'produce-json',
      records: [
        { key: 'k', value: 'héllo', headers: [{ key: 'h', value: 'v' }], partition: 1, timestamp: 1_000 },
        { value: { base64: nonUtf8.toString('base64') }, partition: 1, headers: { trace: null } },
        { key: 'gone', value: null, partition: 0 },
      ],
    });
    const produced = await socket.answer<Produced>('a');
    expect(produced.results.map((r) => [r.partition, r.offset])).toEqual([[1, 0], [1, 1], [0, 0]]);
    expect(produced.results[0]!.timestamp).toBe(1_000);

    const stored = await harness.broker.fetchRecords('produce-json', 1, 0, { maxBytes: 1 << 20 });
    expect(stored.records.map((r) => [r.key?.toString(), r.value, r.headers.map((h) => [h.key, h.value?.toString() ?? null])])).toEqual([
      ['k', text('héllo'), [['h', 'v']]],
      [undefined, nonUtf8, [['trace', null]]],
    ]);
    expect((await harness.broker.fetchRecords('produce-json', 0, 0, { maxBytes: 1 << 20 })).records[0]!.value).toBeNull();

    socket.send({ type: 'produce', id: 7, topic: 'produce-json', acks: 0, records: [{ value: 'fire and forget', partition: 0 }] });
    expect((await socket.answer<Produced>(7)).results).toEqual([{ partition: 0, offset: -1, timestamp: expect.any(Number) }]);
    socket.close();
  });

  it('puts keyed records where Kafka would and leaves the socket usable after every bad request', async () => {
    await harness.broker.createTopic('errors', { partitions: 2 });
    await harness.broker.createTopic('small', { configs: { 'max.message.bytes': '200' } });
    const socket = await TestSocket.open(harness.port);
    const expectError = async (id: string, request: object | string, errorName: string): Promise<ErrorAnswer> => {
      socket.send(typeof request === 'string' ? request : { ...request, id });
      const answer = await socket.take<ErrorAnswer>((m) => !Buffer.isBuffer(m) && m.type === 'error' && (typeof request === 'string' || m.id === id), `error for ${id}`);
      expect(answer).toMatchObject({ type: 'error', error_name: errorName });
      expect(answer.message).toEqual(expect.any(String));
      return answer;
    };
    const malformed = await expectError('json', '{"type": "produce", ', 'INVALID_REQUEST');
    expect(malformed.error_code).toBe(42);
    expect(malformed.id).toBeUndefined();
    await expectError('type', { type: 'dance' }, 'INVALID_REQUEST');
    await expectError('group', { type: 'sync', group: 'g' }, 'UNSUPPORTED_VERSION');
    const unknown = await expectError('unknown', { type: 'produce', topic: 'nope', records: [{ value: 'x' }] }, 'UNKNOWN_TOPIC_OR_PARTITION');
    expect(unknown).toMatchObject({ error_code: 3, retriable: true });
    await expectError('partition', { type: 'produce', topic: 'errors', records: [{ value: 'x', partition: 2 }] }, 'UNKNOWN_TOPIC_OR_PARTITION');
    await expectError('base64', { type: 'produce', topic: 'errors', records: [{ value: { base64: 'not base64!' } }] }, 'INVALID_REQUEST');
    // Node's decoder would take these (skipping, stopping at '=', URL-safe letters): the door does not.
    for (const [i, base64] of ['AB-_', 'QQ=A', 'QUJD\nREVG', 'QQ==QQ==', 'A===', 'QUJ'].entries()) {
      await expectError(`base64-${i}`, { type: 'produce', topic: 'errors', records: [{ value: { base64 } }] }, 'INVALID_REQUEST');
    }
    await expectError('timestamp', { type: 'produce', topic: 'errors', records: [{ value: 'v', timestamp: -5 }] }, 'INVALID_REQUEST');
    await expectError('records', { type: 'produce', topic: 'errors', records: [] }, 'INVALID_REQUEST');
    await expectError('acks', { type: 'produce', topic: 'errors', acks: 2, records: [{ value: 'x' }] }, 'INVALID_REQUIRED_ACKS');
    await expectError('large', { type: 'produce', topic: 'small', records: [{ value: 'x'.repeat(300) }] }, 'MESSAGE_TOO_LARGE');
    await expectError('sub-topic', { type: 'subscribe', topic: 'nope' }, 'UNKNOWN_TOPIC_OR_PARTITION');
    await expectError('sub-partition', { type: 'subscribe', topic: 'errors', partitions: [0, 5] }, 'UNKNOWN_TOPIC_OR_PARTITION');
    await expectError('sub-offset', { type: 'subscribe', topic: 'errors', from: { offset: 99 } }, 'OFFSET_OUT_OF_RANGE');
    await expectError('sub-from', { type: 'subscribe', topic: 'errors', from: 'yesterday' }, 'INVALID_REQUEST');
    await expectError('unsub', { type: 'unsubscribe', subscription: 999 }, 'INVALID_REQUEST');
    socket.send(Buffer.from([1, 2, 3]));
    expect(await socket.take((m) => !Buffer.isBuffer(m) && m.type === 'error', 'binary frame error')).toMatchObject({ error_name: 'INVALID_REQUEST' });
    expect(harness.door.stats().every((connection) => connection.subscriptions.length === 0 || connection.subscriptions.every((s) => s.topic !== 'errors'))).toBe(true);

    socket.send({ type: 'produce', id: 'keyed', topic: 'errors', records: [{ key: 'user-1', value: 'x' }] });
    const placed = (await socket.answer<Produced>('keyed')).results[0]!;
    expect(placed.partition).toBe(partitionForKey(text('user-1'), 2));
    expect(harness.broker.describeTopic('errors').partitions[placed.partition]!.logEndOffset).toBe(1);
    socket.send({ type: 'ping', id: 'still-here' });
    expect(await socket.answer('still-here')).toEqual({ type: 'pong', id: 'still-here' });
    socket.close();
  });
});

describe('subscribe (json)', () => {
  it('starts from earliest, latest, an offset or a timestamp, and pushes appends as they come', async () => {
    const topic = 'positions';
    await harness.broker.createTopic(topic);
    await harness.broker.produce(topic, [1_000, 2_000, 3_000].map((timestamp, i) => ({ key: text(`k${i}`), value: text(`r${i}`), timestamp, headers: [{ key: 'n', value: text(String(i)) }] })));
    const socket = await TestSocket.open(harness.port);
    const starts: Record<string, unknown> = { earliest: 'earliest', latest: 'latest', offset: { offset: 1 }, timestamp: { timestamp: 2_000 }, future: { timestamp: 9_999 } };
    const subscribed: Record<string, Subscribed> = {};
    for (const [name, from] of Object.entries(starts)) {
      socket.send({ type: 'subscribe', id: name, topic, from });
      subscribed[name] = await socket.answer<Subscribed>(name);
    }
    expect(Object.fromEntries(Object.entries(subscribed).map(([name, s]) => [name, s.partitions]))).toEqual({
      earliest: [{ partition: 0, offset: 0 }],
      latest: [{ partition: 0, offset: 3 }],
      offset: [{ partition: 0, offset: 1 }],
      timestamp: [{ partition: 0, offset: 1 }],
      future: [{ partition: 0, offset: 3 }],
    });
    expect(new Set(Object.values(subscribed).map((s) => s.subscription)).size).toBe(5);

    const earliest = await socket.jsonRecords(subscribed.earliest!.subscription, 3);
    expect(earliest).toEqual([0, 1, 2].map((i) => ({ offset: i, timestamp: (i + 1) * 1_000, key: `k${i}`, value: `r${i}`, headers: [{ key: 'n', value: String(i) }] })));
    expect((await socket.jsonRecords(subscribed.offset!.subscription, 2)).map((r) => r.offset)).toEqual([1, 2]);
    expect((await socket.jsonRecords(subscribed.timestamp!.subscription, 2)).map((r) => r.offset)).toEqual([1, 2]);

    socket.send({ type: 'produce', id: 'p', topic, records: [{ value: { base64: Buffer.from([0x80]).toString('base64') } }] });
    await socket.answer('p');
    for (const name of Object.keys(starts)) {
      const records = await socket.jsonRecords(subscribed[name]!.subscription, 1);
      expect(records.at(-1)).toMatchObject({ offset: 3, key: null, value: { base64: 'gA==' }, headers: [] });
    }
    socket.close();
  });

  it('keeps several subscriptions apart on one socket and stops one on unsubscribe', async () => {
    await harness.broker.createTopic('two-a');
    await harness.broker.createTopic('two-b', { partitions: 3 });
    const socket = await TestSocket.open(harness.port);
    socket.send({ type: 'subscribe', id: 'a', topic: 'two-a' });
    socket.send({ type: 'subscribe', id: 'b', topic: 'two-b', partitions: [2, { partition: 0, from: 'earliest' }] });
    const a = await socket.answer<Subscribed>('a');
    const b = await socket.answer<Subscribed>('b');
    expect(b.partitions).toEqual([{ partition: 2, offset: 0 }, { partition: 0, offset: 0 }]);
    socket.send({ type: 'produce', id: 1, topic: 'two-a', records: [{ value: 'a0' }] });
    socket.send({ type: 'produce', id: 2, topic: 'two-b', records: [{ value: 'b1', partition: 1 }, { value: 'b2', partition: 2 }] });
    expect((await socket.jsonRecords(a.subscription, 1)).map((r) => r.value)).toEqual(['a0']);
    const pushB = await socket.take<Extract<ServerMessage, { type: 'records' }>>((m) => !Buffer.isBuffer(m) && m.type === 'records' && m.subscription === b.subscription, 'records of b');
    expect([pushB.partition, pushB.records.map((r) => r.value)]).toEqual([2, ['b2']]); // partition 1 is not subscribed

    socket.send({ type: 'unsubscribe', id: 'u', subscription: a.subscription });
    expect(await socket.answer('u')).toEqual({ type: 'unsubscribed', id: 'u', subscription: a.subscription });
    socket.send({ type: 'produce', id: 3, topic: 'two-a', records: [{ value: 'a1' }] });
    socket.send({ type: 'produce', id: 4, topic: 'two-b', records: [{ value: 'b0', partition: 0 }] });
    await socket.answer(3);
    expect((await socket.jsonRecords(b.subscription, 1)).map((r) => r.value)).toEqual(['b0']);
    expect(socket.pending((m) => !Buffer.isBuffer(m) && m.type === 'records' && m.subscription === a.subscription)).toEqual([]);
    expect(subscriptionStats(harness.door, 'two-a')).toBeUndefined();
    expect(subscriptionStats(harness.door, 'two-b')).toMatchObject({ subscription: b.subscription });
    socket.send({ type: 'credit', subscription: a.subscription, bytes: 100 }); // crossing the end of a subscription: ignored
    socket.send({ type: 'ping', id: 'p' });
    await socket.answer('p');
    socket.close();
  });
});

describe('a subscription the broker ends', () => {
  it('gets an error naming the subscription when its topic is deleted, and the socket carries on', async () => {
    await harness.broker.createTopic('doomed');
    const socket = await TestSocket.open(harness.port);
    socket.send({ type: 'subscribe', id: 's', topic: 'doomed' });
    const { subscription } = await socket.answer<Subscribed>('s');
    await until(() => subscriptionStats(harness.door, 'doomed')?.state, (state) => state === 'fetching', 'long-polling');
    await harness.broker.deleteTopic('doomed');
    const ended = await socket.take<ErrorAnswer>((m) => !Buffer.isBuffer(m) && m.type === 'error' && m.subscription === subscription, 'subscription error');
    expect(ended).toMatchObject({ partition: 0, error_name: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(ended.id).toBeUndefined();
    expect(subscriptionStats(harness.door, 'doomed')).toBeUndefined();
    socket.send({ type: 'ping', id: 'p' });
    await socket.answer('p');
    socket.close();
  });
});

describe('subscribe (binary)', () => {
  it('pushes the stored batches as they are, behind the documented header', async () => {
    const topic = 'binary';
    await harness.broker.createTopic(topic);
    await harness.broker.produce(topic, [{ key: Buffer.from([0xff]), value: text('v0') }, { value: text('v1') }]);
    const socket = await TestSocket.open(harness.port, 'encoding=binary');
    socket.send({ type: 'subscribe', id: 's', topic, from: { offset: 1 } });
    const { subscription } = await socket.answer<Subscribed>('s');
    await harness.broker.produce(topic, [{ value: text('v2'), headers: [{ key: 'h', value: null }] }]);

    const frames: Buffer[] = [];
    let nextOffset = 0;
    while (nextOffset < 3) {
      const frame = await socket.take<Buffer>((m) => Buffer.isBuffer(m), 'binary frame');
      const header = readRecordsFrameHeader(frame)!;
      expect(header).toMatchObject({ subscription, partition: 0, fetchOffset: frames.length === 0 ? 1 : nextOffset });
      expect(header.highWatermark).toBeGreaterThanOrEqual(header.nextOffset);
      nextOffset = header.nextOffset;
      frames.push(frame.subarray(RECORDS_FRAME_HEADER_BYTES));
    }
    const stored = await harness.broker.fetch(topic, 0, 0, { maxBytes: 1 << 20 });
    expect(Buffer.concat(frames).equals(stored.bytes)).toBe(true); // byte for byte what is on disk
    const records = decodeBatches(Buffer.concat(frames)).flatMap((batch) => batch.records);
    expect(records.map((r) => [Number(r.offset), r.value?.toString()])).toEqual([[0, 'v0'], [1, 'v1'], [2, 'v2']]);
    expect(subscriptionStats(harness.door, topic)!.bytesPushed).toBe(stored.bytes.length);
    socket.close();
  });
});

describe('limits', () => {
  it('closes a socket that sends a frame over the payload limit, and only that one', async () => {
    await harness.broker.createTopic('bystander');
    const bystander = await TestSocket.open(harness.port);
    bystander.send({ type: 'subscribe', id: 's', topic: 'bystander' });
    const { subscription } = await bystander.answer<Subscribed>('s');
    const offender = await TestSocket.open(harness.port);
    offender.send({ type: 'produce', id: 'big', topic: 'bystander', records: [{ value: 'x'.repeat(64 * KIB + 1) }] });
    expect(await offender.closed()).toBe(1006); // uWS drops the connection without a close frame
    bystander.send({ type: 'produce', id: 'p', topic: 'bystander', records: [{ value: 'fine' }] });
    expect((await bystander.answer<Produced>('p')).results[0]!.offset).toBe(0);
    expect((await bystander.jsonRecords(subscription, 1))[0]!.value).toBe('fine');
    bystander.close();
  });

  it('refuses an unknown encoding or protocol version at the upgrade', async () => {
    for (const query of ['encoding=xml', 'version=2']) {
      const socket = new NodeWebSocket(`ws://127.0.0.1:${harness.port}/ws?${query}`);
      const outcome = await new Promise<string>((resolve) => {
        socket.on('open', () => resolve('open'));
        socket.on('error', (error) => resolve(error.message));
      });
      expect(outcome).toMatch(/400/);
    }
  });

  it('pushes no more than the credit granted (and at most one batch past it), and carries on when granted more', async () => {
    const topic = 'credit';
    await harness.broker.createTopic(topic);
    const batches = Array.from({ length: 40 }, (_, i) => buildBatch([{ value: Buffer.alloc(1 * KIB, i), timestamp: BigInt(Date.now()) }]));
    for (const batch of batches) await harness.broker.produceBatches(topic, 0, batch);
    const batchBytes = batches[0]!.length;
    const creditBytes = 4 * KIB;
    const socket = await TestSocket.open(harness.port);
    socket.send({ type: 'subscribe', id: 's', topic, from: 'earliest', credit: creditBytes });
    const { subscription } = await socket.answer<Subscribed>('s');
    const stalled = await until(() => subscriptionStats(harness.door, topic)!, (s) => s.state === 'waiting-credit', 'subscription waiting for credit');
    expect(stalled.bytesPushed).toBeGreaterThanOrEqual(creditBytes);
    expect(stalled.bytesPushed).toBeLessThanOrEqual(creditBytes + batchBytes);
    let received = 0;
    let records = 0;
    while (received < stalled.bytesPushed) {
      const push = await socket.take<Extract<ServerMessage, { type: 'records' }>>((m) => !Buffer.isBuffer(m) && m.type === 'records', 'credited records');
      received += push.bytes;
      records += push.records.length;
    }
    expect(received).toBe(stalled.bytesPushed);
    expect(subscriptionStats(harness.door, topic)!.bytesPushed).toBe(stalled.bytesPushed); // and nothing more while waiting

    socket.send({ type: 'credit', subscription, bytes: 1024 * KIB });
    while (records < batches.length) records += (await socket.take<Extract<ServerMessage, { type: 'records' }>>((m) => !Buffer.isBuffer(m) && m.type === 'records', 'more records')).records.length;
    expect(records).toBe(batches.length);
    socket.close();
  });
});

/**
 * A WebSocket client on a bare TCP socket, so the test decides when it
 * reads: it can stop reading altogether, as a stuck browser tab would.
 * Counts the payload bytes of binary messages' continuation frames: the
 * stored batches of each records push (protocol.ts).
 */
class StallingClient {
  private pending: Buffer = Buffer.alloc(0);
  batchBytesReceived = 0;
  private onProgress: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.parseFrames();
      this.onProgress?.();
    });
  }

  static async connect(port: number, query: string): Promise<StallingClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(
      `GET /ws?${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const rest = await new Promise<Buffer>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        if (!head.subarray(0, end).toString().startsWith('HTTP/1.1 101')) reject(new Error(head.subarray(0, end).toString()));
        else resolve(head.subarray(end + 4));
      };
      socket.on('data', onData);
    });
    const client = new StallingClient(socket);
    client.pending = rest;
    return client;
  }

  /** A masked text frame, as clients must send. */
  sendJson(message: object): void {
    const payload = Buffer.from(JSON.stringify(message));
    const mask = randomBytes(4);
    const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    this.socket.write(Buffer.concat([Buffer.from([0x81]), length, mask, payload]));
  }

  stopReading(): void {
    this.socket.pause();
  }

  /** Reads again until `batchBytes` have come, bounded. */
  async readUntil(batchBytes: number): Promise<void> {
    this.socket.resume();
    const deadline = Date.now() + WAIT_MS;
    while (this.batchBytesReceived < batchBytes) {
      if (Date.now() > deadline) throw new Error(`${this.batchBytesReceived} of ${batchBytes} batch bytes after ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.onProgress = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parseFrames(): void {
    let at = 0;
    for (;;) {
      if (this.pending.length - at < 2) break;
      const opcode = this.pending[at]! & 0x0f;
      let length = this.pending[at + 1]! & 0x7f;
      let headerBytes = 2;
      if (length === 126) {
        if (this.pending.length - at < 4) break;
        length = this.pending.readUInt16BE(at + 2);
        headerBytes = 4;
      } else if (length === 127) {
        if (this.pending.length - at < 10) break;
        length = Number(this.pending.readBigUInt64BE(at + 2));
        headerBytes = 10;
      }
      if (this.pending.length - at < headerBytes + length) break;
      if (opcode === 0x0) this.batchBytesReceived += length;
      at += headerBytes + length;
    }
    this.pending = this.pending.subarray(at);
  }
}

describe('a client that stops reading', () => {
  it('makes the broker stop pushing once the socket buffers its soft limit, and pushing resumes on drain', async () => {
    const softMax = 256 * KIB;
    const stalling = await startDoor({ socketBufferedBytesSoftMax: softMax });
    try {
      const topic = 'stall';
      await stalling.broker.createTopic(topic, { configs: { 'max.message.bytes': String(2 * 1024 * KIB) } });
      const client = await StallingClient.connect(stalling.port, 'encoding=binary');
      client.sendJson({ type: 'subscribe', id: 1, topic, from: 'earliest', credit: WS_LIMITS.creditBytesMax });
      const stats = (): { bufferedBytes: number; state: string | undefined; bytesPushed: number } => {
        const connection = stalling.door.stats()[0]!;
        const subscription = connection.subscriptions[0];
        return { bufferedBytes: connection.bufferedBytes, state: subscription?.state, bytesPushed: subscription?.bytesPushed ?? 0 };
      };
      await until(stats, (s) => s.state !== undefined, 'subscribed');
      client.stopReading();

      // Append until the push loop parks on the full socket (the kernel's buffers take the first MiBs).
      const batchValueBytes = 256 * KIB;
      let appendedBytes = 0;
      let batchBytesMax = 0;
      const appendedBytesMax = 256 * 1024 * KIB;
      while (stats().state !== 'waiting-drain') {
        if (appendedBytes > appendedBytesMax) throw new Error(`push loop never waited for drain: ${JSON.stringify(stats())}`);
        const batch = buildBatch(Array.from({ length: 4 }, () => ({ value: Buffer.alloc(batchValueBytes, 7), timestamp: BigInt(Date.now()) })));
        await stalling.broker.produceBatches(topic, 0, batch);
        appendedBytes += batch.length;
        batchBytesMax = Math.max(batchBytesMax, batch.length);
        await until(stats, (s) => s.state !== 'fetching' || s.bytesPushed >= appendedBytes, 'pushed what was appended');
      }
      const parked = stats();
      // Below the soft mark when the last round started, plus at most that round: its read share and one batch.
      expect(parked.bufferedBytes).toBeGreaterThan(softMax);
      expect(parked.bufferedBytes).toBeLessThanOrEqual(softMax + WS_LIMITS.pushBytesMax + batchBytesMax + 2 * RECORDS_FRAME_HEADER_BYTES);
      expect(parked.bytesPushed).toBeLessThanOrEqual(appendedBytes);

      // More appends while parked read nothing more.
      const more = buildBatch([{ value: Buffer.alloc(batchValueBytes, 8), timestamp: BigInt(Date.now()) }]);
      await stalling.broker.produceBatches(topic, 0, more);
      appendedBytes += more.length;
      expect(stats()).toMatchObject({ state: 'waiting-drain', bytesPushed: parked.bytesPushed });

      await client.readUntil(appendedBytes);
      expect(client.batchBytesReceived).toBe(appendedBytes);
      client.destroy();
      await until(() => stalling.door.stats().length, (n) => n === 0, 'socket closed');
    } finally {
      await stalling.close();
    }
  });
});

describe('a client that sends requests and never reads the answers', () => {
  it('is closed once its answers pass the hard send-buffer cap; other sockets carry on', async () => {
    const capped = await startDoor({ socketBackpressureBytesMax: 256 * KIB });
    try {
      const bystander = await TestSocket.open(capped.port);
      const client = await StallingClient.connect(capped.port, 'encoding=json');
      client.stopReading();
      const id = 'i'.repeat(4 * KIB); // each pong carries it back
      const pingsMax = 16_384; // 64 MiB of answers: far past any kernel buffer
      for (let sent = 0; sent < pingsMax && capped.door.stats().length === 2; sent++) {
        client.sendJson({ type: 'ping', id });
        if (sent % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
      }
      await until(() => capped.door.stats().length, (sockets) => sockets === 1, 'the flooding socket closed');
      bystander.send({ type: 'ping', id: 'fine' });
      expect(await bystander.answer('fine')).toEqual({ type: 'pong', id: 'fine' });
      client.destroy();
      bystander.close();
    } finally {
      await capped.close();
    }
  });
});
