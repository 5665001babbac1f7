/**
 * Assignment done by the broker for a consumer group's leader that cannot
 * run an assignor itself (a browser over WebSocket): the members'
 * subscriptions (consumer-protocol bytes from their JoinGroup) in, each
 * member's assignment bytes for the leader's SyncGroup out. Topics that do
 * not exist are skipped, as a client assignor skips topics missing from
 * its metadata.
 */

import { ASSIGNORS, type AssignorName } from './assignors.js';
import { decodeSubscription, encodeAssignment } from './consumer-protocol.js';
import type { JoinedMember } from './member.js';

export interface MemberAssignment {
  memberId: string;
  assignment: Buffer;
}

/** `partitionsOf(topic)`: the topic's partition count, or undefined when it does not exist. */
export function assignConsumerGroup(members: readonly JoinedMember[], assignor: AssignorName, partitionsOf: (topic: string) => number | undefined): MemberAssignment[] {
  const subscribers = members.map((member) => ({ memberId: member.memberId, topics: decodeSubscription(member.metadata).topics }));
  const partitionsPerTopic = new Map<string, number>();
  for (const topic of new Set(subscribers.flatMap((subscriber) => subscriber.topics))) {
    const partitions = partitionsOf(topic);
    if (partitions !== undefined) partitionsPerTopic.set(topic, partitions);
  }
  const assignment = ASSIGNORS[assignor](subscribers, partitionsPerTopic);
  return members.map((member) => ({ memberId: member.memberId, assignment: encodeAssignment({ assignedPartitions: assignment.get(member.memberId) ?? [] }) }));
}
