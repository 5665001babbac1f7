import { describe, expect, it } from 'vitest';
import { assignRange, assignRoundRobin } from '../../../src/broker/groups/assignors.js';
import { assignConsumerGroup } from '../../../src/broker/groups/broker-assignment.js';
import { decodeAssignment, encodeSubscription } from '../../../src/broker/groups/consumer-protocol.js';

const partitions = new Map([
  ['t0', 3],
  ['t1', 3],
]);

describe('range assignor', () => {
  it('gives each member a contiguous run per topic, the first members one extra', () => {
    const result = assignRange(
      [
        { memberId: 'c1', topics: ['t0', 't1'] },
        { memberId: 'c0', topics: ['t0', 't1'] },
      ],
      partitions,
    );
    expect(result).toEqual(
      new Map([
        ['c1', [{ topic: 't0', partitions: [2] }, { topic: 't1', partitions: [2] }]],
        ['c0', [{ topic: 't0', partitions: [0, 1] }, { topic: 't1', partitions: [0, 1] }]],
      ]),
    );
  });

  it('only assigns a topic among its subscribers, ignores unknown topics, and leaves extra members empty', () => {
    const result = assignRange(
      [
        { memberId: 'a', topics: ['t0', 'missing'] },
        { memberId: 'b', topics: ['t1'] },
        { memberId: 'c', topics: ['t1'] },
        { memberId: 'd', topics: ['t1'] },
        { memberId: 'e', topics: ['t1'] },
      ],
      partitions,
    );
    expect(result.get('a')).toEqual([{ topic: 't0', partitions: [0, 1, 2] }]);
    expect([result.get('b'), result.get('c'), result.get('d'), result.get('e')]).toEqual([[{ topic: 't1', partitions: [0] }], [{ topic: 't1', partitions: [1] }], [{ topic: 't1', partitions: [2] }], []]);
  });
});

describe('round-robin assignor', () => {
  it('deals sorted topic-partitions to members in turn', () => {
    const result = assignRoundRobin(
      [
        { memberId: 'c1', topics: ['t0', 't1'] },
        { memberId: 'c0', topics: ['t0', 't1'] },
      ],
      partitions,
    );
    expect(result.get('c0')).toEqual([{ topic: 't0', partitions: [0, 2] }, { topic: 't1', partitions: [1] }]);
    expect(result.get('c1')).toEqual([{ topic: 't0', partitions: [1] }, { topic: 't1', partitions: [0, 2] }]);
  });

  it('skips members not subscribed to a topic', () => {
    const result = assignRoundRobin(
      [
        { memberId: 'a', topics: ['t0'] },
        { memberId: 'b', topics: ['t0', 't1'] },
      ],
      partitions,
    );
    expect(result.get('a')).toEqual([{ topic: 't0', partitions: [0, 2] }]);
    expect(result.get('b')).toEqual([{ topic: 't0', partitions: [1] }, { topic: 't1', partitions: [0, 1, 2] }]);
  });
});

describe('broker-side assignment of a consumer group', () => {
  it('decodes subscriptions, assigns existing topics only, and encodes each assignment', () => {
    const members = [
      { memberId: 'b', groupInstanceId: null, metadata: encodeSubscription({ topics: ['t0', 'gone'] }) },
      { memberId: 'a', groupInstanceId: null, metadata: encodeSubscription({ topics: ['t0'] }) },
    ];
    const assigned = assignConsumerGroup(members, 'range', (topic) => (topic === 't0' ? 3 : undefined));
    expect(assigned.map((entry) => [entry.memberId, decodeAssignment(entry.assignment).assignedPartitions])).toEqual([
      ['b', [{ topic: 't0', partitions: [2] }]],
      ['a', [{ topic: 't0', partitions: [0, 1] }]],
    ]);
  });
});
