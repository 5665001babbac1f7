/**
 * When a partition's producer snapshots (producer-snapshot.ts: the file
 * format) are read, written and deleted. The partition log decides the
 * moments; this module does the file work for each:
 *
 *   open       temp files of interrupted writes deleted; the newest readable
 *              snapshot at or below the log end loaded; newer ones (a recovery
 *              cut the log below them) and unreadable ones deleted
 *   roll       a snapshot at the log end, written in the background
 *   retention  one written durably before segments are deleted, so the
 *              producers outlive their batches (KIP-360)
 *   close      one at the log end, durably, before the clean-shutdown flag
 *   truncation snapshots past the new log end deleted by the next loadNewest;
 *              every one by deleteAll when the log starts afresh
 *   prune      after each write, and after a retention pass that deleted
 *              segments: the newest PRODUCER_SNAPSHOTS_RETAINED kept, less
 *              any older one below the first segment
 *
 * A snapshot is only a shortcut for the replay on open (producer-replay.ts),
 * so a failed background write is a warning, not an error.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { ProducerEntry } from './producer-state.js';
import {
  deleteSnapshot,
  encodeSnapshot,
  isSnapshotTempFile,
  readSnapshot,
  snapshotOffsets,
  writeSnapshotAsync,
  writeSnapshotSync,
  type ProducerSnapshot,
} from './producer-snapshot.js';

/** Producer snapshots kept per partition: the newest, and older ones to fall back on if a recovery cuts the log below it. */
export const PRODUCER_SNAPSHOTS_RETAINED = 3;

export class ProducerSnapshotLifecycle {
  /** Snapshots being written in the background (taken at a roll); close waits for them. */
  private backgroundWrites: Promise<void> = Promise.resolve();

  /**
   * `firstSegmentBaseOffset` is asked at each prune, not fixed here: a
   * background prune runs after its write, when retention may have moved it.
   */
  constructor(
    private readonly dir: string,
    private readonly firstSegmentBaseOffset: () => number,
  ) {}

  /**
   * On open and after a truncation: the newest readable snapshot at or below `logEndOffset`, or
   * null. Deletes temp files, snapshots past the log end, and unreadable
   * snapshots (saying why in `reasons`, the open's recovery report).
   */
  loadNewest(logEndOffset: number, reasons: string[]): ProducerSnapshot | null {
    const names = fs.readdirSync(this.dir);
    for (const name of names) if (isSnapshotTempFile(name)) fs.rmSync(path.join(this.dir, name), { force: true });
    for (const offset of snapshotOffsets(names).reverse()) {
      if (offset > logEndOffset) {
        deleteSnapshot(this.dir, offset);
        continue;
      }
      try {
        return readSnapshot(this.dir, offset);
      } catch (error) {
        reasons.push(`${(error as Error).message}; ignored`);
        deleteSnapshot(this.dir, offset);
      }
    }
    return null;
  }

  /**
   * At a roll: the state at `offset`, written off the event loop. Its bytes
   * are taken now, so later appends cannot leak into it; a failed write only
   * means a longer replay on the next unclean restart.
   */
  writeInBackground(offset: number, entries: readonly ProducerEntry[]): void {
    const bytes = encodeSnapshot(offset, entries);
    this.backgroundWrites = this.backgroundWrites
      .then(() => writeSnapshotAsync(this.dir, offset, bytes))
      .then(() => this.prune())
      .catch((error: unknown) => process.emitWarning(`ferry: producer snapshot at ${offset} in ${this.dir} failed: ${(error as Error).message}`));
  }

  /** The same, durable before returning: at clean close, and before retention deletes the segments a replay would need. */
  writeNow(offset: number, entries: readonly ProducerEntry[]): void {
    writeSnapshotSync(this.dir, offset, encodeSnapshot(offset, entries));
    this.prune();
  }

  /** Settles once every background write started so far has (close waits for it). */
  backgroundWritesSettled(): Promise<void> {
    return this.backgroundWrites;
  }

  /** Every snapshot goes (the log was emptied and starts afresh). */
  deleteAll(): void {
    for (const offset of snapshotOffsets(fs.readdirSync(this.dir))) deleteSnapshot(this.dir, offset);
  }

  /**
   * Keeps the newest PRODUCER_SNAPSHOTS_RETAINED snapshots, dropping any of
   * the older ones that lie below the first segment (a replay from there could
   * not find its batches).
   */
  prune(): void {
    const offsets = snapshotOffsets(fs.readdirSync(this.dir));
    const firstBase = this.firstSegmentBaseOffset();
    offsets.forEach((offset, i) => {
      const newest = i === offsets.length - 1;
      if (!newest && (i < offsets.length - PRODUCER_SNAPSHOTS_RETAINED || offset < firstBase)) deleteSnapshot(this.dir, offset);
    });
  }
}
