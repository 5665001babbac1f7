/** Shared helpers for storage tests: temp directories, batch making, reading back. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBatch, type RecordInput, type BatchOptions } from '../../src/storage/batch-builder.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../src/storage/log-config.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeBatches, type DecodedRecord } from '../../src/storage/records.js';

export function tempDir(prefix = 'ferry-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, ...overrides };
}

/** A batch of `count` records with values `${prefix}-${i}`, as a producer would send it (offsets from 0). */
export function valuesBatch(prefix: string, count: number, options: BatchOptions & { timestamp?: bigint; valueBytes?: number } = {}): Buffer {
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const text = `${prefix}-${i}`;
    const value = options.valueBytes ? Buffer.alloc(options.valueBytes, text) : Buffer.from(text);
    records.push({ key: Buffer.from(`k${i}`), value, timestamp: options.timestamp ?? BigInt(Date.now()) });
  }
  return buildBatch(records, options);
}

export function keyedBatch(entries: ReadonlyArray<{ key: string; value: string | null; timestamp?: bigint }>, options: BatchOptions = {}): Buffer {
  return buildBatch(
    entries.map((entry) => ({ key: Buffer.from(entry.key), value: entry.value === null ? null : Buffer.from(entry.value), timestamp: entry.timestamp ?? BigInt(Date.now()) })),
    options,
  );
}

/** Every record from the log start to the log end, decoded. */
export function readAll(log: PartitionLog): DecodedRecord[] {
  const records: DecodedRecord[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = log.readRecords(offset, 1024 * 1024);
    records.push(...read.records);
    if (read.nextOffset <= offset) break;
    offset = read.nextOffset;
  }
  return records;
}

export function decodeAll(bytes: Buffer): DecodedRecord[] {
  return decodeBatches(bytes).flatMap((batch) => batch.records);
}

/** A deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
