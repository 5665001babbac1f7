/**
 * Where a cluster's partitions live, as the broker core sees it: the sibling
 * of ClusterView for topics. A single broker has none (it creates topics
 * locally and leads every partition); in cluster mode the broker holds one
 * backed by etcd (src/cluster/etcd-topic-placements.ts) and
 *
 *   - creates topics through it (every door's creation is Broker.createTopic),
 *   - opens a local log for each partition it is a replica of, as the
 *     placements change,
 *   - describes partitions (leader, leader epoch, replicas, ISR) from it, so
 *     Metadata is the same from every broker,
 *   - serves produce and consumer fetches only for partitions it leads,
 *   - proposes ISR changes for partitions it leads to the controller.
 *
 * Internal topics (__consumer_offsets) stay local to each broker in this
 * slice: the group coordinator and its topic move with leaders later (issue 6).
 */

import type { BrokerEndpoint } from '../errors.js';

/** Who holds a partition: Kafka's LeaderAndIsr, and the reassignment running on it (KIP-455), if any. */
export interface PartitionPlacement {
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** Target replicas not yet in the old set: they copy the log and join the ISR before the move completes. */
  adding?: number[];
  /** Old replicas not in the target: they leave when the move completes. */
  removing?: number[];
  /** Pace of the adding replicas' fetches (Kafka's follower.replication.throttled.rate); null or absent: unthrottled. */
  throttleBytesPerSecond?: number | null;
}

export interface PlacedTopic {
  topicId: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
  /** Replicas per partition given at creation (Kafka's replica assignment); absent: the controller places them. */
  assignment?: number[][];
}

export interface TopicPlacements {
  /** The live brokers now: the bound on a replication factor. */
  liveBrokerCount(): number;
  /**
   * Creates the topic cluster-wide and resolves once every partition has a
   * placement; TOPIC_ALREADY_EXISTS when the cluster has the topic (once it
   * is placed, or the wait ran out), REQUEST_TIMED_OUT when the partitions
   * are not assigned in time.
   */
  createTopic(name: string, topic: PlacedTopic): Promise<void>;
  /**
   * Changes a topic cluster-wide: more partitions (resolves once the new
   * ones are placed) or new configs (resolves once this broker has the
   * change). INVALID_REQUEST when another change won the race; the caller
   * may try again.
   */
  updateTopic(name: string, change: { partitions?: number; configs?: Record<string, string> }): Promise<void>;
  /** Deletes a topic cluster-wide; resolves once this broker has seen it go. UNKNOWN_TOPIC_OR_PARTITION when there is none. */
  deleteTopic(name: string): Promise<void>;
  /** Whether the cluster has a record of the topic (placed or still being placed). */
  exists(name: string): boolean;
  /** Topics whose every partition is placed. */
  topics(): string[];
  /** A topic whose every partition is placed; undefined otherwise. */
  topic(name: string): PlacedTopic | undefined;
  placement(topic: string, partition: number): PartitionPlacement | undefined;
  /** Whether the broker is registered now (its lease held). */
  isLive(brokerId: number): boolean;
  /** How a client reaches the broker (for a redirect), if it is live. */
  brokerEndpoint(brokerId: number): BrokerEndpoint | undefined;
  /** Called with a topic's name whenever its record or a partition's placement changes. */
  onChange(listener: (topic: string) => void): void;
  /**
   * Asks the controller to set the ISR of a partition this broker leads at
   * `leaderEpoch` (Kafka's AlterPartition). Fire and forget: the outcome
   * arrives as a placement change, or not at all when the controller
   * refuses (the epoch moved on, a new member is not live).
   */
  proposeIsr(topic: string, partition: number, leaderEpoch: number, currentIsr: readonly number[], isr: number[]): void;
  /**
   * Whether this broker may take writes as a leader now: false after its
   * event loop stood still long enough that its lease may have expired
   * unseen (a SIGSTOP, a VM freeze), until etcd confirms it.
   */
  mayLead(): boolean;
}
