/**
 * Partition assignors the broker can run itself (for members that do not
 * assign client-side, such as browsers over WebSocket), with the results
 * Kafka's clients' assignors of the same names give:
 *
 * - range: per topic, the members subscribed to it in member-id order each
 *   get a contiguous run of partitions; the first (partitions % members)
 *   members get one extra.
 * - roundrobin: every subscribed topic-partition, sorted by topic then
 *   partition, dealt in turn to the members (in member-id order), skipping
 *   members not subscribed to that partition's topic.
 *
 * Pure functions: members and partition counts in, assignment out.
 */

import type { TopicPartitions } from './consumer-protocol.js';

export interface AssignorMember {
  memberId: string;
  topics: readonly string[];
}

/** memberId -> its partitions, every member present (possibly with nothing). */
export type Assignment = Map<string, TopicPartitions[]>;

export type AssignorName = 'range' | 'roundrobin';

export const ASSIGNORS: Readonly<Record<AssignorName, (members: readonly AssignorMember[], partitionsPerTopic: ReadonlyMap<string, number>) => Assignment>> = {
  range: assignRange,
  roundrobin: assignRoundRobin,
};

export function assignRange(members: readonly AssignorMember[], partitionsPerTopic: ReadonlyMap<string, number>): Assignment {
  const assignment = emptyAssignment(members);
  for (const topic of subscribedTopics(members, partitionsPerTopic)) {
    const consumers = sortedMembers(members).filter((member) => member.topics.includes(topic));
    const partitions = partitionsPerTopic.get(topic) ?? 0;
    const perConsumer = Math.floor(partitions / consumers.length);
    const extra = partitions % consumers.length;
    consumers.forEach((consumer, i) => {
      const start = perConsumer * i + Math.min(i, extra);
      const count = perConsumer + (i < extra ? 1 : 0);
      if (count > 0) addPartitions(assignment, consumer.memberId, topic, range(start, count));
    });
  }
  return assignment;
}

export function assignRoundRobin(members: readonly AssignorMember[], partitionsPerTopic: ReadonlyMap<string, number>): Assignment {
  const assignment = emptyAssignment(members);
  const consumers = sortedMembers(members);
  if (consumers.length === 0) return assignment;
  let next = 0;
  for (const topic of subscribedTopics(members, partitionsPerTopic)) {
    for (let partition = 0; partition < (partitionsPerTopic.get(topic) ?? 0); partition++) {
      // Some member subscribes to `topic`, so this finds one within a full turn.
      while (!consumers[next % consumers.length]!.topics.includes(topic)) next++;
      addPartitions(assignment, consumers[next % consumers.length]!.memberId, topic, [partition]);
      next++;
    }
  }
  return assignment;
}

function emptyAssignment(members: readonly AssignorMember[]): Assignment {
  return new Map(members.map((member) => [member.memberId, []]));
}

function sortedMembers(members: readonly AssignorMember[]): AssignorMember[] {
  return [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
}

/** Topics some member subscribes to and that exist, sorted. */
function subscribedTopics(members: readonly AssignorMember[], partitionsPerTopic: ReadonlyMap<string, number>): string[] {
  const topics = new Set(members.flatMap((member) => member.topics));
  return [...topics].filter((topic) => partitionsPerTopic.has(topic)).sort();
}

function addPartitions(assignment: Assignment, memberId: string, topic: string, partitions: number[]): void {
  const entries = assignment.get(memberId)!;
  const entry = entries.find((candidate) => candidate.topic === topic);
  if (entry) entry.partitions.push(...partitions);
  else entries.push({ topic, partitions });
}

function range(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}
