/**
 * The Kafka door's connection loop and data-plane handlers, through a real
 * socket with raw protocol frames: ApiVersions negotiation, Produce, Fetch
 * (long-poll, sessions, topic ids, zero-copy record bytes), ListOffsets,
 * pipelining, acks=0, and the ways bad input closes one connection while
 * the broker and every other connection carry on.
 */

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/errors.js';
import { SUPPORTED_APIS } from '../../../src/protocol/kafka/handlers/index.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { decodeAll, valuesBatch } from '../../storage/helpers.js';
import { decodeResponse, encodeRequest, openKafkaServer, RawKafkaClient, type KafkaTestServer } from './helpers.js';

const API = { Produce: 0, Fetch: 1, ListOffsets: 2, ApiVersions: 18 } as const;

let door: KafkaTestServer;
let client: RawKafkaClient;

beforeAll(async () => {
  door = await openKafkaServer();
  await door.broker.createTopic('events', { partitions: 2 });
  client = await RawKafkaClient.connect(door.port);
});

afterAll(async () => {
  client.close();
  await door.close();
  await closeSharedStoragePool();
});

type Row = Record<string, unknown>;

function produceBody(topic: string, partition: number, records: Buffer, acks = -1): Row {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

function fetchBody(topic: string, partition: number, offset: bigint, extra: Row = {}): Row {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20, logStartOffset: -1n, currentLeaderEpoch: -1 }] }],
    forgottenTopicsData: [],
    rackId: '',
    ...extra,
  };
}

function partitionOf(response: Row, topicIndex = 0, partitionIndex = 0): Row {
  const topics = response['responses'] as Row[];
  return (topics[topicIndex]!['partitions'] as Row[])[partitionIndex]!;
}

