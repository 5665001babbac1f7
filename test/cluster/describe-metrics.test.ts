/**
 * What an operator reads off a cluster (issue 6): `ferry topics describe`
 * from any broker shows the etcd partition states (leader, leader epoch,
 * replicas, ISR), and each broker's /metrics carries Kafka's cluster gauges:
 * one active controller, the live brokers, and on the controller the
 * partitions whose leader is gone. Three real brokers (the built CLI) on a
 * real etcd, with 2 s leases so a killed broker leaves quickly.
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys, type PartitionState } from '../../src/cluster/keys.js';
import { ERROR_CODES } from '../../src/errors.js';
import { metricValue } from '../protocol/http/helpers.js';
import { RawKafkaClient } from '../protocol/kafka/helpers.js';
import { BUILT_CLI, killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { partitionStates, startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'describe-metrics';
const keys = clusterKeys(CLUSTER);
const TOPIC = 'described';
const PARTITIONS = 3;
const SOLO = 'solo';
const METADATA = 3;
const run = promisify(execFile);

let etcd: RunningEtcd;
let client: Etcd3;
let brokers: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
  brokers = await Promise.all([1, 2, 3].map((id) => startBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, extra: ['--lease-ttl-seconds', '5'] })));
});

afterAll(async () => {
  await killAll(brokers);
  client?.close();
  await etcd?.stop();
});

async function ferry(broker: BrokerProcess, ...args: string[]): Promise<string> {
  return (await run(process.execPath, [BUILT_CLI, '--http', `http://127.0.0.1:${broker.httpPort}`, ...args])).stdout;
}

function statesInEtcd(topic: string): Promise<PartitionState[]> {
  return partitionStates(client, keys, topic);
}

interface Gauges {
  controllerActive: number | undefined;
  brokersLive: number | undefined;
  partitionsOffline: number | undefined;
  partitionsUnderReplicated: number | undefined;
  isrShrinks: number | undefined;
  replicaLagMax: number | undefined;
}

async function gaugesOf(broker: BrokerProcess): Promise<Gauges> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  return {
    controllerActive: metricValue(text, 'ferry_controller_active'),
    brokersLive: metricValue(text, 'ferry_brokers_live'),
    partitionsOffline: metricValue(text, 'ferry_partitions_offline'),
    partitionsUnderReplicated: metricValue(text, 'ferry_partitions_under_replicated'),
    isrShrinks: metricValue(text, 'ferry_isr_shrinks_total'),
    replicaLagMax: metricValue(text, 'ferry_replica_lag_max'),
  };
}

describe('topics describe and cluster metrics on three brokers', () => {
  it('describes the etcd partition states from every broker', async () => {
    expect(await ferry(brokers[0]!, 'topics', 'create', TOPIC, '--partitions', String(PARTITIONS))).toBe(`Created topic ${TOPIC}.\n`);
    const states = await statesInEtcd(TOPIC);
    expect(states).toHaveLength(PARTITIONS);
    for (const broker of brokers) {
      // Every broker applies the placement through its etcd watch; the creating one has it at once.
      const lines = await waitFor(`broker ${broker.id} to describe ${TOPIC}`, async () => {
        const described = (await ferry(broker, 'topics', 'describe', TOPIC)).trimEnd().split('\n');
        return described.length === PARTITIONS + 1 ? described : undefined;
      });
      expect(lines[0]).toMatch(new RegExp(`^Topic: ${TOPIC}\\tTopicId: [\\w-]{22}\\tPartitionCount: ${PARTITIONS}\\tReplicationFactor: 3\\tConfigs: $`));
      states.forEach((state, partition) => {
        const placement = `Leader: ${state.leader}\tLeaderEpoch: ${state.leaderEpoch}\tReplicas: ${state.replicas.join(',')}\tIsr: ${state.isr.join(',')}`;
        expect(lines[partition + 1]).toMatch(new RegExp(`^\\tTopic: ${TOPIC}\\tPartition: ${partition}\\t${placement}\\tLogStartOffset: 0\\tLogEndOffset: 0$`));
      });
    }
  });

  it('counts one active controller, three live brokers, and after a broker is killed the partitions it leaves offline and under-replicated', async () => {
    // Replication factor 1: the killed broker's partitions of this topic have no one to fail over to.
    expect(await ferry(brokers[0]!, 'topics', 'create', SOLO, '--partitions', String(PARTITIONS), '--replication-factor', '1')).toBe(`Created topic ${SOLO}.\n`);
    // Leases of 2 s on a loaded machine can lapse and be renewed, an election can be under way: wait for the settled cluster.
    const gauges = await waitFor('one active controller and three live brokers seen by all, every ISR full', async () => {
      const read = await Promise.all(brokers.map(gaugesOf));
      const settled = read.filter((gauge) => gauge.controllerActive === 1).length === 1 && read.every((gauge) => gauge.brokersLive === 3 && gauge.partitionsUnderReplicated === 0 && gauge.replicaLagMax === 0);
      return settled ? read : undefined;
    });
    expect(gauges.map((gauge) => gauge.controllerActive).sort()).toEqual([0, 0, 1]);
    // Every follower has fetched up to its leader's log end.
    for (const gauge of gauges) expect(gauge).toMatchObject({ brokersLive: 3, partitionsOffline: 0, partitionsUnderReplicated: 0, replicaLagMax: 0 });

    const controller = brokers[gauges.findIndex((gauge) => gauge.controllerActive === 1)]!;
    const solo = await statesInEtcd(SOLO);
    const victim = brokers.find((broker) => broker !== controller && solo.some((state) => state.leader === broker.id))!;
    const soloLed = solo.filter((state) => state.leader === victim.id).length;
    const before = await statesInEtcd(TOPIC);
    victim.child.kill('SIGKILL');
    await victim.exited;

    // The victim's replicated partitions get new leaders from their ISRs; its replication-factor-1 partitions go offline.
    const after = await waitFor('the controller to count the killed broker’s single-replica partitions offline', async () => {
      const gauge = await gaugesOf(controller);
      return gauge.brokersLive === 2 && gauge.partitionsOffline === soloLed ? gauge : undefined;
    });
    expect(after.controllerActive).toBe(1);
    // Kafka Metadata says so too: LEADER_NOT_AVAILABLE, no leader, the dead broker's replica offline.
    const raw = await RawKafkaClient.connect(controller.kafkaPort);
    try {
      const metadata = await raw.request(METADATA, 9, { topics: [{ name: SOLO }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      const [topic] = metadata.topics as unknown as Array<{ partitions: Array<{ partitionIndex: number; errorCode: number; leaderId: number; offlineReplicas: number[] }> }>;
      const offline = topic!.partitions.filter((partition) => partition.leaderId === -1);
      expect(offline).toHaveLength(soloLed);
      for (const partition of offline) expect(partition).toMatchObject({ errorCode: ERROR_CODES.LEADER_NOT_AVAILABLE.code, offlineReplicas: [victim.id] });
      for (const partition of topic!.partitions.filter((entry) => entry.leaderId !== -1)) expect(partition).toMatchObject({ errorCode: 0, offlineReplicas: [] });
    } finally {
      raw.close();
    }
    const survivors = brokers.filter((broker) => broker !== victim);
    // Every partition of the replication-factor-3 topic had the victim as a replica: each is now led, with two of three in sync.
    const underReplicated = await waitFor('the surviving leaders to count every replicated partition under-replicated', async () => {
      const total = (await Promise.all(survivors.map(gaugesOf))).reduce((sum, gauge) => sum + (gauge.partitionsUnderReplicated ?? 0), 0);
      return total === PARTITIONS ? total : undefined;
    });
    expect(underReplicated).toBe(PARTITIONS);
    (await statesInEtcd(TOPIC)).forEach((state, partition) => {
      const was = before[partition]!;
      expect(state.isr).toEqual(was.isr.filter((id) => id !== victim.id));
      // A partition the victim led goes to the first live in-sync replica, in a new leader epoch; the others keep theirs.
      if (was.leader === victim.id) expect(state).toMatchObject({ leader: was.replicas.find((id) => id !== victim.id), leaderEpoch: was.leaderEpoch + 1 });
      else expect(state).toMatchObject({ leader: was.leader, leaderEpoch: was.leaderEpoch });
    });
    // Partitions the victim followed kept their leader, whose ISR shrank; those it led changed leader (a new epoch, no shrink).
    const followed = before.filter((state) => state.leader !== victim.id).length;
    const shrinks = await waitFor('the surviving leaders to count their ISR shrinks', async () => {
      const total = (await Promise.all(survivors.map(gaugesOf))).reduce((sum, gauge) => sum + (gauge.isrShrinks ?? 0), 0);
      return total === followed ? total : undefined;
    });
    expect(shrinks).toBe(followed);
    const bystander = survivors.find((broker) => broker !== controller)!;
    expect(await gaugesOf(bystander)).toMatchObject({ controllerActive: 0, partitionsOffline: 0, brokersLive: 2 });
  });
});
