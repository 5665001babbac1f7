/**
 * A Fetch record set left in its segment file: a leased byte range of whole
 * batches (PartitionLog.readFileRange) that the connection sends with
 * sendfile(2), page cache to socket, without the bytes entering the process.
 * The writer places it in a response like any record set written by
 * reference (its length prefix first); whoever ends up holding the response
 * chunks must send it or `release()` it, exactly once, or the segment's files
 * stay open.
 */

import type { FileRange } from '../../../storage/log-segment.js';

export class FileRecords {
  private released = false;

  constructor(readonly range: FileRange) {}

  get length(): number {
    return this.range.sizeBytes;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.range.release();
  }
}

/** A records field's value: bytes in memory, or a range of a segment file. */
export type RecordSet = Buffer | FileRecords;

/** One piece of an encoded response, in order: the writer's own bytes or a record set by reference. */
export type ResponseChunk = Buffer | FileRecords;
