/**
 * The controller places partitions (issue 6, third slice): three real
 * brokers (the built CLI as child processes) on a real etcd
 * (test/cluster/etcd.ts). A topic created through one broker is placed over
 * all three, every broker answers the same Metadata, each holds logs of its
 * replicas only, clients are sent to leaders, and a controller that takes
 * over still places new topics.
 */

import fs from 'node:fs';
import type { Etcd3 } from 'etcd3';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentControllerId } from '../../src/cluster/controller.js';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys, decodePartitionState, type PartitionState } from '../../src/cluster/keys.js';
import { ERROR_CODES } from '../../src/errors.js';
import { RawKafkaClient } from '../protocol/kafka/helpers.js';
import { TestSocket } from '../protocol/ws/door-harness.js';
import { valuesBatch } from '../storage/helpers.js';
import { killAll, startBroker as startClusterBroker, waitFor, type BrokerProcess } from './brokers.js';
import { startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'partitions';
const keys = clusterKeys(CLUSTER);
const METADATA = 3;
const PRODUCE = 0;
const CREATE_TOPICS = 19;

let etcd: RunningEtcd;
let client: Etcd3;
const brokers: BrokerProcess[] = [];
const admins: Admin[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
});

afterAll(async () => {
  await Promise.all(admins.map((admin) => admin.disconnect().catch(() => undefined)));
  await killAll(brokers);
  client?.close();
  await etcd?.stop();
});

async function startBroker(id: number): Promise<BrokerProcess> {
  const broker = await startClusterBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER });
  brokers.push(broker);
  return broker;
}

