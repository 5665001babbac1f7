/**
 * Cluster coordination through a real etcd (test/cluster/etcd.ts) with real
 * brokers: the built CLI (dist/cli/ferry.js) as child processes, as an
 * operator runs it. The cases run in order on the same etcd and brokers:
 * broker 1 starts first and so is controller, broker 2 has a 2 s lease so a
 * killed one leaves quickly, broker 1's 60 s lease shows that a clean stop
 * does not wait for it. A second group of cases, on a cluster of its own
 * name, checks that every door describes the same cluster.
 */

import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METADATA_FILE_NAME } from '../../src/broker/metadata-store.js';
import { listBrokers } from '../../src/cluster/broker-directory.js';
import { currentControllerId } from '../../src/cluster/controller.js';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { tempDir } from '../storage/helpers.js';
import { BUILT_CLI, killAll, startArgs as sharedStartArgs, startBroker as startClusterBroker, waitFor, type BrokerProcess } from './brokers.js';
import { startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'test';
const keys = clusterKeys(CLUSTER);
const WAIT_MS = 15_000;
const run = promisify(execFile);

let etcd: RunningEtcd;
let client: Etcd3;
const brokers: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
});

afterAll(async () => {
  await killAll(brokers);
  client?.close();
  await etcd?.stop();
});

interface StartPlace {
  clusterName?: string;
  dataDir?: string;
}

function startArgs(id: number, extra: string[], place: StartPlace = {}): string[] {
  return sharedStartArgs({ id, etcdEndpoint: etcd.endpoint, clusterName: place.clusterName ?? CLUSTER, dataDir: place.dataDir, extra });
}

async function startBroker(id: number, extra: string[] = [], place: StartPlace = {}): Promise<BrokerProcess> {
  const broker = await startClusterBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: place.clusterName ?? CLUSTER, dataDir: place.dataDir, extra });
  brokers.push(broker);
  return broker;
}

const logged = (broker: BrokerProcess, msg: string): Record<string, unknown> | undefined => broker.logs.find((entry) => entry.msg === msg);
const registeredIds = async (): Promise<number[]> => (await listBrokers(client, keys)).map((broker) => broker.id);
const sameIds = (ids: number[], expected: number[]): boolean => ids.length === expected.length && ids.every((id, i) => id === expected[i]);

