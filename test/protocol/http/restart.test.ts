/**
 * Restart: records produced over HTTP are read back over HTTP at the same
 * offsets after the server and broker are closed and reopened on the same
 * data directory.
 */

import { afterAll, describe, expect, it } from 'vitest';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { call, openServer, stringRecord, type FetchReply, type ProduceReport } from './helpers.js';

afterAll(closeSharedStoragePool);

describe('restart', () => {
  it('serves the same records at the same offsets after a restart', async () => {
    const first = await openServer();
    await call('POST', `${first.cluster}/topics`, { topic_name: 'durable', partitions_count: 2, configs: [{ name: 'retention.ms', value: '86400000' }] });
    const body = Array.from({ length: 10 }, (_, i) => ({ ...stringRecord(`key-${i}`, `value-${i}`), headers: [{ name: 'n', value: Buffer.from(String(i)).toString('base64') }] }));
    const produced = (await call<ProduceReport[]>('POST', `${first.cluster}/topics/durable/records`, body)).json;
    await call('POST', `${first.cluster}/topics/auto-durable/records`, { value: { type: 'BINARY', data: Buffer.from([0xff, 1, 2]).toString('base64') } });
    const before = await readAll(first.cluster);
    const clusterId = first.broker.clusterId;
    await first.close();

    const second = await openServer({ dataDir: first.dataDir });
    expect(second.broker.clusterId).toBe(clusterId);
    const topics = (await call<{ data: Array<{ topic_name: string; partitions_count: number }> }>('GET', `${second.cluster}/topics`)).json.data;
    expect(topics.map((topic) => [topic.topic_name, topic.partitions_count])).toEqual([['auto-durable', 1], ['durable', 2]]);
    const after = await readAll(second.cluster);
    expect(after).toEqual(before);
    for (const [i, report] of produced.entries()) {
      const record = after.durable[report.partition_id]!.find((r) => r.offset === report.offset);
      expect(record).toMatchObject({ key: `key-${i}`, value: `value-${i}`, headers: [{ name: 'n', value: String(i) }] });
    }
    expect(after['auto-durable'][0]).toEqual([expect.objectContaining({ offset: 0, value: '/wEC', value_encoding: 'base64' })]);

    const next = await call<ProduceReport>('POST', `${second.cluster}/topics/durable/records`, stringRecord(null, 'after', { partition_id: 0 }));
    expect(next.json.offset).toBe(after.durable[0]!.length);
    await second.close();
  });
});

type Partitions = Array<FetchReply['records']>;

/** Every record of both topics over HTTP, per partition. */
async function readAll(cluster: string): Promise<{ durable: Partitions; 'auto-durable': Partitions }> {
  return { durable: await readTopic(cluster, 'durable'), 'auto-durable': await readTopic(cluster, 'auto-durable') };
}

async function readTopic(cluster: string, topic: string): Promise<Partitions> {
  const partitions = (await call<{ data: unknown[] }>('GET', `${cluster}/topics/${topic}/partitions`)).json.data.length;
  const all: Partitions = [];
  for (let partition = 0; partition < partitions; partition++) {
    all.push((await call<FetchReply>('GET', `${cluster}/topics/${topic}/partitions/${partition}/records?from=earliest`)).json.records);
  }
  return all;
}
