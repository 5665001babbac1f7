/**
 * Kafka's consumer protocol (protocol type "consumer"): the bytes consumers
 * put in JoinGroup metadata (a subscription) and SyncGroup assignments. The
 * coordinator treats both as opaque; this codec is for the doors and for
 * broker-side assignment (browser members over WebSocket), and for
 * OffsetDelete's "is the group still subscribed to this topic" check.
 *
 *   subscription: version int16 | topics [string] | userData bytes?
 *                 | [v1+ ownedPartitions [topic string | partitions [int32]]]
 *                 | [v2+ generationId int32] | [v3+ rackId string?]
 *   assignment:   version int16 | assignedPartitions [topic string | partitions [int32]]
 *                 | userData bytes?
 *
 * Versions 0-3 are read; fields of a newer version past those are ignored,
 * as Kafka's clients do. Written as version 0 (assignment) and 0 or 1
 * (subscription, 1 when owned partitions are given).
 */

import { BinaryReader, BinaryWriter } from './binary.js';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface ConsumerSubscription {
  version: number;
  topics: string[];
  userData: Buffer | null;
  ownedPartitions: TopicPartitions[];
  generationId: number;
  rackId: string | null;
}

export interface ConsumerAssignment {
  version: number;
  assignedPartitions: TopicPartitions[];
  userData: Buffer | null;
}

const STRING_BYTES_MIN = 2;
const INT32_BYTES = 4;
const TOPIC_PARTITIONS_BYTES_MIN = STRING_BYTES_MIN + INT32_BYTES;

export function encodeSubscription(subscription: { topics: readonly string[]; userData?: Buffer | null; ownedPartitions?: readonly TopicPartitions[] }): Buffer {
  const version = subscription.ownedPartitions ? 1 : 0;
  const writer = new BinaryWriter().int16(version);
  writer.array(subscription.topics, (topic) => writer.string(topic));
  writer.bytes(subscription.userData ?? null);
  if (subscription.ownedPartitions) writeTopicPartitions(writer, subscription.ownedPartitions);
  return writer.finish();
}

export function decodeSubscription(bytes: Buffer): ConsumerSubscription {
  const reader = new BinaryReader(bytes, 'consumer protocol subscription');
  const version = reader.int16('version');
  const topics = reader.array('topics', STRING_BYTES_MIN, () => reader.string('topic'));
  const userData = reader.nullableBytes('userData');
  const ownedPartitions = version >= 1 && reader.remaining > 0 ? readTopicPartitions(reader) : [];
  const generationId = version >= 2 && reader.remaining > 0 ? reader.int32('generationId') : -1;
  const rackId = version >= 3 && reader.remaining > 0 ? reader.nullableString('rackId') : null;
  return { version, topics, userData: userData && Buffer.from(userData), ownedPartitions, generationId, rackId };
}

export function encodeAssignment(assignment: { assignedPartitions: readonly TopicPartitions[]; userData?: Buffer | null }): Buffer {
  const writer = new BinaryWriter().int16(0);
  writeTopicPartitions(writer, assignment.assignedPartitions);
  writer.bytes(assignment.userData ?? null);
  return writer.finish();
}

/** An empty buffer is an empty assignment (what a member gets when the leader assigned it nothing). */
export function decodeAssignment(bytes: Buffer): ConsumerAssignment {
  if (bytes.length === 0) return { version: 0, assignedPartitions: [], userData: null };
  const reader = new BinaryReader(bytes, 'consumer protocol assignment');
  const version = reader.int16('version');
  const assignedPartitions = readTopicPartitions(reader);
  const userData = reader.remaining > 0 ? reader.nullableBytes('userData') : null;
  return { version, assignedPartitions, userData: userData && Buffer.from(userData) };
}

function writeTopicPartitions(writer: BinaryWriter, entries: readonly TopicPartitions[]): void {
  writer.array(entries, (entry) => {
    writer.string(entry.topic);
    writer.array(entry.partitions, (partition) => writer.int32(partition));
  });
}

function readTopicPartitions(reader: BinaryReader): TopicPartitions[] {
  return reader.array('topic partitions', TOPIC_PARTITIONS_BYTES_MIN, () => ({
    topic: reader.string('topic'),
    partitions: reader.array('partitions', INT32_BYTES, () => reader.int32('partition')),
  }));
}
