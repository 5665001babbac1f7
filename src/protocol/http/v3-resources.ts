/**
 * The Confluent REST Proxy v3 resource shapes (KafkaCluster, KafkaTopic,
 * KafkaPartition, KafkaTopicConfig and their lists) built from the broker's
 * descriptions. Pure functions: no I/O, no broker calls.
 *
 * Every resource carries `kind`, `metadata.self` (an absolute URL built from
 * the request's Host) and `metadata.resource_name` (a CRN), and links to
 * related collections as `{ "related": url }`, as Confluent's do. Ferry adds,
 * and documents here:
 *   KafkaTopic      topic_id (Kafka's topic UUID, base64url)
 *   KafkaPartition  leader_id, leader_epoch, replica_ids, isr_ids,
 *                   log_start_offset, log_end_offset, high_watermark
 * Relationships Ferry does not serve yet (acls, brokers, consumer groups,
 * reassignments) are present for shape compatibility and answer 404.
 */

import type { PartitionDescription, TopicDescription } from '../../broker/broker.js';
import { NO_CONTROLLER_ID } from '../../broker/cluster-view.js';
import type { PartitionPlacement } from '../../broker/topic-placements.js';

export interface Related {
  related: string;
}

export interface ResourceList<T> {
  kind: string;
  metadata: { self: string; next: string | null };
  data: T[];
}

/** Where URLs are rooted: `http://<Host header>` and the cluster's id. */
export interface ResourceBase {
  origin: string;
  clusterId: string;
}

export function clusterUrl(base: ResourceBase): string {
  return `${base.origin}/v3/clusters/${encodeURIComponent(base.clusterId)}`;
}

function topicUrl(base: ResourceBase, topic: string): string {
  return `${clusterUrl(base)}/topics/${encodeURIComponent(topic)}`;
}

function clusterCrn(base: ResourceBase): string {
  return `crn:///kafka=${base.clusterId}`;
}

function related(url: string): Related {
  return { related: url };
}

export function list<T>(kind: string, self: string, data: T[]): ResourceList<T> {
  return { kind, metadata: { self, next: null }, data };
}

export function kafkaCluster(base: ResourceBase, controllerId: number) {
  const url = clusterUrl(base);
  return {
    kind: 'KafkaCluster',
    metadata: { self: url, resource_name: clusterCrn(base) },
    cluster_id: base.clusterId,
    // No controller elected at this moment (cluster mode, between two): no link, as Confluent's null relationship.
    controller: controllerId === NO_CONTROLLER_ID ? null : related(`${url}/brokers/${controllerId}`),
    acls: related(`${url}/acls`),
    brokers: related(`${url}/brokers`),
    broker_configs: related(`${url}/broker-configs`),
    consumer_groups: related(`${url}/consumer-groups`),
    topics: related(`${url}/topics`),
    partition_reassignments: related(`${url}/topics/-/partitions/-/reassignment`),
  };
}

export function kafkaTopic(base: ResourceBase, topic: TopicDescription) {
  const url = topicUrl(base, topic.name);
  return {
    kind: 'KafkaTopic',
    metadata: { self: url, resource_name: `${clusterCrn(base)}/topic=${topic.name}` },
    cluster_id: base.clusterId,
    topic_name: topic.name,
    topic_id: topic.topicId,
    is_internal: topic.internal,
    replication_factor: topic.partitions[0]?.replicas.length ?? 1,
    partitions_count: topic.partitions.length,
    partitions: related(`${url}/partitions`),
    configs: related(`${url}/configs`),
    partition_reassignments: related(`${url}/partitions/-/reassignment`),
    authorized_operations: [] as string[],
  };
}

/** A partition as described; while a reassignment runs (cluster mode) its placement's adding and removing replicas come along. */
type DescribedPartition = PartitionDescription & Pick<PartitionPlacement, 'adding' | 'removing'>;

export function kafkaPartition(base: ResourceBase, topic: string, partition: DescribedPartition) {
  const url = `${topicUrl(base, topic)}/partitions/${partition.partition}`;
  return {
    kind: 'KafkaPartition',
    metadata: { self: url, resource_name: `${clusterCrn(base)}/topic=${topic}/partition=${partition.partition}` },
    cluster_id: base.clusterId,
    topic_name: topic,
    partition_id: partition.partition,
    leader: related(`${url}/replicas/${partition.leader}`),
    replicas: related(`${url}/replicas`),
    reassignment: related(`${url}/reassignment`),
    leader_id: partition.leader,
    leader_epoch: partition.leaderEpoch,
    replica_ids: partition.replicas,
    isr_ids: partition.isr,
    log_start_offset: partition.logStartOffset,
    log_end_offset: partition.logEndOffset,
    high_watermark: partition.highWatermark,
    // Only while a reassignment moves the partition, as kafka-topics prints them (the names of the v3 reassignment resource).
    ...(partition.adding && partition.adding.length > 0 ? { adding_replica_ids: partition.adding } : {}),
    ...(partition.removing && partition.removing.length > 0 ? { removing_replica_ids: partition.removing } : {}),
  };
}

/** A config set on the topic (Ferry lists only those; everything else is the broker default). */
export function kafkaTopicConfig(base: ResourceBase, topic: string, name: string, value: string) {
  return {
    kind: 'KafkaTopicConfig',
    metadata: { self: `${topicUrl(base, topic)}/configs/${encodeURIComponent(name)}`, resource_name: `${clusterCrn(base)}/topic=${topic}/config=${name}` },
    cluster_id: base.clusterId,
    topic_name: topic,
    name,
    value,
    is_default: false,
    is_read_only: false,
    is_sensitive: false,
    source: 'DYNAMIC_TOPIC_CONFIG',
    synonyms: [] as unknown[],
  };
}

export function topicListUrl(base: ResourceBase): string {
  return `${clusterUrl(base)}/topics`;
}

export function partitionListUrl(base: ResourceBase, topic: string): string {
  return `${topicUrl(base, topic)}/partitions`;
}

export function configListUrl(base: ResourceBase, topic: string): string {
  return `${topicUrl(base, topic)}/configs`;
}
