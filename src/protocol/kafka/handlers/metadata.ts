/**
 * Metadata (key 3), versions 0-12: the brokers, the controller, the cluster
 * id and the topics a client asks for. Every Kafka client calls it first.
 *
 *   topics null (v1+), or empty in v0    every topic, internal ones flagged
 *   topics named                         those, auto-created when both the
 *                                        request (always in v0-3,
 *                                        AllowAutoTopicCreation from v4) and
 *                                        auto.create.topics.enable allow it,
 *                                        except internal (__) names
 *   topics by id (v12, name null)        those; UNKNOWN_TOPIC_ID otherwise
 *
 * Ferry creates a topic synchronously, so a topic auto-created here is
 * answered at once with NONE and its partitions, where Kafka answers
 * LEADER_NOT_AVAILABLE and lets the client ask again.
 *
 * The brokers, controller and cluster id are the broker's ClusterView: this
 * broker alone on a single node, every live broker and the elected
 * controller in cluster mode. Partitions (leader, leader epoch, replicas,
 * ISR) are as the broker core describes them: this broker alone at epoch 0
 * on a single node, the cluster's placements in cluster mode, so every
 * broker answers the same.
 */

import { INTERNAL_TOPIC_PREFIX, type Broker, type TopicDescription } from '../../../broker/broker.js';
import { ERROR_CODES, FerryError } from '../../../errors.js';
import { validateTopicName } from '../../../storage/log-manager.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { METADATA_AUTO_CREATED_TOPICS_MAX } from '../limits.js';
import {
  advertisedBrokers,
  AUTHORIZED_OPERATIONS_OMITTED,
  CLUSTER_OPERATIONS,
  TOPIC_OPERATIONS,
  topicIdBytes,
  topicIdFromBytes,
  ZERO_UUID,
} from './cluster-view.js';
import { errorFields } from './error-fields.js';

interface MetadataRequestTopic {
  topicId: Buffer;
  name: string | null;
}

interface MetadataRequest {
  topics: MetadataRequestTopic[] | null;
  allowAutoTopicCreation: boolean;
  includeClusterAuthorizedOperations: boolean;
  includeTopicAuthorizedOperations: boolean;
}

interface MetadataResponsePartition {
  errorCode: number;
  partitionIndex: number;
  leaderId: number;
  leaderEpoch: number;
  replicaNodes: number[];
  isrNodes: number[];
  offlineReplicas: number[];
}

interface MetadataResponseTopic {
  errorCode: number;
  name: string | null;
  topicId: Buffer;
  isInternal: boolean;
  partitions: MetadataResponsePartition[];
  topicAuthorizedOperations: number;
}

/** v0-3 have no AllowAutoTopicCreation: Kafka always allowed it there. */
const ALLOW_AUTO_CREATION_FIELD_VERSION = 4;
/** Name became nullable (lookup by topic id) in v12; Kafka refuses id lookups before. */
const TOPIC_ID_LOOKUP_VERSION = 12;

