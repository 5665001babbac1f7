/**
 * The Confluent REST Proxy v3 admin routes over real HTTP: clusters, topic
 * CRUD, partitions, configs, and the error answers they give.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { call, openServer, stringRecord, type ErrorReply, type TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await openServer();
});

afterAll(async () => {
  await t.close();
  await closeSharedStoragePool();
});

interface Topic {
  kind: string;
  metadata: { self: string; resource_name: string };
  cluster_id: string;
  topic_name: string;
  topic_id: string;
  is_internal: boolean;
  replication_factor: number;
  partitions_count: number;
  partitions: { related: string };
}

interface List<T> {
  kind: string;
  metadata: { self: string; next: string | null };
  data: T[];
}

interface Partition {
  kind: string;
  partition_id: number;
  leader: { related: string };
  leader_id: number;
  replica_ids: number[];
  isr_ids: number[];
  log_start_offset: number;
  log_end_offset: number;
  high_watermark: number;
}

describe('clusters', () => {
  it('lists the one cluster and describes it; another cluster id is 404', async () => {
    const clusters = await call<List<{ kind: string; cluster_id: string; topics: { related: string } }>>('GET', `${t.origin}/v3/clusters`);
    expect(clusters.status).toBe(200);
    expect(clusters.headers.get('content-type')).toBe('application/json');
    expect(clusters.json).toMatchObject({ kind: 'KafkaClusterList', metadata: { self: `${t.origin}/v3/clusters`, next: null } });
    expect(clusters.json.data).toHaveLength(1);
    expect(clusters.json.data[0]).toMatchObject({ kind: 'KafkaCluster', cluster_id: t.broker.clusterId, topics: { related: `${t.cluster}/topics` } });

    const cluster = await call('GET', t.cluster);
    expect(cluster.status).toBe(200);
    expect(cluster.json).toMatchObject({ kind: 'KafkaCluster', cluster_id: t.broker.clusterId, metadata: { self: t.cluster, resource_name: `crn:///kafka=${t.broker.clusterId}` } });

    for (const url of [`${t.origin}/v3/clusters/nope`, `${t.origin}/v3/clusters/nope/topics`, `${t.origin}/v3/clusters/nope/topics/x/partitions`]) {
      const missing = await call<ErrorReply>('GET', url);
      expect(missing.status).toBe(404);
      expect(missing.json.error_code).toBe(404);
      expect(missing.json.message).toContain('cluster nope not found');
    }
  });
});

describe('topics', () => {
  it('creates, lists, describes, grows and deletes a topic', async () => {
    const created = await call<Topic>('POST', `${t.cluster}/topics`, { topic_name: 'orders', partitions_count: 3, replication_factor: 1, configs: [{ name: 'retention.ms', value: '60000' }] });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      kind: 'KafkaTopic',
      metadata: { self: `${t.cluster}/topics/orders`, resource_name: `crn:///kafka=${t.broker.clusterId}/topic=orders` },
      cluster_id: t.broker.clusterId,
      topic_name: 'orders',
      is_internal: false,
      replication_factor: 1,
      partitions_count: 3,
      partitions: { related: `${t.cluster}/topics/orders/partitions` },
    });
    expect(created.json.topic_id).toBe(t.broker.describeTopic('orders').topicId);

    const listed = await call<List<Topic>>('GET', `${t.cluster}/topics`);
    expect(listed.status).toBe(200);
    expect(listed.json.kind).toBe('KafkaTopicList');
    expect(listed.json.data.map((topic) => [topic.topic_name, topic.partitions_count, topic.replication_factor])).toContainEqual(['orders', 3, 1]);

    const described = await call<Topic>('GET', `${t.cluster}/topics/orders`);
    expect(described.json).toEqual(created.json);

    const grown = await call<Topic>('PATCH', `${t.cluster}/topics/orders`, { partitions_count: 5 });
    expect(grown.status).toBe(200);
    expect(grown.json.partitions_count).toBe(5);
    const shrink = await call<ErrorReply>('PATCH', `${t.cluster}/topics/orders`, { partitions_count: 2 });
    expect(shrink.status).toBe(400);
    expect(shrink.json.kafka_error).toBe('INVALID_PARTITIONS');

    const deleted = await call('DELETE', `${t.cluster}/topics/orders`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const gone = await call<ErrorReply>('GET', `${t.cluster}/topics/orders`);
    expect(gone.status).toBe(404);
    expect(gone.json).toMatchObject({ error_code: 404, kafka_error: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect((await call('DELETE', `${t.cluster}/topics/orders`)).status).toBe(404);
  });

  it('uses the broker default partition count when none is given, and flags internal topics', async () => {
    expect((await call<Topic>('POST', `${t.cluster}/topics`, { topic_name: 'plain' })).json.partitions_count).toBe(1);
    expect((await call<Topic>('POST', `${t.cluster}/topics`, { topic_name: 'minus-one', partitions_count: -1 })).json.partitions_count).toBe(1);
    expect((await call<Topic>('POST', `${t.cluster}/topics`, { topic_name: '__internal' })).json.is_internal).toBe(true);
    const listed = await call<List<Topic>>('GET', `${t.cluster}/topics`);
    expect(listed.json.data.find((topic) => topic.topic_name === '__internal')?.is_internal).toBe(true);
  });

  it('refuses what Kafka refuses, with the right statuses', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'taken' });
    const cases: Array<[unknown, number, string | undefined]> = [
      [{ topic_name: 'taken' }, 409, 'TOPIC_ALREADY_EXISTS'],
      [{ topic_name: 'bad name' }, 400, 'INVALID_TOPIC_EXCEPTION'],
      [{ topic_name: 'zero', partitions_count: 0 }, 400, 'INVALID_PARTITIONS'],
      [{ topic_name: 'rf', replication_factor: 3 }, 400, 'INVALID_REPLICATION_FACTOR'],
      [{ topic_name: 'cfg', configs: [{ name: 'no.such.config', value: '1' }] }, 400, 'INVALID_CONFIG'],
      [{ topic_name: 'cfg', configs: [{ name: 'retention.ms', value: 'soon' }] }, 400, 'INVALID_CONFIG'],
      [{ topic_name: 'cfg', configs: [{ name: 'constructor', value: '1' }] }, 400, 'INVALID_CONFIG'],
      [{ topic_name: 'cfg', configs: { 'retention.ms': '1' } }, 400, undefined],
      [{ partitions_count: 1 }, 400, undefined],
      [{ topic_name: 'frac', partitions_count: 1.5 }, 400, undefined],
      [['topic_name', 'x'], 400, undefined],
    ];
    for (const [body, status, kafkaError] of cases) {
      const reply = await call<ErrorReply>('POST', `${t.cluster}/topics`, body);
      expect({ body, status: reply.status, kafkaError: reply.json.kafka_error }).toEqual({ body, status, kafkaError });
      expect(reply.json.error_code).toBe(status);
      expect(reply.json.message).toEqual(expect.any(String));
    }
    expect(t.broker.listTopics().map((topic) => topic.name)).not.toContain('cfg');
  });
});

describe('partitions', () => {
  it('lists partitions with leader, replicas and log offsets, and describes one', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'parts', partitions_count: 2 });
    for (let i = 0; i < 3; i++) await call('POST', `${t.cluster}/topics/parts/records`, stringRecord(null, `v${i}`, { partition_id: 1 }));
    const listed = await call<List<Partition>>('GET', `${t.cluster}/topics/parts/partitions`);
    expect(listed.status).toBe(200);
    expect(listed.json.kind).toBe('KafkaPartitionList');
    expect(listed.json.data.map((p) => [p.kind, p.partition_id, p.leader_id, p.replica_ids, p.isr_ids, p.log_start_offset, p.log_end_offset, p.high_watermark])).toEqual([
      ['KafkaPartition', 0, 1, [1], [1], 0, 0, 0],
      ['KafkaPartition', 1, 1, [1], [1], 0, 3, 3],
    ]);
    expect(listed.json.data[1]!.leader.related).toBe(`${t.cluster}/topics/parts/partitions/1/replicas/1`);

    const one = await call<Partition>('GET', `${t.cluster}/topics/parts/partitions/1`);
    expect(one.json).toEqual(listed.json.data[1]);
    expect((await call<ErrorReply>('GET', `${t.cluster}/topics/parts/partitions/2`)).status).toBe(404);
    expect((await call<ErrorReply>('GET', `${t.cluster}/topics/parts/partitions/x`)).status).toBe(400);
    expect((await call<ErrorReply>('GET', `${t.cluster}/topics/none/partitions`)).status).toBe(404);
  });
});

describe('configs', () => {
  it('lists, sets, alters and resets topic configs', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'conf', configs: [{ name: 'retention.ms', value: '60000' }] });
    const names = async (): Promise<Array<[string, string]>> => {
      const reply = await call<List<{ kind: string; name: string; value: string }>>('GET', `${t.cluster}/topics/conf/configs`);
      expect(reply.json.kind).toBe('KafkaTopicConfigList');
      return reply.json.data.map((config) => [config.name, config.value]);
    };
    expect(await names()).toEqual([['retention.ms', '60000']]);

    expect((await call('PUT', `${t.cluster}/topics/conf/configs/cleanup.policy`, { value: 'compact' })).status).toBe(204);
    expect(t.broker.topicConfig('conf').cleanupCompact).toBe(true);
    const alter = await call('POST', `${t.cluster}/topics/conf/configs:alter`, { data: [{ name: 'retention.ms', operation: 'DELETE' }, { name: 'max.message.bytes', value: 5000 }] });
    expect(alter.status).toBe(204);
    expect(await names()).toEqual([['cleanup.policy', 'compact'], ['max.message.bytes', '5000']]);
    expect((await call('DELETE', `${t.cluster}/topics/conf/configs/cleanup.policy`)).status).toBe(204);
    expect(await names()).toEqual([['max.message.bytes', '5000']]);

    expect((await call<ErrorReply>('PUT', `${t.cluster}/topics/conf/configs/no.such`, { value: '1' })).json.kafka_error).toBe('INVALID_CONFIG');
    expect((await call<ErrorReply>('PUT', `${t.cluster}/topics/conf/configs/__proto__`, { value: '1' })).status).toBe(400);
    expect((await call<ErrorReply>('POST', `${t.cluster}/topics/conf/configs:alter`, { data: 'x' })).status).toBe(400);
    expect((await call<ErrorReply>('PUT', `${t.cluster}/topics/none/configs/retention.ms`, { value: '1' })).status).toBe(404);
  });
});
