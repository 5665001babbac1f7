/**
 * Produce over HTTP in every encoding, single and batched, read back through
 * the long-poll fetch endpoint (and checked against the broker's own view).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { call, eventually, metricValue, openServer, stringRecord, type ErrorReply, type FetchReply, type ProduceReport, type TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await openServer();
});

afterAll(async () => {
  await t.close();
  await closeSharedStoragePool();
});

const recordsUrl = (topic: string): string => `${t.cluster}/topics/${topic}/records`;
const fetchUrl = (topic: string, partition: number, query = ''): string => `${t.cluster}/topics/${topic}/partitions/${partition}/records${query}`;

describe('produce', () => {
  it('produces JSON, STRING and BINARY keys and values and reads the same bytes back', async () => {
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    const bodies = [
      { key: { type: 'JSON', data: { id: 1 } }, value: { type: 'JSON', data: { n: [1, 2], s: 'x' } } },
      { key: { type: 'STRING', data: 'user-ü' }, value: { type: 'STRING', data: 'hello\nworld' } },
      { key: { type: 'BINARY', data: binary.toString('base64') }, value: { type: 'BINARY', data: Buffer.from('plain').toString('base64') } },
      { value: { data: 42 } },
      { key: { type: 'STRING', data: 'k' }, value: { type: 'STRING', data: null } },
    ];
    const reports: ProduceReport[] = [];
    for (const body of bodies) {
      const reply = await call<ProduceReport>('POST', recordsUrl('enc'), { partition_id: 0, ...body });
      expect(reply.status).toBe(200);
      reports.push(reply.json);
    }
    expect(reports.map((r) => [r.error_code, r.cluster_id, r.topic_name, r.partition_id, r.offset])).toEqual([0, 1, 2, 3, 4].map((offset) => [200, t.broker.clusterId, 'enc', 0, offset]));
    expect(reports.map((r) => [r.key, r.value])).toEqual([
      [{ type: 'JSON', size: 8 }, { type: 'JSON', size: 19 }],
      [{ type: 'STRING', size: 7 }, { type: 'STRING', size: 11 }],
      [{ type: 'BINARY', size: 5 }, { type: 'BINARY', size: 5 }],
      [null, { type: 'JSON', size: 2 }],
      [{ type: 'STRING', size: 1 }, null],
    ]);
    expect(Date.parse(reports[0]!.timestamp)).toBeGreaterThan(0);

    const fetched = await call<FetchReply>('GET', fetchUrl('enc', 0, '?offset=0'));
    expect(fetched.status).toBe(200);
    expect(fetched.json).toMatchObject({ topic_name: 'enc', partition_id: 0, next_offset: 5, high_watermark: 5, log_start_offset: 0 });
    const records = fetched.json.records;
    expect(records.map((r) => [r.offset, r.key, r.key_encoding, r.value, r.value_encoding])).toEqual([
      [0, '{"id":1}', undefined, '{"n":[1,2],"s":"x"}', undefined],
      [1, 'user-ü', undefined, 'hello\nworld', undefined],
      [2, binary.toString('base64'), 'base64', 'plain', undefined],
      [3, null, undefined, '42', undefined],
      [4, 'k', undefined, null, undefined],
    ]);
    const stored = (await t.broker.fetchRecords('enc', 0, 0, { maxBytes: 1 << 20 })).records;
    expect(stored[2]!.key).toEqual(binary);
    expect(stored[4]!.value).toBeNull();
  });

  it('keeps headers and timestamps, and partitions keys as Kafka does', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'keyed', partitions_count: 4 });
    const headers = [{ name: 'trace', value: Buffer.from('abc').toString('base64') }, { name: 'raw', value: Buffer.from([0xc3, 0x28]).toString('base64') }, { name: 'none', value: null }];
    const reply = await call<ProduceReport>('POST', recordsUrl('keyed'), stringRecord('user-42', 'v', { headers, timestamp: '2024-05-01T12:00:00.000Z' }));
    expect(reply.json.partition_id).toBe(partitionForKey(Buffer.from('user-42'), 4));
    expect(reply.json.timestamp).toBe('2024-05-01T12:00:00.000Z');
    const fetched = await call<FetchReply>('GET', fetchUrl('keyed', reply.json.partition_id, `?offset=${reply.json.offset}`));
    expect(fetched.json.records[0]).toMatchObject({
      timestamp: Date.parse('2024-05-01T12:00:00.000Z'),
      headers: [{ name: 'trace', value: 'abc' }, { name: 'raw', value: 'wyg=', value_encoding: 'base64' }, { name: 'none', value: null }],
    });
    const numeric = await call<ProduceReport>('POST', recordsUrl('keyed'), stringRecord('user-42', 'v', { timestamp: 1_700_000_000_000 }));
    expect(numeric.json.timestamp).toBe(new Date(1_700_000_000_000).toISOString());
  });

  it('auto-creates the topic on first produce', async () => {
    const reply = await call<ProduceReport>('POST', recordsUrl('auto-made'), stringRecord(null, 'first'));
    expect(reply.status).toBe(200);
    expect(reply.json.offset).toBe(0);
    expect(t.broker.describeTopic('auto-made').partitions).toHaveLength(1);
  });

  it('takes a JSON array of records as one request and answers an array of reports', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'batch', partitions_count: 2 });
    const body = Array.from({ length: 10 }, (_, i) => stringRecord(null, `b${i}`, { partition_id: i % 2 }));
    const reply = await call<ProduceReport[]>('POST', recordsUrl('batch'), body);
    expect(reply.status).toBe(200);
    expect(reply.json.map((r) => [r.error_code, r.partition_id, r.offset])).toEqual(Array.from({ length: 10 }, (_, i) => [200, i % 2, Math.floor(i / 2)]));
    const zero = await call<FetchReply>('GET', fetchUrl('batch', 0));
    expect(zero.json.records.map((r) => r.value)).toEqual(['b0', 'b2', 'b4', 'b6', 'b8']);
    expect((await call<ProduceReport[]>('POST', recordsUrl('batch'), [])).json).toEqual([]);
  });

  it('splits a large array of small records so no record batch passes max.message.bytes', async () => {
    const value = 'x'.repeat(1000);
    const body = Array.from({ length: 3000 }, () => stringRecord(null, value, { partition_id: 0 }));
    const reply = await call<ProduceReport[]>('POST', recordsUrl('big-batch'), body);
    expect(reply.status).toBe(200);
    expect(reply.json.every((r, i) => r.error_code === 200 && r.offset === i)).toBe(true);
    expect(t.broker.describeTopic('big-batch').partitions[0]!.logEndOffset).toBe(3000);
  });

  it('reports a refused group per record and writes nothing after it', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'small-max', configs: [{ name: 'max.message.bytes', value: '2000' }] });
    const reply = await call<Array<ProduceReport & ErrorReply>>('POST', recordsUrl('small-max'), [stringRecord(null, 'ok'), stringRecord(null, 'y'.repeat(5000)), stringRecord(null, 'after')]);
    expect(reply.status).toBe(200);
    expect(reply.json.map((r) => [r.error_code, r.kafka_error])).toEqual([[200, undefined], [413, 'MESSAGE_TOO_LARGE'], [413, 'MESSAGE_TOO_LARGE']]);
    expect(reply.json[2]!.message).toMatch(/^not attempted: record \[1\] before it failed/);
    expect(t.broker.describeTopic('small-max').partitions[0]!.logEndOffset).toBe(1);
    const allFailed = await call<ErrorReply>('POST', recordsUrl('small-max'), [stringRecord(null, 'y'.repeat(5000))]);
    expect(allFailed.status).toBe(413);
  });
});

describe('fetch', () => {
  it('reads from an offset, from earliest or latest, within max_bytes, and continues from next_offset', async () => {
    await call('POST', recordsUrl('reads'), Array.from({ length: 20 }, (_, i) => stringRecord(null, `r${i}`.padEnd(200, '.'), { partition_id: 0 })));
    const all = await call<FetchReply>('GET', fetchUrl('reads', 0, '?from=earliest'));
    expect(all.json.records).toHaveLength(20);
    const from = await call<FetchReply>('GET', fetchUrl('reads', 0, '?offset=15'));
    expect(from.json.records.map((r) => r.offset)).toEqual([15, 16, 17, 18, 19]);
    const latest = await call<FetchReply>('GET', fetchUrl('reads', 0, '?from=latest'));
    expect(latest.json).toMatchObject({ records: [], next_offset: 20, high_watermark: 20 });

    for (let i = 0; i < 5; i++) await call('POST', recordsUrl('reads'), stringRecord(null, `single${i}`, { partition_id: 0 }));
    const small = await call<FetchReply>('GET', fetchUrl('reads', 0, '?offset=20&max_bytes=1'));
    expect(small.json.records.map((r) => r.value)).toEqual(['single0']);
    const rest = await call<FetchReply>('GET', fetchUrl('reads', 0, `?offset=${small.json.next_offset}`));
    expect(rest.json.records.map((r) => r.value)).toEqual(['single1', 'single2', 'single3', 'single4']);
  });

  it('long-polls until a later produce wakes it', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'waits' });
    const pending = call<FetchReply>('GET', fetchUrl('waits', 0, '?offset=0&timeout_ms=14000'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await call('POST', recordsUrl('waits'), stringRecord(null, 'wake up'));
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.json.records.map((r) => r.value)).toEqual(['wake up']);
  });

  it('answers an empty fetch at once without timeout_ms', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'empty' });
    const reply = await call<FetchReply>('GET', fetchUrl('empty', 0));
    expect(reply.json).toMatchObject({ records: [], next_offset: 0, high_watermark: 0 });
  });

  it('ends the broker long-poll when the client goes away', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'leaves' });
    const controller = new AbortController();
    const pending = fetch(fetchUrl('leaves', 0, '?timeout_ms=30000'), { signal: controller.signal }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await pending;
    const route = '/v3/clusters/:cluster_id/topics/:topic_name/partitions/:partition_id/records';
    const metrics = async (): Promise<number | undefined> => metricValue((await call('GET', `${t.origin}/metrics`)).text, 'ferry_http_requests_total', { route, status: '499' });
    expect(await eventually(metrics, 'the aborted fetch counted as 499')).toBe(1);
  });

  it('refuses bad positions and parameters', async () => {
    await call('POST', recordsUrl('bounds'), stringRecord(null, 'one', { partition_id: 0 }));
    const cases: Array<[string, number, string | undefined]> = [
      ['?offset=5', 416, 'OFFSET_OUT_OF_RANGE'],
      ['?offset=-1', 400, undefined],
      ['?offset=abc', 400, undefined],
      ['?from=middle', 400, undefined],
      ['?max_bytes=0', 400, undefined],
      ['?timeout_ms=999999', 400, undefined],
    ];
    for (const [query, status, kafkaError] of cases) {
      const reply = await call<ErrorReply>('GET', fetchUrl('bounds', 0, query));
      expect({ query, status: reply.status, kafkaError: reply.json.kafka_error }).toEqual({ query, status, kafkaError });
    }
    expect((await call<ErrorReply>('GET', fetchUrl('bounds', 3))).status).toBe(404);
    expect((await call<ErrorReply>('GET', fetchUrl('no-such-topic', 0))).status).toBe(404);
  });
});

