/**
 * Where each leader epoch of a partition starts: Kafka's LeaderEpochFileCache.
 * Entries (epoch, startOffset) ascend in both fields; the startOffset of an
 * epoch is the offset of the first batch written in it (or, for a leader that
 * has written nothing yet, the log end when it became leader). Replication
 * asks it where an epoch ends (OffsetsForLeaderEpoch), so a follower can cut a
 * divergent tail.
 *
 * Every change is written to `leader-epoch-checkpoint` (leader-epoch-checkpoint.ts)
 * before it returns; the file is a shortcut, never the only truth: the
 * partition log rebuilds the entries from batch headers when the file is
 * missing or the log was not closed cleanly.
 */

import { assert } from '../errors.js';
import { readLeaderEpochCheckpoint, writeLeaderEpochCheckpoint, type EpochEntry } from './leader-epoch-checkpoint.js';

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEndOffset {
  leaderEpoch: number;
  endOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[] = [];

  constructor(private readonly dir: string) {}

  /** Replaces the entries with the file's; false (and empty) when there is no readable file. */
  load(): boolean {
    const entries = readLeaderEpochCheckpoint(this.dir);
    this.entries = entries ?? [];
    return entries !== null;
  }

  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /** A copy, oldest first. */
  all(): EpochEntry[] {
    return this.entries.map((entry) => ({ ...entry }));
  }

  /**
   * Records that `epoch` starts at `startOffset`, when it is newer than the
   * latest entry; older or equal epochs (and -1, a batch from no leader) change
   * nothing. Returns whether an entry was added. Does not write the file
   * (`persist`), so one append adding several epochs writes it once.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch <= this.latestEpoch) return false;
    const latest = this.entries.at(-1);
    assert(latest === undefined || startOffset >= latest.startOffset, `epoch ${epoch} at ${startOffset} starts before epoch ${latest?.epoch} at ${latest?.startOffset} in ${this.dir}`);
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /**
   * Kafka's LeaderEpochFileCache.endOffsetFor: the latest epoch ends at the
   * log end; an older one ends where the next cached epoch starts, answered
   * with the largest cached epoch not above the one asked (a leader that
   * never saw the asked epoch answers for the one before it). UNDEFINED for
   * an empty cache, an epoch above the latest (as Kafka) and an epoch below
   * every cached one (Kafka answers that with the asked epoch and the first
   * entry's start; Ferry's followers fall back to the high watermark instead).
   */
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedAnswer = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (epoch === UNDEFINED_EPOCH || this.entries.length === 0) return undefinedAnswer;
    if (epoch === this.latestEpoch) return { leaderEpoch: epoch, endOffset: logEndOffset };
    const next = this.entries.findIndex((entry) => entry.epoch > epoch);
    if (next <= 0) return undefinedAnswer;
    return { leaderEpoch: this.entries[next - 1]!.epoch, endOffset: this.entries[next]!.startOffset };
  }

  /** Drops entries starting at or after `endOffset` (the log was cut there). Returns whether any went. */
  truncateFromEnd(endOffset: number): boolean {
    const kept = this.entries.filter((entry) => entry.startOffset < endOffset);
    const changed = kept.length !== this.entries.length;
    this.entries = kept;
    return changed;
  }

  /**
   * The log now starts at `startOffset` (retention, DeleteRecords): Kafka's
   * truncateFromStart. Epochs wholly below it go; the one holding it stays,
   * its start moved up to `startOffset`. Returns whether anything changed.
   */
  truncateFromStart(startOffset: number): boolean {
    const holding = this.entries.findLastIndex((entry) => entry.startOffset <= startOffset);
    if (holding < 0 || (holding === 0 && this.entries[0]!.startOffset === startOffset)) return false;
    this.entries = [{ epoch: this.entries[holding]!.epoch, startOffset }, ...this.entries.slice(holding + 1)];
    return true;
  }

  clear(): void {
    this.entries = [];
  }

  /** Writes the entries to the file, durably. */
  persist(): void {
    writeLeaderEpochCheckpoint(this.dir, this.entries);
  }
}