describe('cluster coordination through etcd (ferry start --etcd)', () => {
  let first: BrokerProcess;
  let second: BrokerProcess;

  it('two brokers register and both see each other; exactly one is controller', async () => {
    first = await startBroker(1, ['--rack', 'rack-a', '--lease-ttl-seconds', '60']);
    await waitFor('broker 1 elected controller', () => logged(first, 'elected controller'));
    second = await startBroker(2, ['--rack', 'rack-b', '--lease-ttl-seconds', '2']);

    expect(await listBrokers(client, keys)).toEqual([
      { id: 1, host: '127.0.0.1', kafkaPort: first.kafkaPort, httpPort: first.httpPort, rack: 'rack-a' },
      { id: 2, host: '127.0.0.1', kafkaPort: second.kafkaPort, httpPort: second.httpPort, rack: 'rack-b' },
    ]);
    // Broker 2 found broker 1 when it joined; broker 1 saw broker 2 arrive through its watch.
    expect(logged(second, 'joined the cluster')).toMatchObject({ brokers: [1, 2], controllerId: 1 });
    await waitFor('broker 1 to see broker 2', () => first.logs.find((entry) => entry.msg === 'live brokers changed' && JSON.stringify(entry.brokers) === '[1,2]'));

    expect(await currentControllerId(client, keys)).toBe(1);
    await sleep(200); // time for a wrong second election to show
    expect(logged(second, 'elected controller')).toBeUndefined();
  });

  it('ferry cluster describe prints the brokers and the controller', () => {
    const result = spawnSync(process.execPath, [BUILT_CLI, 'cluster', 'describe', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BROKER-ID\s+KAFKA-ENDPOINT\s+HTTP-ENDPOINT\s+RACK\s+CONTROLLER$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/))).toEqual([
      ['1', `127.0.0.1:${first.kafkaPort}`, `127.0.0.1:${first.httpPort}`, 'rack-a', 'yes'],
      ['2', `127.0.0.1:${second.kafkaPort}`, `127.0.0.1:${second.httpPort}`, 'rack-b', 'no'],
    ]);
  });

  it('a second live broker with the same id is refused, and the first keeps its registration', () => {
    const result = spawnSync(process.execPath, startArgs(2, []), { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`ferry: broker id 2 is already registered by a live broker (127.0.0.1:${second.kafkaPort}); each broker of a cluster needs its own --broker-id\n`);
    return expect(listBrokers(client, keys)).resolves.toContainEqual(expect.objectContaining({ id: 2, kafkaPort: second.kafkaPort }));
  });

  it('a controller that stops cleanly leaves at once and the other broker becomes controller', async () => {
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // Broker 1's lease has a 60 s TTL: gone within the wait only because it was revoked.
    await waitFor('broker 1 to leave', async () => (sameIds(await registeredIds(), [2]) ? true : undefined));
    await waitFor('broker 2 elected controller', () => logged(second, 'elected controller'));
    expect(await currentControllerId(client, keys)).toBe(2);
  });

  it('a broker whose lease is revoked behind its back registers again under a new lease', async () => {
    const third = await startBroker(3, ['--lease-ttl-seconds', '2']);
    const leaseOf = async (): Promise<string | undefined> => (await client.get(keys.brokerKey(3)).exec()).kvs[0]?.lease;
    const lease = await waitFor('broker 3 registered', leaseOf);
    await client.leaseClient.leaseRevoke({ ID: lease });
    const renewed = await waitFor('broker 3 registered again', async () => {
      const current = await leaseOf();
      return current !== undefined && current !== lease ? current : undefined;
    });
    expect(renewed).not.toBe(lease);
    expect(logged(third, 'cluster lease lost; registering again')).toBeDefined();
  });

  it('a killed controller vanishes when its lease expires and the controller moves', async () => {
    second.child.kill('SIGKILL');
    await second.exited;
    expect(await registeredIds()).toContain(2); // no one revoked its lease: it lives until its 2 s TTL runs out
    await waitFor('broker 2 to expire', async () => (sameIds(await registeredIds(), [3]) ? true : undefined));
    const third = brokers.find((broker) => broker.id === 3)!;
    await waitFor('broker 3 elected controller', () => logged(third, 'elected controller'));
    expect(await currentControllerId(client, keys)).toBe(3);
  });

  it('a controller whose campaign lease is revoked behind its back steps down and campaigns again', async () => {
    const third = brokers.find((broker) => broker.id === 3)!;
    const held = await client.getAll().prefix(keys.controller).exec();
    expect(held.kvs.map((kv) => kv.value.toString())).toEqual(['3']);
    await client.leaseClient.leaseRevoke({ ID: held.kvs[0]!.lease });
    await waitFor('broker 3 to step down', () => third.logs.find((entry) => entry.msg === 'controller changed' && entry.isController === false));
    await waitFor('broker 3 elected again', () => (third.logs.filter((entry) => entry.msg === 'elected controller').length === 2 ? true : undefined));
    expect(await currentControllerId(client, keys)).toBe(3);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(await registeredIds()).toEqual([]);
  });
});

interface KcatMetadata {
  controllerid: number;
  brokers: Array<{ id: number; name: string }>;
}

async function kcatList(broker: BrokerProcess): Promise<KcatMetadata> {
  const { stdout } = await run('kcat', ['-L', '-J', '-b', `127.0.0.1:${broker.kafkaPort}`, '-m', '5'], { timeout: WAIT_MS });
  return JSON.parse(stdout) as KcatMetadata;
}

