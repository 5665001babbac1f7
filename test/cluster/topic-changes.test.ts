/**
 * Changing a topic in a cluster (issue 6): more partitions, other configs,
 * deletion, all through the topic's record in etcd, so every broker makes
 * the same change: asked of any broker, seen by all, and caught up by a
 * broker that was away. Three real brokers (the built CLI) on a real etcd,
 * kafkajs's admin client as the operator.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { partitionStates, startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'topic-changes';
const keys = clusterKeys(CLUSTER);

let etcd: RunningEtcd;
let client: Etcd3;
let brokers: BrokerProcess[] = [];
const admins: Admin[] = [];
const everyProcess: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
  brokers = await Promise.all([1, 2, 3].map((id) => launch(id)));
});

afterAll(async () => {
  await Promise.all(admins.map((admin) => admin.disconnect().catch(() => undefined)));
  await killAll(everyProcess);
  client?.close();
  await etcd?.stop();
});

async function launch(id: number, dataDir?: string): Promise<BrokerProcess> {
  const broker = await startBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, ...(dataDir ? { dataDir } : {}) });
  everyProcess.push(broker);
  return broker;
}

async function adminOf(broker: BrokerProcess): Promise<Admin> {
  const admin = new Kafka({ clientId: 'ferry-topic-changes-test', brokers: [`127.0.0.1:${broker.kafkaPort}`], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  admins.push(admin);
  return admin;
}

/** The partition directories of a topic in a broker's data directory. */
function localPartitions(broker: BrokerProcess, topic: string): string[] {
  return fs.readdirSync(broker.dataDir).filter((name) => name.startsWith(`${topic}-`) && /-\d+$/.test(name)).sort();
}

async function described(broker: BrokerProcess, topic: string): Promise<{ partitions: number; configs: Record<string, string> } | null> {
  const response = await fetch(`http://127.0.0.1:${broker.httpPort}/v3/clusters/${await clusterIdOf(broker)}/topics/${topic}`);
  if (response.status === 404) return null;
  const body = (await response.json()) as { partitions_count: number };
  const configs = (await (await fetch(`http://127.0.0.1:${broker.httpPort}/v3/clusters/${await clusterIdOf(broker)}/topics/${topic}/configs`)).json()) as { data: Array<{ name: string; value: string; is_default: boolean }> };
  return { partitions: body.partitions_count, configs: Object.fromEntries(configs.data.filter((config) => !config.is_default).map((config) => [config.name, config.value])) };
}

async function clusterIdOf(broker: BrokerProcess): Promise<string> {
  return ((await (await fetch(`http://127.0.0.1:${broker.httpPort}/v3/clusters`)).json()) as { data: Array<{ cluster_id: string }> }).data[0]!.cluster_id;
}