describe('ApiVersions', () => {
  it('advertises exactly the handler table, in v0 and in flexible v3', async () => {
    for (const version of [0, 3]) {
      const response = await client.request(API.ApiVersions, version, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
      expect(response['errorCode']).toBe(0);
      expect(response['apiKeys']).toEqual(SUPPORTED_APIS.map((api) => ({ ...api })));
    }
  });

  it('answers a version it does not speak in v0 form with UNSUPPORTED_VERSION and the list, and keeps the connection', async () => {
    const raw = await RawKafkaClient.connect(door.port);
    raw.write(encodeRequest(API.ApiVersions, 4, 7, {}));
    // A client from the future encodes flexibly (header v2); re-stamp a v3 request's version field as v99.
    const frame = encodeRequest(API.ApiVersions, 3, 9, {});
    frame.writeInt16BE(99, 6);
    raw.write(frame);
    const first = await raw.nextFrame();
    expect(decodeResponse(API.ApiVersions, 4, 7, first!)['errorCode']).toBe(0);
    const answer = decodeResponse(API.ApiVersions, 0, 9, (await raw.nextFrame())!);
    expect(answer['errorCode']).toBe(ERROR_CODES.UNSUPPORTED_VERSION.code);
    expect((answer['apiKeys'] as Row[]).length).toBe(SUPPORTED_APIS.length);
    const again = await raw.request(API.ApiVersions, 3, {});
    expect(again['errorCode']).toBe(0);
    raw.close();
  });
});

describe('Produce and Fetch', () => {
  it('stores the producer batch as sent and serves the same bytes back, offsets assigned', async () => {
    const batch = valuesBatch('a', 5);
    const produced = await client.request(API.Produce, 9, produceBody('events', 0, Buffer.from(batch)));
    const partition = ((produced['responses'] as Row[])[0]!['partitionResponses'] as Row[])[0]!;
    expect(partition['errorCode']).toBe(0);
    const baseOffset = partition['baseOffset'] as bigint;
    const fetched = await client.request(API.Fetch, 12, fetchBody('events', 0, baseOffset));
    const data = partitionOf(fetched);
    expect(data['errorCode']).toBe(0);
    expect(data['highWatermark']).toBe(baseOffset + 5n);
    const records = decodeAll(data['records'] as Buffer);
    expect(records.map((r) => r.value?.toString())).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);
    expect(records.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n, 4n].map((o) => o + baseOffset));
  });

  it('sends large record sets (written by reference) intact, in an old and a new version', async () => {
    const batch = valuesBatch('big', 40, { valueBytes: 2000 });
    const produced = await client.request(API.Produce, 3, produceBody('events', 1, Buffer.from(batch)));
    const baseOffset = (((produced['responses'] as Row[])[0]!['partitionResponses'] as Row[])[0]!['baseOffset']) as bigint;
    for (const version of [4, 11, 17]) {
      const body = version >= 13 ? fetchBody('', 1, baseOffset, {}) : fetchBody('events', 1, baseOffset);
      if (version >= 13) (body['topics'] as Row[])[0]!['topicId'] = Buffer.from(door.broker.describeTopic('events').topicId, 'base64url');
      const fetched = await client.request(API.Fetch, version, body);
      const records = decodeAll(partitionOf(fetched)['records'] as Buffer).filter((r) => r.offset >= baseOffset);
      expect(records).toHaveLength(40);
      expect(records[39]!.value).toEqual(Buffer.alloc(2000, 'big-39'));
    }
  });

  it('answers per-partition errors in Kafka codes and keeps going', async () => {
    const produced = await client.request(API.Produce, 9, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topicData: [
        { name: 'missing', partitionData: [{ index: 0, records: valuesBatch('x', 1) }] },
        { name: 'events', partitionData: [{ index: 9, records: valuesBatch('x', 1) }, { index: 0, records: Buffer.from('garbage that is not a batch') }] },
      ],
    });
    const codes = (produced['responses'] as Row[]).flatMap((topic) => (topic['partitionResponses'] as Row[]).map((p) => p['errorCode']));
    expect(codes[0]).toBe(ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code);
    expect(codes[1]).toBe(ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code);
    expect([ERROR_CODES.CORRUPT_MESSAGE.code, ERROR_CODES.INVALID_RECORD.code]).toContain(codes[2]);
    const badAcks = await client.request(API.Produce, 9, produceBody('events', 0, valuesBatch('y', 1), 2));
    expect(((badAcks['responses'] as Row[])[0]!['partitionResponses'] as Row[])[0]!['errorCode']).toBe(ERROR_CODES.INVALID_REQUIRED_ACKS.code);
    const outOfRange = await client.request(API.Fetch, 12, fetchBody('events', 0, 1_000_000n));
    expect(partitionOf(outOfRange)['errorCode']).toBe(ERROR_CODES.OFFSET_OUT_OF_RANGE.code);
  });

  it('sends no response for acks=0 but stores the records', async () => {
    const before = door.broker.log('events', 0).logEndOffset;
    client.write(encodeRequest(API.Produce, 9, 500, produceBody('events', 0, valuesBatch('fire', 3), 0)));
    const answer = await client.request(API.ApiVersions, 3, {});
    expect(answer['errorCode']).toBe(0);
    expect(door.broker.log('events', 0).logEndOffset).toBe(before + 3);
  });

  it('answers a partition that fails at once while an earlier one still waits on an fsync (no unhandled rejection)', async () => {
    await door.broker.createTopic('synced', { configs: { 'flush.messages': '1' } });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const produced = await client.request(API.Produce, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 1000,
        topicData: [{ name: 'synced', partitionData: [{ index: 0, records: valuesBatch('s', 2) }, { index: 7, records: valuesBatch('t', 1) }] }],
      });
      const codes = ((produced['responses'] as Row[])[0]!['partitionResponses'] as Row[]).map((p) => p['errorCode']);
      expect(codes).toEqual([0, ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('refuses appends, record deletion and new partitions on internal topics', async () => {
    await door.broker.createTopic('__internal_like', { partitions: 1 });
    const produced = await client.request(API.Produce, 9, produceBody('__internal_like', 0, valuesBatch('forged', 1)));
    expect(((produced['responses'] as Row[])[0]!['partitionResponses'] as Row[])[0]!['errorCode']).toBe(ERROR_CODES.INVALID_TOPIC_EXCEPTION.code);
    expect(() => door.broker.deleteRecords('__internal_like', 0, 0)).toThrow(/internal topic/);
    await expect(door.broker.createPartitions('__internal_like', 2)).rejects.toThrow(/internal topic/);
    await expect(door.broker.produce('__internal_like', [{ value: Buffer.from('x') }])).rejects.toThrow(/internal topic/);
  });

  it('refuses a batch over max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    await door.broker.createTopic('small', { configs: { 'max.message.bytes': '1000' } });
    const produced = await client.request(API.Produce, 9, produceBody('small', 0, valuesBatch('big', 3, { valueBytes: 600 })));
    const partition = ((produced['responses'] as Row[])[0]!['partitionResponses'] as Row[])[0]!;
    expect(partition['errorCode']).toBe(ERROR_CODES.MESSAGE_TOO_LARGE.code);
    expect(door.broker.log('small', 0).logEndOffset).toBe(0);
  });

  it('closes the connection when an acks=0 produce fails, since there is no answer to carry the error', async () => {
    const raw = await RawKafkaClient.connect(door.port);
    raw.write(encodeRequest(API.Produce, 9, 1, produceBody('no-such-topic', 0, valuesBatch('lost', 1), 0)));
    expect(await raw.waitClosed()).toBe(true);
  });

  it('answers pipelined requests in the order they were sent', async () => {
    const raw = await RawKafkaClient.connect(door.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      frames.push(i % 2 === 0 ? encodeRequest(API.ApiVersions, 3, 1000 + i, {}) : encodeRequest(API.Produce, 9, 1000 + i, produceBody('events', 1, valuesBatch(`p${i}`, 1))));
    }
    raw.write(Buffer.concat(frames));
    let lastOffset = -1n;
    for (let i = 0; i < 30; i++) {
      const frame = (await raw.nextFrame())!;
      const body = decodeResponse(i % 2 === 0 ? API.ApiVersions : API.Produce, i % 2 === 0 ? 3 : 9, 1000 + i, frame);
      if (i % 2 === 1) {
        const offset = ((body['responses'] as Row[])[0]!['partitionResponses'] as Row[])[0]!['baseOffset'] as bigint;
        expect(offset).toBeGreaterThan(lastOffset);
        lastOffset = offset;
      }
    }
    raw.close();
  });

  it('long-polls until an append arrives', async () => {
    const end = BigInt(door.broker.log('events', 0).logEndOffset);
    const waiting = client.request(API.Fetch, 12, fetchBody('events', 0, end, { maxWaitMs: 30_000, minBytes: 1 }));
    await door.broker.produceBatches('events', 0, valuesBatch('late', 2));
    const data = partitionOf(await waiting);
    expect(decodeAll(data['records'] as Buffer).map((r) => r.value?.toString())).toEqual(['late-0', 'late-1']);
  });
});

