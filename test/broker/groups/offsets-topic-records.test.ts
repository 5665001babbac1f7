import { describe, expect, it } from 'vitest';
import {
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeOffsetsTopicKey,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  javaStringHashCode,
  offsetsPartitionFor,
} from '../../../src/broker/groups/offsets-topic-records.js';
import { BinaryWriter } from '../../../src/broker/groups/binary.js';

describe('__consumer_offsets keys and values', () => {
  it('writes an offset commit key as version 1: group, topic, partition', () => {
    const key = encodeOffsetCommitKey('g', 'orders', 7);
    expect(key.toString('hex')).toBe('0001' + '0001' + Buffer.from('g').toString('hex') + '0006' + Buffer.from('orders').toString('hex') + '00000007');
    expect(decodeOffsetsTopicKey(key)).toEqual({ kind: 'offset', group: 'g', topic: 'orders', partition: 7 });
  });

  it('writes an offset commit value as version 3 and reads versions 0-3', () => {
    const value = { offset: 42n, leaderEpoch: 5, metadata: 'm', commitTimestampMs: 1_700_000_000_000n };
    const bytes = encodeOffsetCommitValue(value);
    expect(bytes.readInt16BE(0)).toBe(3);
    expect(bytes.length).toBe(2 + 8 + 4 + 2 + 1 + 8);
    expect(decodeOffsetCommitValue(bytes)).toEqual(value);

    const v1 = new BinaryWriter().int16(1).int64(9n).string('x').int64(100n).int64(200n).finish();
    expect(decodeOffsetCommitValue(v1)).toEqual({ offset: 9n, leaderEpoch: -1, metadata: 'x', commitTimestampMs: 100n });
    const v0 = new BinaryWriter().int16(0).int64(9n).string('').int64(100n).finish();
    expect(decodeOffsetCommitValue(v0)).toEqual({ offset: 9n, leaderEpoch: -1, metadata: '', commitTimestampMs: 100n });
    const flexible = new BinaryWriter().int16(4).int64(9n).finish();
    expect(() => decodeOffsetCommitValue(flexible)).toThrow(/version 4/);
  });

  it('writes group metadata as key version 2 and value version 3, members included', () => {
    expect(decodeOffsetsTopicKey(encodeGroupMetadataKey('g'))).toEqual({ kind: 'group', group: 'g' });
    expect(encodeGroupMetadataKey('g').readInt16BE(0)).toBe(2);
    const value = {
      protocolType: 'consumer',
      generation: 3,
      protocol: 'range',
      leader: 'm1',
      currentStateTimestampMs: 1234n,
      members: [
        { memberId: 'm1', groupInstanceId: 'i1', clientId: 'c', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 60_000, sessionTimeoutMs: 10_000, subscription: Buffer.from([1, 2]), assignment: Buffer.from([3]) },
        { memberId: 'm2', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 60_000, sessionTimeoutMs: 10_000, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) },
      ],
    };
    const bytes = encodeGroupMetadataValue(value);
    expect(bytes.readInt16BE(0)).toBe(3);
    expect(decodeGroupMetadataValue(bytes)).toEqual(value);
  });

  it('reads a version 0 group metadata value (no rebalance timeout, no timestamp, no instance id)', () => {
    const writer = new BinaryWriter().int16(0).string('consumer').int32(1).string('range').string('m1');
    writer.array([0], () => writer.string('m1').string('c').string('h').int32(9000).bytes(Buffer.from([7])).bytes(Buffer.from([8])));
    expect(decodeGroupMetadataValue(writer.finish())).toEqual({
      protocolType: 'consumer',
      generation: 1,
      protocol: 'range',
      leader: 'm1',
      currentStateTimestampMs: -1n,
      members: [{ memberId: 'm1', groupInstanceId: null, clientId: 'c', clientHost: 'h', rebalanceTimeoutMs: 9000, sessionTimeoutMs: 9000, subscription: Buffer.from([7]), assignment: Buffer.from([8]) }],
    });
  });
});

describe('group to partition', () => {
  it("hashes as Java's String.hashCode and takes abs modulo the partition count", () => {
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('a')).toBe(97);
    expect(javaStringHashCode('hello')).toBe(99162322);
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648); // Integer.MIN_VALUE: Kafka's abs makes it 0
    expect(offsetsPartitionFor('polygenelubricants', 50)).toBe(0);
    expect(offsetsPartitionFor('hello', 50)).toBe(99162322 % 50);
    const negative = 'zzzzzzzz';
    expect(javaStringHashCode(negative)).toBeLessThan(0);
    expect(offsetsPartitionFor(negative, 50)).toBe(Math.abs(javaStringHashCode(negative)) % 50);
  });
});