describe('topic changes in a cluster', () => {
  it('adds partitions and changes configs through any broker; every broker applies them', async () => {
    const [a, b, c] = brokers as [BrokerProcess, BrokerProcess, BrokerProcess];
    await (await adminOf(a)).createTopics({ topics: [{ topic: 'grown', numPartitions: 2, replicationFactor: 3 }] });
    await (await adminOf(b)).createPartitions({ topicPartitions: [{ topic: 'grown', count: 4 }] });
    expect(await partitionStates(client, keys, 'grown')).toHaveLength(4);
    await (await adminOf(c)).alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'grown', configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    for (const broker of brokers) {
      await waitFor(`broker ${broker.id} to describe four partitions and the new config`, async () => {
        const topic = await described(broker, 'grown');
        return topic?.partitions === 4 && topic.configs['retention.ms'] === '3600000' ? true : undefined;
      });
      expect(localPartitions(broker, 'grown')).toEqual(['grown-0', 'grown-1', 'grown-2', 'grown-3']); // replication factor 3 on three brokers
    }
  });

  it('deletes a topic through any broker: every broker drops its replicas; a broker away meanwhile drops them when it returns, and takes the topic made again', async () => {
    const [a, b, c] = brokers as [BrokerProcess, BrokerProcess, BrokerProcess];
    await (await adminOf(a)).createTopics({ topics: [{ topic: 'doomed', numPartitions: 2, replicationFactor: 3 }, { topic: 'reborn', numPartitions: 2, replicationFactor: 3 }] });
    for (const broker of brokers) await waitFor(`broker ${broker.id} to hold doomed`, () => (localPartitions(broker, 'doomed').length === 2 ? true : undefined));

    await (await adminOf(b)).deleteTopics({ topics: ['doomed'] });
    expect(await partitionStates(client, keys, 'doomed')).toEqual([]);
    expect(await client.get(keys.topicKey('doomed')).string()).toBeNull();
    for (const broker of brokers) {
      await waitFor(`broker ${broker.id} to drop doomed`, async () => (localPartitions(broker, 'doomed').length === 0 && (await described(broker, 'doomed')) === null ? true : undefined));
    }

    // Broker c stops cleanly; 'reborn' is deleted and made again (a new topic id, three partitions, replication factor 2 on the two left).
    c.child.kill('SIGTERM');
    await c.exited;
    // A clean stop wrote the high watermark of every replica it held (replication-offset-checkpoint, Kafka's layout).
    const checkpoint = fs.readFileSync(path.join(c.dataDir, 'replication-offset-checkpoint'), 'utf8').trimEnd().split('\n');
    expect(checkpoint.slice(0, 1)).toEqual(['0']);
    expect(checkpoint).toEqual(expect.arrayContaining(['grown 0 0', 'grown 3 0', 'reborn 1 0']));
    const admin = await adminOf(a);
    await admin.deleteTopics({ topics: ['reborn'] });
    await waitFor('broker a to drop reborn', async () => ((await described(a, 'reborn')) === null ? true : undefined));
    await admin.createTopics({ topics: [{ topic: 'reborn', numPartitions: 3, replicationFactor: 2 }] });
    const returned = await launch(c.id, c.dataDir);
    const states = await partitionStates(client, keys, 'reborn');
    const expected = states.flatMap((state, partition) => (state.replicas.includes(c.id) ? [`reborn-${partition}`] : []));
    await waitFor('the returned broker to hold only its replicas of the new reborn', () => (JSON.stringify(localPartitions(returned, 'reborn')) === JSON.stringify(expected) ? true : undefined));
    expect((await described(returned, 'reborn'))?.partitions).toBe(3);
    expect(fs.existsSync(path.join(returned.dataDir, 'doomed-0'))).toBe(false);
  });

  it('DeleteRecords on the leader moves every follower’s log start, and a follower that was away restarts at a log start inside a batch', async () => {
    const live = everyProcess.filter((broker) => broker.child.exitCode === null && broker.child.signalCode === null);
    const admin = await adminOf(live[0]!);
    await admin.createTopics({ topics: [{ topic: 'trimmed', numPartitions: 1, replicationFactor: 3 }] });
    const [state] = await partitionStates(client, keys, 'trimmed');
    const away = live.find((broker) => broker.id !== state!.leader)!;
    away.child.kill('SIGTERM');
    await away.exited;
    const producer = new Kafka({ clientId: 'ferry-topic-changes-test', brokers: live.filter((broker) => broker !== away).map((broker) => `127.0.0.1:${broker.kafkaPort}`), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    // One batch of ten records, then records 0-4 deleted: the log start (5) falls inside the batch.
    await producer.send({ topic: 'trimmed', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `r${i}` })) });
    await producer.disconnect();
    const trimAdmin = await adminOf(live.find((broker) => broker !== away)!);
    await trimAdmin.fetchTopicMetadata({ topics: ['trimmed'] }); // kafkajs sends DeleteRecords to leaders it has looked up
    await trimAdmin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '5' }] });

    const returned = await launch(away.id, away.dataDir);
    for (const broker of [...live.filter((other) => other !== away), returned]) {
      await waitFor(`broker ${broker.id} to hold trimmed from 5 to 10`, async () => {
        const response = await fetch(`http://127.0.0.1:${broker.httpPort}/v3/clusters/${await clusterIdOf(broker)}/topics/trimmed/partitions/0`);
        const partition = (await response.json()) as { log_start_offset?: number; log_end_offset?: number };
        return partition.log_start_offset === 5 && partition.log_end_offset === 10 ? true : undefined;
      });
    }
    await waitFor('the returned broker back in the ISR', async () => ((await partitionStates(client, keys, 'trimmed'))[0]!.isr.includes(returned.id) ? true : undefined));
  });
});
