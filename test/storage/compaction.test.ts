import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CLEANING_DIR_NAME, type CompactionOutcome, type CompactionPlan } from '../../src/storage/compaction.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { CompressionCodec } from '../../src/storage/record-batch.js';
import { closeSharedStoragePool, sharedStoragePool, StoragePool, type StorageTasks } from '../../src/storage/storage-pool.js';
import { config, keyedBatch, prng, readAll, tempDir } from './helpers.js';

afterAll(closeSharedStoragePool);

interface Written {
  offset: number;
  key: string;
  value: string | null;
}

const DELETE_RETENTION_MS = 60_000;
const CODECS = [CompressionCodec.None, CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd];

describe('compaction against a model', () => {
  it('keeps exactly the latest record per key, drops old tombstones, keeps offsets, and never touches the active segment', async () => {
    const random = prng(7);
    const dir = tempDir('ferry-compact-');
    const logConfig = config({ cleanupCompact: true, cleanupDelete: false, segmentBytes: 3000, deleteRetentionMs: DELETE_RETENTION_MS });
    const log = await PartitionLog.open({ dir, config: logConfig });
    const written: Written[] = [];
    for (let round = 0; round < 400; round++) {
      const size = 1 + Math.floor(random() * 5);
      const entries = Array.from({ length: size }, () => {
        const key = `key-${Math.floor(random() * 300)}`;
        const value = random() < 0.15 ? null : `v${round}-${Math.floor(random() * 1e6)}`;
        return { key, value };
      });
      const codec = CODECS[round % CODECS.length]!;
      const { firstOffset } = await log.append(keyedBatch(entries, { compression: codec }));
      entries.forEach((entry, i) => written.push({ offset: firstOffset + i, key: entry.key, value: entry.value }));
    }
    const bases = log.segmentBaseOffsets();
    const activeBase = bases.at(-1)!;
    expect(bases.length).toBeGreaterThan(10);
    // The older half of the segments were written long ago: their tombstones have outlived delete.retention.ms.
    const oldUpTo = bases[Math.floor(bases.length / 2)]!;
    const longAgo = new Date(Date.now() - 10 * DELETE_RETENTION_MS);
    for (const base of bases.filter((b) => b < oldUpTo)) fs.utimesSync(path.join(dir, `${String(base).padStart(20, '0')}.log`), longAgo, longAgo);

    // The model: among records below the active segment, the latest per key survives, unless it is
    // a tombstone in a segment last written before delete.retention.ms. The active segment is untouched.
    const latestBelowActive = new Map<string, Written>();
    for (const record of written) if (record.offset < activeBase) latestBelowActive.set(record.key, record);
    const expected = written.filter((record) => {
      if (record.offset >= activeBase) return true;
      if (latestBelowActive.get(record.key) !== record) return false;
      return record.value !== null || record.offset >= oldUpTo;
    });

    const stats = await log.compact();
    expect(stats).not.toBeNull();
    expect(stats!.threadId).not.toBe(threadId);
    expect(stats!.tombstonesDropped).toBeGreaterThan(0);
    expect(stats!.recordsKept).toBeLessThan(stats!.recordsRead);

    const summarize = (records: ReturnType<typeof readAll>): Array<[number, string, string | null]> =>
      records.map((r) => [Number(r.offset), r.key!.toString(), r.value === null ? null : r.value.toString()]);
    const model = expected.map((r): [number, string, string | null] => [r.offset, r.key, r.value]);
    expect(summarize(readAll(log))).toEqual(model);
    expect(log.logEndOffset).toBe(written.length);
    expect(log.logStartOffset).toBe(0);

    // What a consumer replaying the compacted log ends up with equals the model's final state per key.
    const replayed = new Map<string, string | null>();
    for (const [, key, value] of summarize(readAll(log))) replayed.set(key, value);
    const finalState = new Map<string, string | null>();
    for (const record of expected) finalState.set(record.key, record.value);
    expect(replayed).toEqual(finalState);

    // Compacting again changes nothing (cleaned segments keep their write time); neither does a restart.
    await log.compact();
    expect(summarize(readAll(log))).toEqual(model);
    await log.close();
    const reopened = await PartitionLog.open({ dir, config: logConfig });
    expect(summarize(readAll(reopened))).toEqual(model);
    const next = await reopened.append(keyedBatch([{ key: 'after', value: 'x' }]));
    expect(next.firstOffset).toBe(written.length);
    await reopened.close();
  });

  it('keeps the log start offset when cleaning empties the first segment', async () => {
    const dir = tempDir();
    const logConfig = config({ cleanupCompact: true, cleanupDelete: false, segmentBytes: 200, deleteRetentionMs: 0 });
    const log = await PartitionLog.open({ dir, config: logConfig });
    for (let i = 0; i < 6; i++) await log.append(keyedBatch([{ key: 'k', value: `v${i}` }]));
    const longAgo = new Date(Date.now() - 60_000);
    for (const base of log.segmentBaseOffsets()) fs.utimesSync(path.join(dir, `${String(base).padStart(20, '0')}.log`), longAgo, longAgo);
    await log.compact();
    expect(log.logStartOffset).toBe(0);
    expect(log.segmentBaseOffsets()[0]).toBe(0);
    log.enforceRetention();
    expect(log.logStartOffset).toBe(0);
    // v3 is the latest below the active segment; v4 and v5 sit in the active segment, untouched.
    expect(readAll(log).map((r) => [Number(r.offset), r.value!.toString()])).toEqual([[3, 'v3'], [4, 'v4'], [5, 'v5']]);
    await log.close();
    const reopened = await PartitionLog.open({ dir, config: logConfig });
    expect(reopened.logStartOffset).toBe(0);
    expect(readAll(reopened).at(-1)!.value!.toString()).toBe('v5');
    await reopened.close();
  });

  it('does nothing on a topic without cleanup.policy=compact', async () => {
    const log = await PartitionLog.open({ dir: tempDir(), config: config({ segmentBytes: 200 }) });
    for (let i = 0; i < 10; i++) await log.append(keyedBatch([{ key: 'same', value: `v${i}` }]));
    expect(await log.compact()).toBeNull();
    expect(readAll(log)).toHaveLength(10);
    await log.close();
  });
});

