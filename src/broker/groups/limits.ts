/**
 * Every limit and default of the group coordinator in one place, named after
 * Kafka's broker settings where Kafka has one. Units are last in each name.
 */

export interface GroupCoordinatorSettings {
  /** group.initial.rebalance.delay.ms: how long a new (empty) group waits for more members before its first generation. */
  initialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms */
  sessionTimeoutMinMs: number;
  /** group.max.session.timeout.ms */
  sessionTimeoutMaxMs: number;
  /** group.max.size: members (joined or awaiting a member id) per group. */
  groupSizeMax: number;
  /**
   * Groups this coordinator keeps (Kafka has no such bound). Beyond it a
   * JoinGroup or OffsetCommit that would make a new group is refused with
   * COORDINATOR_NOT_AVAILABLE, which clients retry; existing groups go on.
   */
  groupsMax: number;
  /** offset.metadata.max.bytes: the free-form string committed with an offset. */
  offsetMetadataBytesMax: number;
  /** offsets.topic.num.partitions: fixed once __consumer_offsets exists. */
  offsetsTopicPartitions: number;
  /** offsets.retention.minutes, in ms: how long an empty group's offsets (or a simple committer's) outlive their last use. */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number;
}

export const DEFAULT_GROUP_SETTINGS: Readonly<GroupCoordinatorSettings> = Object.freeze({
  initialRebalanceDelayMs: 3000,
  sessionTimeoutMinMs: 6000,
  sessionTimeoutMaxMs: 1_800_000,
  // Kafka's default is unbounded (Int.MaxValue); a bound keeps one group from exhausting memory.
  groupSizeMax: 10_000,
  // Each group costs memory until the retention pass removes it; a bound keeps group ids chosen by clients from exhausting it.
  groupsMax: 100_000,
  offsetMetadataBytesMax: 4096,
  offsetsTopicPartitions: 50,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
});

/** The internal compacted topic holding committed offsets and group metadata (Kafka's name, so tools recognise it). */
export const OFFSETS_TOPIC = '__consumer_offsets';

/** Group ids, member ids and instance ids are Kafka strings (int16 length); ids longer than this are refused. */
export const GROUP_ID_CHARS_MAX = 32_767;
/** Protocols one member may offer in a JoinGroup. */
export const PROTOCOLS_PER_MEMBER_MAX = 64;
/** Bytes of one protocol's metadata (a subscription) or one member's assignment. */
export const MEMBER_METADATA_BYTES_MAX = 1024 * 1024;
/** Bytes of records read at once while loading __consumer_offsets. */
export const LOAD_READ_BYTES = 1024 * 1024;
