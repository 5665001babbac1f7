/**
 * Server-Sent Events streams over real HTTP: records produced after a stream
 * opened, resume with Last-Event-ID, topic-wide streams, the end of a stream,
 * and a client that stops reading (backpressure keeps the broker from reading
 * ahead, and everything still arrives once it reads again).
 */

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSE_TOPIC_PARTITIONS_MAX } from '../../../src/protocol/http/limits.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { SseReader, WAIT_MS, call, eventually, metricValue, openServer, stringRecord, type ErrorReply, type TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await openServer();
});

afterAll(async () => {
  await t.close();
  await closeSharedStoragePool();
});

const partitionStream = (topic: string, partition: number, query = ''): string => `${t.cluster}/topics/${topic}/partitions/${partition}/records/stream${query}`;
const topicStream = (topic: string, query = ''): string => `${t.cluster}/topics/${topic}/records/stream${query}`;
const produce = (topic: string, body: unknown): Promise<unknown> => call('POST', `${t.cluster}/topics/${topic}/records`, body);

async function sseStreamsOpen(): Promise<number | undefined> {
  return metricValue((await call('GET', `${t.origin}/metrics`)).text, 'ferry_http_sse_streams');
}

describe('partition streams', () => {
  it('delivers records produced after the stream opened, with partition:offset ids', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'live' });
    await produce('live', stringRecord(null, 'before'));
    const stream = await SseReader.open(partitionStream('live', 0));
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const open = await stream.next();
    expect(open).toEqual({ event: 'open', id: '0:0', data: JSON.stringify({ topic_name: 'live', partitions: [{ partition_id: 0, offset: 1 }] }) });

    await produce('live', [stringRecord('k', 'a'), stringRecord('k', 'b')]);
    await produce('live', stringRecord(null, 'c'));
    const records = await stream.records(3);
    expect(records.map(({ id, record }) => [id, record.offset, record.key, record.value])).toEqual([
      ['0:1', 1, 'k', 'a'],
      ['0:2', 2, 'k', 'b'],
      ['0:3', 3, null, 'c'],
    ]);
    expect(records[0]!.record).toMatchObject({ partition_id: 0, headers: [] });
    stream.close();
    await eventually(async () => ((await sseStreamsOpen()) === 0 ? true : undefined), 'the stream to close on the server');
  });

  it('starts at an offset or from earliest, and resumes after Last-Event-ID', async () => {
    await produce('resume', Array.from({ length: 6 }, (_, i) => stringRecord(null, `r${i}`, { partition_id: 0 })));
    const fromOffset = await SseReader.open(partitionStream('resume', 0, '?offset=4'));
    expect((await fromOffset.records(2)).map(({ record }) => record.value)).toEqual(['r4', 'r5']);
    fromOffset.close();

    const earliest = await SseReader.open(partitionStream('resume', 0, '?from=earliest'));
    const seen = await earliest.records(3);
    earliest.close();
    expect(seen.map(({ record }) => record.value)).toEqual(['r0', 'r1', 'r2']);

    // What a browser's EventSource does on reconnect: the last id it saw, as Last-Event-ID; it wins over from/offset.
    const resumed = await SseReader.open(partitionStream('resume', 0, '?from=latest'), { 'last-event-id': seen[2]!.id! });
    expect((await resumed.next()).id).toBe('0:2');
    expect((await resumed.records(3)).map(({ id, record }) => [id, record.value])).toEqual([
      ['0:3', 'r3'],
      ['0:4', 'r4'],
      ['0:5', 'r5'],
    ]);
    await produce('resume', stringRecord(null, 'r6', { partition_id: 0 }));
    expect((await resumed.records(1))[0]!.record.value).toBe('r6');
    resumed.close();

    // A cursor behind the log start (or past its end) moves inside the log.
    const beyond = await SseReader.open(partitionStream('resume', 0), { 'last-event-id': '0:99' });
    expect((await beyond.next()).id).toBe('0:6');
    beyond.close();
  });

  it('refuses what cannot be streamed before the stream starts', async () => {
    await produce('refuse', stringRecord(null, 'x', { partition_id: 0 }));
    await t.broker.createTopic('wide', { partitions: SSE_TOPIC_PARTITIONS_MAX + 1 });
    const cases: Array<[string, Record<string, string>, number]> = [
      [partitionStream('refuse', 0, '?offset=7'), {}, 416],
      [partitionStream('refuse', 0, '?from=sometime'), {}, 400],
      [partitionStream('refuse', 0), { 'last-event-id': 'garbage' }, 400],
      [partitionStream('refuse', 1), {}, 404],
      [partitionStream('missing', 0), {}, 404],
      [topicStream('missing'), {}, 404],
      [topicStream('refuse', '?offset=0'), {}, 400],
      [topicStream('wide'), {}, 400],
    ];
    for (const [url, headers, status] of cases) {
      const reply = await call<ErrorReply>('GET', url, undefined, headers);
      expect({ url, status: reply.status }).toEqual({ url, status });
      expect(reply.json.error_code).toBe(status);
    }
  });

  it('ends with an error event when the topic is deleted', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'doomed' });
    const stream = await SseReader.open(partitionStream('doomed', 0));
    await stream.next((e) => e.event === 'open');
    await call('DELETE', `${t.cluster}/topics/doomed`);
    const error = await stream.next((e) => e.event === 'error');
    expect(JSON.parse(error.data)).toMatchObject({ error_code: 404, kafka_error: 'UNKNOWN_TOPIC_OR_PARTITION' });
    await eventually(() => (stream.ended ? true : undefined), 'the stream to end');
  });
});