async function adminOf(broker: BrokerProcess): Promise<Admin> {
  const admin = new Kafka({ clientId: 'ferry-partitions-test', brokers: [`127.0.0.1:${broker.kafkaPort}`], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  admins.push(admin);
  return admin;
}

interface MetadataPartition {
  errorCode: number;
  partitionIndex: number;
  leaderId: number;
  leaderEpoch: number;
  replicaNodes: number[];
  isrNodes: number[];
}

/** Metadata v12 for one topic, raw, so the leader epoch shows. */
async function metadataOf(broker: BrokerProcess, topic: string, allowAutoTopicCreation = false): Promise<MetadataPartition[]> {
  const raw = await RawKafkaClient.connect(broker.kafkaPort);
  try {
    const response = await raw.request(METADATA, 12, { topics: [{ topicId: Buffer.alloc(16), name: topic }], allowAutoTopicCreation, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const [answer] = response.topics as unknown as Array<{ errorCode: number; partitions: MetadataPartition[] }>;
    expect(answer!.errorCode).toBe(0);
    return answer!.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex);
  } finally {
    raw.close();
  }
}

async function partitionStates(topic: string): Promise<PartitionState[]> {
  const found = await client.getAll().prefix(`${keys.partitionsPrefix}${topic}/`).exec();
  const states = found.kvs.map((kv) => ({ partition: Number(kv.key.toString().split('/').at(-1)), state: decodePartitionState(kv.key.toString(), kv.value.toString()) }));
  return states.sort((a, b) => a.partition - b.partition).map(({ state }) => state);
}

function localPartitions(broker: BrokerProcess, topic: string): number[] {
  return fs
    .readdirSync(broker.dataDir)
    .filter((name) => name.startsWith(`${topic}-`) && /^\d+$/.test(name.slice(topic.length + 1)))
    .map((name) => Number(name.slice(topic.length + 1)))
    .sort((a, b) => a - b);
}

describe('the controller places partitions over the live brokers', () => {
  const TOPIC = 'spread';
  const PARTITIONS = 6;
  let a: BrokerProcess;
  let b: BrokerProcess;
  let c: BrokerProcess;

  it('a topic created through one broker (kafkajs) is placed over all three; every broker answers the same Metadata', async () => {
    a = await startBroker(21);
    await waitFor('broker 21 elected controller', () => a.logs.find((entry) => entry.msg === 'elected controller'));
    [b, c] = await Promise.all([startBroker(22), startBroker(23)]);
    await waitFor('broker 21 to see all three', () => a.logs.find((entry) => entry.msg === 'live brokers changed' && JSON.stringify(entry.brokers) === '[21,22,23]'));

    expect(await (await adminOf(a)).createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: false })).toBe(true);

    const states = await partitionStates(TOPIC);
    expect(states).toHaveLength(PARTITIONS);
    for (const state of states) {
      expect([...state.replicas].sort()).toEqual([21, 22, 23]);
      expect(state).toEqual({ leader: state.replicas[0], leaderEpoch: 0, replicas: state.replicas, isr: state.replicas });
    }
    // Kafka's round robin: six partitions over three brokers, each leads two.
    const leaders = states.map((state) => state.leader);
    expect([21, 22, 23].map((id) => leaders.filter((leader) => leader === id).length)).toEqual([2, 2, 2]);

    const expected = states.map((state, partition) => ({ errorCode: 0, partitionIndex: partition, leaderId: state.leader, leaderEpoch: 0, replicaNodes: state.replicas, isrNodes: state.isr }));
    for (const broker of [a, b, c]) {
      const answer = await waitFor(`broker ${broker.id} to know the placements`, async () => {
        const partitions = await metadataOf(broker, TOPIC);
        return partitions.length === PARTITIONS ? partitions : undefined;
      });
      expect(answer.map(({ errorCode, partitionIndex, leaderId, leaderEpoch, replicaNodes, isrNodes }) => ({ errorCode, partitionIndex, leaderId, leaderEpoch, replicaNodes, isrNodes }))).toEqual(expected);
    }
  });

  it('each broker holds local logs of exactly its replica partitions', async () => {
    await (await adminOf(b)).createTopics({ topics: [{ topic: 'pair', numPartitions: 3, replicationFactor: 2 }], waitForLeaders: false });
    const states = await partitionStates('pair');
    for (const broker of [a, b, c]) {
      const replicaOf = states.flatMap((state, partition) => (state.replicas.includes(broker.id) ? [partition] : []));
      await waitFor(`broker ${broker.id} to open its replicas of pair`, () => (localPartitions(broker, 'pair').length === replicaOf.length ? true : undefined));
      expect(localPartitions(broker, 'pair')).toEqual(replicaOf);
      expect(localPartitions(broker, TOPIC)).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it('kafkajs follows the leaders: every record produced is read back', async () => {
    const kafka = new Kafka({ clientId: 'ferry-partitions-test', brokers: [`127.0.0.1:${b.kafkaPort}`], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 60 }, (_, i) => `record-${i}`);
    try {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        await producer.send({ topic: TOPIC, messages: sent.filter((_, i) => i % PARTITIONS === partition).map((value) => ({ value, partition })) });
      }
    } finally {
      await producer.disconnect();
    }
    const consumer = kafka.consumer({ groupId: 'partitions-reader' });
    await consumer.connect();
    const received: string[] = [];
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void received.push(message.value!.toString()) });
      await waitFor('every record read back', () => (received.length >= sent.length ? true : undefined));
    } finally {
      await consumer.disconnect();
    }
    expect(received.sort()).toEqual([...sent].sort());
  });

  it('a produce to a broker that does not lead the partition gets NOT_LEADER_OR_FOLLOWER (Kafka), naming the leader (WebSocket), redirected to it (HTTP 307)', async () => {
    const states = await partitionStates(TOPIC);
    const partition = states.findIndex((state) => state.leader !== c.id);
    const raw = await RawKafkaClient.connect(c.kafkaPort);
    try {
      const response = await raw.request(PRODUCE, 9, { transactionalId: null, acks: 1, timeoutMs: 5_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records: valuesBatch('stray', 1) }] }] });
      const [topic] = response.responses as unknown as Array<{ partitionResponses: Array<{ errorCode: number; errorMessage: string | null }> }>;
      expect(topic!.partitionResponses[0]!.errorCode).toBe(ERROR_CODES.NOT_LEADER_OR_FOLLOWER.code);
      expect(topic!.partitionResponses[0]!.errorMessage).toContain(`broker ${states[partition]!.leader} does`);
    } finally {
      raw.close();
    }
    const leader = brokers.find((broker) => broker.id === states[partition]!.leader)!;
    const clusterId = ((await (await fetch(`http://127.0.0.1:${c.httpPort}/v3/clusters`)).json()) as { data: Array<{ cluster_id: string }> }).data[0]!.cluster_id;
    const path = `/v3/clusters/${clusterId}/topics/${TOPIC}/records`;
    const response = await fetch(`http://127.0.0.1:${c.httpPort}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ partition_id: partition, value: { type: 'STRING', data: 'stray' } }),
    });
    // The HTTP door redirects to the leader (307 keeps the method and body); the body says why.
    expect(response.status).toBe(307);
    expect(response.headers.get('location')).toBe(`http://127.0.0.1:${leader.httpPort}${path}`);
    const body = (await response.json()) as { kafka_error: string; message: string };
    expect(body.kafka_error).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(body.message).toContain(`led by broker ${leader.id} at 127.0.0.1:${leader.httpPort}`);
    const socket = await TestSocket.open(c.httpPort);
    try {
      socket.send({ type: 'produce', id: 1, topic: TOPIC, records: [{ value: 'stray', partition }] });
      const answer = await socket.take((message) => !Buffer.isBuffer(message) && message.type === 'error', 'the error');
      expect(answer).toMatchObject({ type: 'error', id: 1, error_name: 'NOT_LEADER_OR_FOLLOWER', retriable: true });
      expect((answer as unknown as { message: string }).message).toContain(`http 127.0.0.1:${leader.httpPort}`);
    } finally {
      socket.close();
    }
  });

  it('a replication factor above the live brokers is INVALID_REPLICATION_FACTOR; a second creation TOPIC_ALREADY_EXISTS', async () => {
    const admin = await adminOf(c);
    await expect(admin.createTopics({ topics: [{ topic: 'too-wide', numPartitions: 1, replicationFactor: 4 }] })).rejects.toMatchObject({ errors: [expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR' })] });
    expect(await partitionStates('too-wide')).toEqual([]);
    // Through another broker than the one that created it: the cluster, not the broker, knows the topic (raw: kafkajs hides this error).
    const raw = await RawKafkaClient.connect(c.kafkaPort);
    try {
      const response = await raw.request(CREATE_TOPICS, 5, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false });
      expect(response.topics).toMatchObject([{ name: TOPIC, errorCode: ERROR_CODES.TOPIC_ALREADY_EXISTS.code }]);
    } finally {
      raw.close();
    }
  });

  it('a replica assignment given at creation (kafkajs replicaAssignment) is placed as given; one naming a broker that is not live is INVALID_REPLICA_ASSIGNMENT', async () => {
    const admin = await adminOf(b);
    const replicaAssignment = [
      { partition: 0, replicas: [c.id, a.id] },
      { partition: 1, replicas: [b.id, c.id] },
    ];
    expect(await admin.createTopics({ topics: [{ topic: 'assigned', replicaAssignment }] })).toBe(true);
    expect(await partitionStates('assigned')).toEqual(replicaAssignment.map(({ replicas }) => ({ leader: replicas[0], leaderEpoch: 0, replicas, isr: replicas })));
    await expect(admin.createTopics({ topics: [{ topic: 'assigned-away', replicaAssignment: [{ partition: 0, replicas: [a.id, 99] }] }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICA_ASSIGNMENT' })],
    });
    expect(await partitionStates('assigned-away')).toEqual([]);
  });

  it('two brokers auto-creating the same topic at once (Metadata) both answer it, placed once', async () => {
    const [fromB, fromC] = await Promise.all([metadataOf(b, 'raced', true), metadataOf(c, 'raced', true)]);
    const [state] = await partitionStates('raced');
    expect(state!.replicas).toHaveLength(3); // min(3, live brokers)
    for (const answer of [fromB, fromC]) expect(answer).toMatchObject([{ errorCode: 0, partitionIndex: 0, leaderId: state!.leader, replicaNodes: state!.replicas }]);
  });

  it('after the controller stops, its successor places a new topic', async () => {
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    const controller = await waitFor('a new controller', async () => {
      const id = await currentControllerId(client, keys);
      return id !== null && id !== a.id ? id : undefined;
    });
    expect([b.id, c.id]).toContain(controller);
    for (const broker of [b, c]) await waitFor(`broker ${broker.id} to see broker 21 leave`, () => broker.logs.find((entry) => entry.msg === 'live brokers changed' && JSON.stringify(entry.brokers) === '[22,23]'));
    // The default replication factor is min(3, live brokers): 2 now.
    expect(await (await adminOf(c)).createTopics({ topics: [{ topic: 'later', numPartitions: 4 }], waitForLeaders: false })).toBe(true);
    const states = await partitionStates('later');
    expect(states).toHaveLength(4);
    for (const state of states) expect([...state.replicas].sort()).toEqual([b.id, c.id]);
    const answer = await metadataOf(b, 'later');
    expect(answer.map((partition) => partition.leaderId)).toEqual(states.map((state) => state.leader));
  });
});
