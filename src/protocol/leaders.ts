/**
 * Where the doors send a client that reached the wrong broker: the live
 * leader of a partition as a BrokerEndpoint, or null when the broker core
 * knows none.
 *
 * The broker core names a leader's endpoint (HTTP port included) only in the
 * NotLeaderError it raises for a partition this broker does not lead; the
 * ClusterView's members carry the Kafka port alone. So the doors ask the
 * core for the partition's leader log and read the endpoint off the error:
 * no second source of truth for who leads what, at the cost of an exception
 * per partition led elsewhere, which only redirects and metadata requests
 * (rare, small) pay.
 */

import type { Broker } from '../broker/broker.js';
import { NotLeaderError, type BrokerEndpoint } from '../errors.js';

/** 'self' when this broker leads the partition; null when no leader is known (none live, or an unknown partition). */
export function leaderEndpoint(broker: Broker, topic: string, partition: number): BrokerEndpoint | 'self' | null {
  try {
    broker.leaderPartition(topic, partition);
    return 'self';
  } catch (error) {
    return error instanceof NotLeaderError ? error.leader : null;
  }
}
