/**
 * What the broker core asks of the follower side of replication in a
 * cluster: fetch a partition from its leader into the local log, or stop.
 * The broker core decides who leads (from the placements); the cluster side
 * (src/cluster/replica-fetcher.ts) does the fetching, over the Kafka
 * protocol, as Kafka's replica fetcher threads do.
 */

import type { PartitionLog } from '../storage/partition-log.js';

/** A partition this broker follows, as handed to the fetcher: a new handle for every leader epoch. */
export interface FollowedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly log: PartitionLog;
  /** A replica being added by a reassignment copies at most this fast (Kafka's follower.replication.throttled.rate); null: unthrottled. */
  readonly throttleBytesPerSecond: number | null;
  /** Whether the broker still follows the partition with this handle (false once leadership moved on). */
  current(): boolean;
  /** The leader's high watermark from a fetch answer; kept no higher than the local log end. */
  setHighWatermark(highWatermark: number): void;
  /** The high watermark this follower last had: everything below it was committed. */
  highWatermark(): number;
}

export interface ReplicaFetching {
  /** Starts (or restarts, for a new leader or epoch) fetching the partition from its leader. */
  follow(partition: FollowedPartition): void;
  /** Stops fetching the partition (this broker now leads it, or holds no replica, or it has no leader). */
  unfollow(topic: string, partition: number): void;
  close(): Promise<void>;
}
