/**
 * The broker core: topics and their partitions, produce, fetch with
 * long-poll, offsets. Protocol-neutral: the HTTP, WebSocket and Kafka doors
 * translate their requests into these calls and the answers back, and hold
 * no business logic of their own. Errors are FerryErrors carrying Kafka's
 * error names.
 *
 * Single node: this broker leads every partition, its replica set is itself,
 * and the high watermark is the log end (acks=all is acks=1). In cluster
 * mode (`useTopicPlacements`) topics are created through the cluster and
 * placed by its controller; this broker keeps logs of the partitions it is a
 * replica of, serves produce and fetch for those it leads (LeaderReplica:
 * followers' progress, high watermark, acks=all) and has the others fetched
 * from their leaders (`useReplicaFetching`). Consumers read below the high
 * watermark only.
 */

import fs from 'node:fs';
import path from 'node:path';
import { assert, FerryError, NotLeaderError, type BrokerEndpoint } from '../errors.js';
import { buildBatch, type RecordInput } from '../storage/batch-builder.js';
import { DEFAULT_LOG_CONFIG, logConfigFromTopicConfigs, type LogConfig } from '../storage/log-config.js';
import { lockDataDir } from '../storage/data-dir-lock.js';
import { LogManager, validateTopicName } from '../storage/log-manager.js';
import type { AppendResult, PartitionLog } from '../storage/partition-log.js';
import { decodeBatches, type DecodedRecord, type RecordHeader } from '../storage/records.js';
import { SingleNodeClusterView, type ClusterView } from './cluster-view.js';
import type { PartitionPlacement, TopicPlacements } from './topic-placements.js';
import { LeaderReplica } from './leader-replica.js';
import { HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS, readHighWatermarks, writeHighWatermarks } from './high-watermark-checkpoint.js';
import type { FollowedPartition, ReplicaFetching } from './replica-fetching.js';
import { FetchWaiters } from './fetch-waiters.js';
import { SharedReads } from './shared-reads.js';
import { GroupCoordinator, type GroupCoordinatorOptions } from './groups/group-coordinator.js';
import { OFFSETS_TOPIC as OFFSETS_TOPIC_NAME } from './groups/limits.js';
import { offsetsPartitionFor } from './groups/offsets-topic-records.js';
import { MetadataStore, newKafkaId, type TopicMetadata } from './metadata-store.js';
import { partitionForKey } from './murmur2.js';
import { ProducerIdAllocator, type ProducerIdAndEpoch } from './producer-ids.js';
import type { ProducerEntry } from '../storage/producer-state.js';

export interface BrokerOptions {
  dataDir: string;
  brokerId?: number;
  /**
   * Cluster mode: the cluster's id as etcd holds it. A new data directory
   * records it; one that holds another id is refused (InconsistentClusterIdError).
   * Absent: the data directory's own id, a new random one on first start.
   */
  clusterId?: string;
  /** auto.create.topics.enable */
  autoCreateTopics?: boolean;
  /** num.partitions: partitions of an auto-created topic, and of a created one that names none. */
  defaultPartitions?: number;
  /** Topic config defaults for the whole broker (Kafka names), over Kafka's own. */
  defaultTopicConfigs?: Record<string, string>;
  clock?: () => number;
  /** Consumer-group coordinator settings (group.* and offsets.* broker settings). */
  groups?: GroupCoordinatorOptions;
  /** producer.id.expiration.ms: idempotent producers silent this long are forgotten (Kafka: one day). */
  producerIdExpirationMs?: number;
  /** default.replication.factor (cluster mode): otherwise min(3, live brokers). */
  defaultReplicationFactor?: number;
  /** replica.lag.time.max.ms (cluster mode): a follower not caught up for this long leaves the ISR (Kafka: 30 s). */
  replicaLagTimeMaxMs?: number;
}

export interface NewTopicOptions {
  partitions?: number;
  /** Absent: the default (1 on a single node; default.replication.factor or min(3, live brokers) in a cluster). */
  replicationFactor?: number;
  configs?: Record<string, string>;
  /**
   * Explicit replicas per partition (Kafka's replica assignment; the first
   * is the preferred leader), instead of a count and the controller's
   * placement. Every partition the same number of distinct, live brokers.
   */
  assignments?: number[][];
}

/** A replica's part in a partition, as this broker last applied its placement. */
export type PartitionRole = 'leader' | 'follower';

/** -1 is Kafka's "all": every in-sync replica (on a single node, the leader). */
export type Acks = 0 | 1 | -1;

export interface ProduceOptions {
  acks?: Acks;
  /** acks=all: how long to wait for the in-sync replicas (Kafka's produce timeout). */
  timeoutMs?: number;
}

/** A partition as a consumer reads it: the leader's log, readable below the high watermark. */
export interface LeaderPartition {
  log: PartitionLog;
  highWatermark: number;
}

export interface PartitionDescription {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** -1 on a broker that holds no replica of the partition. */
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
}

/**
 * Kafka's cluster health gauges, as this broker sees them (the names are
 * Kafka's JMX ones). A single node is its own live controller and leads every
 * partition with an ISR of itself: 1, 1, 0, 0.
 */
export interface ClusterHealth {
  /** ActiveControllerCount: 1 on the elected controller. */
  controllerActive: 0 | 1;
  /** Live brokers this broker sees, itself included. */
  brokersLive: number;
  /** OfflinePartitionsCount: partitions with no live leader (none of their ISR is live); counted by the controller only, 0 elsewhere. */
  partitionsOffline: number;
  /** UnderReplicatedPartitions: partitions this broker leads whose ISR is smaller than their replicas. */
  partitionsUnderReplicated: number;
  /** UnderMinIsrPartitionCount: partitions this broker leads whose ISR is smaller than min.insync.replicas (acks=all refused). */
  partitionsUnderMinIsr: number;
  /** IsrShrinksPerSec / IsrExpandsPerSec as totals: ISR changes of partitions this broker led, since it started. */
  isrShrinks: number;
  isrExpands: number;
  /** The most offsets any follower of a partition led here is behind the leader's log end (-1: none heard from yet; 0 on a single node). */
  replicaLagMax: number;
}

export interface TopicDescription {
  name: string;
  topicId: string;
  internal: boolean;
  partitions: PartitionDescription[];
  /** Configs set on the topic; everything else is the broker default. */
  configs: Record<string, string>;
}

export interface ProduceRecord {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** CreateTime in ms; now by default. */
  timestamp?: number;
  /** Explicit partition; otherwise by key (Kafka's partitioner), or sticky for unkeyed records. */
  partition?: number;
}

export interface ProducedRecord {
  partition: number;
  /** -1 with acks=0: the broker does not wait to learn it. */
  offset: number;
  timestamp: number;
}

