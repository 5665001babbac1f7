/**
 * A group as __consumer_offsets holds it: the group-metadata record of a
 * live Group (written after each membership change that Kafka stores), and
 * the groups rebuilt at open by replaying every record in log order, the
 * last record of a key winning. Record layouts: offsets-topic-records.ts.
 */

import { assert } from '../../errors.js';
import { Group, offsetKey } from './group.js';
import { Member } from './member.js';
import type { OffsetsTopicRecord } from './offsets-topic.js';
import {
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeOffsetsTopicKey,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  type GroupMetadataValue,
} from './offsets-topic-records.js';

/** The group's members, generation, protocol and assignments as they are now. */
export function groupMetadataRecord(group: Group): OffsetsTopicRecord {
  const value: GroupMetadataValue = {
    protocolType: group.protocolType ?? '',
    generation: group.generationId,
    protocol: group.protocolName,
    leader: group.leaderId,
    currentStateTimestampMs: BigInt(group.stateTimestampMs),
    members: [...group.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      rebalanceTimeoutMs: member.rebalanceTimeoutMs,
      sessionTimeoutMs: member.sessionTimeoutMs,
      subscription: member.metadataFor(group.protocolName ?? ''),
      assignment: member.assignment,
    })),
  };
  return { key: encodeGroupMetadataKey(group.groupId), value: encodeGroupMetadataValue(value) };
}

/** Applies one stored record to `groups` (a FerryError for an unreadable one). `nowMs` stands for a state timestamp the record lacks. */
export function replayStoredRecord(groups: Map<string, Group>, record: OffsetsTopicRecord, nowMs: number): void {
  const key = decodeOffsetsTopicKey(record.key);
  const group = groups.get(key.group);
  const groupOrNew = (): Group => {
    if (group) return group;
    const made = new Group(key.group, nowMs);
    groups.set(key.group, made);
    return made;
  };
  if (key.kind === 'offset') {
    if (record.value === null) {
      group?.offsets.delete(offsetKey(key.topic, key.partition));
      return;
    }
    const value = decodeOffsetCommitValue(record.value);
    groupOrNew().offsets.set(offsetKey(key.topic, key.partition), { topic: key.topic, partition: key.partition, ...value });
    return;
  }
  if (record.value === null) {
    if (group && group.offsets.size === 0) groups.delete(key.group);
    else if (group) restoreMembership(group, emptyMetadata(), nowMs);
    return;
  }
  restoreMembership(groupOrNew(), decodeGroupMetadataValue(record.value), nowMs);
}

/** A group as last stored: Stable with its members and assignments, or Empty. Not a protocol transition, so the state is set directly. */
function restoreMembership(group: Group, value: GroupMetadataValue, nowMs: number): void {
  assert(group.state === 'Empty' || group.state === 'Stable', `group ${group.groupId} is ${group.state} while loading`);
  group.members.clear();
  group.staticMembers.clear();
  group.leaderId = null;
  group.protocolType = value.protocolType === '' ? null : value.protocolType;
  group.protocolName = value.protocol;
  group.generationId = value.generation;
  for (const stored of value.members) {
    const protocols = value.protocol === null ? [] : [{ name: value.protocol, metadata: stored.subscription }];
    const member = new Member(stored.memberId, stored.groupInstanceId, stored.clientId, stored.clientHost, stored.sessionTimeoutMs, stored.rebalanceTimeoutMs, protocols);
    member.assignment = stored.assignment;
    group.add(member);
  }
  if (value.leader !== null && group.members.has(value.leader)) group.leaderId = value.leader;
  group.state = group.members.size > 0 ? 'Stable' : 'Empty';
  group.stateTimestampMs = Number(value.currentStateTimestampMs >= 0n ? value.currentStateTimestampMs : BigInt(nowMs));
}

/** What a group-metadata tombstone leaves of a group that still has offsets: no members, no protocol. */
function emptyMetadata(): GroupMetadataValue {
  return { protocolType: '', generation: 0, protocol: null, leader: null, currentStateTimestampMs: -1n, members: [] };
}
