/**
 * Replication and failover (issue 6), end to end: three real brokers (the
 * built CLI as child processes) on a real etcd, kafkajs producing with
 * idempotence and acks=all to a topic with replication factor 3 and
 * min.insync.replicas=2, while brokers are killed, paused, restarted and
 * etcd itself is restarted. The invariant every case checks: each record
 * the producer had acknowledged is read back exactly once, in the order it
 * was acknowledged within its partition.
 *
 * Leases are 3 s (a dead broker is noticed after that), followers leave
 * the ISR after 3 s without catching up; preferred-leader elections are off
 * so that leaders move only because of the faults.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys, type PartitionState } from '../../src/cluster/keys.js';
import { ERROR_CODES } from '../../src/errors.js';
import { RawKafkaClient } from '../protocol/kafka/helpers.js';
import { valuesBatch } from '../storage/helpers.js';
import { BUILT_CLI, killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { partitionStates, startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'replication';
const keys = clusterKeys(CLUSTER);
const PARTITIONS = 3;
const BROKER_FLAGS = ['--lease-ttl-seconds', '3', '--replica-lag-time-max-ms', '3000', '--leader-imbalance-check-interval-seconds', '0'];
const PRODUCE = 0;
const FETCH = 1;
const run = promisify(execFile);

let etcd: RunningEtcd;
let client: Etcd3;
/** By broker id; a restarted broker replaces its entry. */
const brokers = new Map<number, BrokerProcess>();
const everyProcess: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
  await Promise.all([1, 2, 3].map((id) => launch(id)));
});

afterAll(async () => {
  await killAll(everyProcess);
  client?.close();
  await etcd?.stop();
});

async function launch(id: number, dataDir?: string): Promise<BrokerProcess> {
  const broker = await startBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, extra: BROKER_FLAGS, ...(dataDir ? { dataDir } : {}) });
  brokers.set(id, broker);
  everyProcess.push(broker);
  return broker;
}

/** Starts a killed broker again on its data directory, once etcd has let its registration go (its lease expired). */
async function restart(id: number): Promise<BrokerProcess> {
  await waitFor(`broker ${id}'s registration to expire`, async () => ((await client.get(keys.brokerKey(id)).string()) === null ? true : undefined));
  return launch(id, brokers.get(id)!.dataDir);
}

function live(): BrokerProcess[] {
  return [...brokers.values()].filter((broker) => broker.child.exitCode === null && broker.child.signalCode === null);
}

async function ferry(broker: BrokerProcess, ...args: string[]): Promise<string> {
  return (await run(process.execPath, [BUILT_CLI, '--http', `http://127.0.0.1:${broker.httpPort}`, ...args])).stdout;
}

function states(topic: string): Promise<PartitionState[]> {
  return partitionStates(client, keys, topic);
}

async function createTopic(topic: string, ...configs: string[]): Promise<PartitionState[]> {
  const extra = configs.flatMap((config) => ['--config', config]);
  await ferry(live()[0]!, 'topics', 'create', topic, '--partitions', String(PARTITIONS), '--replication-factor', '3', '--config', 'min.insync.replicas=2', ...extra);
  return states(topic);
}

/** Waits until every partition of the topic has all three replicas in its ISR. */
function fullIsr(topic: string): Promise<PartitionState[]> {
  return waitFor(`every ISR of ${topic} to hold all three replicas`, async () => {
    const found = await states(topic);
    return found.length === PARTITIONS && found.every((state) => state.isr.length === 3 && state.leader !== -1) ? found : undefined;
  });
}

interface Acked {
  value: string;
  partition: number;
  offset: number;
}

/**
 * kafkajs with idempotence (hence acks=all) producing one record per send
 * until stopped, recording what was acknowledged. Sends that fail after
 * kafkajs's own retries are counted, not recorded: only acknowledged
 * records are promised.
 */
class SteadyProducer {
  readonly acked: Acked[] = [];
  failures = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {
    this.loop = this.run();
  }

  static async start(topic: string): Promise<SteadyProducer> {
    const kafka = new Kafka({
      clientId: 'ferry-replication-test',
      brokers: live().map((broker) => `127.0.0.1:${broker.kafkaPort}`),
      logLevel: process.env.DEBUG_KAFKAJS ? logLevel.DEBUG : logLevel.NOTHING,
      // A request to a paused broker is given up after 4 s (kafkajs waits 30 s by default), then retried on the new leader.
      requestTimeout: 4_000,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    return new SteadyProducer(producer, topic);
  }

  /** Resolves once `count` more records have been acknowledged. */
  async ackedMore(count: number, what: string): Promise<void> {
    const target = this.acked.length + count;
    await waitFor(what, () => (this.acked.length >= target ? true : undefined));
  }

  async stop(): Promise<Acked[]> {
    this.stopped = true;
    await this.loop;
    await this.producer.disconnect();
    return this.acked;
  }

  private async run(): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      const value = `${this.topic}-${n}`;
      try {
        const [result] = await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: `k${n % 11}`, value }] });
        this.acked.push({ value, partition: result!.partition, offset: Number(result!.baseOffset) });
      } catch {
        this.failures++;
        await sleep(100);
      }
    }
  }
}