export interface FetchOptions {
  maxBytes: number;
  /** Wait until this many bytes are available... */
  minBytes?: number;
  /** ...or this long, whichever comes first (0: answer at once). */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

export interface FetchResult {
  /** Whole record batches as stored. */
  bytes: Buffer;
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

export interface FetchedRecords {
  records: DecodedRecord[];
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/** `maxTimestamp`: the first record carrying the log's newest timestamp (Kafka's MAX_TIMESTAMP, KIP-734). */
export type OffsetSpec = 'earliest' | 'latest' | 'maxTimestamp' | { timestamp: number };

/** Kafka's largest partition count is bounded by memory; this bound keeps one request from asking for millions. */
export const TOPIC_PARTITIONS_MAX = 10_000;
/** Kafka's default.replication.factor is 1; a cluster defaults to this many replicas, or fewer brokers. */
export const CLUSTER_REPLICATION_FACTOR_DEFAULT = 3;
/** Topics the broker makes for itself (__consumer_offsets): listed as internal, never auto-created by a client's request. */
export const INTERNAL_TOPIC_PREFIX = '__';
/** Kafka's replica.lag.time.max.ms. */
export const REPLICA_LAG_TIME_MAX_MS_DEFAULT = 30_000;
/** How long acks=all waits when the request names no timeout (the JSON doors): Kafka's producer request.timeout.ms. */
export const PRODUCE_TIMEOUT_MS_DEFAULT = 30_000;
/** Kafka's offsets.commit.timeout.ms: how long a group coordinator's append waits for the in-sync replicas. */
const OFFSETS_COMMIT_TIMEOUT_MS = 5_000;
/** A proposed ISR is not proposed again sooner than this while the controller has not applied it. */
const ISR_PROPOSAL_RETRY_MS = 1_000;

/** A partition this broker holds a replica of, in cluster mode. */
interface LocalReplica {
  placement: PartitionPlacement;
  log: PartitionLog;
  /** Set while this broker leads the partition. */
  leader: LeaderReplica | null;
  /** As a follower: the leader's high watermark as last fetched, bounded by the local log end. */
  followerHighWatermark: number;
  /** The handle the fetcher holds while this broker follows the partition. */
  followed: FollowedPartition | null;
  /** The last ISR proposed to the controller, and when. */
  proposedIsr: string;
  proposedAtMs: number;
}

export class Broker {
  private readonly waiters = new FetchWaiters();
  private readonly reads = new SharedReads();
  private readonly producerIds: ProducerIdAllocator;
  private readonly defaultConfig: LogConfig;
  readonly brokerId: number;
  /** How the doors describe the cluster: this broker alone until `useClusterView` gives it a cluster's. */
  private view: ClusterView;
  /** Cluster mode: where partitions live; null on a single node. */
  private placements: TopicPlacements | null = null;
  /** Cluster mode: the partitions this broker holds a replica of, by `topic/partition`. */
  private readonly replicas = new Map<string, LocalReplica>();
  /** Cluster mode: fetches followed partitions from their leaders. */
  private fetching: ReplicaFetching | null = null;
  private isrTimer: NodeJS.Timeout | null = null;
  /** ISR changes of partitions this broker led, since it started (Kafka's IsrShrinksPerSec/IsrExpandsPerSec). */
  private isrShrinks = 0;
  private isrExpands = 0;
  /** Cluster mode: the high watermarks of the last checkpoint (replication-offset-checkpoint), read once at start. */
  private checkpointedHighWatermarks = new Map<string, number>();
  private highWatermarkTimer: NodeJS.Timeout | null = null;
  /** Placement changes are applied one at a time, in order. */
  private applying: Promise<void> = Promise.resolve();
  /** Consumer groups and their committed offsets (kept in __consumer_offsets). */
  readonly groups: GroupCoordinator;
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly options: BrokerOptions,
    private readonly metadata: MetadataStore,
    private readonly logs: LogManager,
    defaultConfig: LogConfig,
  ) {
    this.brokerId = options.brokerId ?? 1;
    this.view = new SingleNodeClusterView(this.brokerId, metadata.clusterId);
    this.groups = new GroupCoordinator(this, { ...(options.clock ? { clock: options.clock } : {}), ...options.groups });
    this.defaultConfig = defaultConfig;
    this.producerIds = new ProducerIdAllocator(metadata);
  }

  /** Opens the data directory: metadata, then every partition log (recovering any not closed cleanly). */
  static async open(options: BrokerOptions): Promise<Broker> {
    const dataDir = path.resolve(options.dataDir);
    const defaultConfig = logConfigFromTopicConfigs(options.defaultTopicConfigs ?? {}, DEFAULT_LOG_CONFIG);
    fs.mkdirSync(dataDir, { recursive: true });
    // The lock comes first: nothing in the directory is read or written by a second broker.
    const lock = lockDataDir(dataDir);
    let logs: LogManager;
    let metadata: MetadataStore;
    try {
      metadata = MetadataStore.open(dataDir, options.clusterId);
      const opened = metadata;
      const configFor = (topic: string): LogConfig => logConfigFromTopicConfigs(opened.get(topic)?.configs ?? {}, defaultConfig);
      logs = await LogManager.open({
        dataDir,
        configFor,
        lock,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: options.producerIdExpirationMs } : {}),
      });
    } catch (error) {
      lock.release();
      throw error;
    }
    const broker = new Broker({ ...options, dataDir }, metadata, logs, defaultConfig);
    // In a cluster a broker holds logs only of its replicas, opened as the placements say, and coordinates
    // the groups of the __consumer_offsets partitions it comes to lead (useTopicPlacements).
    if (options.clusterId !== undefined) return broker;
    for (const topic of metadata.topics()) {
      for (let partition = 0; partition < topic.partitions; partition++) await logs.getOrCreate(topic.name, partition);
    }
    try {
      broker.groups.load();
    } catch (error) {
      await broker.close(); // releases the data-dir lock: a broker that cannot load its groups does not half-open
      throw error;
    }
    return broker;
  }

  get clusterId(): string {
    return this.metadata.clusterId;
  }

  get cluster(): ClusterView {
    return this.view;
  }

  /** Cluster mode: the doors describe the cluster through `view` from now on; it must carry this broker's cluster id. */
  useClusterView(view: ClusterView): void {
    assert(view.clusterId() === this.clusterId, `cluster view for cluster ${view.clusterId()} given to a broker of cluster ${this.clusterId}`);
    this.view = view;
  }

  /**
   * Cluster mode: topics are created through `placements` from now on, and
   * this broker opens a log for each partition it is a replica of, as the
   * placements say now and whenever they change. Resolves once the current
   * placements are applied; a later change that cannot be applied (a log
   * that cannot be opened, a topic whose id differs from this data
   * directory's) goes to `onError`.
   */
  useTopicPlacements(placements: TopicPlacements, onError: (topic: string, error: Error) => void): Promise<void> {
    assert(this.placements === null, 'topic placements are given once');
    this.placements = placements;
    this.groups.useClusterMode();
    this.checkpointedHighWatermarks = readHighWatermarks(this.options.dataDir);
    this.highWatermarkTimer = setInterval(() => this.checkpointHighWatermarks(), HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS);
    this.highWatermarkTimer.unref();
    const lagMaxMs = this.replicaLagTimeMaxMs;
    this.isrTimer = setInterval(() => this.checkIsrs(), Math.max(10, Math.floor(lagMaxMs / 2)));
    this.isrTimer.unref();
    placements.onChange((topic) => void this.applyPlacements(topic).catch((error: Error) => onError(topic, error)));
    // The cluster's topics, and this data directory's of cluster origin too: one deleted while this broker was away goes now.
    const topics = new Set([...placements.topics(), ...this.metadata.topics().filter((topic) => topic.placedByCluster).map((topic) => topic.name)]);
    return Promise.all([...topics].map((topic) => this.applyPlacements(topic))).then(() => undefined);
  }

