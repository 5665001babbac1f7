/**
 * Where a WebSocket group member belongs in a cluster: the coordinator to
 * name in a NOT_COORDINATOR error, and which assigned partitions this broker
 * pushes itself versus those the client must read from their leaders.
 *
 * Design (client follows, not door proxies): the door answers a join it
 * cannot coordinate with NOT_COORDINATOR naming the coordinator, and lists
 * assigned partitions led elsewhere in the assignment (`elsewhere`) with
 * their committed offsets, instead of relaying the group protocol and the
 * reads over the Kafka protocol to other brokers. The client already keeps
 * one socket per leader (src/client/leader-follower.ts), so following costs
 * it nothing new, while proxying would have put a second Kafka client inside
 * every broker and an extra hop on every pushed byte. A broker that
 * coordinates the group and leads every assigned partition (a single node
 * always) answers as before: no `elsewhere`, no extra round trip.
 */

import type { Broker } from '../../broker/broker.js';
import { FerryError, type BrokerEndpoint } from '../../errors.js';
import { leaderEndpoint } from '../leaders.js';
import type { PartitionElsewhere } from './protocol.js';
import { wireLeader } from './frames.js';

/** Coordinator errors after which the client should join at another broker. */
const COORDINATOR_ERRORS: ReadonlySet<string> = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS']);

/** The coordinator to name with `error` (for the error's `leader`); undefined when the error is not about the coordinator or none is known. */
export function coordinatorFor(broker: Broker, groupId: string, error: unknown): BrokerEndpoint | undefined {
  if (!(error instanceof FerryError) || !COORDINATOR_ERRORS.has(error.errorName)) return undefined;
  try {
    return broker.groupCoordinatorEndpoint(groupId) ?? undefined;
  } catch (lookupError) {
    if (lookupError instanceof FerryError) return undefined; // closing, or no such topic yet: the client asks again
    throw lookupError;
  }
}

/** `partitions` split into those this broker leads (pushed here) and those led elsewhere (read by the client at their leader). */
export function splitByLeader(broker: Broker, topic: string, partitions: readonly number[]): { here: number[]; elsewhere: Array<{ partition: number; leader: BrokerEndpoint | null }> } {
  const here: number[] = [];
  const elsewhere: Array<{ partition: number; leader: BrokerEndpoint | null }> = [];
  for (const partition of partitions) {
    const leader = leaderEndpoint(broker, topic, partition);
    if (leader === 'self') here.push(partition);
    else elsewhere.push({ partition, leader });
  }
  return { here, elsewhere };
}

export function partitionElsewhere(partition: number, committedOffset: number, leader: BrokerEndpoint | null): PartitionElsewhere {
  return { partition, offset: committedOffset, leader: leader === null ? null : wireLeader(leader) };
}
