/**
 * OffsetFetch (key 9), versions 0-9: committed offsets, -1 (with empty
 * metadata) where none. Topics null (v2+) asks for every committed offset
 * of the group. v8+ asks for several groups at once, each answered alone.
 * RequireStable (v7+) needs nothing: Ferry has no pending transactional
 * offsets.
 */

import type { FetchedOffset, TopicPartition } from '../../../broker/groups/group-coordinator.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { byTopic } from './by-topic.js';
import { errorFields } from './error-fields.js';

interface RequestedTopics {
  name: string;
  partitionIndexes: number[];
}

interface OffsetFetchRequest {
  groupId: string;
  topics: RequestedTopics[] | null;
  groups: Array<{ groupId: string; topics: RequestedTopics[] | null }>;
}

const GROUPS_FROM_VERSION = 8;

interface GroupAnswer {
  errorCode: number;
  topics: Array<{ name: string; partitions: Array<Record<string, unknown>> }>;
}

export const offsetFetchHandler: ApiHandler = {
  apiKey: 9,
  versions: { min: 0, max: 9 },
  handle(request, context) {
    const body = request as unknown as OffsetFetchRequest;
    if (context.apiVersion >= GROUPS_FROM_VERSION) {
      return { throttleTimeMs: 0, groups: body.groups.map((group) => ({ groupId: group.groupId, ...fetchGroup(group.groupId, group.topics, context) })) };
    }
    const answer = fetchGroup(body.groupId, body.topics, context);
    return { throttleTimeMs: 0, ...answer };
  },
};

function fetchGroup(groupId: string, topics: RequestedTopics[] | null, context: RequestContext): GroupAnswer {
  const partitions: TopicPartition[] | null = topics && topics.flatMap((topic) => topic.partitionIndexes.map((partition) => ({ topic: topic.name, partition })));
  try {
    return { errorCode: 0, topics: byTopic(context.broker.groups.fetchOffsets(groupId, partitions), (offset) => partitionAnswer(offset, 0)) };
  } catch (error) {
    const { errorCode } = errorFields(error, context.logger, `OffsetFetch ${groupId}`);
    // v0-1 have no group-level error field: each requested partition carries it.
    const failed = (partitions ?? []).map((entry) => ({ ...entry, offset: -1n, leaderEpoch: -1, metadata: null }));
    return { errorCode, topics: byTopic(failed, (offset) => partitionAnswer(offset, errorCode)) };
  }
}

function partitionAnswer(offset: FetchedOffset, errorCode: number): Record<string, unknown> {
  return { partitionIndex: offset.partition, committedOffset: offset.offset, committedLeaderEpoch: offset.leaderEpoch, metadata: offset.metadata ?? '', errorCode };
}
