/**
 * Before a produce over HTTP writes anything: is this the broker to write
 * at? A produce may touch several partitions (records without partition_id
 * go where the partitioner puts them), and the broker partitions them only
 * as it appends, so once it has begun a NOT_LEADER_OR_FOLLOWER may come
 * after some records were written here: a redirect then would have the
 * client send them again. Hence the check up front, over every partition
 * the request may touch:
 *
 *   this broker leads one of them         write here (the others' records get
 *                                         per-record errors naming their leader)
 *   it leads none; one has a live leader  307 to the leader of the first
 *                                         partition (in partition order) that
 *                                         has one; that broker applies the same rule
 *   none has a live leader                503 LEADER_NOT_AVAILABLE, Retry-After: 1
 *
 * Kafka's producers split a batch by partition leader themselves; this is
 * the nearest an HTTP client that sends one body can get: a request whose
 * partitions share one leader (a single-partition topic, records naming
 * their partition, or a cluster whose leaders are balanced onto one broker
 * for that topic) is redirected and written whole.
 */

import type { Broker } from '../../broker/broker.js';
import { FerryError, NotLeaderError } from '../../errors.js';
import { leaderEndpoint } from '../leaders.js';
import type { ParsedRecord } from './records-json.js';

/** Throws the NotLeaderError the router turns into a 307, or LEADER_NOT_AVAILABLE; returns when the write belongs here. */
export function checkProduceLeader(broker: Broker, topic: string, records: readonly ParsedRecord[]): void {
  const partitions = partitionsTouched(broker, topic, records);
  if (partitions !== null) checkLeadsOneOf(broker, topic, partitions);
}

/**
 * The same rule for any request over several partitions (a topic stream,
 * sse.ts): returns when this broker leads one of `partitions` (sorted).
 * Redirecting only from a broker that leads none keeps two leaders of one
 * topic from sending a client back and forth.
 */
export function checkLeadsOneOf(broker: Broker, topic: string, partitions: readonly number[]): void {
  let elsewhere: NotLeaderError | null = null;
  for (const partition of partitions) {
    const leader = leaderEndpoint(broker, topic, partition);
    if (leader === 'self') return;
    if (leader !== null && elsewhere === null) elsewhere = new NotLeaderError(`broker ${broker.brokerId} leads none of the partitions of ${topic} asked for; partition ${partition} is led by broker ${leader.id} at ${leader.host}:${leader.httpPort}`, leader);
  }
  throw elsewhere ?? new FerryError('LEADER_NOT_AVAILABLE', `none of the partitions of ${topic} asked for has a leader now: a failover is under way`);
}

/** Sorted partitions the records may go to; null when the topic does not exist yet (auto-creation decides, here) or names none. */
function partitionsTouched(broker: Broker, topic: string, records: readonly ParsedRecord[]): number[] | null {
  let count: number;
  try {
    count = broker.describeTopic(topic).partitions.length;
  } catch {
    return null;
  }
  const named = new Set<number>();
  for (const { record } of records) {
    if (record.partition === undefined) return Array.from({ length: count }, (_, i) => i);
    named.add(record.partition);
  }
  const partitions = [...named].filter((partition) => partition < count).sort((a, b) => a - b);
  return partitions.length > 0 ? partitions : null;
}
