/**
 * OffsetCommit (key 8), versions 0-9: offsets stored in __consumer_offsets
 * before the answer (broker/groups). A group-wide refusal (unknown member,
 * stale generation, rebalance in progress) is every partition's error, as
 * Kafka answers it.
 *
 *   v0        no generation or member: a commit from outside group management
 *   v1        a commit timestamp per partition (-1: now)
 *   v2-4      a retention time, ignored (offsets are kept until deleted)
 *   v6+       the leader epoch the committed offset was read in
 *   v7+       group.instance.id
 */

import type { OffsetToCommit } from '../../../broker/groups/group-coordinator.js';
import type { ApiHandler } from '../handler.js';
import { byTopic } from './by-topic.js';
import { errorFields } from './error-fields.js';

interface OffsetCommitRequest {
  groupId: string;
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: Array<{
    name: string;
    partitions: Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; commitTimestamp: bigint; committedMetadata: string | null }>;
  }>;
}

const NO_GENERATION = -1;

export const offsetCommitHandler: ApiHandler = {
  apiKey: 8,
  versions: { min: 0, max: 9 },
  async handle(request, context) {
    const body = request as unknown as OffsetCommitRequest;
    const offsets: OffsetToCommit[] = body.topics.flatMap((topic) =>
      topic.partitions.map((partition) => ({
        topic: topic.name,
        partition: partition.partitionIndex,
        offset: partition.committedOffset,
        leaderEpoch: partition.committedLeaderEpoch ?? -1,
        metadata: partition.committedMetadata,
        ...(partition.commitTimestamp !== undefined ? { commitTimestampMs: partition.commitTimestamp } : {}),
      })),
    );
    let outcomes: Array<{ topic: string; partition: number; errorCode: number }>;
    try {
      const committed = await context.broker.groups.commitOffsets({
        groupId: body.groupId,
        generationId: context.apiVersion === 0 ? NO_GENERATION : body.generationIdOrMemberEpoch,
        memberId: context.apiVersion === 0 ? '' : body.memberId,
        groupInstanceId: body.groupInstanceId ?? null,
        offsets,
      });
      outcomes = committed.map((outcome) => ({ topic: outcome.topic, partition: outcome.partition, errorCode: outcome.error ? outcome.error.errorCode : 0 }));
    } catch (error) {
      const { errorCode } = errorFields(error, context.logger, `OffsetCommit ${body.groupId}`);
      outcomes = offsets.map((entry) => ({ topic: entry.topic, partition: entry.partition, errorCode }));
    }
    return { throttleTimeMs: 0, topics: byTopic(outcomes, (outcome) => ({ partitionIndex: outcome.partition, errorCode: outcome.errorCode })) };
  },
};