  /**
   * Cluster mode: partitions this broker follows are fetched from their
   * leaders through `fetching` from now on. Given before the placements, so
   * no followed partition is missed.
   */
  useReplicaFetching(fetching: ReplicaFetching): void {
    assert(this.fetching === null && this.placements === null, 'replica fetching is given once, before the placements');
    this.fetching = fetching;
  }

  /** This broker's role in a partition (cluster mode), undefined when it holds no replica. */
  partitionRole(topic: string, partition: number): PartitionRole | undefined {
    const replica = this.replicas.get(partitionKey(topic, partition));
    if (!replica) return undefined;
    return replica.leader ? 'leader' : 'follower';
  }

  private get replicaLagTimeMaxMs(): number {
    return this.options.replicaLagTimeMaxMs ?? REPLICA_LAG_TIME_MAX_MS_DEFAULT;
  }

  /** auto.create.topics.enable: on unless the options turn it off. */
  get autoCreateTopicsEnabled(): boolean {
    return this.options.autoCreateTopics !== false;
  }

  /** num.partitions: the partition count of a topic created without one. */
  get defaultPartitionCount(): number {
    return this.options.defaultPartitions ?? 1;
  }

  /** Broker-wide topic config defaults set at start (Kafka topic names); every other config has Kafka's default. */
  get topicConfigDefaults(): Readonly<Record<string, string>> {
    return this.options.defaultTopicConfigs ?? {};
  }

  // --- topics ------------------------------------------------------------------------------

  /**
   * The one way every door creates a topic. In cluster mode the topic is
   * written to the cluster and this resolves once the controller has placed
   * every partition and this broker has opened its replicas' logs.
   */
  async createTopic(name: string, options: NewTopicOptions = {}): Promise<TopicDescription> {
    this.assertOpen();
    const { partitions, replicationFactor } = this.validateNewTopic(name, options);
    const configs = { ...(options.configs ?? {}) };
    if (this.placements) {
      try {
        const assignment = options.assignments ? { assignment: options.assignments.map((replicas) => [...replicas]) } : {};
        await this.placements.createTopic(name, { topicId: newKafkaId(), partitions, replicationFactor, configs, ...assignment });
      } finally {
        // Also when another broker created it first: a door that then uses the topic (auto-creation) finds it here.
        await this.applyPlacements(name);
      }
      return this.describeTopic(name);
    }
    this.metadata.put({ name, topicId: newKafkaId(), partitions, configs });
    for (let partition = 0; partition < partitions; partition++) await this.logs.getOrCreate(name, partition);
    return this.describeTopic(name);
  }

  /** Every check createTopic makes, creating nothing (CreateTopics validateOnly); returns the counts it would use. */
  validateNewTopic(name: string, options: NewTopicOptions = {}): { partitions: number; replicationFactor: number } {
    validateTopicName(name);
    if (this.metadata.get(name)) throw new FerryError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    if (options.assignments) this.checkAssignments(options.assignments);
    const partitions = options.assignments?.length ?? options.partitions ?? this.defaultPartitionCount;
    checkPartitionCount(partitions);
    const replicationFactor = this.replicationFactorFor(name, options.assignments?.[0]?.length ?? options.replicationFactor);
    logConfigFromTopicConfigs(options.configs ?? {}, this.defaultConfig); // rejects unknown names and bad values before anything is made
    return { partitions, replicationFactor };
  }

  /** Kafka's checks of an explicit replica assignment: INVALID_REPLICA_ASSIGNMENT for a partition its rules refuse. */
  private checkAssignments(assignments: readonly number[][]): void {
    if (assignments.length === 0) throw new FerryError('INVALID_REPLICA_ASSIGNMENT', 'an assignment needs at least one partition');
    const replicationFactor = assignments[0]!.length;
    assignments.forEach((replicas, partition) => {
      if (replicas.length === 0) throw new FerryError('INVALID_REPLICA_ASSIGNMENT', `partition ${partition} has no replicas`);
      if (replicas.length !== replicationFactor) throw new FerryError('INVALID_REPLICA_ASSIGNMENT', `partition ${partition} has ${replicas.length} replicas, partition 0 has ${replicationFactor}: every partition needs the same number`);
      if (new Set(replicas).size !== replicas.length) throw new FerryError('INVALID_REPLICA_ASSIGNMENT', `partition ${partition} names a broker twice: [${replicas.join(', ')}]`);
      const unknown = replicas.filter((id) => (this.placements ? !this.placements.isLive(id) : id !== this.brokerId));
      if (unknown.length > 0) {
        const live = this.placements ? 'live brokers' : `this cluster's only broker, ${this.brokerId}`;
        throw new FerryError('INVALID_REPLICA_ASSIGNMENT', `partition ${partition} is assigned to [${replicas.join(', ')}]: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not among the ${live}`);
      }
    });
  }

