/**
 * Consumer groups end to end over the Kafka door with kafkajs 2.2.4: two
 * consumers share a topic's partitions, the survivor takes them all when the
 * other leaves, committed offsets are resumed after the broker is closed and
 * reopened on the same data directory; the admin group APIs on the wire.
 */

import { Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { openKafkaServer, WAIT_MS, type KafkaTestServer } from './helpers.js';

afterAll(closeSharedStoragePool);

const GROUP = 'ferry-e2e';
const TOPIC = 'events';
const PARTITIONS = 4;
/** No initial delay and short sessions: the test waits on events, never on the clock. */
const GROUP_SETTINGS = { initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 1000, offsetsTopicPartitions: 5 };

let server: KafkaTestServer | undefined;
const consumers: Consumer[] = [];
afterEach(async () => {
  for (const consumer of consumers.splice(0)) await consumer.disconnect();
  await server?.close();
  server = undefined;
});

function kafkaFor(target: KafkaTestServer, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [target.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 }, connectionTimeout: 5_000 });
}

interface RunningConsumer {
  consumer: Consumer;
  values: string[];
  /** The partitions of the latest generation this consumer joined. */
  assigned: number[];
  generations: number;
}

async function startConsumer(target: KafkaTestServer, clientId: string): Promise<RunningConsumer> {
  const consumer = kafkaFor(target, clientId).consumer({ groupId: GROUP, sessionTimeout: 6_000, heartbeatInterval: 100, rebalanceTimeout: 10_000, maxWaitTimeInMs: 100 });
  consumers.push(consumer);
  const running: RunningConsumer = { consumer, values: [], assigned: [], generations: 0 };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    running.assigned = [...(event.payload.memberAssignment[TOPIC] ?? [])].sort();
    running.generations++;
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }: EachMessagePayload) => {
      running.values.push(message.value!.toString());
    },
  });
  return running;
}

async function produce(target: KafkaTestServer, prefix: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await target.broker.produce(
    TOPIC,
    values.map((value, i) => ({ value: Buffer.from(value), partition: i % PARTITIONS })),
  );
  return values;
}

describe('kafkajs consumer group', () => {
  it('shares partitions between two consumers, rebalances when one leaves, and resumes committed offsets after a restart', async () => {
    server = await openKafkaServer({ groups: GROUP_SETTINGS });
    const dataDir = server.dataDir;
    await server.broker.createTopic(TOPIC, { partitions: PARTITIONS });
    const first = await produce(server, 'first', 40);

    const a = await startConsumer(server, 'consumer-a');
    await vi.waitFor(() => expect(a.assigned).toEqual([0, 1, 2, 3]), { timeout: WAIT_MS, interval: 50 });
    const b = await startConsumer(server, 'consumer-b');
    await vi.waitFor(
      () => {
        expect(b.assigned.length).toBeGreaterThan(0);
        expect(a.assigned.length).toBeGreaterThan(0);
        expect([...a.assigned, ...b.assigned].sort()).toEqual([0, 1, 2, 3]);
      },
      { timeout: WAIT_MS, interval: 50 },
    );
    const shared = await produce(server, 'shared', 40);
    await vi.waitFor(() => expect(new Set([...a.values, ...b.values])).toEqual(new Set([...first, ...shared])), { timeout: WAIT_MS, interval: 50 });
    // Each consumer read only its own partitions' share of the records produced while both were in.
    const partitionOf = (value: string): number => Number(value.split('-')[1]) % PARTITIONS;
    expect(b.values.filter((value) => value.startsWith('shared')).every((value) => b.assigned.includes(partitionOf(value)))).toBe(true);

    await b.consumer.disconnect();
    await vi.waitFor(() => expect(a.assigned).toEqual([0, 1, 2, 3]), { timeout: WAIT_MS, interval: 50 });
    const afterLeave = await produce(server, 'after-leave', 20);
    await vi.waitFor(() => expect(a.values).toEqual(expect.arrayContaining(afterLeave)), { timeout: WAIT_MS, interval: 50 });

    const admin = kafkaFor(server, 'admin').admin();
    await admin.connect();
    const { groups } = await admin.describeGroups([GROUP]);
    expect(groups[0]).toMatchObject({ groupId: GROUP, state: 'Stable', protocolType: 'consumer', errorCode: 0 });
    expect(groups[0]!.members.map((member) => member.clientId)).toEqual(['consumer-a']);
    expect((await admin.listGroups()).groups).toEqual([{ groupId: GROUP, protocolType: 'consumer' }]);
    // Every record read is committed (kafkajs commits after each batch).
    await vi.waitFor(
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
        expect(committed!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
          [0, '25'],
          [1, '25'],
          [2, '25'],
          [3, '25'],
        ]);
      },
      { timeout: WAIT_MS, interval: 100 },
    );
    await admin.disconnect();
    await a.consumer.disconnect();
    consumers.splice(0);
    await server.close();

    server = await openKafkaServer({ dataDir, groups: GROUP_SETTINGS });
    const resumed = await startConsumer(server, 'consumer-c');
    const later = await produce(server, 'later', 8);
    await vi.waitFor(() => expect(resumed.values).toEqual(expect.arrayContaining(later)), { timeout: WAIT_MS, interval: 50 });
    // Nothing from before the restart is read again: it would have come first in each partition.
    expect(resumed.values.sort()).toEqual([...later].sort());
  });

  it('admin: offsets reset while the group is empty, deletion of offsets and of the group', async () => {
    server = await openKafkaServer({ groups: GROUP_SETTINGS });
    await server.broker.createTopic(TOPIC, { partitions: PARTITIONS });
    const admin = kafkaFor(server, 'admin').admin();
    await admin.connect();
    await admin.setOffsets({ groupId: GROUP, topic: TOPIC, partitions: [{ partition: 0, offset: '3' }, { partition: 2, offset: '5' }] });
    const [fetched] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    expect(fetched!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '3'],
      [1, '-1'],
      [2, '5'],
      [3, '-1'],
    ]);
    expect((await admin.describeGroups([GROUP])).groups[0]).toMatchObject({ state: 'Empty', members: [] });
    await admin.deleteGroups([GROUP]);
    expect((await admin.listGroups()).groups).toEqual([]);
    await expect(admin.deleteGroups(['never-existed'])).rejects.toMatchObject({ groups: [expect.objectContaining({ groupId: 'never-existed', errorCode: 69 })] });
    await admin.disconnect();
  });
});
