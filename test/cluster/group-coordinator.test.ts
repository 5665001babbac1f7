/**
 * Consumer groups in a cluster (issue 6): __consumer_offsets is a replicated
 * topic like any other, placed by the controller when the first client asks
 * FindCoordinator, and the leader of a group's partition coordinates the
 * group. Killing that broker moves the group to the new leader with its
 * committed offsets. Three real brokers (the built CLI) on a real etcd;
 * kafkajs as the client.
 */

import type { Etcd3 } from 'etcd3';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetsPartitionFor } from '../../src/broker/groups/offsets-topic-records.js';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { RawKafkaClient } from '../protocol/kafka/helpers.js';
import { killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { partitionStates, startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'groups';
const keys = clusterKeys(CLUSTER);
const TOPIC = 'work';
const GROUP = 'workers';
const OFFSETS_PARTITIONS = 50;
const FIND_COORDINATOR = 10;

let etcd: RunningEtcd;
let client: Etcd3;
let brokers: BrokerProcess[] = [];
const consumers: Consumer[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
  brokers = await Promise.all([1, 2, 3].map((id) => startBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, extra: ['--lease-ttl-seconds', '3'] })));
});

afterAll(async () => {
  await Promise.all(consumers.map((consumer) => consumer.disconnect().catch(() => undefined)));
  await killAll(brokers);
  client?.close();
  await etcd?.stop();
});

function kafkaOf(survivors: readonly BrokerProcess[]): Kafka {
  return new Kafka({ clientId: 'ferry-groups-test', brokers: survivors.map((broker) => `127.0.0.1:${broker.kafkaPort}`), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } });
}

/** A group member that reads until it has `count` records, commits them, and leaves. */
async function consumeAndCommit(kafka: Kafka, count: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 500 });
  consumers.push(consumer);
  const received: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (received.length >= count) return;
      received.push(message.value!.toString());
      await consumer.commitOffsets([{ topic: TOPIC, partition, offset: String(Number(message.offset) + 1) }]);
    },
  });
  await waitFor(`${count} records consumed and committed`, () => (received.length >= count ? true : undefined));
  await consumer.disconnect();
  return received;
}

describe('the group coordinator in a cluster', () => {
  it('is the leader of the group’s replicated __consumer_offsets partition, and moves with it, offsets and all, when that broker dies', async () => {
    const kafka = kafkaOf(brokers);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `first-${i}` })) });
    await producer.disconnect();

    expect(await consumeAndCommit(kafka, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `first-${i}`));
    const offsets = await partitionStates(client, keys, '__consumer_offsets');
    expect(offsets).toHaveLength(OFFSETS_PARTITIONS);
    expect(offsets.every((state) => state.replicas.length === 3)).toBe(true);
    const groupPartition = offsetsPartitionFor(GROUP, OFFSETS_PARTITIONS);
    const coordinator = brokers.find((broker) => broker.id === offsets[groupPartition]!.leader)!;
    // Every broker names the same coordinator (FindCoordinator v3, asked of each).
    for (const broker of brokers) {
      const raw = await RawKafkaClient.connect(broker.kafkaPort);
      try {
        const answer = await raw.request(FIND_COORDINATOR, 3, { key: GROUP, keyType: 0 });
        expect(answer).toMatchObject({ errorCode: 0, nodeId: coordinator.id, port: coordinator.kafkaPort });
      } finally {
        raw.close();
      }
    }
    const described = await admin.describeGroups([GROUP]);
    expect(described.groups[0]).toMatchObject({ groupId: GROUP, state: 'Empty', errorCode: 0 });
    await admin.disconnect();

    coordinator.child.kill('SIGKILL');
    await coordinator.exited;
    const survivors = brokers.filter((broker) => broker !== coordinator);
    await waitFor('a new leader of the group’s __consumer_offsets partition', async () => {
      const state = (await partitionStates(client, keys, '__consumer_offsets'))[groupPartition]!;
      return state.leader !== coordinator.id && state.leader !== -1 ? true : undefined;
    });

    const after = kafkaOf(survivors);
    const survivorAdmin = after.admin();
    await survivorAdmin.connect();
    try {
      const committed = await survivorAdmin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
      expect(committed[0]!.partitions).toEqual([{ partition: 0, offset: '10', metadata: null }]);
    } finally {
      await survivorAdmin.disconnect();
    }
    const survivorProducer = after.producer();
    await survivorProducer.connect();
    await survivorProducer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `second-${i}` })) });
    await survivorProducer.disconnect();
    // The group resumes where it committed, on its new coordinator: nothing of the first ten again.
    expect(await consumeAndCommit(after, 5)).toEqual(Array.from({ length: 5 }, (_, i) => `second-${i}`));
  });
});
