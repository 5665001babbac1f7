/**
 * Index files hold no descriptor between operations (IndexFile): a segment
 * keeps one open file, its `.log`, and its indexes still end up on disk exactly
 * as a scan of the log would write them, across close and reopen, a crash and
 * recovery, a rolled-back append and compaction.
 */

import fs from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { INDEX_WRITE_GROUP_ENTRIES } from '../../src/storage/index-file.js';
import { LogSegment, type SegmentSettings } from '../../src/storage/log-segment.js';
import { OFFSET_INDEX_ENTRY_BYTES } from '../../src/storage/offset-index.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { segmentPaths } from '../../src/storage/segment-files.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { TIME_INDEX_ENTRY_BYTES } from '../../src/storage/time-index.js';
import { config, keyedBatch, readAll, tempDir, valuesBatch } from './helpers.js';

afterAll(closeSharedStoragePool);

/** Every batch gets an index entry but the first of a segment: groups fill after a few hundred appends. */
const SETTINGS: SegmentSettings = { indexIntervalBytes: 0, batchBytesMax: 1024 * 1024 };
const BATCHES_PER_SEGMENT = 2 * INDEX_WRITE_GROUP_ENTRIES + 40;

/** A segment's files; a roll also writes a producer snapshot in the background, on a descriptor of its own for a moment. */
const SEGMENT_FILE = /\.(log|index|timeindex)$/;

/** Names of the segment files under `dir` this process holds open, one per descriptor, sorted. */
function openFilesIn(dir: string): string[] {
  const prefix = `${fs.realpathSync(dir)}/`;
  const names: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the descriptor readdir itself used, closed by now
    }
    if (target.startsWith(prefix) && SEGMENT_FILE.test(target)) names.push(target.slice(prefix.length));
  }
  return names.sort();
}

function logNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .sort();
}

function baseOffsetsIn(dir: string): number[] {
  return logNames(dir).map((name) => Number(name.slice(0, -'.log'.length)));
}

function appendBatches(segment: LogSegment, count: number): void {
  for (let i = 0; i < count; i++) {
    const batch = valuesBatch(`s${segment.baseOffset}-${i}`, 1, { baseOffset: BigInt(segment.nextOffset), timestamp: BigInt(1_700_000_000_000 + segment.nextOffset) });
    segment.append(batch, 0, batch.length);
  }
}

/** Both index files of a segment, as bytes. */
function indexBytes(dir: string, baseOffset: number): { offsets: Buffer; times: Buffer } {
  const paths = segmentPaths(dir, baseOffset);
  return { offsets: fs.readFileSync(paths.offsetIndex), times: fs.readFileSync(paths.timeIndex) };
}

/** The segment's index files hold exactly what a full scan of its log writes, and opening it trusts them. */
function expectIndexesMatchLog(dir: string, baseOffset: number): void {
  const before = indexBytes(dir, baseOffset);
  const segment = LogSegment.open(dir, baseOffset, SETTINGS);
  try {
    expect(segment.offsetIndex.wasMissing || segment.timeIndex.wasMissing).toBe(false);
    expect(before.offsets.length).toBe(segment.offsetIndex.entryCount * OFFSET_INDEX_ENTRY_BYTES);
    expect(before.times.length).toBe(segment.timeIndex.entryCount * TIME_INDEX_ENTRY_BYTES);
    segment.rebuildIndexes();
    expect(indexBytes(dir, baseOffset)).toEqual(before);
  } finally {
    segment.close();
  }
}

describe('one descriptor per segment', () => {
  it('a log with several segments holds exactly one descriptor per segment, its .log, through appends, flushes and rolls', async () => {
    const dir = tempDir();
    const logConfig = config({ indexIntervalBytes: 0, segmentBytes: 32 * 1024 });
    const log = await PartitionLog.open({ dir, config: logConfig });
    for (let i = 0; i < 1000; i++) await log.append(valuesBatch(`v${i}`, 1, { valueBytes: 100 }));
    await log.flush();
    const segments = log.segmentBaseOffsets().length;
    expect(segments).toBeGreaterThanOrEqual(4);
    expect(openFilesIn(dir)).toEqual(logNames(dir));
    await log.close();
    expect(openFilesIn(dir)).toEqual([]);

    const reopened = await PartitionLog.open({ dir, config: logConfig });
    expect(openFilesIn(dir)).toEqual(logNames(dir));
    expect(readAll(reopened)).toHaveLength(1000);
    await reopened.close();
    for (const base of baseOffsetsIn(dir)) expectIndexesMatchLog(dir, base);
  });

  it('a segment holds its .log open and nothing else, also while an index flush is in flight', async () => {
    const dir = tempDir();
    const segment = LogSegment.create(dir, 0, SETTINGS);
    appendBatches(segment, BATCHES_PER_SEGMENT);
    expect(openFilesIn(dir)).toEqual(['00000000000000000000.log']);
    const flushing = segment.flush(true);
    segment.close(); // the index syncs own their descriptors; the log's waits for its fdatasync
    await flushing;
    expect(openFilesIn(dir)).toEqual([]);
  });
});