export const metadataHandler: ApiHandler = {
  apiKey: 3,
  versions: { min: 0, max: 12 },
  async handle(request, context) {
    const body = request as unknown as MetadataRequest;
    const topicOperations = body.includeTopicAuthorizedOperations ? TOPIC_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
    const everyTopic = body.topics === null || (context.apiVersion === 0 && body.topics.length === 0);
    const brokers = advertisedBrokers(context);
    const live = new Set(brokers.map((broker) => broker.nodeId));
    const topics = everyTopic
      ? context.broker.listTopics({ includeInternal: true }).map((topic) => topicEntry(topic, topicOperations, live))
      : await requestedTopics(body, context, topicOperations, live);
    return {
      throttleTimeMs: 0,
      brokers,
      clusterId: context.broker.cluster.clusterId(),
      controllerId: context.broker.cluster.controllerId(),
      topics,
      clusterAuthorizedOperations: body.includeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
};

async function requestedTopics(body: MetadataRequest, context: RequestContext, topicOperations: number, live: ReadonlySet<number>): Promise<MetadataResponseTopic[]> {
  const allowAutoCreation = context.broker.autoCreateTopicsEnabled && (context.apiVersion < ALLOW_AUTO_CREATION_FIELD_VERSION || body.allowAutoTopicCreation);
  const answers: MetadataResponseTopic[] = [];
  const seen = new Set<string>();
  const autoCreation = { allowed: allowAutoCreation, created: 0 };
  for (const requested of body.topics ?? []) {
    const key = requested.name ?? `id:${requested.topicId.toString('hex')}`;
    if (seen.has(key)) continue; // Kafka answers each topic once however often it is named
    seen.add(key);
    try {
      const topic = requested.name === null ? topicById(context, requested.topicId) : await topicByName(context.broker, requested.name, autoCreation);
      answers.push(topicEntry(topic, topicOperations, live));
    } catch (error) {
      answers.push(errorEntry(requested, context, errorFields(error, context.logger, `Metadata for ${key}`).errorCode));
    }
  }
  return answers;
}

/**
 * A topic by name, auto-created when allowed. One request creates at most
 * METADATA_AUTO_CREATED_TOPICS_MAX topics (each is a directory and open
 * files); names past it answer UNKNOWN_TOPIC_OR_PARTITION, which clients
 * retry, so a later request creates them.
 */
async function topicByName(broker: Broker, name: string, autoCreation: { allowed: boolean; created: number }): Promise<TopicDescription> {
  validateTopicName(name); // INVALID_TOPIC_EXCEPTION whether or not the topic could be auto-created
  try {
    return broker.describeTopic(name);
  } catch (error) {
    // Internal topics are the broker's to create, with their own partitions and configs (the group coordinator's __consumer_offsets).
    if (!(error instanceof FerryError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') || !autoCreation.allowed || name.startsWith(INTERNAL_TOPIC_PREFIX)) throw error;
    if (autoCreation.created >= METADATA_AUTO_CREATED_TOPICS_MAX) throw error;
  }
  try {
    autoCreation.created++;
    return await broker.createTopic(name);
  } catch (error) {
    // Two clients racing to auto-create the same topic: the loser answers with the winner's.
    if (error instanceof FerryError && error.errorName === 'TOPIC_ALREADY_EXISTS') return broker.describeTopic(name);
    throw error;
  }
}

function topicById(context: RequestContext, topicId: Buffer): TopicDescription {
  if (context.apiVersion < TOPIC_ID_LOOKUP_VERSION) throw new FerryError('INVALID_REQUEST', `Metadata v${context.apiVersion} cannot look topics up by id`);
  const id = topicIdFromBytes(topicId);
  const name = id === null ? undefined : context.broker.topicNameById(id);
  if (name === undefined) throw new FerryError('UNKNOWN_TOPIC_ID', `no topic has id ${id ?? 'zero'}`);
  return context.broker.describeTopic(name);
}

/**
 * A partition with no leader (none of its ISR live) says LEADER_NOT_AVAILABLE,
 * and replicas on brokers that are not live are listed offline, as Kafka's
 * metadata does: clients then wait and ask again instead of connecting to a
 * broker that is gone.
 */
function topicEntry(topic: TopicDescription, topicOperations: number, live: ReadonlySet<number>): MetadataResponseTopic {
  return {
    errorCode: 0,
    name: topic.name,
    topicId: topicIdBytes(topic.topicId),
    isInternal: topic.internal,
    partitions: topic.partitions.map((partition) => ({
      errorCode: partition.leader === -1 ? ERROR_CODES.LEADER_NOT_AVAILABLE.code : 0,
      partitionIndex: partition.partition,
      leaderId: partition.leader,
      leaderEpoch: partition.leaderEpoch,
      replicaNodes: partition.replicas,
      isrNodes: partition.isr,
      offlineReplicas: partition.replicas.filter((id) => !live.has(id)),
    })),
    topicAuthorizedOperations: topicOperations,
  };
}

/** A topic that could not be answered: named as asked (the name is nullable only from v12). */
function errorEntry(requested: MetadataRequestTopic, context: RequestContext, errorCode: number): MetadataResponseTopic {
  const name = requested.name ?? (context.apiVersion >= TOPIC_ID_LOOKUP_VERSION ? null : '');
  return {
    errorCode,
    name,
    topicId: requested.name === null ? requested.topicId : ZERO_UUID,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}
