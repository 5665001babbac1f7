import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '../../../src/broker/groups/consumer-protocol.js';
import { BinaryWriter } from '../../../src/broker/groups/binary.js';
import { FerryError } from '../../../src/errors.js';

// kafkajs's own consumer-protocol encoders: the real client these bytes must agree with.
const require = createRequire(import.meta.url);
const { AssignerProtocol } = require('kafkajs') as {
  AssignerProtocol: {
    MemberMetadata: { encode(value: { version: number; topics: string[]; userData?: Buffer }): Buffer; decode(bytes: Buffer): { version: number; topics: string[]; userData: Buffer } };
    MemberAssignment: {
      encode(value: { version: number; assignment: Record<string, number[]>; userData?: Buffer }): Buffer;
      decode(bytes: Buffer): { version: number; assignment: Record<string, number[]>; userData: Buffer } | null;
    };
  };
};

describe('consumer protocol subscription', () => {
  it('reads what kafkajs writes and writes what kafkajs reads (v0)', () => {
    const fromKafkajs = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['orders', 'payments'], userData: Buffer.from('ud') });
    expect(decodeSubscription(fromKafkajs)).toEqual({ version: 0, topics: ['orders', 'payments'], userData: Buffer.from('ud'), ownedPartitions: [], generationId: -1, rackId: null });
    const ours = encodeSubscription({ topics: ['orders', 'payments'], userData: Buffer.from('ud') });
    expect(ours).toEqual(fromKafkajs);
    expect(AssignerProtocol.MemberMetadata.decode(ours)).toEqual({ version: 0, topics: ['orders', 'payments'], userData: Buffer.from('ud') });
  });

  it('writes v1 with owned partitions and reads v3 (generation, rack) and unknown trailing fields of newer versions', () => {
    const v1 = encodeSubscription({ topics: ['t'], ownedPartitions: [{ topic: 't', partitions: [0, 2] }] });
    expect(decodeSubscription(v1)).toMatchObject({ version: 1, topics: ['t'], userData: null, ownedPartitions: [{ topic: 't', partitions: [0, 2] }], generationId: -1 });

    const v3 = new BinaryWriter().int16(3);
    v3.array(['t'], (topic) => v3.string(topic));
    v3.bytes(null);
    v3.array([{ topic: 't', partitions: [1] }], (entry) => {
      v3.string(entry.topic);
      v3.array(entry.partitions, (partition) => v3.int32(partition));
    });
    v3.int32(7).string('rack-a').int32(12345); // the last field belongs to some future version
    expect(decodeSubscription(v3.finish())).toEqual({ version: 3, topics: ['t'], userData: null, ownedPartitions: [{ topic: 't', partitions: [1] }], generationId: 7, rackId: 'rack-a' });
  });

  it('refuses truncated bytes and absurd counts with CORRUPT_MESSAGE', () => {
    const whole = encodeSubscription({ topics: ['orders'] });
    expect(() => decodeSubscription(whole.subarray(0, whole.length - 3))).toThrow(FerryError);
    const absurd = new BinaryWriter().int16(0).int32(1_000_000_000).finish();
    expect(() => decodeSubscription(absurd)).toThrow(/count 1000000000/);
  });
});

describe('consumer protocol assignment', () => {
  it('round-trips with kafkajs (v0), and reads an empty buffer as no partitions', () => {
    const fromKafkajs = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { orders: [0, 1], payments: [3] } });
    expect(decodeAssignment(fromKafkajs)).toEqual({
      version: 0,
      assignedPartitions: [
        { topic: 'orders', partitions: [0, 1] },
        { topic: 'payments', partitions: [3] },
      ],
      userData: Buffer.alloc(0),
    });
    const ours = encodeAssignment({ assignedPartitions: [{ topic: 'orders', partitions: [0, 1] }], userData: Buffer.alloc(0) });
    expect(AssignerProtocol.MemberAssignment.decode(ours)).toEqual({ version: 0, assignment: { orders: [0, 1] }, userData: Buffer.alloc(0) });
    expect(decodeAssignment(Buffer.alloc(0))).toEqual({ version: 0, assignedPartitions: [], userData: null });
  });
});
