/**
 * Replica assignment (src/cluster/assignment.ts) against Kafka's own
 * examples: AdminUtils' rack-unaware walk from a fixed start, and the
 * rack-aware walk over the rack-alternated broker list.
 */

import { describe, expect, it } from 'vitest';
import { assignReplicas, rackAlternated } from '../../src/cluster/assignment.js';

/** A `random` that makes startIndex and the first shift the given indexes (in that order) among n brokers. */
function fixed(n: number, ...indexes: number[]): () => number {
  let call = 0;
  return () => (indexes[call++]! + 0.5) / n;
}

const unracked = (...ids: number[]) => ids.map((id) => ({ id, rack: null }));

describe('replica assignment', () => {
  it("rack-unaware: Kafka's documented example (5 brokers, 10 partitions, 3 replicas, start 0, shift 0)", () => {
    // From AdminUtils' comment: p0..p9 leaders 0 1 2 3 4 0 1 2 3 4, followers shifting by one every 5 partitions.
    expect(assignReplicas(unracked(0, 1, 2, 3, 4), 10, 3, fixed(5, 0, 0))).toEqual([
      [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1],
      [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
    ]);
  });

  it('every partition has distinct replicas and leaders spread evenly, whatever the random start', () => {
    for (let trial = 0; trial < 50; trial++) {
      const assignment = assignReplicas(unracked(3, 1, 2), 6, 3);
      for (const replicas of assignment) expect(new Set(replicas).size).toBe(3);
      const leaders = assignment.map((replicas) => replicas[0]);
      expect([1, 2, 3].map((id) => leaders.filter((leader) => leader === id).length)).toEqual([2, 2, 2]);
    }
  });

  it('rack-aware when every broker has a rack: brokers alternate racks and no partition has two replicas on one rack while a rack is free', () => {
    const brokers = [
      { id: 0, rack: 'a' }, { id: 1, rack: 'a' }, { id: 2, rack: 'b' },
      { id: 3, rack: 'b' }, { id: 4, rack: 'c' }, { id: 5, rack: 'c' },
    ];
    expect(rackAlternated(brokers)).toEqual([0, 2, 4, 1, 3, 5]);
    const rackOf = new Map(brokers.map((broker) => [broker.id, broker.rack]));
    for (let trial = 0; trial < 50; trial++) {
      for (const replicas of assignReplicas(brokers, 12, 3)) {
        expect(new Set(replicas).size).toBe(3);
        expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(3);
      }
    }
  });

  it('one broker, one replica', () => {
    expect(assignReplicas(unracked(7), 3, 1)).toEqual([[7], [7], [7]]);
  });
});
