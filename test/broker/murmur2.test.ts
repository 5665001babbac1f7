import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../src/broker/murmur2.js';
import { prng } from '../storage/helpers.js';

const require = createRequire(import.meta.url);
// kafkajs's Java-compatible default partitioner hash: the oracle.
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

describe("Kafka's default partitioner", () => {
  it("matches Kafka's own murmur2 test vectors", () => {
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('agrees with kafkajs on random keys of every length, and so on the partition', () => {
    const random = prng(42);
    for (let i = 0; i < 2000; i++) {
      const key = Buffer.from(Array.from({ length: i % 67 }, () => Math.floor(random() * 256)));
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
      const partitions = 1 + (i % 37);
      expect(partitionForKey(key, partitions)).toBe((kafkajsMurmur2(key) & 0x7fffffff) % partitions);
    }
  });
});
