/**
 * `ferry start`: open the broker on a data directory (recovering any log not
 * closed cleanly), serve the Kafka protocol on its port and the HTTP and
 * WebSocket doors on another, until SIGINT or SIGTERM, which close every log
 * cleanly.
 *
 * With --etcd the broker first adopts the cluster's id from etcd (its data
 * directory must hold that id or be new), then joins the cluster once its
 * doors listen (registration and controller election, src/cluster), from
 * when on the doors describe every live broker and topics are created and
 * placed through the cluster (TopicPlacements); it leaves the cluster first
 * when it stops. Without --etcd nothing of the cluster is loaded or needed.
 */

import path from 'node:path';
import { pino, type Logger } from 'pino';
import { Broker, type BrokerOptions } from '../broker/broker.js';
import { InconsistentClusterIdError, MetadataStore, newKafkaId } from '../broker/metadata-store.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { DEFAULT_CLUSTER_NAME } from '../cluster/keys.js';
import type { GroupCoordinatorSettings } from '../broker/groups/limits.js';
import { startKafkaServer } from '../protocol/kafka/server.js';
import { startServer } from '../protocol/server.js';
import { crc32cImplementation } from '../storage/crc32c.js';
import { closeSharedStoragePool } from '../storage/storage-pool.js';
import { CliError } from './http-api.js';

export interface StartOptions {
  dataDir: string;
  host: string;
  httpPort: number;
  kafkaPort: number;
  /** What Kafka clients are told to connect to. */
  advertisedHost: string;
  /** SASL PLAIN users; SASL is required on the Kafka port when given. */
  saslPlainUsers?: Map<string, string>;
  allowUwsFallback: boolean;
  autoCreateTopics: boolean;
  numPartitions: number;
  /** Broker-wide topic config defaults (Kafka topic names), from --config. */
  topicDefaults?: Record<string, string>;
  /** producer.id.expiration.ms, from --config; Kafka's one day by default. */
  producerIdExpirationMs?: number;
  /** Group coordinator settings from --config (group.*, offsets.*); Kafka's defaults otherwise. */
  groups?: Partial<GroupCoordinatorSettings>;
  /** broker.id: the id this broker answers with (1 when not given); required with etcd. */
  brokerId?: number;
  /** etcd client URLs: cluster mode. Absent: a single broker, no etcd. */
  etcd?: string[];
  /** Cluster mode: the cluster's name, the etcd key prefix /ferry/<name>/. */
  clusterName?: string;
  /** Cluster mode: this broker's rack (broker.rack). */
  rack?: string;
  /** Cluster mode: the etcd lease TTL; a dead broker leaves the cluster after this long. */
  leaseTtlSeconds?: number;
  /** Cluster mode: default.replication.factor; min(3, live brokers) when absent. */
  defaultReplicationFactor?: number;
  /** Cluster mode: replica.lag.time.max.ms. */
  replicaLagTimeMaxMs?: number;
  /** Cluster mode: leader.imbalance.check.interval.seconds; 0 turns preferred-leader elections off. */
  leaderImbalanceCheckIntervalSeconds?: number;
}

