/**
 * What a segment's two sparse index files share: the entries live in memory
 * (typed arrays in the subclass), the file holds exactly the entries written
 * so far (no preallocated zero tail to mistake for data), and new entries are
 * written in groups (`persist`), not one pwrite each. An index is only a hint
 * until its segment is flushed, sealed or closed, all of which persist it;
 * recovery rebuilds it otherwise.
 */

import fs from 'node:fs';
import { readAt, writeAt } from './file-io.js';

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
  private readonly fd: number;

  protected constructor(
    readonly path: string,
    readonly baseOffset: number,
    private readonly entryBytes: number,
  ) {
    const existed = fs.existsSync(path);
    this.fd = fs.openSync(path, existed ? 'r+' : 'w+');
    this.wasMissing = !existed;
  }

  /** Reads the file into memory; subclasses call it once their arrays exist. */
  protected load(): void {
    const size = fs.fstatSync(this.fd).size;
    this.tornTail = size % this.entryBytes !== 0;
    const count = Math.floor(size / this.entryBytes);
    this.reserve(count);
    if (count === 0) return;
    const bytes = Buffer.allocUnsafe(count * this.entryBytes);
    readAt(this.fd, bytes, 0, bytes.length, 0);
    for (let i = 0; i < count; i++) this.decodeEntry(i, bytes, i * this.entryBytes);
    this.count = count;
    this.persistedCount = count;
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

  get fileDescriptor(): number {
    return this.fd;
  }

  /** Writes the entries not yet in the file, in one pwrite. */
  persist(): void {
    if (this.persistedCount >= this.count) return;
    const bytes = Buffer.allocUnsafe((this.count - this.persistedCount) * this.entryBytes);
    for (let i = this.persistedCount; i < this.count; i++) this.encodeEntry(i, bytes, (i - this.persistedCount) * this.entryBytes);
    writeAt(this.fd, bytes, this.persistedCount * this.entryBytes);
    this.persistedCount = this.count;
  }

  /** Drop every entry, in memory and on disk (before a rebuild). */
  reset(): void {
    this.count = 0;
    this.persistedCount = 0;
    this.tornTail = false;
    fs.ftruncateSync(this.fd, 0);
  }

  /** Keep only the first `count` entries (an append rolled back). */
  truncateToEntries(count: number): void {
    this.count = Math.min(this.count, count);
    this.persistedCount = Math.min(this.persistedCount, this.count);
    // Only what the file holds: cutting to the in-memory count could pad it with zero entries.
    fs.ftruncateSync(this.fd, this.persistedCount * this.entryBytes);
  }

  close(): void {
    this.persist();
    fs.closeSync(this.fd);
  }
}
