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
import { clusterKeys, decodePartitionState, type PartitionState } from '../../src/cluster/keys.js';
import { metricValue } from '../protocol/http/helpers.js';
import { BUILT_CLI, killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'describe-metrics';
const keys = clusterKeys(CLUSTER);
const TOPIC = 'described';
const PARTITIONS = 3;
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

async function statesInEtcd(topic: string): Promise<PartitionState[]> {
  const found = await client.getAll().prefix(`${keys.partitionsPrefix}${topic}/`).exec();
  const states: PartitionState[] = [];
  for (const kv of found.kvs) states[Number(kv.key.toString().split('/').at(-1))] = decodePartitionState(kv.key.toString(), kv.value.toString());
  return states;
}

interface Gauges {
  controllerActive: number | undefined;
  brokersLive: number | undefined;
  partitionsOffline: number | undefined;
  partitionsUnderReplicated: number | undefined;
}

async function gaugesOf(broker: BrokerProcess): Promise<Gauges> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  return {
    controllerActive: metricValue(text, 'ferry_controller_active'),
    brokersLive: metricValue(text, 'ferry_brokers_live'),
    partitionsOffline: metricValue(text, 'ferry_partitions_offline'),
    partitionsUnderReplicated: metricValue(text, 'ferry_partitions_under_replicated'),
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

  it('counts one active controller, three live brokers, and on the controller the partitions a killed broker led', async () => {
    // Leases of 2 s on a loaded machine can lapse and be renewed, an election can be under way: wait for the settled cluster.
    const gauges = await waitFor('one active controller and three live brokers seen by all', async () => {
      const read = await Promise.all(brokers.map(gaugesOf));
      const settled = read.filter((gauge) => gauge.controllerActive === 1).length === 1 && read.every((gauge) => gauge.brokersLive === 3);
      return settled ? read : undefined;
    });
    expect(gauges.map((gauge) => gauge.controllerActive).sort()).toEqual([0, 0, 1]);
    for (const gauge of gauges) expect(gauge).toMatchObject({ brokersLive: 3, partitionsOffline: 0, partitionsUnderReplicated: 0 });

    const controller = brokers[gauges.findIndex((gauge) => gauge.controllerActive === 1)]!;
    const states = await statesInEtcd(TOPIC);
    const victim = brokers.find((broker) => broker !== controller && states.some((state) => state.leader === broker.id))!;
    const led = states.filter((state) => state.leader === victim.id).length;
    victim.child.kill('SIGKILL');
    await victim.exited;

    // No leader election yet: the killed broker's partitions stay offline once its lease expires.
    const after = await waitFor('the controller to count the killed broker’s partitions offline', async () => {
      const gauge = await gaugesOf(controller);
      return gauge.brokersLive === 2 && gauge.partitionsOffline === led ? gauge : undefined;
    });
    expect(after).toMatchObject({ controllerActive: 1, partitionsUnderReplicated: 0 });
    const bystander = brokers.find((broker) => broker !== controller && broker !== victim)!;
    const seenByBystander = await waitFor('the bystander to see the killed broker leave', async () => {
      const gauge = await gaugesOf(bystander);
      return gauge.brokersLive === 2 ? gauge : undefined;
    });
    expect(seenByBystander).toMatchObject({ controllerActive: 0, partitionsOffline: 0 });
  });
});