describe('fetch sessions', () => {
  it('opens with a full fetch, then answers incrementally with only partitions that have news', async () => {
    const end0 = BigInt(door.broker.log('events', 0).logEndOffset);
    const end1 = BigInt(door.broker.log('events', 1).logEndOffset);
    const partitions = [
      { partition: 0, fetchOffset: end0, partitionMaxBytes: 1 << 20, logStartOffset: -1n, currentLeaderEpoch: -1 },
      { partition: 1, fetchOffset: end1, partitionMaxBytes: 1 << 20, logStartOffset: -1n, currentLeaderEpoch: -1 },
    ];
    const full = await client.request(API.Fetch, 12, { ...fetchBody('events', 0, 0n), sessionEpoch: 0, topics: [{ topic: 'events', partitions }] });
    const sessionId = full['sessionId'] as number;
    expect(sessionId).toBeGreaterThan(0);
    expect(((full['responses'] as Row[])[0]!['partitions'] as Row[]).length).toBe(2);

    const quiet = await client.request(API.Fetch, 12, { ...fetchBody('events', 0, 0n), sessionId, sessionEpoch: 1, topics: [] });
    expect(quiet['errorCode']).toBe(0);
    expect(quiet['responses']).toEqual([]);

    await door.broker.produceBatches('events', 1, valuesBatch('news', 1));
    const news = await client.request(API.Fetch, 12, { ...fetchBody('events', 0, 0n), sessionId, sessionEpoch: 2, topics: [] });
    const shown = (news['responses'] as Row[]).flatMap((topic) => (topic['partitions'] as Row[]).map((p) => p['partitionIndex']));
    expect(shown).toEqual([1]);

    const stale = await client.request(API.Fetch, 12, { ...fetchBody('events', 0, 0n), sessionId, sessionEpoch: 2, topics: [] });
    expect(stale['errorCode']).toBe(ERROR_CODES.INVALID_FETCH_SESSION_EPOCH.code);
    const unknown = await client.request(API.Fetch, 12, { ...fetchBody('events', 0, 0n), sessionId: 12345, sessionEpoch: 1, topics: [] });
    expect(unknown['errorCode']).toBe(ERROR_CODES.FETCH_SESSION_ID_NOT_FOUND.code);
  });
});

