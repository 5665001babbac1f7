/**
 * @platformatic/kafka (a modern pure-JS client that speaks the newest
 * protocol versions: Fetch v17, Produce v11, Metadata v12, JoinGroup v9, ...)
 * against the Kafka door: admin creates a topic, an idempotent producer sends
 * keyed records with headers, a group consumer reads them from the earliest
 * offset and commits, and the commit is the broker's.
 */

import { Admin, Consumer, MessagesStreamModes, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { openKafkaServer, WAIT_MS, type KafkaTestServer } from './helpers.js';

let door: KafkaTestServer;

beforeAll(async () => {
  door = await openKafkaServer({ groups: { initialRebalanceDelayMs: 0, offsetsTopicPartitions: 3 } });
});

afterAll(async () => {
  await door.close();
  await closeSharedStoragePool();
});

describe('@platformatic/kafka', () => {
  it('creates a topic, produces idempotently, consumes in a group from the earliest offset and commits', async () => {
    const bootstrapBrokers = [door.bootstrap];
    const admin = new Admin({ clientId: 'pk-admin', bootstrapBrokers });
    try {
      await admin.createTopics({ topics: ['pk-orders'], partitions: 2, replicas: 1 });
      const metadata = await admin.metadata({ topics: ['pk-orders'] });
      expect(metadata.topics.get('pk-orders')?.partitionsCount).toBe(2);
    } finally {
      await admin.close();
    }

    const producer = new Producer({ clientId: 'pk-producer', bootstrapBrokers, serializers: stringSerializers, idempotent: true, acks: -1 });
    const messages = Array.from({ length: 20 }, (_, i) => ({ topic: 'pk-orders', key: `user-${i % 4}`, value: `order-${i}`, headers: new Map([['source', 'platformatic']]), partition: i % 2 }));
    try {
      const result = await producer.send({ messages });
      expect(result.offsets?.length).toBeGreaterThan(0);
    } finally {
      await producer.close();
    }
    expect(door.broker.describeProducers('pk-orders', 0).length).toBe(1);

    const consumer = new Consumer({ clientId: 'pk-consumer', groupId: 'pk-group', bootstrapBrokers, deserializers: stringDeserializers, sessionTimeout: 6000, heartbeatInterval: 500 });
    const seen: Array<{ partition: number; offset: bigint; key: string; value: string; source: string | undefined }> = [];
    try {
      const stream = await consumer.consume({ topics: ['pk-orders'], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 500 });
      const deadline = setTimeout(() => void stream.close(), WAIT_MS);
      for await (const message of stream) {
        seen.push({ partition: message.partition, offset: message.offset, key: message.key, value: message.value, source: message.headers.get('source') });
        await message.commit();
        if (seen.length === messages.length) break;
      }
      clearTimeout(deadline);
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    expect(seen.map((m) => m.value).sort()).toEqual(messages.map((m) => m.value).sort());
    expect(seen.every((m) => m.source === 'platformatic' && m.key === `user-${Number(m.value.split('-')[1]) % 4}`)).toBe(true);
    expect(door.broker.groups.fetchOffsets('pk-group', null).map((entry) => [entry.topic, entry.partition, entry.offset])).toEqual([
      ['pk-orders', 0, 10n],
      ['pk-orders', 1, 10n],
    ]);
  });
});