describe('index files opened per operation', () => {
  it('writes every full group as it fills and the rest on close, and reopens to the same entries', () => {
    const dir = tempDir();
    const segment = LogSegment.create(dir, 0, SETTINGS);
    appendBatches(segment, BATCHES_PER_SEGMENT);
    const entries = segment.offsetIndex.entryCount;
    expect(entries).toBe(BATCHES_PER_SEGMENT - 1);
    // Full groups only: the file never holds a partial group before a persist asks for it.
    expect(indexBytes(dir, 0).offsets.length).toBe(Math.floor(entries / INDEX_WRITE_GROUP_ENTRIES) * INDEX_WRITE_GROUP_ENTRIES * OFFSET_INDEX_ENTRY_BYTES);
    segment.seal();
    segment.close();
    expect(indexBytes(dir, 0).offsets.length).toBe(entries * OFFSET_INDEX_ENTRY_BYTES);
    expectIndexesMatchLog(dir, 0);

    const reopened = LogSegment.open(dir, 0, SETTINGS);
    expect(reopened.offsetIndex.entryCount).toBe(entries);
    expect(reopened.nextOffset).toBe(BATCHES_PER_SEGMENT);
    expect(reopened.read(200, 1, Number.MAX_SAFE_INTEGER, true)?.nextOffset).toBe(201);
    reopened.close();
  });

  it('rebuilds an index whose file is missing or has a torn tail, recreating the file', () => {
    const dir = tempDir();
    const segment = LogSegment.create(dir, 0, SETTINGS);
    appendBatches(segment, BATCHES_PER_SEGMENT);
    segment.seal();
    segment.close();
    const sealed = indexBytes(dir, 0);
    const paths = segmentPaths(dir, 0);

    fs.rmSync(paths.timeIndex);
    const missing = LogSegment.open(dir, 0, SETTINGS);
    expect(missing.timeIndex.wasMissing).toBe(true);
    missing.close();
    expect(indexBytes(dir, 0)).toEqual(sealed);

    fs.appendFileSync(paths.offsetIndex, Buffer.from([1, 2, 3]));
    LogSegment.open(dir, 0, SETTINGS).close();
    expect(indexBytes(dir, 0)).toEqual(sealed);
  });

  it('cuts the index files back with a rolled-back append, including entries already written in a group', () => {
    const dir = tempDir();
    const segment = LogSegment.create(dir, 0, SETTINGS);
    appendBatches(segment, 100);
    const mark = segment.mark();
    appendBatches(segment, 100); // crosses a group: entries past the mark reach the file
    expect(indexBytes(dir, 0).offsets.length).toBe(INDEX_WRITE_GROUP_ENTRIES * OFFSET_INDEX_ENTRY_BYTES);
    segment.rollBackTo(mark);
    expect(segment.offsetIndex.entryCount).toBe(mark.offsetIndexEntries);
    expect(indexBytes(dir, 0).offsets.length).toBeLessThanOrEqual(mark.offsetIndexEntries * OFFSET_INDEX_ENTRY_BYTES);
    appendBatches(segment, 50);
    segment.seal();
    segment.close();
    expectIndexesMatchLog(dir, 0);
  });

  it('recovers the indexes of a log that stopped without closing (its files copied while open)', async () => {
    const dir = tempDir();
    const logConfig = config({ indexIntervalBytes: 0, segmentBytes: 32 * 1024 });
    const log = await PartitionLog.open({ dir, config: logConfig });
    for (let i = 0; i < 700; i++) await log.append(valuesBatch(`v${i}`, 1, { valueBytes: 100 }));
    await log.flush();
    const crashed = tempDir('ferry-crashed-');
    fs.cpSync(dir, crashed, { recursive: true });
    await log.close();

    const recovered = await PartitionLog.open({ dir: crashed, config: logConfig });
    expect(recovered.recovery.segmentsScanned).toBeGreaterThan(0);
    expect(openFilesIn(crashed)).toEqual(logNames(crashed));
    expect(readAll(recovered).map((record) => record.value!.toString())).toEqual(Array.from({ length: 700 }, (_, i) => Buffer.alloc(100, `v${i}-0`).toString()));
    await recovered.close();
    for (const base of baseOffsetsIn(crashed)) expectIndexesMatchLog(crashed, base);
  });

  it('leaves compacted segments with one descriptor each and indexes that match their logs', async () => {
    const dir = tempDir();
    const logConfig = config({ cleanupCompact: true, cleanupDelete: false, deleteRetentionMs: 0, indexIntervalBytes: 0, segmentBytes: 32 * 1024 });
    const log = await PartitionLog.open({ dir, config: logConfig });
    for (let i = 0; i < 1200; i++) await log.append(keyedBatch([{ key: `k${i % 300}`, value: `v${i}`.padEnd(60, '.') }]));
    const stats = await log.compact();
    expect(stats!.segmentsCleaned).toBeGreaterThan(1);
    // The retired descriptors close in libuv's thread pool after the swap.
    await vi.waitFor(() => expect(openFilesIn(dir)).toEqual(logNames(dir)));
    const values = readAll(log).map((record) => record.value!.toString().replace(/\.+$/, ''));
    expect(values.slice(-300)).toEqual(Array.from({ length: 300 }, (_, i) => `v${900 + i}`));
    await log.close();
    expect(openFilesIn(dir)).toEqual([]);
    for (const base of baseOffsetsIn(dir)) expectIndexesMatchLog(dir, base);
  });

  it('names the file when an index cannot be opened, and still closes the log', async () => {
    const dir = tempDir();
    const segment = LogSegment.create(dir, 0, SETTINGS);
    appendBatches(segment, 10);
    const paths = segmentPaths(dir, 0);
    fs.rmSync(paths.offsetIndex);
    await expect(segment.flush(true)).rejects.toThrow(`index ${paths.offsetIndex}: sync failed: ENOENT`);
    expect(() => segment.close()).toThrow(`index ${paths.offsetIndex}: persist failed: ENOENT`);
    expect(openFilesIn(dir)).toEqual([]);
    expect(() => segment.offsetIndex.reset()).toThrow(`index ${paths.offsetIndex} is closed`);
  });
});
