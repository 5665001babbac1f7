/**
 * Producer state snapshots: `<offset>.snapshot` files in a partition
 * directory, each the producer state (producer-state.ts) of every batch below
 * `offset`. A restart loads the newest one at or below the log end and
 * replays only the batch headers after it, as Kafka does. This file is the
 * format and the file reads and writes; when they happen, and which files
 * are kept, is producer-snapshot-lifecycle.ts.
 *
 *   magic                  int32   "FPS1"
 *   crc                    uint32  CRC32C of everything after this field
 *   offset                 int64   the state covers every batch below it
 *   entryCount             int32
 *   entryCount times:
 *     producerId             int64
 *     epoch                  int16
 *     coordinatorEpoch       int32
 *     currentTxnFirstOffset  int64
 *     lastTimestampMs        int64
 *     batchCount             int8    at most PRODUCER_BATCHES_RETAINED
 *     batchCount times:
 *       firstSeq int32, lastSeq int32, firstOffset int64, lastOffset int64, timestampMs int64
 *
 * Unlike Kafka's, which keeps only each producer's last batch, every retained
 * batch is kept, so a resend of any of the last five is still recognised
 * after a restart. A snapshot is only ever a shortcut: a torn or corrupt one
 * is ignored (and deleted), and the state is rebuilt from an older one or
 * from the log itself.
 */

import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from './crc32c.js';
import { syncDirectoryAsync, writeFileDurably } from './file-io.js';
import { PRODUCER_BATCHES_RETAINED, type ProducerBatch, type ProducerEntry } from './producer-state.js';
import { readInt64AsNumber, writeInt64FromNumber } from './record-batch.js';
import { segmentFileName } from './segment-files.js';

export const SNAPSHOT_FILE_SUFFIX = '.snapshot';
const SNAPSHOT_FILE = /^(\d{20})\.snapshot$/;
/** Temp files: `.tmp` from the synchronous writer, `.tmp.async` from the background one (both may target one offset). */
const SNAPSHOT_TEMP_FILE = /^\d{20}\.snapshot\.tmp(\.async)?$/;
export const SNAPSHOT_MAGIC = 0x46505331; // "FPS1"

const MAGIC_OFFSET = 0;
const MAGIC_LENGTH = 4;
const CRC_OFFSET = MAGIC_OFFSET + MAGIC_LENGTH;
const CRC_LENGTH = 4;
const STATE_OFFSET_OFFSET = CRC_OFFSET + CRC_LENGTH;
const STATE_OFFSET_LENGTH = 8;
const ENTRY_COUNT_OFFSET = STATE_OFFSET_OFFSET + STATE_OFFSET_LENGTH;
const ENTRY_COUNT_LENGTH = 4;
export const SNAPSHOT_HEADER_BYTES = ENTRY_COUNT_OFFSET + ENTRY_COUNT_LENGTH;

// Within an entry.
const PRODUCER_ID_AT = 0;
const EPOCH_AT = PRODUCER_ID_AT + 8;
const COORDINATOR_EPOCH_AT = EPOCH_AT + 2;
const TXN_FIRST_OFFSET_AT = COORDINATOR_EPOCH_AT + 4;
const LAST_TIMESTAMP_AT = TXN_FIRST_OFFSET_AT + 8;
const BATCH_COUNT_AT = LAST_TIMESTAMP_AT + 8;
const ENTRY_HEADER_BYTES = BATCH_COUNT_AT + 1;

// Within a batch.
const FIRST_SEQ_AT = 0;
const LAST_SEQ_AT = FIRST_SEQ_AT + 4;
const FIRST_OFFSET_AT = LAST_SEQ_AT + 4;
const LAST_OFFSET_AT = FIRST_OFFSET_AT + 8;
const TIMESTAMP_AT = LAST_OFFSET_AT + 8;
const BATCH_BYTES = TIMESTAMP_AT + 8;

export interface ProducerSnapshot {
  offset: number;
  entries: ProducerEntry[];
}

export function snapshotPath(dir: string, offset: number): string {
  return path.join(dir, segmentFileName(offset, SNAPSHOT_FILE_SUFFIX));
}

export function encodeSnapshot(offset: number, entries: readonly ProducerEntry[]): Buffer {
  let size = SNAPSHOT_HEADER_BYTES;
  for (const entry of entries) size += ENTRY_HEADER_BYTES + entry.batches.length * BATCH_BYTES;
  const bytes = Buffer.alloc(size);
  bytes.writeInt32BE(SNAPSHOT_MAGIC, MAGIC_OFFSET);
  writeInt64FromNumber(bytes, offset, STATE_OFFSET_OFFSET);
  bytes.writeInt32BE(entries.length, ENTRY_COUNT_OFFSET);
  let at = SNAPSHOT_HEADER_BYTES;
  for (const entry of entries) {
    bytes.writeBigInt64BE(entry.producerId, at + PRODUCER_ID_AT);
    bytes.writeInt16BE(entry.epoch, at + EPOCH_AT);
    bytes.writeInt32BE(entry.coordinatorEpoch, at + COORDINATOR_EPOCH_AT);
    writeInt64FromNumber(bytes, entry.currentTxnFirstOffset, at + TXN_FIRST_OFFSET_AT);
    writeInt64FromNumber(bytes, entry.lastTimestampMs, at + LAST_TIMESTAMP_AT);
    bytes.writeInt8(entry.batches.length, at + BATCH_COUNT_AT);
    at += ENTRY_HEADER_BYTES;
    for (const batch of entry.batches) {
      bytes.writeInt32BE(batch.firstSeq, at + FIRST_SEQ_AT);
      bytes.writeInt32BE(batch.lastSeq, at + LAST_SEQ_AT);
      writeInt64FromNumber(bytes, batch.firstOffset, at + FIRST_OFFSET_AT);
      writeInt64FromNumber(bytes, batch.lastOffset, at + LAST_OFFSET_AT);
      writeInt64FromNumber(bytes, batch.timestampMs, at + TIMESTAMP_AT);
      at += BATCH_BYTES;
    }
  }
  bytes.writeUInt32BE(crc32c(bytes, STATE_OFFSET_OFFSET, size), CRC_OFFSET);
  return bytes;
}

