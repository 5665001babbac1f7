/**
 * The admin APIs end to end: kafkajs 2.2.4's Admin client against a real
 * Kafka listener, including SASL/PLAIN login with good and bad credentials.
 */

import { Kafka, logLevel, type Admin, type SASLOptions } from 'kafkajs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeSharedStoragePool } from '../../../../src/storage/storage-pool.js';
import { openKafkaServer, type KafkaTestServer } from '../helpers.js';

afterAll(closeSharedStoragePool);

let server: KafkaTestServer | undefined;
let admin: Admin | undefined;
afterEach(async () => {
  await admin?.disconnect();
  admin = undefined;
  await server?.close();
  server = undefined;
});

/** kafkajs's config resource types and sources (its own enums are not typed for import). */
const RESOURCE_TOPIC = 2;
const SOURCE_TOPIC_CONFIG = 1;
const SOURCE_DEFAULT_CONFIG = 5;

function adminFor(target: KafkaTestServer, sasl?: SASLOptions): Admin {
  const kafka = new Kafka({
    clientId: 'ferry-admin-test',
    brokers: [target.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 50 },
    connectionTimeout: 5_000,
    ...(sasl ? { sasl } : {}),
  });
  return kafka.admin();
}

describe('kafkajs admin', () => {
  it('creates, inspects, configures, grows, trims and deletes topics', async () => {
    server = await openKafkaServer({ defaultPartitions: 1 });
    admin = adminFor(server);
    await admin.connect();

    expect(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '60000' }] }] })).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'orders' }] })).toBe(false); // exists already: kafkajs answers false
    await expect(admin.createTopics({ topics: [{ topic: 'bad', replicationFactor: 3 }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR', topic: 'bad' })],
    });
    expect((await admin.listTopics()).sort()).toEqual(['orders']);

    const metadata = await admin.fetchTopicMetadata({ topics: ['orders'] });
    expect(metadata.topics).toHaveLength(1);
    expect(metadata.topics[0]!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr]).sort()).toEqual([
      [0, 1, [1], [1]],
      [1, 1, [1], [1]],
      [2, 1, [1], [1]],
    ]);

    const described = await admin.describeConfigs({ resources: [{ type: RESOURCE_TOPIC, name: 'orders' }], includeSynonyms: true });
    const entries = described.resources[0]!.configEntries;
    expect(entries.find((e) => e.configName === 'retention.ms')).toMatchObject({ configValue: '60000', configSource: SOURCE_TOPIC_CONFIG, readOnly: false });
    expect(entries.find((e) => e.configName === 'retention.ms')!.configSynonyms.map((s) => [s.configName, s.configValue, s.configSource])).toEqual([
      ['retention.ms', '60000', SOURCE_TOPIC_CONFIG],
      ['log.retention.ms', '604800000', SOURCE_DEFAULT_CONFIG],
    ]);
    expect(entries.find((e) => e.configName === 'cleanup.policy')).toMatchObject({ configValue: 'delete', configSource: SOURCE_DEFAULT_CONFIG });

    // AlterConfigs replaces the whole set: retention.ms goes back to its default.
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: RESOURCE_TOPIC, name: 'orders', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
    expect(server.broker.describeTopic('orders').configs).toEqual({ 'cleanup.policy': 'compact' });
    await expect(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: RESOURCE_TOPIC, name: 'orders', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }),
    ).rejects.toThrow();

    await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 5 }] });
    expect(server.broker.describeTopic('orders').partitions).toHaveLength(5);
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 2 }] })).rejects.toThrow();

    await server.broker.produce('orders', Array.from({ length: 4 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), partition: 0 })));
    await admin.deleteTopicRecords({ topic: 'orders', partitions: [{ partition: 0, offset: '3' }] });
    expect(server.broker.listOffset('orders', 0, 'earliest').offset).toBe(3);
    const offsets = await admin.fetchTopicOffsets('orders');
    expect(offsets.find((o) => o.partition === 0)).toMatchObject({ low: '3', high: '4' });

    const cluster = await admin.describeCluster();
    expect(cluster).toMatchObject({ clusterId: server.broker.clusterId, controller: 1, brokers: [{ nodeId: 1, host: '127.0.0.1', port: server.port }] });

    await admin.deleteTopics({ topics: ['orders'] });
    expect(await admin.listTopics()).toEqual([]);
  });

  it('auto-creates a topic a producer names, and only when auto.create.topics.enable allows it', async () => {
    server = await openKafkaServer({ defaultPartitions: 2 });
    const kafka = new Kafka({ clientId: 'ferry-auto-create', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 } });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    try {
      const [sent] = await producer.send({ topic: 'fresh', messages: [{ key: 'k', value: 'v' }] });
      expect(sent).toMatchObject({ topicName: 'fresh', errorCode: 0 });
    } finally {
      await producer.disconnect();
    }
    expect(server.broker.describeTopic('fresh').partitions).toHaveLength(2);
    await server.close();

    server = await openKafkaServer({ autoCreateTopics: false });
    admin = adminFor(server);
    await admin.connect();
    await expect(admin.fetchTopicMetadata({ topics: ['absent'] })).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(server.broker.listTopics()).toEqual([]);
  });

  it('logs in with SASL/PLAIN, and a bad password is refused with Kafka\'s error', async () => {
    server = await openKafkaServer({}, { saslPlainUsers: new Map([['alice', 'secret']]) });
    admin = adminFor(server, { mechanism: 'plain', username: 'alice', password: 'secret' });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'secured' }] });
    expect(await admin.listTopics()).toEqual(['secured']);
    await admin.disconnect();

    admin = adminFor(server, { mechanism: 'plain', username: 'alice', password: 'wrong' });
    await expect(admin.connect()).rejects.toThrow(/SASL PLAIN authentication failed: Authentication failed: invalid username or password/);
  });
});
