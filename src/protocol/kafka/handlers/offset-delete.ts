/**
 * OffsetDelete (key 47), version 0: forgets committed offsets of topics the
 * group no longer consumes (GROUP_SUBSCRIBED_TO_TOPIC for those it does).
 * Group-wide failures (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP) are the top-level
 * error.
 */

import type { ApiHandler } from '../handler.js';
import { byTopic } from './by-topic.js';
import { errorFields } from './error-fields.js';

interface OffsetDeleteRequest {
  groupId: string;
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number }> }>;
}

export const offsetDeleteHandler: ApiHandler = {
  apiKey: 47,
  versions: { min: 0, max: 0 },
  async handle(request, context) {
    const body = request as unknown as OffsetDeleteRequest;
    const partitions = body.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition: partition.partitionIndex })));
    try {
      const outcomes = await context.broker.groups.deleteOffsets(body.groupId, partitions);
      return { errorCode: 0, throttleTimeMs: 0, topics: byTopic(outcomes, (outcome) => ({ partitionIndex: outcome.partition, errorCode: outcome.error ? outcome.error.errorCode : 0 })) };
    } catch (error) {
      return { errorCode: errorFields(error, context.logger, `OffsetDelete ${body.groupId}`).errorCode, throttleTimeMs: 0, topics: [] };
    }
  },
};