/** Decodes a snapshot file's bytes; throws, naming the file, when they are not a whole, intact snapshot. */
export function decodeSnapshot(bytes: Buffer, file: string): ProducerSnapshot {
  const fail = (why: string): never => {
    throw new Error(`producer snapshot ${file}: ${why}`);
  };
  if (bytes.length < SNAPSHOT_HEADER_BYTES) fail(`${bytes.length} bytes, shorter than the ${SNAPSHOT_HEADER_BYTES}-byte header`);
  if (bytes.readInt32BE(MAGIC_OFFSET) !== SNAPSHOT_MAGIC) fail(`magic 0x${bytes.readUInt32BE(MAGIC_OFFSET).toString(16)}`);
  const stored = bytes.readUInt32BE(CRC_OFFSET);
  const computed = crc32c(bytes, STATE_OFFSET_OFFSET, bytes.length);
  if (stored !== computed) fail(`CRC32C is 0x${computed.toString(16)}, the file says 0x${stored.toString(16)}`);
  const entryCount = bytes.readInt32BE(ENTRY_COUNT_OFFSET);
  const entries: ProducerEntry[] = [];
  let at = SNAPSHOT_HEADER_BYTES;
  for (let i = 0; i < entryCount; i++) {
    if (at + ENTRY_HEADER_BYTES > bytes.length) fail(`entry ${i} runs past the end`);
    const batchCount = bytes.readInt8(at + BATCH_COUNT_AT);
    if (batchCount < 0 || batchCount > PRODUCER_BATCHES_RETAINED) fail(`entry ${i} has ${batchCount} batches`);
    const entry: ProducerEntry = {
      producerId: bytes.readBigInt64BE(at + PRODUCER_ID_AT),
      epoch: bytes.readInt16BE(at + EPOCH_AT),
      coordinatorEpoch: bytes.readInt32BE(at + COORDINATOR_EPOCH_AT),
      currentTxnFirstOffset: readInt64AsNumber(bytes, at + TXN_FIRST_OFFSET_AT),
      lastTimestampMs: readInt64AsNumber(bytes, at + LAST_TIMESTAMP_AT),
      batches: [],
    };
    at += ENTRY_HEADER_BYTES;
    if (at + batchCount * BATCH_BYTES > bytes.length) fail(`entry ${i}'s batches run past the end`);
    for (let b = 0; b < batchCount; b++) {
      const batch: ProducerBatch = {
        firstSeq: bytes.readInt32BE(at + FIRST_SEQ_AT),
        lastSeq: bytes.readInt32BE(at + LAST_SEQ_AT),
        firstOffset: readInt64AsNumber(bytes, at + FIRST_OFFSET_AT),
        lastOffset: readInt64AsNumber(bytes, at + LAST_OFFSET_AT),
        timestampMs: readInt64AsNumber(bytes, at + TIMESTAMP_AT),
      };
      entry.batches.push(batch);
      at += BATCH_BYTES;
    }
    entries.push(entry);
  }
  if (at !== bytes.length) fail(`${bytes.length - at} bytes after the last entry`);
  return { offset: readInt64AsNumber(bytes, STATE_OFFSET_OFFSET), entries };
}

/** Offsets of the snapshots in a directory listing, ascending. */
export function snapshotOffsets(fileNames: readonly string[]): number[] {
  const offsets: number[] = [];
  for (const name of fileNames) {
    const match = SNAPSHOT_FILE.exec(name);
    if (match) offsets.push(Number(match[1]));
  }
  return offsets.sort((a, b) => a - b);
}

/** Leftovers of snapshot writes a crash interrupted. */
export function isSnapshotTempFile(name: string): boolean {
  return SNAPSHOT_TEMP_FILE.test(name);
}

export function readSnapshot(dir: string, offset: number): ProducerSnapshot {
  const file = snapshotPath(dir, offset);
  const snapshot = decodeSnapshot(fs.readFileSync(file), file);
  if (snapshot.offset !== offset) throw new Error(`producer snapshot ${file}: holds the state at offset ${snapshot.offset}`);
  return snapshot;
}

/** Written durably before returning (clean close, before retention deletes segments). */
export function writeSnapshotSync(dir: string, offset: number, bytes: Buffer): void {
  writeFileDurably(snapshotPath(dir, offset), bytes);
}

/** The same off the event loop (at a segment roll, on the append path): temp file, fdatasync, rename, directory fsync. */
export async function writeSnapshotAsync(dir: string, offset: number, bytes: Buffer): Promise<void> {
  const file = snapshotPath(dir, offset);
  const temp = `${file}.tmp.async`;
  const handle = await fs.promises.open(temp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temp, file);
  await syncDirectoryAsync(dir);
}

export function deleteSnapshot(dir: string, offset: number): void {
  fs.rmSync(snapshotPath(dir, offset), { force: true });
}