describe('compaction and preallocation', () => {
  it('does not reserve segment.bytes for the segments it rewrites', async () => {
    const dir = tempDir();
    const log = await PartitionLog.open({ dir, config: config({ cleanupCompact: true, cleanupDelete: false, preallocate: true, segmentBytes: 4 * 1024 * 1024 }) });
    for (let i = 0; i < 3; i++) {
      await log.append(keyedBatch([{ key: 'k', value: `v${i}` }, { key: `other${i}`, value: 'x' }]));
      log.roll();
    }
    await log.compact();
    for (const base of log.segmentBaseOffsets().slice(0, -1)) {
      expect(fs.statSync(path.join(dir, `${String(base).padStart(20, '0')}.log`)).blocks * 512).toBeLessThan(1024 * 1024);
    }
    await log.close();
  });
});

describe('compaction off the event loop', () => {
  const logFile = (dir: string, base: number): string => path.join(dir, `${String(base).padStart(20, '0')}.log`);

  /** Six segments of one record each, keys 'even' and 'odd' taking turns (v0..v5), and an empty active segment. */
  async function overwrittenLog(dir: string, tasks: StorageTasks): Promise<PartitionLog> {
    const log = await PartitionLog.open({ dir, config: config({ cleanupCompact: true, cleanupDelete: false, deleteRetentionMs: 0 }), tasks });
    for (let i = 0; i < 6; i++) {
      await log.append(keyedBatch([{ key: i % 2 === 0 ? 'even' : 'odd', value: `v${i}` }]));
      log.roll();
    }
    return log;
  }

  function openDescriptors(): number {
    return fs.readdirSync('/proc/self/fd').length;
  }

  it('installs the cleaned files in the pool while the log still reads the old ones, then swaps in segments opened ahead', async () => {
    const dir = tempDir();
    const pool = sharedStoragePool();
    let outcome: CompactionOutcome | null = null;
    let log: PartitionLog | null = null;
    let readBeforeSwap: string[] = [];
    let filesBeforeSwap: string[] = [];
    const tasks: StorageTasks = {
      recoverSegment: pool.recoverSegment.bind(pool),
      validate: pool.validate.bind(pool),
      compact: async (plan: CompactionPlan) => {
        outcome = await pool.compact(plan);
        // Installed on disk, not yet swapped: the log's own descriptors still show every old record.
        readBeforeSwap = readAll(log!).map((record) => record.value!.toString());
        filesBeforeSwap = fs.readdirSync(dir).filter((name) => name.endsWith('.log') || name === CLEANING_DIR_NAME);
        return outcome;
      },
    };
    log = await overwrittenLog(dir, tasks);
    const basesBefore = log.segmentBaseOffsets();
    expect(basesBefore).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await log.compact();

    expect(readBeforeSwap).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
    // Segments 1..3 held only overwritten records: deleted by the install; the first one stays (emptied) for the log start offset.
    const kept = outcome!.cleaned.filter((segment) => !segment.removed).map((segment) => segment.baseOffset);
    expect(kept).toEqual([0, 4, 5]);
    expect(filesBeforeSwap.sort()).toEqual([0, 4, 5, 6].map((base) => path.basename(logFile(dir, base))));
    expect(fs.statSync(logFile(dir, 0)).size).toBe(0);
    expect(outcome!.retiredFds.length).toBe(3 * outcome!.cleaned.length);
    expect([...outcome!.opened!.keys()]).toEqual(kept);

    expect(log.segmentBaseOffsets()).toEqual([0, 4, 5, 6]);
    expect(readAll(log).map((record) => record.value!.toString())).toEqual(['v4', 'v5']);
    await log.close();
  });

  it('leaves no descriptor open once the swap is done (the retired ones close in the thread pool)', async () => {
    const pool = sharedStoragePool();
    // A first compaction starts the pool's worker: what it opens for itself is not what is counted.
    const warmUp = await overwrittenLog(tempDir(), pool);
    await warmUp.compact();
    await warmUp.close();
    const before = openDescriptors();
    const log = await overwrittenLog(tempDir(), pool);
    const stats = await log.compact();
    expect(stats!.segmentsCleaned).toBeGreaterThan(0);
    await log.close();
    await vi.waitFor(() => expect(openDescriptors()).toBe(before));
  });

  it("leaves this thread's descriptors alone when the worker that opened the retired ones exits", async () => {
    // The retired descriptors are opened in the worker and closed here. Node's default for a
    // Worker (trackUnmanagedFds) closes at its exit every raw descriptor it opened and did not
    // close itself: those numbers, reused by then, would be other files' (a bench run lost a
    // live segment's time index that way, 30 s after a compaction when the idle worker exited).
    const pool = new StoragePool(1);
    const held: number[] = [];
    try {
      let retired: readonly number[] = [];
      const tasks: StorageTasks = {
        recoverSegment: pool.recoverSegment.bind(pool),
        validate: pool.validate.bind(pool),
        compact: async (plan: CompactionPlan) => {
          const outcome = await pool.compact(plan);
          retired = outcome.retiredFds;
          return outcome;
        },
      };
      // A first compaction starts the worker, whose own descriptors stay open while it lives.
      const warmUp = await overwrittenLog(tempDir(), tasks);
      await warmUp.compact();
      await warmUp.close();
      const before = openDescriptors();
      const log = await overwrittenLog(tempDir(), tasks);
      await log.compact();
      await log.close();
      expect(retired.length).toBeGreaterThan(0);
      await vi.waitFor(() => expect(openDescriptors()).toBe(before));

      // Take the lowest free numbers, the retired ones among them, then let the worker exit.
      const scratch = path.join(tempDir(), 'held.dat');
      fs.writeFileSync(scratch, 'held');
      for (let i = 0; i < retired.length + 16; i++) held.push(fs.openSync(scratch, 'r'));
      expect(held.some((fd) => retired.includes(fd)), 'no retired number was reused: the test would prove nothing').toBe(true);
      await pool.destroy();

      const closedUnderUs = held.filter((fd) => {
        try {
          fs.fstatSync(fd);
          return false;
        } catch {
          return true;
        }
      });
      expect(closedUnderUs).toEqual([]);
    } finally {
      for (const fd of held) fs.close(fd, () => undefined);
      await pool.destroy();
    }
  });
});