  /** The replication factor asked for or the default, bounded by the live brokers (Kafka's INVALID_REPLICATION_FACTOR). */
  private replicationFactorFor(name: string, requested: number | undefined): number {
    if (!this.placements) {
      if (requested !== undefined && requested !== 1) throw new FerryError('INVALID_REPLICATION_FACTOR', `replication factor ${requested}: this cluster has 1 broker, so it must be 1 (or -1 for the default)`);
      return 1;
    }
    const live = this.placements.liveBrokerCount();
    // Internal topics: Kafka's offsets.topic.replication.factor (3), bounded by the brokers there are.
    const configured = isInternal(name) ? undefined : this.options.defaultReplicationFactor;
    const replicationFactor = requested ?? configured ?? Math.min(CLUSTER_REPLICATION_FACTOR_DEFAULT, live);
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1) throw new FerryError('INVALID_REPLICATION_FACTOR', `replication factor must be at least 1, not ${replicationFactor}`);
    if (replicationFactor > live) throw new FerryError('INVALID_REPLICATION_FACTOR', `Replication factor: ${replicationFactor} larger than available brokers: ${live}.`);
    return replicationFactor;
  }

  async deleteTopic(name: string): Promise<void> {
    this.assertOpen();
    const topic = this.topic(name);
    if (this.placements) {
      // Every broker deletes its replicas when it sees the record go (applyPlacements), this one included.
      await this.placements.deleteTopic(name);
      await this.applyPlacements(name);
      return;
    }
    this.metadata.remove(name);
    for (let partition = 0; partition < topic.partitions; partition++) await this.logs.delete(name, partition);
    this.waiters.wakeEveryone();
    await this.groups.forgetTopic(name); // as Kafka: a deleted topic's committed offsets go with it
  }

  listTopics(options: { includeInternal?: boolean } = {}): TopicDescription[] {
    this.assertOpen();
    return this.metadata
      .topics()
      .filter((topic) => options.includeInternal || !isInternal(topic.name))
      .map((topic) => this.describe(topic));
  }

  describeTopic(name: string): TopicDescription {
    this.assertOpen();
    return this.describe(this.topic(name));
  }

  /** The cluster health gauges (see ClusterHealth), from the placements this broker holds now. */
  clusterHealth(): ClusterHealth {
    this.assertOpen();
    const controllerActive = this.view.controllerId() === this.brokerId ? 1 : 0;
    const counts = { isrShrinks: this.isrShrinks, isrExpands: this.isrExpands };
    if (!this.placements) return { controllerActive, brokersLive: 1, partitionsOffline: 0, partitionsUnderReplicated: 0, partitionsUnderMinIsr: 0, replicaLagMax: 0, ...counts };
    const placements = this.placements;
    let partitionsOffline = 0;
    if (controllerActive === 1) {
      for (const name of placements.topics()) {
        const partitions = placements.topic(name)?.partitions ?? 0;
        for (let partition = 0; partition < partitions; partition++) if (!placements.isLive(placements.placement(name, partition)!.leader)) partitionsOffline++;
      }
    }
    let partitionsUnderReplicated = 0;
    let partitionsUnderMinIsr = 0;
    let replicaLagMax = 0;
    for (const local of this.replicas.values()) {
      const leader = local.leader;
      if (!leader) continue;
      const { isr, replicas, adding } = leader.placement;
      // As Kafka: replicas still being added by a reassignment do not make a partition under-replicated.
      if (isr.length < replicas.length - (adding?.length ?? 0)) partitionsUnderReplicated++;
      if (isr.length < local.log.config.minInsyncReplicas) partitionsUnderMinIsr++;
      for (const id of replicas) {
        if (id === this.brokerId) continue;
        const followerEnd = leader.followerLogEnd(id);
        replicaLagMax = followerEnd < 0 ? Math.max(replicaLagMax, -1) : Math.max(replicaLagMax, local.log.logEndOffset - followerEnd);
      }
    }
    // This broker is answering, so it is live even while its own registration is being renewed.
    const brokersLive = placements.liveBrokerCount() + (placements.isLive(this.brokerId) ? 0 : 1);
    return { controllerActive, brokersLive, partitionsOffline, partitionsUnderReplicated, partitionsUnderMinIsr, replicaLagMax, ...counts };
  }

  /** Grows a topic to `totalPartitions` (Kafka never shrinks one). */
  async createPartitions(name: string, totalPartitions: number): Promise<TopicDescription> {
    this.assertOpen();
    // The group coordinator maps a group to its __consumer_offsets partition by the partition count.
    refuseInternal(name, 'add partitions to');
    const topic = this.topic(name);
    checkPartitionCount(totalPartitions);
    if (totalPartitions <= topic.partitions) {
      throw new FerryError('INVALID_PARTITIONS', `topic ${name} has ${topic.partitions} partitions; the new count must be larger, not ${totalPartitions}`);
    }
    if (this.placements) {
      await this.placements.updateTopic(name, { partitions: totalPartitions });
      await this.applyPlacements(name);
      return this.describeTopic(name);
    }
    for (let partition = topic.partitions; partition < totalPartitions; partition++) await this.logs.getOrCreate(name, partition);
    this.metadata.put({ ...topic, partitions: totalPartitions });
    return this.describeTopic(name);
  }

  /**
   * Sets (string) or resets to the default (null) topic configs; applies them
   * to every partition at once (in a cluster, every broker applies them when
   * it sees the topic's record change).
   */
  async alterTopicConfigs(name: string, changes: Record<string, string | null>): Promise<TopicDescription> {
    this.assertOpen();
    const topic = this.topic(name);
    const configs = { ...topic.configs };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete configs[key];
      else configs[key] = value;
    }
    logConfigFromTopicConfigs(configs, this.defaultConfig); // refuses a bad name or value before anything changes
    if (this.placements) {
      await this.placements.updateTopic(name, { configs });
      await this.applyPlacements(name);
      return this.describeTopic(name);
    }
    this.applyTopicConfigs(topic, configs);
    return this.describeTopic(name);
  }

  /** Records the topic's configs and gives every local log of it the new settings. */
  private applyTopicConfigs(topic: TopicMetadata, configs: Record<string, string>): void {
    const config = logConfigFromTopicConfigs(configs, this.defaultConfig);
    this.metadata.put({ ...topic, configs });
    for (let partition = 0; partition < topic.partitions; partition++) {
      const log = this.logs.get(topic.name, partition);
      if (log) log.config = { ...config };
    }
  }

  /** The effective value of every supported topic config (set or default), for DescribeConfigs-style answers. */
  topicConfig(name: string): LogConfig {
    return logConfigFromTopicConfigs(this.topic(name).configs, this.defaultConfig);
  }

  // --- produce -----------------------------------------------------------------------------

  /**
   * Produces records given as objects (the JSON doors): partitions them as
   * Kafka's default partitioner does, builds one batch per partition and
   * appends it. With acks=0 the answer comes before the write (offsets -1).
   */
  async produce(topicName: string, records: readonly ProduceRecord[], options: ProduceOptions = {}): Promise<ProducedRecord[]> {
    this.assertOpen();
    if (records.length === 0) return [];
    refuseInternal(topicName, 'append to');
    const topic = await this.topicForProduce(topicName);
    const nowMs = this.now();
    const sticky = Math.floor(Math.random() * topic.partitions);
    const byPartition = new Map<number, number[]>();
    const partitions = records.map((record, i) => {
      const partition = choosePartition(record, topic, sticky);
      let indexes = byPartition.get(partition);
      if (!indexes) byPartition.set(partition, (indexes = []));
      indexes.push(i);
      return partition;
    });
    const appends = [...byPartition].map(async ([partition, indexes]) => {
      const batch = buildBatch(indexes.map((i) => recordInput(records[i]!, nowMs)));
      return { indexes, result: await this.produceBatches(topic.name, partition, batch, options) };
    });
    if (options.acks === 0) {
      void Promise.allSettled(appends);
      return records.map((record, i) => ({ partition: partitions[i]!, offset: -1, timestamp: record.timestamp ?? nowMs }));
    }
    const produced: ProducedRecord[] = new Array(records.length);
    for (const { indexes, result } of await Promise.all(appends)) {
      indexes.forEach((recordIndex, position) => {
        const record = records[recordIndex]!;
        produced[recordIndex] = { partition: partitions[recordIndex]!, offset: result.firstOffset + position, timestamp: result.logAppendTimeMs >= 0 ? result.logAppendTimeMs : record.timestamp ?? nowMs };
      });
    }
    return produced;
  }

  /**
   * Appends record batches as a Kafka producer sent them (the Kafka door,
   * binary WebSocket frames). With acks=all (-1) the answer waits until
   * every in-sync replica has them (the high watermark passed them), and the
   * append is refused with NOT_ENOUGH_REPLICAS while the ISR is smaller than
   * min.insync.replicas.
   */
  produceBatches(topicName: string, partition: number, bytes: Buffer, options: ProduceOptions = {}): Promise<AppendResult> {
    this.assertOpen();
    refuseInternal(topicName, 'append to');
    return this.appendToLeader(topicName, partition, bytes, options);
  }

  /**
   * Not async on purpose: a single node's append (acks 1 or all) goes
   * straight to the log, with no promise frame or replica lookup of its own;
   * refusals throw synchronously, as the callers expect.
   */
  private appendToLeader(topicName: string, partition: number, bytes: Buffer, options: ProduceOptions): Promise<AppendResult> {
    const log = this.writableLeaderLog(topicName, partition);
    if (options.acks !== -1) return log.append(bytes);
    const minInsync = log.config.minInsyncReplicas;
    const leader = this.placements ? this.replicas.get(partitionKey(topicName, partition))?.leader : undefined;
    const isr = leader ? leader.placement.isr.length : 1;
    if (isr < minInsync) throw new FerryError('NOT_ENOUGH_REPLICAS', `${topicName}-${partition} has ${isr} in-sync replicas, fewer than min.insync.replicas=${minInsync}`);
    return leader ? appendInSync(log, leader, bytes, options.timeoutMs ?? PRODUCE_TIMEOUT_MS_DEFAULT, minInsync) : log.append(bytes);
  }

  /**
   * Appends to an internal topic (`__consumer_offsets`): for the broker's own
   * components only. Clients are refused internal topics, as in Kafka, since
   * a forged record there would rewrite committed offsets.
   */
  appendInternal(topicName: string, partition: number, bytes: Buffer): Promise<AppendResult> {
    this.assertOpen();
    assert(isInternal(topicName), `appendInternal is for internal topics, not ${topicName}`);
    if (!this.placements) return this.log(topicName, partition).append(bytes);
    return this.appendToLeader(topicName, partition, bytes, { acks: -1, timeoutMs: OFFSETS_COMMIT_TIMEOUT_MS });
  }

  /** UNKNOWN_TOPIC_OR_PARTITION unless the topic has the partition (wherever its replicas are). */
  checkPartitionExists(topicName: string, partition: number): void {
    const topic = this.topic(topicName);
    if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitions) {
      throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topicName} has no partition ${partition} (it has ${topic.partitions})`);
    }
  }

  /**
   * FindCoordinator: the id of the broker coordinating the group — the
   * leader of its __consumer_offsets partition (this broker on a single
   * node); null while there is none (the topic is being made, or the
   * partition has no leader): COORDINATOR_NOT_AVAILABLE, which clients retry.
   */
  groupCoordinator(groupId: string): number | null {
    this.assertOpen();
    if (!this.placements) return this.brokerId;
    const placed = this.placements.topic(OFFSETS_TOPIC_NAME);
    if (!placed) {
      void this.groups.ensureOffsetsTopic().catch(() => undefined); // the next FindCoordinator finds it made
      return null;
    }
    const leader = this.placements.placement(OFFSETS_TOPIC_NAME, offsetsPartitionFor(groupId, placed.partitions))?.leader ?? -1;
    return leader === -1 || !this.placements.isLive(leader) ? null : leader;
  }

  /**
   * Where to send a client whose group another broker coordinates: that
   * broker's endpoint (HTTP port included, for the WebSocket door's
   * NOT_COORDINATOR errors). Null when this broker coordinates the group,
   * when there is no coordinator now, or on a single node.
   */
  groupCoordinatorEndpoint(groupId: string): BrokerEndpoint | null {
    const coordinator = this.groupCoordinator(groupId);
    if (coordinator === null || coordinator === this.brokerId || !this.placements) return null;
    return this.placements.brokerEndpoint(coordinator) ?? null;
  }

  private async topicForProduce(name: string): Promise<TopicMetadata> {
    const existing = this.metadata.get(name);
    if (existing) return existing;
    if (this.options.autoCreateTopics === false) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist and auto.create.topics.enable is false`);
    await this.createTopic(name).catch((error: unknown) => {
      // Two producers racing to auto-create the same topic: the loser uses the winner's.
      if (!(error instanceof FerryError && error.errorName === 'TOPIC_ALREADY_EXISTS')) throw error;
    });
    return this.topic(name);
  }

  // --- fetch -------------------------------------------------------------------------------

  /**
   * Whole batches from `offset`, waiting up to maxWaitMs for minBytes to be
   * there; woken by appends to the partition.
   */
  async fetch(topicName: string, partition: number, offset: number, options: FetchOptions): Promise<FetchResult> {
    this.assertOpen();
    const minBytes = options.minBytes ?? 1;
    const deadline = this.now() + (options.maxWaitMs ?? 0);
    for (;;) {
      const { log, highWatermark } = this.leaderPartition(topicName, partition);
      const read = this.reads.read(log, offset, options.maxBytes, highWatermark);
      const answer = { bytes: read.bytes, nextOffset: read.nextOffset, highWatermark, logStartOffset: read.logStartOffset };
      const remainingMs = deadline - this.now();
      if (read.bytes.length >= minBytes || remainingMs <= 0 || options.signal?.aborted || this.closed) return answer;
      await this.waiters.waitForAppend(log, remainingMs, options.signal);
      if (this.closed || !this.metadata.get(topicName)) return answer;
    }
  }

  /** `fetch`, decoded into records at or after `offset` (the JSON doors). */
  async fetchRecords(topicName: string, partition: number, offset: number, options: FetchOptions): Promise<FetchedRecords> {
    const fetched = await this.fetch(topicName, partition, offset, options);
    const records = decodeBatches(fetched.bytes)
      .filter((batch) => !batch.isControl)
      .flatMap((batch) => batch.records)
      .filter((record) => record.offset >= BigInt(offset));
    return { records, nextOffset: fetched.nextOffset, highWatermark: fetched.highWatermark, logStartOffset: fetched.logStartOffset };
  }

  /** ListOffsets: earliest, latest, or the first offset at or after a timestamp (-1 when there is none). */
  listOffset(topicName: string, partition: number, spec: OffsetSpec): { offset: number; timestamp: number } {
    this.assertOpen();
    const { log, highWatermark } = this.leaderPartition(topicName, partition);
    if (spec === 'earliest') return { offset: log.logStartOffset, timestamp: -1 };
    if (spec === 'latest') return { offset: highWatermark, timestamp: -1 };
    // As Kafka: a record found at or above the high watermark is not one a consumer may read yet.
    const belowHighWatermark = (found: { offset: number; timestamp: number } | null): { offset: number; timestamp: number } =>
      found !== null && found.offset < highWatermark ? found : { offset: -1, timestamp: -1 };
    if (spec === 'maxTimestamp') {
      const newest = log.maxTimestamp;
      return newest < 0 ? { offset: -1, timestamp: -1 } : belowHighWatermark(log.offsetForTimestamp(newest));
    }
    return belowHighWatermark(log.offsetForTimestamp(spec.timestamp));
  }

  // --- idempotent producers ---------------------------------------------------------------

  /**
   * InitProducerId: a new producer id with epoch 0, or the given id with its
   * epoch bumped (KIP-360); transactional ids are refused (producer-ids.ts).
   */
  initProducerId(transactionalId: string | null, producerId?: bigint, producerEpoch?: number): ProducerIdAndEpoch {
    this.assertOpen();
    return this.producerIds.initProducerId(transactionalId, producerId, producerEpoch);
  }

  /** DescribeProducers: the idempotent producers a partition knows, by id. */
  describeProducers(topicName: string, partition: number): ProducerEntry[] {
    this.assertOpen();
    return this.log(topicName, partition).producerEntries();
  }

  /** DeleteRecords: every offset below `beforeOffset` (-1: the high watermark) becomes unreadable. Returns the new log start. */
  deleteRecords(topicName: string, partition: number, beforeOffset: number): number {
    this.assertOpen();
    refuseInternal(topicName, 'delete records of');
    const log = this.writableLeaderLog(topicName, partition);
    const { highWatermark } = this.leaderPartition(topicName, partition);
    if (beforeOffset > highWatermark) throw new FerryError('OFFSET_OUT_OF_RANGE', `cannot delete records of ${topicName}-${partition} before ${beforeOffset}: the high watermark is ${highWatermark}`);
    return log.deleteRecordsBefore(beforeOffset === -1 ? highWatermark : beforeOffset);
  }

  /** The name of the topic with this id (Kafka's 22-character base64url form), if any. */
  topicNameById(topicId: string): string | undefined {
    return this.metadata.topics().find((topic) => topic.topicId === topicId)?.name;
  }

  /** Resolves on the next append to any of these partitions, after `timeoutMs`, or on abort (Fetch's long-poll over many partitions). */
  waitForAppend(partitions: ReadonlyArray<{ topic: string; partition: number }>, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const logs: PartitionLog[] = [];
    for (const { topic, partition } of partitions) {
      const log = this.metadata.get(topic) ? this.logs.get(topic, partition) : undefined;
      if (log) logs.push(log);
    }
    return this.waiters.waitForAnyAppend(logs, timeoutMs, signal);
  }

  // --- internals ---------------------------------------------------------------------------

  private topic(name: string): TopicMetadata {
    const topic = this.metadata.get(name);
    if (!topic) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    return topic;
  }

  /** The log of a partition of an existing topic. */
  log(topicName: string, partition: number): PartitionLog {
    const topic = this.topic(topicName);
    const log = Number.isInteger(partition) && partition >= 0 && partition < topic.partitions ? this.logs.get(topicName, partition) : undefined;
    if (!log) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topicName} has no partition ${partition} (it has ${topic.partitions})`);
    return log;
  }

  /**
   * The log of a partition this broker leads, for clients' produce and
   * fetch: NOT_LEADER_OR_FOLLOWER otherwise, naming the leader and where to
   * reach it (the doors' redirect). On a single node it leads every partition.
   */
  leaderLog(topicName: string, partition: number, currentLeaderEpoch = -1): PartitionLog {
    return this.leaderPartition(topicName, partition, currentLeaderEpoch).log;
  }

  /**
   * A partition this broker leads, with its high watermark: what consumers
   * may read. `currentLeaderEpoch` (-1: unknown) is the epoch the client
   * believes in (Kafka's fencing): older is FENCED_LEADER_EPOCH, newer
   * UNKNOWN_LEADER_EPOCH.
   */
  leaderPartition(topicName: string, partition: number, currentLeaderEpoch = -1): LeaderPartition {
    if (!this.placements) {
      const log = this.log(topicName, partition);
      return { log, highWatermark: log.logEndOffset };
    }
    const topic = this.topic(topicName);
    const leader = this.replicas.get(partitionKey(topicName, partition))?.leader;
    if (!leader) {
      if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitions) this.log(topicName, partition); // UNKNOWN_TOPIC_OR_PARTITION
      const leaderId = this.placements.placement(topicName, partition)?.leader ?? -1;
      if (leaderId === -1) throw new FerryError('LEADER_NOT_AVAILABLE', `${topicName}-${partition} has no leader now: none of its in-sync replicas is live`);
      // Named leader here, but still taking its new leader epoch (startLeaderEpoch waits for the log's turn): a moment, not a redirect to itself.
      if (leaderId === this.brokerId) throw new FerryError('LEADER_NOT_AVAILABLE', `broker ${this.brokerId} is becoming the leader of ${topicName}-${partition}; retry`);
      const endpoint = this.placements.brokerEndpoint(leaderId) ?? null;
      const where = endpoint ? ` (kafka ${endpoint.host}:${endpoint.kafkaPort}, http ${endpoint.host}:${endpoint.httpPort})` : '';
      throw new NotLeaderError(`broker ${this.brokerId} does not lead ${topicName}-${partition}; broker ${leaderId} does${where}`, endpoint);
    }
    checkLeaderEpoch(topicName, partition, currentLeaderEpoch, leader.leaderEpoch);
    return { log: leader.log, highWatermark: leader.highWatermark };
  }

  /** The leader's log for a write: also refused while this broker may have lost its lease unseen (TopicPlacements.mayLead). */
  private writableLeaderLog(topicName: string, partition: number): PartitionLog {
    const log = this.leaderLog(topicName, partition);
    if (this.placements && !this.placements.mayLead()) {
      throw new FerryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.brokerId} stood still long enough to have lost its cluster lease; it takes no writes until etcd confirms it`);
    }
    return log;
  }

  // --- replication (cluster mode) -----------------------------------------------------------

  /**
   * A follower's fetch (Kafka Fetch with a replica id): records that broker
   * `replicaId` holds everything below `fetchOffset`, which may move the
   * high watermark, and returns the log to read from — up to its end, not
   * the high watermark — and the high watermark to pass on.
   */
  replicaFetch(topicName: string, partition: number, replicaId: number, fetchOffset: number, currentLeaderEpoch: number): LeaderPartition {
    const { log } = this.leaderPartition(topicName, partition, currentLeaderEpoch);
    const local = this.replicas.get(partitionKey(topicName, partition))!;
    const leader = local.leader!;
    if (!leader.placement.replicas.includes(replicaId)) {
      throw new FerryError('NOT_LEADER_OR_FOLLOWER', `broker ${replicaId} is not a replica of ${topicName}-${partition} (replicas ${leader.placement.replicas.join(',')})`);
    }
    if (fetchOffset >= log.logStartOffset && fetchOffset <= log.logEndOffset) {
      leader.followerFetched(replicaId, fetchOffset);
      this.maybeExpandIsr(topicName, partition, local);
    }
    return { log, highWatermark: leader.highWatermark };
  }

  /**
   * OffsetForLeaderEpoch on the leader: the end offset of `leaderEpoch` in
   * this log (the start of the next epoch, or the log end for the current
   * one) and the largest epoch at or below it; -1, -1 when the log knows no
   * such epoch. A returning replica truncates to it before it fetches.
   */
  offsetForLeaderEpoch(topicName: string, partition: number, currentLeaderEpoch: number, leaderEpoch: number): { leaderEpoch: number; endOffset: number } {
    this.assertOpen();
    const { log } = this.leaderPartition(topicName, partition, currentLeaderEpoch);
    return log.endOffsetForLeaderEpoch(leaderEpoch);
  }

  /** Every ISR_CHECK: proposes to drop followers that have not caught up within replica.lag.time.max.ms. */
  private checkIsrs(): void {
    if (this.closed || !this.placements) return;
    for (const [key, local] of this.replicas) {
      const leader = local.leader;
      if (!leader) continue;
      leader.forgetStaleJoining(this.replicaLagTimeMaxMs);
      const lagging = leader.laggingMembers(this.replicaLagTimeMaxMs);
      const joining = this.readyToJoin(leader);
      if (lagging.length === 0 && joining.length === 0) continue;
      const isr = [...leader.placement.isr.filter((id) => !lagging.includes(id)), ...joining];
      this.proposeIsr(key, local, isr);
    }
  }

  private maybeExpandIsr(topicName: string, partition: number, local: LocalReplica): void {
    const joining = this.readyToJoin(local.leader!);
    if (joining.length > 0) this.proposeIsr(partitionKey(topicName, partition), local, [...local.leader!.placement.isr, ...joining]);
  }

  /**
   * Caught-up replicas outside the ISR whose brokers are live: a follower that
   * just died still looks caught up for a while, and proposing it (the
   * controller refuses) would hold the high watermark for it (maximal ISR).
   */
  private readyToJoin(leader: LeaderReplica): number[] {
    return leader.caughtUpOutsiders(this.replicaLagTimeMaxMs).filter((id) => this.placements?.isLive(id) ?? false);
  }

  private proposeIsr(key: string, local: LocalReplica, isr: number[]): void {
    const leader = local.leader!;
    const proposal = `${leader.leaderEpoch}:${[...isr].sort((a, b) => a - b).join(',')}`;
    const now = this.now();
    if (proposal === local.proposedIsr && now - local.proposedAtMs < ISR_PROPOSAL_RETRY_MS) return;
    local.proposedIsr = proposal;
    local.proposedAtMs = now;
    // Kafka's maximal ISR: replicas joining count for the high watermark from the proposal on, since once the
    // controller writes them in they may be elected before this leader hears of it.
    leader.expectJoining(isr.filter((id) => !leader.placement.isr.includes(id)));
    const { topic, partition } = splitPartitionKey(key);
    this.placements!.proposeIsr(topic, partition, leader.leaderEpoch, leader.placement.isr, isr);
  }

  /**
   * Applies a topic's placements (cluster mode): records a fully placed topic
   * in the local metadata under the cluster's topic id, opens a log for each
   * partition this broker is a replica of and remembers its role. Serialized,
   * so changes apply in the order they arrive.
   */
  private applyPlacements(name: string): Promise<void> {
    const apply = async (): Promise<void> => {
      if (this.closed || !this.placements) return;
      const placed = this.placements.topic(name);
      let known = this.metadata.get(name);
      // Deleted in the cluster (or made again under a new id while this broker was away): its local replicas go.
      if (known && placed && known.topicId !== placed.topicId && !known.placedByCluster) {
        // Never deleted for a clash: data from single-node days is the operator's to move.
        throw new FerryError('INCONSISTENT_TOPIC_ID', `topic ${name} has id ${known.topicId} in this data directory (from before it joined the cluster) but ${placed.topicId} in the cluster; not served here`);
      }
      if (known?.placedByCluster && (placed ? known.topicId !== placed.topicId : !this.placements.exists(name))) {
        await this.deleteLocalTopic(known);
        known = undefined;
      }
      if (!placed) return;
      if (!known) this.metadata.put({ name, topicId: placed.topicId, partitions: placed.partitions, configs: { ...placed.configs }, placedByCluster: true });
      else if (known.partitions !== placed.partitions || !known.placedByCluster) this.metadata.put({ ...known, partitions: placed.partitions, configs: { ...placed.configs }, placedByCluster: true });
      if (known && JSON.stringify(known.configs) !== JSON.stringify(placed.configs)) this.applyTopicConfigs(this.topic(name), { ...placed.configs });
      for (let partition = 0; partition < placed.partitions; partition++) {
        const placement = this.placements!.placement(name, partition)!;
        const key = partitionKey(name, partition);
        const local = this.replicas.get(key);
        if (!placement.replicas.includes(this.brokerId)) {
          if (local) this.stopReplica(key, local);
          // Reassigned away (or moved while this broker was down): Kafka deletes the replica's log.
          await this.logs.delete(name, partition);
          continue;
        }
        if (local && samePlacement(local.placement, placement)) continue;
        const log = local?.log ?? (await this.logs.getOrCreate(name, partition));
        await this.applyReplicaPlacement(name, partition, log, placement, local);
      }
    };
    const applied = this.applying.then(apply);
    this.applying = applied.catch(() => undefined);
    return applied;
  }

  /** Makes this broker the partition's leader or follower as `placement` says, starting or stopping what each role runs. */
  private async applyReplicaPlacement(topic: string, partition: number, log: PartitionLog, placement: PartitionPlacement, known: LocalReplica | undefined): Promise<void> {
    const key = partitionKey(topic, partition);
    const checkpointed = Math.min(Math.max(this.checkpointedHighWatermarks.get(key) ?? 0, log.logStartOffset), log.logEndOffset);
    const local: LocalReplica = known ?? { placement, log, leader: null, followerHighWatermark: checkpointed, followed: null, proposedIsr: '', proposedAtMs: 0 };
    const before = known?.placement;
    local.placement = placement;
    this.replicas.set(key, local);
    const epochChanged = before === undefined || before.leaderEpoch !== placement.leaderEpoch || before.leader !== placement.leader;
    if (placement.leader === this.brokerId) {
      if (local.leader && !epochChanged) {
        if (placement.isr.length < local.leader.placement.isr.length) this.isrShrinks++;
        else if (placement.isr.length > local.leader.placement.isr.length) this.isrExpands++;
        local.leader.update(placement);
        return;
      }
      this.stopFollowing(topic, partition, local);
      const highWatermark = local.leader?.highWatermark ?? local.followerHighWatermark;
      local.leader?.close();
      local.leader = null;
      try {
        // In the log's turn: a follower append still in flight lands before the new epoch starts. Produce meanwhile is refused (no leader yet) and retried.
        await log.startLeaderEpoch(placement.leaderEpoch);
      } catch (error) {
        // Not applied: the next change of the topic tries again, rather than skipping a placement it believes done.
        if (before) local.placement = before;
        else this.replicas.delete(key);
        throw error;
      }
      local.leader = new LeaderReplica(log, this.brokerId, placement, highWatermark, () => this.now(), () => this.waiters.wake(log));
      if (topic === OFFSETS_TOPIC_NAME) void this.groups.loadPartition(partition, this.topic(topic).partitions); // COORDINATOR_LOAD_IN_PROGRESS until loaded
      return;
    }
    if (local.leader) {
      local.followerHighWatermark = local.leader.highWatermark;
      local.leader.close();
      local.leader = null;
      if (topic === OFFSETS_TOPIC_NAME) this.groups.unloadPartition(partition);
      // A leader append still queued (a large batch validated in the pool) lands before the fetcher truncates to the new leader's log, which then removes it.
      await log.appendsSettled();
    }
    // Only a replica a reassignment is adding copies throttled; the throttle goes when the move completes.
    const throttleBytesPerSecond = placement.adding?.includes(this.brokerId) ? (placement.throttleBytesPerSecond ?? null) : null;
    if (!epochChanged && local.followed && local.followed.throttleBytesPerSecond === throttleBytesPerSecond) return;
    this.stopFollowing(topic, partition, local);
    if (placement.leader === -1 || !this.fetching) return;
    const followed: FollowedPartition = {
      topic,
      partition,
      leader: placement.leader,
      leaderEpoch: placement.leaderEpoch,
      log,
      throttleBytesPerSecond,
      current: () => local.followed === followed && !this.closed,
      setHighWatermark: (highWatermark) => {
        if (local.followed === followed) local.followerHighWatermark = Math.min(highWatermark, log.logEndOffset);
      },
      highWatermark: () => Math.min(local.followerHighWatermark, log.logEndOffset),
    };
    local.followed = followed;
    this.fetching.follow(followed);
  }

  private stopFollowing(topic: string, partition: number, local: LocalReplica): void {
    if (!local.followed) return;
    local.followed = null;
    this.fetching?.unfollow(topic, partition);
  }

  /** A topic the cluster no longer has: replicas stopped, logs deleted, groups forget its offsets. */
  private async deleteLocalTopic(topic: TopicMetadata): Promise<void> {
    for (let partition = 0; partition < topic.partitions; partition++) {
      const key = partitionKey(topic.name, partition);
      const local = this.replicas.get(key);
      if (local) this.stopReplica(key, local);
      await this.logs.delete(topic.name, partition);
    }
    this.metadata.remove(topic.name);
    this.waiters.wakeEveryone();
    await this.groups.forgetTopic(topic.name).catch(() => undefined); // offsets of groups coordinated elsewhere are forgotten there
  }

  /** This broker is no longer a replica of the partition (reassigned): it stops leading or following it. */
  private stopReplica(key: string, local: LocalReplica): void {
    const { topic, partition } = splitPartitionKey(key);
    local.leader?.close();
    if (local.leader && topic === OFFSETS_TOPIC_NAME) this.groups.unloadPartition(partition);
    this.stopFollowing(topic, partition, local);
    this.replicas.delete(key);
  }

  /** Writes every local replica's high watermark (replication-offset-checkpoint); a failure is retried at the next tick. */
  private checkpointHighWatermarks(): void {
    if (!this.placements) return;
    const entries = [...this.replicas].map(([key, local]) => ({ ...splitPartitionKey(key), highWatermark: local.leader ? local.leader.highWatermark : Math.min(local.followerHighWatermark, local.log.logEndOffset) }));
    try {
      writeHighWatermarks(this.options.dataDir, entries);
    } catch {
      // The file is an optimisation for restarts: without it the high watermarks start lower and catch up.
    }
  }

  private describe(topic: TopicMetadata): TopicDescription {
    const partitions: PartitionDescription[] = [];
    const placed = this.placements !== null;
    for (let partition = 0; partition < topic.partitions; partition++) {
      const placement = placed ? this.placements!.placement(topic.name, partition) : undefined;
      partitions.push({ partition, ...(placement ?? this.selfPlacement()), ...this.offsets(topic.name, partition) });
    }
    return { name: topic.name, topicId: topic.topicId, internal: isInternal(topic.name), partitions, configs: { ...topic.configs } };
  }


  /** A single node's placement: this broker alone, at the first leader epoch forever. */
  private selfPlacement(): PartitionPlacement {
    return { leader: this.brokerId, leaderEpoch: 0, replicas: [this.brokerId], isr: [this.brokerId] };
  }

  /** The partition's offsets from its local log; -1 on a broker holding no replica of it. */
  private offsets(topic: string, partition: number): Pick<PartitionDescription, 'logStartOffset' | 'logEndOffset' | 'highWatermark'> {
    const log = this.logs.get(topic, partition);
    if (!log) return { logStartOffset: -1, logEndOffset: -1, highWatermark: -1 };
    return { logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset, highWatermark: this.highWatermarkHere(topic, partition, log) };
  }

  /** The high watermark as this broker knows it: the leader's own, a follower's last fetched, or a single node's log end. */
  private highWatermarkHere(topic: string, partition: number, log: PartitionLog): number {
    if (!this.placements) return log.logEndOffset;
    const local = this.replicas.get(partitionKey(topic, partition));
    if (!local) return log.logEndOffset;
    return local.leader ? local.leader.highWatermark : Math.min(local.followerHighWatermark, log.logEndOffset);
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  private assertOpen(): void {
    if (this.closed) throw new FerryError('KAFKA_STORAGE_ERROR', 'the broker is shutting down');
  }

  /** Lets the group coordinator finish its stores, wakes long-polls, then flushes and closes every log cleanly. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    await this.groups.close();
    this.closed = true;
    if (this.isrTimer) clearInterval(this.isrTimer);
    if (this.highWatermarkTimer) clearInterval(this.highWatermarkTimer);
    this.checkpointHighWatermarks();
    for (const local of this.replicas.values()) local.leader?.close();
    await this.fetching?.close();
    this.waiters.wakeEveryone();
    await this.logs.close();
  }
}

/** acks=all on a replicated partition: the append, then the wait for every in-sync replica to have it. */
async function appendInSync(log: PartitionLog, leader: LeaderReplica, bytes: Buffer, timeoutMs: number, minInsync: number): Promise<AppendResult> {
  const result = await log.append(bytes);
  await leader.awaitHighWatermark(result.lastOffset + 1, timeoutMs, minInsync);
  return result;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

function splitPartitionKey(key: string): { topic: string; partition: number } {
  const slash = key.lastIndexOf('/');
  return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)) };
}

