/**
 * Preferred-leader rebalancing (issue 6, Kafka's auto.leader.rebalance.enable):
 * after a broker returns and catches up, the controller gives it back the
 * leadership of the partitions whose first replica it is, so leaders do not
 * pile up on the brokers that stayed. Two real brokers on a real etcd,
 * checking for imbalance every second.
 */

import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { RawKafkaClient } from '../protocol/kafka/helpers.js';
import { killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { partitionStates, startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'preferred';
const keys = clusterKeys(CLUSTER);
const TOPIC = 'balanced';
const FLAGS = ['--lease-ttl-seconds', '3', '--leader-imbalance-check-interval-seconds', '1'];
const CREATE_TOPICS = 19;

let etcd: RunningEtcd;
let client: Etcd3;
const everyProcess: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
});

afterAll(async () => {
  await killAll(everyProcess);
  client?.close();
  await etcd?.stop();
});

async function launch(id: number, dataDir?: string): Promise<BrokerProcess> {
  const broker = await startBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, extra: FLAGS, ...(dataDir ? { dataDir } : {}) });
  everyProcess.push(broker);
  return broker;
}

describe('preferred leaders', () => {
  it('move back to a returning broker once it is in sync again', async () => {
    const [one, two] = await Promise.all([launch(1), launch(2)]);
    const raw = await RawKafkaClient.connect(one!.kafkaPort);
    try {
      const created = await raw.request(CREATE_TOPICS, 5, { topics: [{ name: TOPIC, numPartitions: 4, replicationFactor: 2, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
      expect((created.topics as unknown as Array<{ errorCode: number }>)[0]!.errorCode).toBe(0);
    } finally {
      raw.close();
    }
    const placed = await partitionStates(client, keys, TOPIC);
    expect(placed.every((state) => state.leader === state.replicas[0])).toBe(true);
    const victim = placed.some((state) => state.leader === 1) ? one! : two!;
    const stayer = victim === one ? two! : one!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    await waitFor('the staying broker to lead every partition', async () => ((await partitionStates(client, keys, TOPIC)).every((state) => state.leader === stayer.id) ? true : undefined));

    await waitFor(`broker ${victim.id}'s registration to expire`, async () => ((await client.get(keys.brokerKey(victim.id)).string()) === null ? true : undefined));
    await launch(victim.id, victim.dataDir);
    const balanced = await waitFor('every partition led by its preferred replica again, with a full ISR', async () => {
      const states = await partitionStates(client, keys, TOPIC);
      return states.every((state) => state.leader === state.replicas[0] && state.isr.length === 2) ? states : undefined;
    });
    placed.forEach((state, partition) => {
      // A partition the victim preferred changed leader twice (away and back); the others never moved.
      expect(balanced[partition]!.leaderEpoch).toBe(state.leader === victim.id ? state.leaderEpoch + 2 : state.leaderEpoch);
    });
  });
});
