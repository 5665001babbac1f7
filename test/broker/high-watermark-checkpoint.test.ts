/**
 * replication-offset-checkpoint (high-watermark-checkpoint.ts): Kafka's
 * layout round-trips, and a file that is missing, torn or not in the layout
 * reads as empty rather than as wrong high watermarks.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HIGH_WATERMARK_CHECKPOINT_FILE, readHighWatermarks, writeHighWatermarks } from '../../src/broker/high-watermark-checkpoint.js';
import { tempDir } from '../storage/helpers.js';

describe('replication-offset-checkpoint', () => {
  it('writes Kafka’s layout and reads it back by topic/partition', () => {
    const dir = tempDir();
    writeHighWatermarks(dir, [
      { topic: 'orders', partition: 0, highWatermark: 42 },
      { topic: 'orders.v2', partition: 11, highWatermark: 0 },
    ]);
    expect(fs.readFileSync(path.join(dir, HIGH_WATERMARK_CHECKPOINT_FILE), 'utf8')).toBe('0\n2\norders 0 42\norders.v2 11 0\n');
    expect(readHighWatermarks(dir)).toEqual(new Map([['orders/0', 42], ['orders.v2/11', 0]]));
  });

  it('reads a missing, torn or foreign file as empty', () => {
    const dir = tempDir();
    expect(readHighWatermarks(dir).size).toBe(0);
    const file = path.join(dir, HIGH_WATERMARK_CHECKPOINT_FILE);
    for (const text of ['0\n3\norders 0 42\n', '1\n1\norders 0 42\n', '0\n1\norders zero 42\n', '']) {
      fs.writeFileSync(file, text);
      expect(readHighWatermarks(dir).size).toBe(0);
    }
  });
});
