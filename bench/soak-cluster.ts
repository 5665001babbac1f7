/**
 * The soak's cluster: one etcd and three brokers (the built CLI) on loopback,
 * all started, restarted and stopped here through the cluster tests' own
 * process helpers (test/cluster/brokers.ts, etcd.ts), with every data
 * directory under one temporary root that stop() removes. A broker that
 * exits when no fault asked it to is remembered as a violation.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../src/cluster/etcd-client.js';
import { clusterKeys, type ClusterKeys } from '../src/cluster/keys.js';
import { BUILT_CLI, killAll, startBroker, waitFor, type BrokerProcess } from '../test/cluster/brokers.js';
import { startEtcd, type RunningEtcd } from '../test/cluster/etcd.js';

export const BROKER_IDS = [1, 2, 3] as const;
const CLUSTER_NAME = 'soak';
const run = promisify(execFile);

export class SoakCluster {
  readonly keys: ClusterKeys = clusterKeys(CLUSTER_NAME);
  /** The current process of each broker id. */
  readonly brokers = new Map<number, BrokerProcess>();
  /** Every process ever started, for the logs and the final kill. */
  readonly everyProcess: BrokerProcess[] = [];
  /** Broker processes that exited without a fault asking them to. */
  readonly unexpectedExits: string[] = [];
  private readonly expectedExits = new Set<BrokerProcess>();

  private constructor(
    readonly root: string,
    readonly etcd: RunningEtcd,
    readonly client: Etcd3,
    private readonly brokerFlags: readonly string[],
  ) {}

  static async start(leaseTtlSeconds: number): Promise<SoakCluster> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-soak-'));
    const etcd = await startEtcd();
    // Followers leave the ISR after one lease without catching up; preferred-leader elections are off so that
    // leaders move only because of the faults, and each measured failover is the fault's alone.
    const flags = ['--lease-ttl-seconds', String(leaseTtlSeconds), '--replica-lag-time-max-ms', String(leaseTtlSeconds * 1000), '--leader-imbalance-check-interval-seconds', '0'];
    const cluster = new SoakCluster(root, etcd, connectEtcd([etcd.endpoint]), flags);
    await Promise.all(BROKER_IDS.map((id) => cluster.launch(id)));
    return cluster;
  }

  /** Starts broker `id` on its data directory (kept across restarts) and resolves once it is ready. */
  async launch(id: number): Promise<BrokerProcess> {
    const dataDir = path.join(this.root, `broker-${id}`);
    fs.mkdirSync(dataDir, { recursive: true });
    // A restarted broker keeps its ports, as a real one does: clients keep their bootstrap list, and a consumer
    // that reconnects from it is not left with only the dead ports of brokers started earlier. (Given again,
    // these options override the free ports startArgs asks for.)
    const previous = this.brokers.get(id);
    const ports = previous ? ['--kafka-port', String(previous.kafkaPort), '--http-port', String(previous.httpPort)] : [];
    const broker = await startBroker({ id, etcdEndpoint: this.etcd.endpoint, clusterName: CLUSTER_NAME, dataDir, extra: [...this.brokerFlags, ...ports] });
    this.brokers.set(id, broker);
    this.everyProcess.push(broker);
    void broker.exited.then((code) => {
      if (!this.expectedExits.has(broker)) this.unexpectedExits.push(`broker ${id} (pid ${broker.child.pid}) exited by itself: code ${code}, signal ${broker.child.signalCode}`);
    });
    return broker;
  }

  /** Marks the broker's coming exit as the fault's doing. */
  expectExit(broker: BrokerProcess): void {
    this.expectedExits.add(broker);
  }

  /** Resolves once etcd let the stopped broker's registration go (clean stop: at once; kill: when its lease expires). */
  async registrationGone(id: number): Promise<void> {
    await waitFor(`broker ${id}'s registration to leave etcd`, async () => ((await this.client.get(this.keys.brokerKey(id)).string()) === null ? true : undefined));
  }

  async registeredIds(): Promise<number[]> {
    const found = await this.client.getAll().prefix(this.keys.brokersPrefix).keys();
    return found.map((key) => Number(key.split('/').at(-1))).sort((a, b) => a - b);
  }

  async controllerId(): Promise<number | null> {
    const value = await this.client.get(this.keys.controller).string();
    return value === null ? null : Number(value);
  }

  kafkaAddresses(): string[] {
    return [...this.brokers.values()].map((broker) => `127.0.0.1:${broker.kafkaPort}`);
  }

  /** `ferry topics create` through a broker, as an operator would. */
  async createTopic(topic: string, partitions: number): Promise<void> {
    const broker = this.brokers.get(BROKER_IDS[0])!;
    await run(process.execPath, [BUILT_CLI, '--http', `http://127.0.0.1:${broker.httpPort}`, 'topics', 'create', topic, '--partitions', String(partitions), '--replication-factor', '3', '--config', 'min.insync.replicas=2']);
  }

  /** Every broker process's JSON log lines, one file per process, into `dir`. */
  writeLogs(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    this.everyProcess.forEach((broker, index) => {
      const lines = broker.logs.map((entry) => JSON.stringify(entry)).join('\n');
      fs.writeFileSync(path.join(dir, `${String(index).padStart(2, '0')}-broker-${broker.id}-pid-${broker.child.pid}.log`), `${lines}\n`);
    });
  }

  /** Kills every broker (SIGKILL also ends a stopped one), stops etcd and removes every temporary directory. */
  async stop(): Promise<void> {
    for (const broker of this.everyProcess) this.expectExit(broker);
    await killAll(this.everyProcess);
    this.client.close();
    await this.etcd.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