describe('ListOffsets', () => {
  it('answers earliest, latest, max timestamp and by timestamp', async () => {
    await door.broker.createTopic('timed');
    await door.broker.produceBatches('timed', 0, valuesBatch('t', 3, { timestamp: 1_000n }));
    await door.broker.produceBatches('timed', 0, valuesBatch('u', 2, { timestamp: 5_000n }));
    await door.broker.produceBatches('timed', 0, valuesBatch('v', 1, { timestamp: 3_000n }));
    const ask = async (timestamp: bigint): Promise<Row> => {
      const response = await client.request(API.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'timed', partitions: [{ partitionIndex: 0, timestamp, currentLeaderEpoch: -1 }] }] });
      return ((response['topics'] as Row[])[0]!['partitions'] as Row[])[0]!;
    };
    expect((await ask(-2n))['offset']).toBe(0n);
    expect((await ask(-1n))['offset']).toBe(6n);
    expect(await ask(-3n)).toMatchObject({ offset: 3n, timestamp: 5_000n });
    expect(await ask(2_000n)).toMatchObject({ offset: 3n, timestamp: 5_000n });
    expect((await ask(9_000n))['offset']).toBe(-1n);
  });
});

describe('bad input closes one connection; the broker carries on', () => {
  async function expectClosedBy(bytes: Buffer): Promise<void> {
    const raw = await RawKafkaClient.connect(door.port);
    raw.write(bytes);
    expect(await raw.waitClosed()).toBe(true);
    const healthy = await client.request(API.ApiVersions, 3, {});
    expect(healthy['errorCode']).toBe(0);
  }

  it('a length prefix of 2^31-1 or a negative one is refused before anything is read', async () => {
    const huge = Buffer.alloc(4);
    huge.writeInt32BE(0x7fffffff, 0);
    await expectClosedBy(huge);
    const negative = Buffer.alloc(4);
    negative.writeInt32BE(-5, 0);
    await expectClosedBy(negative);
  });

  it('a request over socket.request.max.bytes closes the connection', async () => {
    const small = await openKafkaServer({}, {}, 1024);
    const raw = await RawKafkaClient.connect(small.port);
    raw.write(encodeRequest(API.Produce, 9, 1, produceBody('events', 0, valuesBatch('big', 10, { valueBytes: 500 }))));
    expect(await raw.waitClosed()).toBe(true);
    await small.close();
  });

  it('before SASL authentication a frame over 512 KiB closes the connection; after it, large requests pass', async () => {
    const secured = await openKafkaServer({}, { saslPlainUsers: new Map([['alice', 'secret']]) });
    await secured.broker.createTopic('guarded');
    const big = produceBody('guarded', 0, valuesBatch('big', 8, { valueBytes: 100_000 }));
    const early = await RawKafkaClient.connect(secured.port);
    early.write(encodeRequest(API.Produce, 9, 1, big));
    expect(await early.waitClosed()).toBe(true);

    const client = await RawKafkaClient.connect(secured.port);
    expect((await client.request(17, 1, { mechanism: 'PLAIN' }))['errorCode']).toBe(0);
    expect((await client.request(36, 2, { authBytes: Buffer.from('\u0000alice\u0000secret') }))['errorCode']).toBe(0);
    const produced = await client.request(API.Produce, 9, big);
    expect(((produced['responses'] as Row[])[0]!['partitionResponses'] as Row[])[0]!['errorCode']).toBe(0);
    client.close();
    await secured.close();
  });

  it('a burst of more requests than may be in flight is answered completely and in order', async () => {
    const raw = await RawKafkaClient.connect(door.port);
    const count = 500;
    raw.write(Buffer.concat(Array.from({ length: count }, (_, i) => encodeRequest(API.ApiVersions, 3, 10_000 + i, {}))));
    for (let i = 0; i < count; i++) expect(decodeResponse(API.ApiVersions, 3, 10_000 + i, (await raw.nextFrame())!)['errorCode']).toBe(0);
    raw.close();
  });

  it('unknown API keys, unsupported versions and undecodable bodies close the connection', async () => {
    const unknownKey = encodeRequest(API.ApiVersions, 0, 1, {});
    unknownKey.writeInt16BE(9999, 4);
    await expectClosedBy(unknownKey);
    const oldProduce = encodeRequest(API.ApiVersions, 0, 1, {});
    oldProduce.writeInt16BE(API.Produce, 4);
    await expectClosedBy(oldProduce);
    const truncated = encodeRequest(API.Fetch, 12, 1, fetchBody('events', 0, 0n));
    const cut = truncated.subarray(0, truncated.length - 10);
    cut.writeInt32BE(cut.length - 4, 0);
    await expectClosedBy(cut);
  });

  it('a half-sent frame and an abrupt disconnect leave the broker serving', async () => {
    const socket = net.connect(door.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const frame = encodeRequest(API.ApiVersions, 3, 1, {});
    socket.write(frame.subarray(0, frame.length - 3));
    socket.destroy();
    const healthy = await client.request(API.ApiVersions, 3, {});
    expect(healthy['errorCode']).toBe(0);
  });
});