/** kafkajs's describeCluster: Metadata at the version kafkajs speaks (with the cluster id). */
async function describeWithKafkajs(broker: BrokerProcess): Promise<{ brokers: Array<{ nodeId: number; host: string; port: number }>; controller: number | null; clusterId: string }> {
  const admin = new Kafka({ clientId: 'ferry-cluster-test', brokers: [`127.0.0.1:${broker.kafkaPort}`], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}

async function v3Clusters(broker: BrokerProcess): Promise<Array<{ cluster_id: string; controller: { related: string } | null }>> {
  const response = await fetch(`http://127.0.0.1:${broker.httpPort}/v3/clusters`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: Array<{ cluster_id: string; controller: { related: string } | null }> }).data;
}

describe('one cluster, as every door describes it', () => {
  const DOORS = 'doors';
  const doorsKeys = clusterKeys(DOORS);
  let first: BrokerProcess;
  let second: BrokerProcess;
  let clusterId: string;
  const firstDataDir = tempDir('ferry-cluster-doors-11-');

  it('the first broker creates the cluster id in etcd, the second adopts it, and both data directories record it', async () => {
    first = await startBroker(11, ['--rack', 'rack-a'], { clusterName: DOORS, dataDir: firstDataDir });
    await waitFor('broker 11 elected controller', () => logged(first, 'elected controller'));
    const secondDataDir = tempDir('ferry-cluster-doors-12-');
    second = await startBroker(12, ['--rack', 'rack-b'], { clusterName: DOORS, dataDir: secondDataDir });
    await waitFor('broker 11 to see broker 12', () => first.logs.find((entry) => entry.msg === 'live brokers changed' && JSON.stringify(entry.brokers) === '[11,12]'));

    const stored = (await client.get(doorsKeys.clusterId).string()) ?? '';
    expect(stored).toMatch(/^[A-Za-z0-9_-]{22}$/);
    clusterId = stored;
    const recorded = (dataDir: string) => (JSON.parse(fs.readFileSync(path.join(dataDir, METADATA_FILE_NAME), 'utf8')) as { clusterId: string }).clusterId;
    expect([recorded(firstDataDir), recorded(secondDataDir)]).toEqual([clusterId, clusterId]);
    expect([logged(first, 'ferry ready')?.clusterId, logged(second, 'ferry ready')?.clusterId]).toEqual([clusterId, clusterId]);
  });

  it('Metadata from either broker lists both brokers, the same controller and the same cluster id (kcat, kafkajs)', async () => {
    const expectedBrokers = [
      { id: 11, name: `127.0.0.1:${first.kafkaPort}` },
      { id: 12, name: `127.0.0.1:${second.kafkaPort}` },
    ];
    for (const broker of [first, second]) {
      expect(await kcatList(broker)).toMatchObject({ controllerid: 11, brokers: expectedBrokers });
      const described = await describeWithKafkajs(broker);
      expect(described.clusterId).toBe(clusterId);
      expect(described.controller).toBe(11);
      expect(described.brokers.map(({ nodeId, host, port }) => ({ nodeId, host, port })).sort((a, b) => a.nodeId - b.nodeId)).toEqual([
        { nodeId: 11, host: '127.0.0.1', port: first.kafkaPort },
        { nodeId: 12, host: '127.0.0.1', port: second.kafkaPort },
      ]);
    }
  });

  it('/v3/clusters on both brokers answers the same cluster id and controller', async () => {
    for (const broker of [first, second]) {
      const clusters = await v3Clusters(broker);
      expect(clusters.map((cluster) => cluster.cluster_id)).toEqual([clusterId]);
      expect(clusters[0]!.controller?.related).toMatch(/\/brokers\/11$/);
    }
  });

  it('after a broker stops, Metadata from the other lists it alone, as controller', async () => {
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const alone = await waitFor('broker 12 to list itself alone, as controller', async () => {
      const metadata = await kcatList(second);
      return metadata.brokers.length === 1 && metadata.controllerid === 12 ? metadata : undefined;
    });
    expect(alone.brokers).toEqual([{ id: 12, name: `127.0.0.1:${second.kafkaPort}` }]);
  });

  it('a broker restarted on its data directory rejoins with the same cluster id', async () => {
    first = await startBroker(11, [], { clusterName: DOORS, dataDir: firstDataDir });
    expect(logged(first, 'ferry ready')?.clusterId).toBe(clusterId);
  });

  it('a broker whose data directory belongs to another cluster is refused, naming both ids', () => {
    const foreignDir = tempDir('ferry-cluster-doors-foreign-');
    const foreignId = 'AAAAAAAAAAAAAAAAAAAAAA';
    fs.writeFileSync(path.join(foreignDir, METADATA_FILE_NAME), JSON.stringify({ version: 1, clusterId: foreignId, topics: [] }));
    const result = spawnSync(process.execPath, startArgs(13, [], { clusterName: DOORS, dataDir: foreignDir }), { encoding: 'utf8', timeout: WAIT_MS });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `ferry: InconsistentClusterIdException: ${path.join(foreignDir, METADATA_FILE_NAME)} holds cluster id ${foreignId}, but the cluster being joined has id ${clusterId}; this data directory belongs to another cluster (start the broker on an empty data directory to join this one)\n`,
    );
    expect(first.logs.some((entry) => entry.msg === 'live brokers changed' && JSON.stringify(entry.brokers).includes('13'))).toBe(false);
  });
});