/** Every record of the topic, per partition in offset order, read from the beginning by a fresh kafkajs consumer. */
async function readAll(topic: string, atLeast: number): Promise<Map<number, Array<{ value: string; offset: number }>>> {
  const kafka = new Kafka({ clientId: 'ferry-replication-reader', brokers: live().map((broker) => `127.0.0.1:${broker.kafkaPort}`), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}` });
  const byPartition = new Map<number, Array<{ value: string; offset: number }>>();
  let count = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        let list = byPartition.get(partition);
        if (!list) byPartition.set(partition, (list = []));
        list.push({ value: message.value!.toString(), offset: Number(message.offset) });
        count++;
      },
    });
    await waitFor(`${atLeast} records of ${topic} read back`, () => (count >= atLeast ? true : undefined));
  } finally {
    await consumer.disconnect();
  }
  return byPartition;
}

/** The invariant: each acknowledged record exactly once, at the offset it was acknowledged with; nothing else but unacknowledged attempts. */
async function expectEveryAckedRecordOnce(topic: string, acked: readonly Acked[]): Promise<void> {
  const read = await readAll(topic, acked.length);
  const seen = new Map<string, number>();
  for (const list of read.values()) for (const { value } of list) seen.set(value, (seen.get(value) ?? 0) + 1);
  const duplicated = [...seen].filter(([, times]) => times > 1).map(([value]) => value);
  expect(duplicated).toEqual([]);
  const missing = acked.filter((record) => !seen.has(record.value)).map((record) => record.value);
  expect(missing).toEqual([]);
  for (const record of acked) {
    const at = read.get(record.partition)!.find((entry) => entry.value === record.value)!;
    expect(at.offset).toBe(record.offset);
  }
  // Offsets within a partition strictly increase in the order the records were acknowledged.
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const offsets = acked.filter((record) => record.partition === partition).map((record) => record.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(offsets.length);
  }
}

/** Log start and end of each partition as broker `broker` holds it locally (`ferry topics describe` from it). */
async function localOffsets(broker: BrokerProcess, topic: string): Promise<string[]> {
  const lines = (await ferry(broker, 'topics', 'describe', topic)).trimEnd().split('\n').slice(1);
  return lines.map((line) => line.slice(line.indexOf('LogStartOffset')));
}

/** Waits until the broker's replicas of the topic end where the leaders' do. */
async function caughtUp(broker: BrokerProcess, topic: string): Promise<void> {
  await waitFor(`broker ${broker.id} to hold what the leaders of ${topic} hold`, async () => {
    const current = await states(topic);
    const leaders = await Promise.all(current.map((state) => localOffsets(brokers.get(state.leader)!, topic)));
    const expected = current.map((_, partition) => leaders[partition]![partition]!);
    const mine = await localOffsets(broker, topic);
    return JSON.stringify(mine) === JSON.stringify(expected) ? true : undefined;
  });
}

/** Produces one batch of `count` records straight to a broker (no client routing): the partition's error code. */
async function produceTo(broker: BrokerProcess, topic: string, partition: number, acks: number, prefix: string, count: number): Promise<number> {
  const raw = await RawKafkaClient.connect(broker.kafkaPort);
  try {
    const response = await raw.request(PRODUCE, 9, { transactionalId: null, acks, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: partition, records: valuesBatch(prefix, count) }] }] });
    const [answer] = response.responses as unknown as Array<{ partitionResponses: Array<{ errorCode: number }> }>;
    return answer!.partitionResponses[0]!.errorCode;
  } finally {
    raw.close();
  }
}

/** Offset and value of every record in a broker's local log of a partition, from its segment files (`ferry dump-log --records`). */
async function recordsOnDisk(broker: BrokerProcess, topic: string, partition: number): Promise<string[]> {
  const dir = path.join(broker.dataDir, `${topic}-${partition}`);
  const segments = fs.readdirSync(dir).filter((name) => name.endsWith('.log')).sort();
  const records: string[] = [];
  for (const segment of segments) {
    const { stdout } = await run(process.execPath, [BUILT_CLI, 'dump-log', '--records', path.join(dir, segment)]);
    for (const line of stdout.split('\n')) {
      const match = /^\| offset: (\d+) .* value: "([^"]*)"/.exec(line);
      if (match) records.push(`${match[1]} ${match[2]}`);
    }
  }
  return records;
}

describe('replication across three brokers', () => {
  it('kill -9 of a leader: a new leader from the ISR, no acknowledged record lost or duplicated; the killed broker catches up and rejoins the ISR', async () => {
    const topic = 'killed';
    await createTopic(topic);
    const before = await fullIsr(topic);
    const producer = await SteadyProducer.start(topic);
    await producer.ackedMore(150, '150 records acknowledged before the kill');

    const victim = brokers.get(before[0]!.leader)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const after = await waitFor('new leaders for the partitions the victim led', async () => {
      const found = await states(topic);
      return found.every((state) => state.leader !== victim.id && state.leader !== -1 && !state.isr.includes(victim.id)) ? found : undefined;
    });
    before.forEach((state, partition) => {
      if (state.leader !== victim.id) return;
      expect(after[partition]!.leaderEpoch).toBe(state.leaderEpoch + 1);
      expect(state.isr).toContain(after[partition]!.leader); // elected from the ISR
    });
    await producer.ackedMore(150, '150 more records acknowledged by the new leaders');

    const returned = await restart(victim.id);
    await fullIsr(topic);
    await producer.ackedMore(100, '100 more records acknowledged with the victim back in the ISR');
    const acked = await producer.stop();
    await caughtUp(returned, topic);
    await expectEveryAckedRecordOnce(topic, acked);
  });

  it('SIGSTOP of a leader: it is replaced, and when it resumes it steps down and takes no writes, then catches up', async () => {
    const topic = 'paused';
    await createTopic(topic);
    const before = await fullIsr(topic);
    const producer = await SteadyProducer.start(topic);
    await producer.ackedMore(100, '100 records acknowledged before the pause');

    const paused = brokers.get(before[0]!.leader)!;
    const raw = await RawKafkaClient.connect(paused.kafkaPort);
    paused.child.kill('SIGSTOP');
    try {
      // kafkajs waits out its request to the paused broker (it retries a timed-out request on the same broker), so it
      // moves on only once that broker answers: the write it sent during the pause must then be refused, not acknowledged.
      await waitFor('a new leader for partition 0 while the old one is paused', async () => {
        const found = await states(topic);
        return found[0]!.leader !== paused.id && found[0]!.leader !== -1 ? true : undefined;
      });
    } finally {
      paused.child.kill('SIGCONT');
    }
    // Straight after it resumes, before it has heard of the new leader: a write to it is refused, not acknowledged.
    const response = await raw.request(PRODUCE, 9, { transactionalId: null, acks: 1, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: valuesBatch('stale', 1) }] }] });
    raw.close();
    const [answer] = response.responses as unknown as Array<{ partitionResponses: Array<{ errorCode: number }> }>;
    expect(answer!.partitionResponses[0]!.errorCode).toBe(ERROR_CODES.NOT_LEADER_OR_FOLLOWER.code);
    // It knew it had stood still for longer than half its lease, before it heard of the new leader.
    await waitFor('the resumed broker to log its stall', () => (paused.logs.some((entry) => String(entry.msg).startsWith('the event loop stood still')) ? true : undefined));

    await producer.ackedMore(100, '100 records acknowledged by the new leader after the old one resumed');
    await fullIsr(topic);
    await producer.ackedMore(50, '50 more records acknowledged with the resumed broker back in the ISR');
    const acked = await producer.stop();
    await caughtUp(paused, topic);
    await expectEveryAckedRecordOnce(topic, acked);
    const read = await readAll(topic, acked.length);
    expect([...read.values()].flat().some((entry) => entry.value.startsWith('stale'))).toBe(false);
  });

  it('two brokers down: acks=all writes are refused with NOT_ENOUGH_REPLICAS, reads are still served, nothing acknowledged is lost', async () => {
    const topic = 'two-down';
    await createTopic(topic);
    await fullIsr(topic);
    const producer = await SteadyProducer.start(topic);
    await producer.ackedMore(100, '100 records acknowledged with three brokers');
    const acked = await producer.stop();

    const [survivor, ...down] = live();
    for (const broker of down) broker.child.kill('SIGKILL');
    await Promise.all(down.map((broker) => broker.exited));
    await waitFor('the survivor to lead every partition with an ISR of itself alone', async () => {
      const found = await states(topic);
      return found.every((state) => state.leader === survivor!.id && state.isr.join() === String(survivor!.id)) ? true : undefined;
    });
    const raw = await RawKafkaClient.connect(survivor!.kafkaPort);
    try {
      const response = await raw.request(PRODUCE, 9, { transactionalId: null, acks: -1, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: valuesBatch('refused', 1) }] }] });
      const [answer] = response.responses as unknown as Array<{ partitionResponses: Array<{ errorCode: number }> }>;
      expect(answer!.partitionResponses[0]!.errorCode).toBe(ERROR_CODES.NOT_ENOUGH_REPLICAS.code);
      // Reads go on: a consumer's fetch from the survivor returns records of partition 0 from the start.
      const fetched = await raw.request(FETCH, 12, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      const [fetchedTopic] = fetched.responses as unknown as Array<{ partitions: Array<{ errorCode: number; highWatermark: bigint; records: Buffer | null }> }>;
      expect(fetchedTopic!.partitions[0]!.errorCode).toBe(0);
      expect(Number(fetchedTopic!.partitions[0]!.highWatermark)).toBe(acked.filter((record) => record.partition === 0).length);
      expect(fetchedTopic!.partitions[0]!.records!.length).toBeGreaterThan(0);
    } finally {
      raw.close();
    }
    await expectEveryAckedRecordOnce(topic, acked);

    for (const broker of down) await restart(broker.id);
    await fullIsr(topic);
  });

  it('etcd restarted under the cluster: brokers keep serving acks=all writes, and leader elections resume once it is back', async () => {
    const topic = 'etcd-restart';
    await createTopic(topic);
    const before = await fullIsr(topic);
    const producer = await SteadyProducer.start(topic);
    await producer.ackedMore(50, '50 records acknowledged before etcd goes');

    const restarted = etcd.restart(2_000);
    await producer.ackedMore(50, '50 records acknowledged while etcd is down or restarting');
    await restarted;
    expect(await states(topic)).toEqual(before); // nothing moved while etcd was away

    const victim = brokers.get(before[0]!.leader)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    await waitFor('a new leader for partition 0 after etcd came back', async () => {
      const found = await states(topic);
      return found[0]!.leader !== victim.id && found[0]!.leader !== -1 ? true : undefined;
    });
    await producer.ackedMore(50, '50 records acknowledged by the new leader');
    const acked = await producer.stop();
    await expectEveryAckedRecordOnce(topic, acked);
    await restart(victim.id);
    await fullIsr(topic);
  });

  it('a leader that took writes no follower got truncates them when it returns (OffsetForLeaderEpoch): the logs never fork', async () => {
    // Unclean election on: the only way a replica missing acknowledged (acks=1) records can lead, and so the case where logs would fork.
    const topic = 'diverged';
    await createTopic(topic, 'unclean.leader.election.enable=true');
    const before = await fullIsr(topic);
    const old = brokers.get(before[0]!.leader)!;
    const followers = before[0]!.replicas.filter((id) => id !== old.id).map((id) => brokers.get(id)!);
    expect(await produceTo(old, topic, 0, -1, 'agreed', 5)).toBe(0);

    for (const follower of followers) follower.child.kill('SIGKILL');
    await Promise.all(followers.map((follower) => follower.exited));
    await waitFor('the ISR of partition 0 to shrink to its leader', async () => ((await states(topic))[0]!.isr.join() === String(old.id) ? true : undefined));
    expect(await produceTo(old, topic, 0, 1, 'only-on-old-leader', 3)).toBe(0);
    old.child.kill('SIGKILL');
    await old.exited;

    await Promise.all(followers.map((follower) => restart(follower.id)));
    const elected = await waitFor('a former follower elected (uncleanly) leader of partition 0', async () => {
      const found = await states(topic);
      return found[0]!.leader !== old.id && found[0]!.leader !== -1 ? found[0]! : undefined;
    });
    expect(elected.leaderEpoch).toBeGreaterThan(before[0]!.leaderEpoch);
    const leader = brokers.get(elected.leader)!;
    // The offsets the old leader filled alone now hold other records on the new leader.
    await waitFor('a write on the new leader', async () => ((await produceTo(leader, topic, 0, 1, 'after', 4)) === 0 ? true : undefined));

    const returned = await restart(old.id);
    await fullIsr(topic);
    await caughtUp(returned, topic);
    const onLeader = await recordsOnDisk(leader, topic, 0);
    expect(onLeader).toEqual([...[0, 1, 2, 3, 4].map((i) => `${i} agreed-${i}`), ...[0, 1, 2, 3].map((i) => `${5 + i} after-${i}`)]);
    expect(await recordsOnDisk(returned, topic, 0)).toEqual(onLeader);
    expect(returned.logs.some((entry) => entry.msg === 'truncating a diverged replica log to where it agrees with the leader' && entry.to === 5)).toBe(true);
  });
});
