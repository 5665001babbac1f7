/**
 * What a segment's two sparse index files share: the entries live in memory
 * (typed arrays in the subclass), the file holds exactly the entries written
 * so far (no preallocated zero tail to mistake for data), and new entries are
 * written in groups (`persist`), not one pwrite each. An index is only a hint
 * until its segment is flushed, sealed or closed, all of which persist it;
 * recovery rebuilds it otherwise.
 *
 * The file is open only while an operation needs it (load, persist, reset,
 * truncate, sync): a segment holds one descriptor, its `.log`, as in Kafka,
 * whose indexes are mapped and their files closed. A broker with 10,000
 * partitions would otherwise need 30,000. What that costs: a persist is
 * open + pwrite + close, once per INDEX_WRITE_GROUP_ENTRIES entries (every
 * 512 KiB appended at index.interval.bytes 4096) and at flush, seal and close;
 * an append that adds no group adds no syscall.
 */

import fs from 'node:fs';
import { fdatasync, readAt, writeAt } from './file-io.js';

/** Entries written to the file together; also bounds what an unclean stop can lose of an index. */
export const INDEX_WRITE_GROUP_ENTRIES = 128;

export abstract class IndexFile {
  protected count = 0;
  /** Entries already in the file. */
  private persistedCount = 0;
  /** The file's size was not a whole number of entries when it was loaded. */
  protected tornTail = false;
  /** The file did not exist when opened: for a non-empty segment, the index must be rebuilt. */
  wasMissing = false;
  /** Set by close: the path may by then name another segment's file (compaction installs over it), so nothing opens it again. */
  private closed = false;

  protected constructor(
    readonly path: string,
    readonly baseOffset: number,
    private readonly entryBytes: number,
  ) {}

  /** Reads the file into memory, creating it empty when it is missing; subclasses call it once their arrays exist. */
  protected load(): void {
    const fd = this.openForLoad();
    try {
      const size = fs.fstatSync(fd).size;
      this.tornTail = size % this.entryBytes !== 0;
      const count = Math.floor(size / this.entryBytes);
      this.reserve(count);
      if (count === 0) return;
      const bytes = Buffer.allocUnsafe(count * this.entryBytes);
      const read = readAt(fd, bytes, 0, bytes.length, 0);
      if (read !== bytes.length) throw new Error(`short read of index ${this.path}: ${read} of ${bytes.length} bytes`);
      for (let i = 0; i < count; i++) this.decodeEntry(i, bytes, i * this.entryBytes);
      this.count = count;
      this.persistedCount = count;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** One open in the usual case (the file exists); a second, creating it, when it does not. */
  private openForLoad(): number {
    try {
      return fs.openSync(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw this.failure('load', error);
    }
    this.wasMissing = true;
    return this.open('w', 'create');
  }

  /** Makes room in memory for `entries` entries. */
  protected abstract reserve(entries: number): void;
  /** Entry `i` from its file bytes at `at`. */
  protected abstract decodeEntry(i: number, bytes: Buffer, at: number): void;
  /** Entry `i` into file bytes at `at`. */
  protected abstract encodeEntry(i: number, bytes: Buffer, at: number): void;

  /** Call after writing entry `count` into memory: counts it, and writes a full group to the file. */
  protected appended(): void {
    this.count++;
    if (this.count - this.persistedCount >= INDEX_WRITE_GROUP_ENTRIES) this.persist();
  }

  get entryCount(): number {
    return this.count;
  }

  /** Writes the entries not yet in the file, in one pwrite (open + pwrite + close; nothing when there are none). */
  persist(): void {
    if (this.persistedCount >= this.count) return;
    const fd = this.open('r+', 'persist');
    try {
      this.writePending(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private writePending(fd: number): void {
    if (this.persistedCount >= this.count) return;
    const bytes = Buffer.allocUnsafe((this.count - this.persistedCount) * this.entryBytes);
    for (let i = this.persistedCount; i < this.count; i++) this.encodeEntry(i, bytes, (i - this.persistedCount) * this.entryBytes);
    try {
      writeAt(fd, bytes, this.persistedCount * this.entryBytes);
    } catch (error) {
      throw this.failure(`write entries ${this.persistedCount}..${this.count - 1}`, error);
    }
    this.persistedCount = this.count;
  }

  /**
   * Persists, then fdatasyncs the file in the libuv pool: open + pwrite (when
   * entries are pending) + fdatasync + close. The descriptor is its own, so a
   * segment closing meanwhile need not wait for it, and it is opened before
   * the first await, so the file synced is the one the path names when called.
   */
  async sync(): Promise<void> {
    const fd = this.open('r+', 'sync');
    try {
      this.writePending(fd);
      await fdatasync(fd).catch((error: unknown) => {
        throw this.failure('fdatasync', error);
      });
    } finally {
      fs.closeSync(fd);
    }
  }

  /** sync on the calling thread (fdatasync(2) blocks it): for recovery and compaction, which run in the storage pool. */
  syncBlocking(): void {
    const fd = this.open('r+', 'sync');
    try {
      this.writePending(fd);
      try {
        fs.fdatasyncSync(fd);
      } catch (error) {
        throw this.failure('fdatasync', error);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Drop every entry, in memory and on disk (before a rebuild). */
  reset(): void {
    this.truncateFile(0, 'reset');
    this.count = 0;
    this.persistedCount = 0;
    this.tornTail = false;
  }

  /** Keep only the first `count` entries (an append rolled back). */
  truncateToEntries(count: number): void {
    this.count = Math.min(this.count, count);
    this.persistedCount = Math.min(this.persistedCount, this.count);
    // Only what the file holds: cutting to the in-memory count could pad it with zero entries.
    this.truncateFile(this.persistedCount * this.entryBytes, `truncate to ${this.persistedCount} entries`);
  }

  private truncateFile(sizeBytes: number, operation: string): void {
    const fd = this.open('r+', operation);
    try {
      fs.ftruncateSync(fd, sizeBytes);
    } catch (error) {
      throw this.failure(operation, error);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Persists what is left; from then on nothing opens the file. */
  close(): void {
    if (this.closed) return;
    try {
      this.persist();
    } finally {
      this.closed = true;
    }
  }

  /** A descriptor of the file for one operation; the caller closes it. */
  private open(flags: string, operation: string): number {
    if (this.closed) throw new Error(`index ${this.path} is closed: cannot ${operation}`);
    try {
      return fs.openSync(this.path, flags);
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  private failure(operation: string, error: unknown): Error {
    const reason = error instanceof Error ? error.message : String(error);
    return new Error(`index ${this.path}: ${operation} failed: ${reason}`, { cause: error });
  }
}
