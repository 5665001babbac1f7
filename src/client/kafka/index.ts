/**
 * A small Kafka admin client on Ferry's own protocol codec (groups, offsets,
 * metadata), used by `ferry groups`; it works against any Kafka broker.
 */

export { KafkaAdminClient, parseBootstrapServer, type AdminClientOptions } from './admin-client.js';
export { CLIENT_VERSIONS, negotiateVersions, type BrokerApiVersion, type NegotiatedVersions } from './api-versions.js';
export { BrokerSession } from './broker-session.js';
export { KafkaConnection, type ConnectionOptions } from './connection.js';
export type { BrokerNode, GroupDescription, GroupListing, GroupMember, GroupOutcome } from './group-calls.js';
export { kafkaError } from './kafka-errors.js';
export type { ClusterMetadata, TopicMetadata } from './metadata-call.js';
export type { SaslPlainCredentials } from './sasl-plain.js';
export type { CommitOutcome, ListedOffset, OffsetQuery, PartitionOffset, TopicPartition } from './offset-calls.js';
