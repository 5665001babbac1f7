/**
 * Replica assignment for a new topic, as Kafka's AdminUtils.assignReplicasToBrokers
 * does it, so leaders and replicas spread the same way:
 *
 *   rack-unaware   brokers by id; partition p's first replica (its leader)
 *                  is broker (start + p) mod n, from a random start; the
 *                  followers come after it at a shift that is random too and
 *                  grows by one every n partitions, so followers spread as
 *                  well as leaders
 *   rack-aware     when every broker has a rack: the same walk over the
 *                  brokers listed alternating racks (a1 b1 c1 a2 b2 ...), a
 *                  follower taken only from a rack (and broker) holding no
 *                  replica of the partition yet, while there is one
 *
 * Pure: the random choices come from the caller's `random`.
 */

import { assert } from '../errors.js';

export interface AssignableBroker {
  id: number;
  rack: string | null;
}

/** replicas[p] is partition p's replica list, its leader first. */
export function assignReplicas(brokers: readonly AssignableBroker[], partitions: number, replicationFactor: number, random: () => number = Math.random): number[][] {
  assert(replicationFactor >= 1 && replicationFactor <= brokers.length, `replication factor ${replicationFactor} with ${brokers.length} brokers`);
  assert(Number.isInteger(partitions) && partitions >= 1, `partition count ${partitions}`);
  const rackAware = brokers.every((broker) => broker.rack !== null);
  return rackAware ? assignRackAware(brokers, partitions, replicationFactor, random) : assignRackUnaware(brokers, partitions, replicationFactor, random);
}

function randomIndex(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

/** Kafka's replicaIndex: the broker `replica` places after the first, never the first itself. */
function replicaIndex(firstReplicaIndex: number, secondReplicaShift: number, replica: number, brokerCount: number): number {
  const shift = 1 + ((secondReplicaShift + replica) % (brokerCount - 1));
  return (firstReplicaIndex + shift) % brokerCount;
}

function assignRackUnaware(brokers: readonly AssignableBroker[], partitions: number, replicationFactor: number, random: () => number): number[][] {
  const ids = brokers.map((broker) => broker.id).sort((a, b) => a - b);
  const n = ids.length;
  const startIndex = randomIndex(random, n);
  let nextReplicaShift = randomIndex(random, n);
  const assignment: number[][] = [];
  for (let partition = 0; partition < partitions; partition++) {
    if (partition > 0 && partition % n === 0) nextReplicaShift++;
    const first = (partition + startIndex) % n;
    const replicas = [ids[first]!];
    for (let j = 0; j < replicationFactor - 1; j++) replicas.push(ids[replicaIndex(first, nextReplicaShift, j, n)]!);
    assignment.push(replicas);
  }
  return assignment;
}

/** Brokers ordered rack by rack in turn (racks and the brokers of each by name and id): Kafka's getRackAlternatedBrokerList. */
export function rackAlternated(brokers: readonly AssignableBroker[]): number[] {
  const byRack = new Map<string, number[]>();
  for (const broker of brokers) {
    const rack = broker.rack ?? '';
    byRack.set(rack, [...(byRack.get(rack) ?? []), broker.id]);
  }
  const racks = [...byRack.keys()].sort();
  for (const rack of racks) byRack.get(rack)!.sort((a, b) => a - b);
  const ordered: number[] = [];
  for (let round = 0; ordered.length < brokers.length; round++) {
    for (const rack of racks) {
      const id = byRack.get(rack)![round];
      if (id !== undefined) ordered.push(id);
    }
  }
  return ordered;
}

function assignRackAware(brokers: readonly AssignableBroker[], partitions: number, replicationFactor: number, random: () => number): number[][] {
  const rackOf = new Map(brokers.map((broker) => [broker.id, broker.rack ?? '']));
  const rackCount = new Set(rackOf.values()).size;
  const ordered = rackAlternated(brokers);
  const n = ordered.length;
  const startIndex = randomIndex(random, n);
  let nextReplicaShift = randomIndex(random, n);
  const assignment: number[][] = [];
  for (let partition = 0; partition < partitions; partition++) {
    if (partition > 0 && partition % n === 0) nextReplicaShift++;
    const first = (partition + startIndex) % n;
    const leader = ordered[first]!;
    const replicas = [leader];
    const racksUsed = new Set([rackOf.get(leader)]);
    const brokersUsed = new Set([leader]);
    let k = 0;
    for (let j = 0; j < replicationFactor - 1; j++) {
      for (;;) {
        const broker = ordered[replicaIndex(first, nextReplicaShift * rackCount, k, n)]!;
        const rack = rackOf.get(broker);
        k++;
        // A rack already holding a replica only once every rack holds one; likewise a broker.
        if ((!racksUsed.has(rack) || racksUsed.size === rackCount) && (!brokersUsed.has(broker) || brokersUsed.size === n)) {
          replicas.push(broker);
          racksUsed.add(rack);
          brokersUsed.add(broker);
          break;
        }
      }
    }
    assignment.push(replicas);
  }
  return assignment;
}
