/**
 * The records of __consumer_offsets, in Kafka's own key/value schemas so
 * Kafka's tools can read a Ferry data directory. Every key and value starts
 * with an int16 schema version; all fields are classic (non-flexible) types.
 *
 *   offset commit key, version 1 (0 reads the same):
 *     version int16 | group string | topic string | partition int32
 *   offset commit value, version 3 (0-3 read):
 *     version int16 | offset int64 | [v3+ leaderEpoch int32] | metadata string
 *     | commitTimestamp int64 | [v1 only: expireTimestamp int64]
 *   group metadata key, version 2:
 *     version int16 | group string
 *   group metadata value, version 3 (0-3 read):
 *     version int16 | protocolType string | generation int32 | protocol string?
 *     | leader string? | [v2+ currentStateTimestamp int64]
 *     | members [memberId string | [v3+ groupInstanceId string?] | clientId string
 *       | clientHost string | [v1+ rebalanceTimeout int32] | sessionTimeout int32
 *       | subscription bytes | assignment bytes]
 *
 * A null value (tombstone) deletes the key: compaction then drops it.
 * Flexible versions (4+, written by Kafka 3.x+ brokers) are refused loudly
 * rather than misread.
 */

import { FerryError } from '../../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';

const OFFSET_COMMIT_KEY_VERSION = 1;
const OFFSET_COMMIT_VALUE_VERSION = 3;
const GROUP_METADATA_KEY_VERSION = 2;
const GROUP_METADATA_VALUE_VERSION = 3;
const VALUE_VERSION_MAX = 3;
/** A member record holds at least: five strings/bytes lengths and two int32s. */
const MEMBER_RECORD_BYTES_MIN = 2 + 2 + 2 + 4 + 4 + 4 + 4;

export interface OffsetCommitKey {
  kind: 'offset';
  group: string;
  topic: string;
  partition: number;
}

export interface GroupMetadataKey {
  kind: 'group';
  group: string;
}

export type OffsetsTopicKey = OffsetCommitKey | GroupMetadataKey;

export interface OffsetCommitValue {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: bigint;
}

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  currentStateTimestampMs: bigint;
  members: StoredMember[];
}

export function encodeOffsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return new BinaryWriter().int16(OFFSET_COMMIT_KEY_VERSION).string(group).string(topic).int32(partition).finish();
}

export function encodeGroupMetadataKey(group: string): Buffer {
  return new BinaryWriter().int16(GROUP_METADATA_KEY_VERSION).string(group).finish();
}

export function decodeOffsetsTopicKey(bytes: Buffer): OffsetsTopicKey {
  const reader = new BinaryReader(bytes, '__consumer_offsets key');
  const version = reader.int16('version');
  if (version === 0 || version === 1) {
    return { kind: 'offset', group: reader.string('group'), topic: reader.string('topic'), partition: reader.int32('partition') };
  }
  if (version === 2) return { kind: 'group', group: reader.string('group') };
  throw new FerryError('CORRUPT_MESSAGE', `__consumer_offsets key version ${version} is not one Ferry reads (0-2)`);
}

export function encodeOffsetCommitValue(value: OffsetCommitValue): Buffer {
  return new BinaryWriter()
    .int16(OFFSET_COMMIT_VALUE_VERSION)
    .int64(value.offset)
    .int32(value.leaderEpoch)
    .string(value.metadata)
    .int64(value.commitTimestampMs)
    .finish();
}

export function decodeOffsetCommitValue(bytes: Buffer): OffsetCommitValue {
  const reader = new BinaryReader(bytes, '__consumer_offsets offset commit value');
  const version = readValueVersion(reader);
  const offset = reader.int64('offset');
  const leaderEpoch = version >= 3 ? reader.int32('leaderEpoch') : -1;
  const metadata = reader.string('metadata');
  const commitTimestampMs = reader.int64('commitTimestamp');
  if (version === 1) reader.int64('expireTimestamp');
  return { offset, leaderEpoch, metadata, commitTimestampMs };
}

export function encodeGroupMetadataValue(value: GroupMetadataValue): Buffer {
  const writer = new BinaryWriter()
    .int16(GROUP_METADATA_VALUE_VERSION)
    .string(value.protocolType)
    .int32(value.generation)
    .string(value.protocol)
    .string(value.leader)
    .int64(value.currentStateTimestampMs);
  writer.array(value.members, (member) => {
    writer
      .string(member.memberId)
      .string(member.groupInstanceId)
      .string(member.clientId)
      .string(member.clientHost)
      .int32(member.rebalanceTimeoutMs)
      .int32(member.sessionTimeoutMs)
      .bytes(member.subscription)
      .bytes(member.assignment);
  });
  return writer.finish();
}

export function decodeGroupMetadataValue(bytes: Buffer): GroupMetadataValue {
  const reader = new BinaryReader(bytes, '__consumer_offsets group metadata value');
  const version = readValueVersion(reader);
  const protocolType = reader.string('protocolType');
  const generation = reader.int32('generation');
  const protocol = reader.nullableString('protocol');
  const leader = reader.nullableString('leader');
  const currentStateTimestampMs = version >= 2 ? reader.int64('currentStateTimestamp') : -1n;
  const members = reader.array('members', MEMBER_RECORD_BYTES_MIN, () => {
    const memberId = reader.string('memberId');
    const groupInstanceId = version >= 3 ? reader.nullableString('groupInstanceId') : null;
    const clientId = reader.string('clientId');
    const clientHost = reader.string('clientHost');
    const rebalanceTimeoutMs = version >= 1 ? reader.int32('rebalanceTimeout') : -1;
    const sessionTimeoutMs = reader.int32('sessionTimeout');
    return {
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: rebalanceTimeoutMs < 0 ? sessionTimeoutMs : rebalanceTimeoutMs,
      sessionTimeoutMs,
      subscription: Buffer.from(reader.bytes('subscription')),
      assignment: Buffer.from(reader.bytes('assignment')),
    };
  });
  return { protocolType, generation, protocol, leader, currentStateTimestampMs, members };
}

function readValueVersion(reader: BinaryReader): number {
  const version = reader.int16('version');
  if (version < 0 || version > VALUE_VERSION_MAX) {
    throw new FerryError('CORRUPT_MESSAGE', `__consumer_offsets value version ${version} is not one Ferry reads (0-${VALUE_VERSION_MAX})`);
  }
  return version;
}

/** Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1] over UTF-16 code units, wrapping at 32 bits. */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** The __consumer_offsets partition of a group, as Kafka picks it: abs(hashCode) % partitions (abs(MIN_VALUE) is 0). */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  const hash = javaStringHashCode(groupId);
  const absolute = hash === -0x80000000 ? 0 : Math.abs(hash);
  return absolute % partitions;
}