export async function start(options: StartOptions): Promise<void> {
  if (options.etcd && options.brokerId === undefined) throw new CliError('cluster mode (--etcd) needs --broker-id (broker.id)');
  const logger = pino({ name: 'ferry' });
  const startedMs = Date.now();
  const dataDir = path.resolve(options.dataDir);
  const clusterId = options.etcd ? await adoptClusterId(options, options.etcd, dataDir) : undefined;
  const broker = await openBroker({
    dataDir,
    ...(clusterId !== undefined ? { clusterId } : {}),
    ...(options.brokerId !== undefined ? { brokerId: options.brokerId } : {}),
    autoCreateTopics: options.autoCreateTopics,
    defaultPartitions: options.numPartitions,
    defaultTopicConfigs: options.topicDefaults ?? {},
    ...(options.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: options.producerIdExpirationMs } : {}),
    groups: options.groups ?? {},
    ...(options.defaultReplicationFactor !== undefined ? { defaultReplicationFactor: options.defaultReplicationFactor } : {}),
    ...(options.replicaLagTimeMaxMs !== undefined ? { replicaLagTimeMaxMs: options.replicaLagTimeMaxMs } : {}),
  });
  const server = await startServer({ broker, host: options.host, port: options.httpPort, allowUwsFallback: options.allowUwsFallback, logger });
  const kafka = await startKafkaServer({
    broker,
    host: options.host,
    port: options.kafkaPort,
    settings: { advertisedHost: options.advertisedHost, saslPlainUsers: options.saslPlainUsers ?? new Map() },
    logger,
  });
  let cluster: ClusterNode | null = null;
  if (options.etcd) {
    try {
      cluster = await joinCluster(options, options.etcd, { id: broker.brokerId, kafkaPort: kafka.port, httpPort: server.port }, logger);
      const { EtcdClusterView } = await import('../cluster/cluster-view.js');
      const { EtcdTopicPlacements } = await import('../cluster/etcd-topic-placements.js');
      const { ReplicaFetchers } = await import('../cluster/replica-fetcher.js');
      const node = cluster;
      broker.useClusterView(new EtcdClusterView(cluster, broker.clusterId, options.rack ?? null));
      broker.useReplicaFetching(
        new ReplicaFetchers({
          brokerId: broker.brokerId,
          brokerAddress: (id) => node.brokers.find((registration) => registration.id === id),
          // With SASL on the Kafka port, followers sign in as its first user (there is no separate inter-broker listener).
          ...(options.saslPlainUsers?.size ? { saslPlain: firstUser(options.saslPlainUsers) } : {}),
          logger,
        }),
      );
      await broker.useTopicPlacements(new EtcdTopicPlacements(cluster), (topic, error) => logger.error({ topic, error: error.message }, 'cannot apply the placements of a topic'));
    } catch (error) {
      server.close();
      await kafka.close();
      await broker.close();
      await closeSharedStoragePool();
      throw error;
    }
  }
  let stopping = false;
  const stop = async (signal: string, exitCode = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'closing');
    // Leave the cluster first: the lease revoked, the others see this broker go at once.
    await cluster?.close().catch((error: Error) => logger.warn({ error: error.message }, 'leaving the cluster failed; the lease will expire'));
    server.close();
    await kafka.close();
    await broker.close();
    await closeSharedStoragePool();
    logger.info('clean shutdown');
    process.exit(exitCode);
  };
  process.on('SIGINT', (signal) => void stop(signal));
  process.on('SIGTERM', (signal) => void stop(signal));
  cluster?.on('fatal', (error) => {
    logger.fatal({ error: error.message }, 'cannot stay in the cluster; stopping');
    void stop('cluster', 1);
  });
  logger.info(
    { dataDir, clusterId: broker.clusterId, ...(cluster ? { brokerId: broker.brokerId, etcd: options.etcd } : {}), topics: broker.listTopics({ includeInternal: true }).length, http: `http://${options.host}:${server.port}`, kafka: `${options.advertisedHost}:${kafka.port}`, sasl: (options.saslPlainUsers?.size ?? 0) > 0, uwsNative: server.native, crc32c: crc32cImplementation, openMs: Date.now() - startedMs },
    'ferry ready',
  );
}

/** The broker on its data directory; a directory of another cluster is a one-line refusal, not a stack. */
async function openBroker(options: BrokerOptions): Promise<Broker> {
  try {
    return await Broker.open(options);
  } catch (error) {
    if (error instanceof InconsistentClusterIdError) {
      await closeSharedStoragePool();
      throw new CliError(error.message);
    }
    throw error;
  }
}

/** The cluster's id from etcd, created there from this data directory's id (or a new one) if this broker is the first. */
async function adoptClusterId(options: StartOptions, endpoints: string[], dataDir: string): Promise<string> {
  const { claimClusterId } = await import('../cluster/cluster-id.js');
  const { connectEtcd } = await import('../cluster/etcd-client.js');
  const { clusterKeys } = await import('../cluster/keys.js');
  const proposedId = MetadataStore.peekClusterId(dataDir) ?? newKafkaId();
  const client = connectEtcd(endpoints);
  try {
    return (await claimClusterId(client, clusterKeys(options.clusterName ?? DEFAULT_CLUSTER_NAME), proposedId)).clusterId;
  } catch (error) {
    throw new CliError(`cannot read the cluster id from etcd ${endpoints.join(',')}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}

/** Registers the broker with its doors' real ports and joins the controller election. */
async function joinCluster(options: StartOptions, endpoints: string[], broker: { id: number; kafkaPort: number; httpPort: number }, logger: Logger): Promise<ClusterNode> {
  // Loaded only in cluster mode: a single broker never loads etcd3 and its gRPC stack.
  const { ClusterNode, DEFAULT_LEASE_TTL_SECONDS } = await import('../cluster/cluster-node.js');
  const { DuplicateBrokerIdError } = await import('../cluster/membership.js');
  try {
    return await ClusterNode.start({
      endpoints,
      clusterName: options.clusterName ?? DEFAULT_CLUSTER_NAME,
      registration: { ...broker, host: options.advertisedHost, rack: options.rack ?? null },
      leaseTtlSeconds: options.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS,
      topicConfigDefaults: options.topicDefaults ?? {},
      ...(options.leaderImbalanceCheckIntervalSeconds !== undefined ? { preferredLeaderCheckMs: options.leaderImbalanceCheckIntervalSeconds * 1000 } : {}),
      logger,
    });
  } catch (error) {
    if (error instanceof DuplicateBrokerIdError) throw new CliError(error.message);
    throw new CliError(`cannot join the cluster through etcd ${endpoints.join(',')}: ${(error as Error).message}`);
  }
}

function firstUser(users: ReadonlyMap<string, string>): { username: string; password: string } {
  const [username, password] = [...users][0]!;
  return { username, password };
}
