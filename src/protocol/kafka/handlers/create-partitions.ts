/**
 * CreatePartitions (key 37), versions 0-3: grows topics to Count partitions
 * (never shrinks them). Assignments, when given, must place each new
 * partition on [this broker] (single node). ValidateOnly checks everything
 * and changes nothing. Per topic: UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_PARTITIONS (not larger than now, or above the limit),
 * INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST (a topic named twice).
 */

import { TOPIC_PARTITIONS_MAX, type Broker } from '../../../broker/broker.js';
import { FerryError } from '../../../errors.js';
import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';
import { refuseRepeatedNames } from './repeated-names.js';

interface CreatePartitionsTopic {
  name: string;
  count: number;
  assignments: Array<{ brokerIds: number[] }> | null;
}

interface CreatePartitionsRequest {
  topics: CreatePartitionsTopic[];
  validateOnly: boolean;
}

export const createPartitionsHandler: ApiHandler = {
  apiKey: 37,
  versions: { min: 0, max: 3 },
  async handle(request, context) {
    const body = request as unknown as CreatePartitionsRequest;
    const refuseRepeated = refuseRepeatedNames(body.topics, (topic) => topic.name, 'topic');
    const results = [];
    for (const topic of body.topics) {
      try {
        refuseRepeated(topic);
        checkGrowth(topic, context.broker);
        if (!body.validateOnly) await context.broker.createPartitions(topic.name, topic.count);
        results.push({ name: topic.name, errorCode: 0, errorMessage: null });
      } catch (error) {
        results.push({ name: topic.name, ...errorFields(error, context.logger, `CreatePartitions ${topic.name}`) });
      }
    }
    return { throttleTimeMs: 0, results };
  },
};

/** The checks createPartitions makes, plus the assignments', so that ValidateOnly answers as the real thing would. */
function checkGrowth(topic: CreatePartitionsTopic, broker: Broker): void {
  const current = broker.describeTopic(topic.name).partitions.length;
  if (!Number.isInteger(topic.count) || topic.count <= current || topic.count > TOPIC_PARTITIONS_MAX) {
    throw new FerryError('INVALID_PARTITIONS', `topic ${topic.name} has ${current} partitions; the new count must be larger and at most ${TOPIC_PARTITIONS_MAX}, not ${topic.count}`);
  }
  if (topic.assignments === null) return;
  if (topic.assignments.length !== topic.count - current) {
    throw new FerryError('INVALID_REPLICA_ASSIGNMENT', `${topic.assignments.length} assignments for ${topic.count - current} new partitions`);
  }
  for (const assignment of topic.assignments) {
    if (assignment.brokerIds.length !== 1 || assignment.brokerIds[0] !== broker.brokerId) {
      throw new FerryError('INVALID_REPLICA_ASSIGNMENT', `assignment [${assignment.brokerIds.join(', ')}]: this cluster has only broker ${broker.brokerId}`);
    }
  }
}
