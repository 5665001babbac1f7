/**
 * What the metadata-style answers (Metadata, DescribeCluster, CreateTopics)
 * say about the cluster and its topics, in one place: the advertised broker
 * list (from the broker's ClusterView, src/broker/cluster-view.ts), topic ids as the 16 bytes of a Kafka uuid, and the authorized
 * operations bitfields.
 *
 * Ferry has no ACLs yet, so whoever may talk to the door (after SASL, if
 * configured) may do everything: the bitfields, when asked for, hold every
 * operation Kafka defines for the resource.
 */

import { assert } from '../../../errors.js';
import type { RequestContext } from '../handler.js';

/** Kafka's "authorized operations were not requested" (Integer.MIN_VALUE). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

/** Kafka's AclOperation codes, as bit positions of the authorized-operations bitfields. */
const ACL_OPERATION = {
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
} as const;

function bitfield(operations: readonly number[]): number {
  return operations.reduce((bits, operation) => bits | (1 << operation), 0);
}

/** Every operation Kafka defines on a topic. */
export const TOPIC_OPERATIONS = bitfield([
  ACL_OPERATION.READ,
  ACL_OPERATION.WRITE,
  ACL_OPERATION.CREATE,
  ACL_OPERATION.DELETE,
  ACL_OPERATION.ALTER,
  ACL_OPERATION.DESCRIBE,
  ACL_OPERATION.DESCRIBE_CONFIGS,
  ACL_OPERATION.ALTER_CONFIGS,
]);

/** Every operation Kafka defines on the cluster. */
export const CLUSTER_OPERATIONS = bitfield([
  ACL_OPERATION.CREATE,
  ACL_OPERATION.ALTER,
  ACL_OPERATION.DESCRIBE,
  ACL_OPERATION.CLUSTER_ACTION,
  ACL_OPERATION.DESCRIBE_CONFIGS,
  ACL_OPERATION.ALTER_CONFIGS,
  ACL_OPERATION.IDEMPOTENT_WRITE,
]);

export interface AdvertisedBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/**
 * The live brokers as the broker's ClusterView lists them (this one alone on
 * a single node), this broker at the address this door advertises.
 */
export function advertisedBrokers(context: RequestContext): AdvertisedBroker[] {
  const self = { id: context.broker.brokerId, host: context.settings.advertisedHost, kafkaPort: context.settings.advertisedPort, rack: null };
  return context.broker.cluster.brokers(self).map(({ id, host, kafkaPort, rack }) => ({ nodeId: id, host, port: kafkaPort, rack }));
}

export const UUID_BYTES = 16;
export const ZERO_UUID: Buffer = Buffer.alloc(UUID_BYTES);

/** A topic id kept as 22 base64url characters, as the 16 bytes of a Kafka uuid. */
export function topicIdBytes(topicId: string): Buffer {
  const bytes = Buffer.from(topicId, 'base64url');
  assert(bytes.length === UUID_BYTES, `topic id ${topicId} is ${bytes.length} bytes, not ${UUID_BYTES}`);
  return bytes;
}

/** A uuid from the wire as Ferry's topic id form; null for the zero uuid ("no id"). */
export function topicIdFromBytes(bytes: Buffer): string | null {
  return bytes.equals(ZERO_UUID) ? null : bytes.toString('base64url');
}
