/**
 * The offset APIs, one function each:
 *
 *   OffsetFetch   v2-7 one group (topics null: every committed offset);
 *                 v8+ the same inside a one-group Groups array
 *   OffsetCommit  a simple commit: generation -1, empty member id, as an
 *                 admin tool commits. A coordinator accepts it only while
 *                 the group has no members (Kafka's rule). v2-4 carry a
 *                 retention time (-1: the broker's), v6+ a leader epoch (-1)
 *   ListOffsets   v1+ one offset per partition: earliest (-2), latest (-1)
 *                 or the first at or after a timestamp (-1 when none is);
 *                 a partition's error is its own outcome
 *
 * Offsets are bigint, as on the wire.
 */

import type { FerryError } from '../../errors.js';
import type { BrokerSession } from './broker-session.js';
import { checkErrorCode, kafkaError, NONE } from './kafka-errors.js';
import { REQUEST_TIMEOUT_MS } from './limits.js';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface PartitionOffset extends TopicPartition {
  offset: bigint;
}

export interface CommitOutcome extends PartitionOffset {
  error: FerryError | null;
}

/** Kafka's special ListOffsets timestamps, or a time in ms since the epoch. */
export type OffsetQuery = 'earliest' | 'latest' | { timestampMs: number };

export interface ListedOffset extends PartitionOffset {
  /** -1 for earliest and latest; the record's timestamp for a time query. */
  timestamp: bigint;
  /** The partition's error (offset -1 then): one partition gone does not hide the others. */
  error: FerryError | null;
}

const GROUPS_ARRAY_VERSION = 8;
const NO_OFFSET = -1n;
const LATEST_TIMESTAMP = -1n;
const EARLIEST_TIMESTAMP = -2n;
const NO_LEADER_EPOCH = -1;
const NOT_A_REPLICA = -1;
const READ_UNCOMMITTED = 0;

interface FetchedTopic {
  name: string;
  partitions: Array<{ partitionIndex: number; committedOffset: bigint; errorCode: number }>;
}

/** Committed offsets of `groupId`: of `partitions`, or all when null. Partitions with nothing committed are left out. */
export async function fetchCommittedOffsets(session: BrokerSession, groupId: string, partitions: readonly TopicPartition[] | null): Promise<PartitionOffset[]> {
  const topics = partitions && byTopic(partitions, (entry) => entry.partition).map(({ name, items }) => ({ name, partitionIndexes: items }));
  const { version, response } = await session.call('OffsetFetch', () => ({
    groupId,
    topics,
    groups: [{ groupId, memberId: null, memberEpoch: -1, topics }],
    requireStable: false,
  }));
  const group =
    version >= GROUPS_ARRAY_VERSION
      ? (response.groups as unknown as Array<{ errorCode: number; topics: FetchedTopic[] }>)[0]
      : (response as unknown as { errorCode: number; topics: FetchedTopic[] });
  if (group === undefined) throw kafkaError(-1, `OffsetFetch ${groupId} (no group in the answer)`);
  checkErrorCode(group.errorCode, `OffsetFetch ${groupId}`);
  const out: PartitionOffset[] = [];
  for (const topic of group.topics) {
    for (const partition of topic.partitions) {
      checkErrorCode(partition.errorCode, `OffsetFetch ${groupId} ${topic.name}-${partition.partitionIndex}`);
      if (partition.committedOffset !== NO_OFFSET) out.push({ topic: topic.name, partition: partition.partitionIndex, offset: partition.committedOffset });
    }
  }
  return out.sort(byTopicPartition);
}

/** Commits `offsets` for `groupId` from outside group management; each partition's outcome. */
export async function commitOffsets(session: BrokerSession, groupId: string, offsets: readonly PartitionOffset[]): Promise<CommitOutcome[]> {
  const { response } = await session.call('OffsetCommit', () => ({
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: byTopic(offsets, (entry) => ({ partitionIndex: entry.partition, committedOffset: entry.offset, committedLeaderEpoch: NO_LEADER_EPOCH, committedMetadata: '' })).map(
      ({ name, items }) => ({ name, partitions: items }),
    ),
  }));
  const requested = new Map(offsets.map((entry) => [`${entry.topic}\0${entry.partition}`, entry.offset]));
  const topics = response.topics as unknown as Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;
  return topics
    .flatMap((topic) =>
      topic.partitions.map((partition) => ({
        topic: topic.name,
        partition: partition.partitionIndex,
        offset: requested.get(`${topic.name}\0${partition.partitionIndex}`) ?? NO_OFFSET,
        error: partition.errorCode === NONE ? null : kafkaError(partition.errorCode, `OffsetCommit ${groupId} ${topic.name}-${partition.partitionIndex}`),
      })),
    )
    .sort(byTopicPartition);
}

function queryTimestamp(query: OffsetQuery): bigint {
  if (query === 'earliest') return EARLIEST_TIMESTAMP;
  if (query === 'latest') return LATEST_TIMESTAMP;
  return BigInt(query.timestampMs);
}

/** One offset per partition (read_uncommitted, as a tool reads), each with its own error. */
export async function listOffsets(session: BrokerSession, partitions: readonly TopicPartition[], query: OffsetQuery): Promise<ListedOffset[]> {
  const timestamp = queryTimestamp(query);
  const { response } = await session.call('ListOffsets', () => ({
    replicaId: NOT_A_REPLICA,
    isolationLevel: READ_UNCOMMITTED,
    topics: byTopic(partitions, (entry) => ({ partitionIndex: entry.partition, currentLeaderEpoch: NO_LEADER_EPOCH, timestamp })).map(({ name, items }) => ({ name, partitions: items })),
    timeoutMs: REQUEST_TIMEOUT_MS,
  }));
  const topics = response.topics as unknown as Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number; timestamp: bigint; offset: bigint }> }>;
  return topics
    .flatMap((topic) =>
      topic.partitions.map((partition) => ({
        topic: topic.name,
        partition: partition.partitionIndex,
        offset: partition.errorCode === NONE ? partition.offset : NO_OFFSET,
        timestamp: partition.timestamp,
        error: partition.errorCode === NONE ? null : kafkaError(partition.errorCode, `ListOffsets ${topic.name}-${partition.partitionIndex}`),
      })),
    )
    .sort(byTopicPartition);
}

export function byTopicPartition(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/** Groups entries by topic, in first-seen order: the wire's topic → partitions nesting. */
function byTopic<E extends TopicPartition, T>(entries: readonly E[], item: (entry: E) => T): Array<{ name: string; items: T[] }> {
  const topics = new Map<string, T[]>();
  for (const entry of entries) {
    const items = topics.get(entry.topic) ?? [];
    items.push(item(entry));
    topics.set(entry.topic, items);
  }
  return [...topics].map(([name, items]) => ({ name, items }));
}
