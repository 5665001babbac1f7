/**
 * CreateTopics (key 19), versions 0-7. Each topic succeeds or fails alone:
 *
 *   NumPartitions -1               num.partitions
 *   ReplicationFactor -1           the broker's default (1 on a single node;
 *                                  default.replication.factor or
 *                                  min(3, live brokers) in a cluster)
 *   ReplicationFactor n            1 on a single node; at most the live
 *                                  brokers in a cluster (the broker core
 *                                  checks); INVALID_REPLICATION_FACTOR otherwise
 *   Assignments                    only with both counts -1, as Kafka; each
 *                                  partition 0..n-1 once, every one the same
 *                                  number of distinct live brokers (the broker
 *                                  core checks; the first is the preferred
 *                                  leader); otherwise INVALID_REPLICA_ASSIGNMENT
 *   Configs                        supported topic configs (INVALID_CONFIG
 *                                  with the reason otherwise)
 *   ValidateOnly (v1+)             every check, nothing created
 *
 * v5+ answers the partition count, replication factor and every config
 * with its source, as DescribeConfigs would; v7+ the topic id (zero for
 * ValidateOnly, as Kafka). A name given twice is INVALID_REQUEST for both.
 */

import type { Broker } from '../../../broker/broker.js';
import { FerryError } from '../../../errors.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { topicIdBytes, ZERO_UUID } from './cluster-view.js';
import { isTopicConfigName, topicConfigEntries } from './config-entries.js';
import { errorFields } from './error-fields.js';
import { refuseRepeatedNames } from './repeated-names.js';

interface CreatableReplicaAssignment {
  partitionIndex: number;
  brokerIds: number[];
}

interface CreatableTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: CreatableReplicaAssignment[];
  configs: Array<{ name: string; value: string | null }>;
}

interface CreateTopicsRequest {
  topics: CreatableTopic[];
  validateOnly: boolean;
}

/** Kafka's "use the broker's default" for NumPartitions and ReplicationFactor. */
const USE_DEFAULT = -1;
interface CreatedTopic {
  partitions: number;
  replicationFactor: number;
  topicId: Buffer;
  configs: Record<string, string>;
}

export const createTopicsHandler: ApiHandler = {
  apiKey: 19,
  versions: { min: 0, max: 7 },
  async handle(request, context) {
    const body = request as unknown as CreateTopicsRequest;
    const refuseRepeated = refuseRepeatedNames(body.topics, (topic) => topic.name, 'topic');
    const topics = [];
    // One at a time: each creation writes the metadata file, and the answers keep the request's order.
    for (const topic of body.topics) {
      try {
        refuseRepeated(topic);
        topics.push(createdEntry(topic.name, await createTopic(topic, body.validateOnly, context.broker), context));
      } catch (error) {
        topics.push({ name: topic.name, topicId: ZERO_UUID, ...errorFields(error, context.logger, `CreateTopics ${topic.name}`), numPartitions: USE_DEFAULT, replicationFactor: USE_DEFAULT, configs: null });
      }
    }
    return { throttleTimeMs: 0, topics };
  },
};

async function createTopic(topic: CreatableTopic, validateOnly: boolean, broker: Broker): Promise<CreatedTopic> {
  const configs = topicConfigs(topic);
  const assignments = replicaAssignments(topic);
  const options = {
    configs,
    ...(assignments ? { assignments } : {}),
    ...(topic.numPartitions === USE_DEFAULT ? {} : { partitions: topic.numPartitions }),
    ...(topic.replicationFactor === USE_DEFAULT ? {} : { replicationFactor: topic.replicationFactor }),
  };
  if (validateOnly) return { ...broker.validateNewTopic(topic.name, options), topicId: ZERO_UUID, configs };
  const created = await broker.createTopic(topic.name, options);
  return { partitions: created.partitions.length, replicationFactor: created.partitions[0]?.replicas.length ?? 1, topicId: topicIdBytes(created.topicId), configs: created.configs };
}

function createdEntry(name: string, created: CreatedTopic, context: RequestContext): Record<string, unknown> {
  const configs = topicConfigEntries(created.configs, context.broker.topicConfigDefaults, false).map((entry) => ({
    name: entry.name,
    value: entry.value,
    readOnly: entry.readOnly,
    configSource: entry.configSource,
    isSensitive: entry.isSensitive,
  }));
  return { name, topicId: created.topicId, errorCode: 0, errorMessage: null, numPartitions: created.partitions, replicationFactor: created.replicationFactor, configs };
}

/** The replicas of each partition 0..n-1 when the request assigns them (the broker core checks the brokers); undefined when it gives counts. */
function replicaAssignments(topic: CreatableTopic): number[][] | undefined {
  if (topic.assignments.length === 0) return undefined;
  if (topic.numPartitions !== USE_DEFAULT || topic.replicationFactor !== USE_DEFAULT) {
    throw new FerryError('INVALID_REQUEST', 'give either NumPartitions and ReplicationFactor or Assignments, not both (the counts must be -1 with assignments)');
  }
  const sorted = [...topic.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex);
  sorted.forEach((assignment, index) => {
    if (assignment.partitionIndex !== index) throw new FerryError('INVALID_REPLICA_ASSIGNMENT', `assignments must cover partitions 0 to ${sorted.length - 1} once each`);
  });
  return sorted.map((assignment) => [...assignment.brokerIds]);
}

function topicConfigs(topic: CreatableTopic): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const config of topic.configs) {
    if (!isTopicConfigName(config.name)) throw new FerryError('INVALID_CONFIG', `unknown topic config ${config.name}`);
    if (Object.hasOwn(configs, config.name)) throw new FerryError('INVALID_REQUEST', `config ${config.name} is given more than once`);
    if (config.value === null) throw new FerryError('INVALID_REQUEST', `config ${config.name}: a null value is not supported`);
    configs[config.name] = config.value;
  }
  return configs;
}