function samePlacement(a: PartitionPlacement, b: PartitionPlacement): boolean {
  return (
    a.leader === b.leader && a.leaderEpoch === b.leaderEpoch && a.replicas.join(',') === b.replicas.join(',') && a.isr.join(',') === b.isr.join(',') &&
    // A reassignment starting, changing its throttle or ending changes what a follower fetches and how fast.
    (a.adding ?? []).join(',') === (b.adding ?? []).join(',') && (a.removing ?? []).join(',') === (b.removing ?? []).join(',') &&
    (a.throttleBytesPerSecond ?? null) === (b.throttleBytesPerSecond ?? null)
  );
}

/** Kafka's leader-epoch fencing of a request that names the epoch it believes in (-1: none). */
function checkLeaderEpoch(topic: string, partition: number, requested: number, current: number): void {
  if (requested === -1 || requested === current) return;
  if (requested < current) throw new FerryError('FENCED_LEADER_EPOCH', `${topic}-${partition}: leader epoch ${requested} is older than the current ${current}`);
  throw new FerryError('UNKNOWN_LEADER_EPOCH', `${topic}-${partition}: leader epoch ${requested} is newer than this broker knows (${current})`);
}

function isInternal(name: string): boolean {
  return name.startsWith(INTERNAL_TOPIC_PREFIX);
}

/** Clients may read internal topics but not change them (Kafka answers INVALID_TOPIC_EXCEPTION too). */
function refuseInternal(name: string, what: string): void {
  if (isInternal(name)) throw new FerryError('INVALID_TOPIC_EXCEPTION', `cannot ${what} internal topic ${name}`);
}

function checkPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > TOPIC_PARTITIONS_MAX) {
    throw new FerryError('INVALID_PARTITIONS', `partition count ${partitions} must be an integer from 1 to ${TOPIC_PARTITIONS_MAX}`);
  }
}

function choosePartition(record: ProduceRecord, topic: TopicMetadata, sticky: number): number {
  if (record.partition !== undefined) {
    if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= topic.partitions) {
      throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic.name} has no partition ${record.partition} (it has ${topic.partitions})`);
    }
    return record.partition;
  }
  if (record.key) return partitionForKey(record.key, topic.partitions);
  return sticky;
}

function recordInput(record: ProduceRecord, nowMs: number): RecordInput {
  return { key: record.key ?? null, value: record.value, headers: record.headers ?? [], timestamp: BigInt(record.timestamp ?? nowMs) };
}