describe('topic streams', () => {
  it('streams every partition with a cursor id, and resumes every partition from it', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'fan', partitions_count: 3 });
    for (let i = 0; i < 9; i++) await produce('fan', stringRecord(null, `p${i % 3}-${Math.floor(i / 3)}`, { partition_id: i % 3 }));
    const stream = await SseReader.open(topicStream('fan', '?from=earliest'));
    const open = await stream.next();
    expect(open).toMatchObject({ event: 'open', id: '0:-1,1:-1,2:-1' });
    const first = await stream.records(9);
    const byPartition = (events: typeof first): string[][] => [0, 1, 2].map((p) => events.filter((e) => e.record.partition_id === p).map((e) => e.record.value!));
    expect(byPartition(first)).toEqual([0, 1, 2].map((p) => [0, 1, 2].map((n) => `p${p}-${n}`)));
    for (const { id, record } of first) {
      const pairs = id!.split(',');
      expect(pairs).toHaveLength(3);
      expect(pairs[record.partition_id]).toBe(`${record.partition_id}:${record.offset}`);
    }
    stream.close();

    // Resume from an event in the middle: each partition continues after what that cursor says was delivered.
    const middle = first[4]!;
    const delivered = new Map(middle.id!.split(',').map((pair) => pair.split(':').map(Number) as [number, number]));
    const resumed = await SseReader.open(topicStream('fan'), { 'last-event-id': middle.id! });
    await resumed.next((e) => e.event === 'open');
    const expectedCount = [0, 1, 2].reduce((sum, p) => sum + (2 - delivered.get(p)!), 0);
    expect(expectedCount).toBe(9 - 5);
    const rest = await resumed.records(expectedCount);
    for (const { record } of rest) expect(record.offset).toBeGreaterThan(delivered.get(record.partition_id)!);
    await produce('fan', stringRecord(null, 'late', { partition_id: 2 }));
    expect((await resumed.records(1))[0]!.record).toMatchObject({ partition_id: 2, offset: 3, value: 'late' });
    resumed.close();
  });

  it('starts at the end by default', async () => {
    await produce('tail', [stringRecord(null, 'old')]);
    const stream = await SseReader.open(topicStream('tail'));
    expect((await stream.next()).event).toBe('open');
    await produce('tail', [stringRecord(null, 'new')]);
    expect((await stream.records(1))[0]!.record.value).toBe('new');
    stream.close();
  });
});

describe('a client that stops reading', () => {
  it('stops the broker reading ahead until the client reads again, and others are served meanwhile', async () => {
    const valueBytes = 32 * 1024;
    const recordCount = 1024; // 32 MiB of values: far more than the socket buffers hold
    await call('POST', `${t.cluster}/topics`, { topic_name: 'firehose' });
    const value = Buffer.alloc(valueBytes, 'v');
    for (let i = 0; i < recordCount; i += 16) {
      await t.broker.produce('firehose', Array.from({ length: 16 }, () => ({ value, partition: 0 })));
    }

    const route = '/v3/clusters/:cluster_id/topics/:topic_name/partitions/:partition_id/records/stream';
    const sent = async (): Promise<number> => metricValue((await call('GET', `${t.origin}/metrics`)).text, 'ferry_http_sent_bytes_total', { route }) ?? 0;
    const socket = net.connect(t.server.port, '127.0.0.1');
    socket.pause();
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(`GET /v3/clusters/${t.broker.clusterId}/topics/firehose/partitions/0/records/stream?from=earliest HTTP/1.1\r\nHost: test\r\n\r\n`);

    // The stream fills the socket buffers and then stops: the sent count settles well below the 32 MiB there is.
    let previous = -1;
    const settled = await eventually(async () => {
      const now = await sent();
      const stable = now > 0 && now === previous;
      previous = now;
      if (stable) return now;
      await new Promise((resolve) => setTimeout(resolve, 200));
      return undefined;
    }, 'the SSE stream to stop under backpressure');
    expect(settled).toBeLessThan((recordCount * valueBytes) / 2);

    expect((await call('GET', `${t.origin}/healthz`)).json).toEqual({ status: 'ok' });
    expect((await call('GET', `${t.cluster}/topics/firehose/partitions/0/records?offset=1000&max_bytes=1`)).status).toBe(200);

    // Reading again drains the stream: every record arrives, in order.
    let text = '';
    let lastId = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const ids = text.match(/\nid: 0:\d+\n/g);
      if (ids) lastId = ids[ids.length - 1]!.trim();
      text = text.slice(-256);
    });
    socket.resume();
    await eventually(() => (lastId === `id: 0:${recordCount - 1}` ? true : undefined), `the last record over a drained stream (last seen ${lastId})`);
    socket.destroy();
    await eventually(async () => ((await sseStreamsOpen()) === 0 ? true : undefined), 'the stream to close on the server');
  }, WAIT_MS * 3);
});
