/**
 * The client's produce-frame encoder against the storage layer: the batches
 * it builds pass the broker's validation (batch-validator.ts, CRC32C
 * included) and decode (records.ts) to the records given.
 */

import { describe, expect, it } from 'vitest';
import { encodeProduceFrame } from '../../src/client/batch-encoder.js';
import { PARTITION_ANY, produceTopicBytes, readProduceFrameHeader } from '../../src/protocol/ws/protocol.js';
import { validateBatches } from '../../src/storage/batch-validator.js';
import { batchSize } from '../../src/storage/record-batch.js';
import { decodeBatches } from '../../src/storage/records.js';

function batchesOf(frame: Uint8Array): Buffer {
  const read = readProduceFrameHeader(frame);
  if ('problem' in read) throw new Error(read.problem);
  return Buffer.from(frame.buffer, frame.byteOffset + read.batchesOffset, frame.byteLength - read.batchesOffset);
}

describe('encodeProduceFrame', () => {
  it('builds batches the broker validates and decodes to the records given (keys, nulls, headers, timestamps before the first)', () => {
    const records = [
      { key: 'k', value: 'héllo', headers: [{ key: 'h', value: new Uint8Array([1, 2]) }, { key: 'h', value: null }], timestamp: 1_700_000_000_000 },
      { value: new Uint8Array(300).fill(7), timestamp: 1_699_999_000_000 },
      { key: new Uint8Array([0xff]), value: null },
    ];
    const { frame, timestamps } = encodeProduceFrame(produceTopicBytes('topic'), PARTITION_ANY, -1, records, 1_700_000_005_000);
    expect(timestamps).toEqual([1_700_000_000_000, 1_699_999_000_000, 1_700_000_005_000]);
    const header = readProduceFrameHeader(frame);
    expect(header).toMatchObject({ header: { partition: -1, acks: -1, topic: 'topic' } });
    const batches = batchesOf(frame);
    expect(validateBatches(batches, { maxMessageBytes: 1 << 20, requireKeys: false })).toMatchObject({ batchCount: 1, recordCount: 3, offsetCount: 3, maxTimestamps: [1_700_000_005_000] });
    const [batch] = decodeBatches(batches);
    expect(batch!.baseTimestamp).toBe(1_700_000_000_000n);
    expect(batch!.producerId).toBe(-1n);
    expect(batch!.records.map((r) => [Number(r.offset), Number(r.timestamp), r.key, r.value, r.headers])).toEqual([
      [0, 1_700_000_000_000, Buffer.from('k'), Buffer.from('héllo'), [{ key: 'h', value: Buffer.from([1, 2]) }, { key: 'h', value: null }]],
      [1, 1_699_999_000_000, null, Buffer.alloc(300, 7), []],
      [2, 1_700_000_005_000, Buffer.from([0xff]), null, []],
    ]);
  });

  it('splits records into batches under batchBytesMax, a record larger than it alone in its batch', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ value: new Uint8Array(i === 50 ? 5_000 : 100).fill(i) }));
    const { frame } = encodeProduceFrame(produceTopicBytes('t'), 0, 1, records, 5, 1_000);
    const batches = batchesOf(frame);
    const sizes: number[] = [];
    for (let at = 0; at < batches.length; at += sizes.at(-1)!) sizes.push(batchSize(batches, at));
    expect(sizes.filter((size) => size > 1_000)).toHaveLength(1);
    expect(validateBatches(batches, { maxMessageBytes: 1 << 20, requireKeys: false })).toMatchObject({ batchCount: sizes.length, recordCount: 100 });
    expect(decodeBatches(batches).flatMap((batch) => batch.records.map((r) => r.value![0]))).toEqual(records.map((_, i) => i));
  });
});
