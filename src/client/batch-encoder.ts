/**
 * Builds a binary produce frame (protocol.ts): the frame header and topic,
 * then the records as Kafka RecordBatch v2 bytes (layout in
 * src/storage/record-batch.ts, record grammar in batch-decoder.ts), all in
 * one buffer sized exactly beforehand, CRC32C computed here. The broker
 * validates and stores these bytes as they are, so the encoding work is the
 * client's and not the broker thread's. Pure: runs in browsers.
 *
 * Batches are uncompressed, CreateTime, with Kafka's "no producer" fields
 * (producerId -1, producerEpoch -1, baseSequence -1, partitionLeaderEpoch -1)
 * and baseOffset 0 (the broker assigns offsets). Records are split into
 * several batches in the frame where one would pass `batchBytesMax`, so no
 * batch trips the topic's max.message.bytes; offsets stay consecutive across
 * them (record i gets base_offset + i).
 */

import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
} from '../storage/record-batch.js';
import { PRODUCE_REQUEST_ID_OFFSET, produceFrameHeaderBytes, writeProduceFrameHeader } from '../protocol/ws/protocol.js';
import { crc32c } from './crc32c.js';
import type { ProduceInput, ValueInput } from './record.js';

/** Kafka's default max.message.bytes is 1048588; a batch of the frame stays under it with room. */
export const BATCH_BYTES_MAX_DEFAULT = 1_000_000;

export interface ProduceFrame {
  /** The whole frame; its request id is written when it is sent (setProduceFrameRequestId). */
  frame: Uint8Array;
  /** Each record's timestamp (ms), for the answer's per-record results. */
  timestamps: number[];
}

const utf8 = new TextEncoder();
const NO_BYTES = -1;
const TWO_TO_32 = 2 ** 32;

/** The fields of one record as bytes, and its encoded size. */
interface EncodedRecord {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Array<{ key: Uint8Array; value: Uint8Array | null }>;
  timestamp: number;
  /** Bytes of the record body (after its length varint) with offsetDelta and timestampDelta taken as the largest they can be in its batch. */
  bodyBytes: number;
}

export function encodeProduceFrame(
  topicBytes: Uint8Array,
  partition: number,
  acks: number,
  records: readonly ProduceInput[],
  nowMs: number,
  batchBytesMax = BATCH_BYTES_MAX_DEFAULT,
): ProduceFrame {
  const encoded = records.map((record) => encodeFields(record, nowMs));
  const batches = splitIntoBatches(encoded, batchBytesMax);
  const headerBytes = produceFrameHeaderBytes(topicBytes);
  let frameBytes = headerBytes;
  for (const batch of batches) frameBytes += batch.bytes;
  const frame = new Uint8Array(frameBytes);
  writeProduceFrameHeader(frame, 0, partition, acks, topicBytes);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = headerBytes;
  for (const batch of batches) at = writeBatch(frame, view, at, encoded, batch);
  return { frame, timestamps: encoded.map((record) => record.timestamp) };
}

/** Stamps the request id into an encoded frame just before it is sent. */
export function setProduceFrameRequestId(frame: Uint8Array, requestId: number): void {
  new DataView(frame.buffer, frame.byteOffset, frame.byteLength).setUint32(PRODUCE_REQUEST_ID_OFFSET, requestId);
}

function bytesOf(value: ValueInput): Uint8Array | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? utf8.encode(value) : value;
}

function encodeFields(record: ProduceInput, nowMs: number): EncodedRecord {
  const key = bytesOf(record.key);
  const value = bytesOf(record.value);
  const headerList = record.headers === undefined ? [] : Array.isArray(record.headers) ? record.headers : Object.entries(record.headers).map(([name, headerValue]) => ({ key: name, value: headerValue as ValueInput }));
  const headers = (headerList as ReadonlyArray<{ key: string; value: ValueInput }>).map((header) => ({ key: utf8.encode(header.key), value: bytesOf(header.value) }));
  const timestamp = record.timestamp === undefined ? nowMs : record.timestamp instanceof Date ? record.timestamp.getTime() : record.timestamp;
  let bodyBytes = 1 + fieldBytes(key) + fieldBytes(value) + varintBytes(headers.length);
  for (const header of headers) bodyBytes += fieldBytes(header.key) + fieldBytes(header.value);
  return { key, value, headers, timestamp, bodyBytes };
}

interface BatchPlan {
  first: number;
  /** One past the last record. */
  end: number;
  baseTimestamp: number;
  maxTimestamp: number;
  bytes: number;
}

/** Consecutive records per batch, each batch's exact size (varints of the deltas included). */
function splitIntoBatches(records: readonly EncodedRecord[], batchBytesMax: number): BatchPlan[] {
  const batches: BatchPlan[] = [];
  let batch: BatchPlan | null = null;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    if (batch !== null) {
      const size = recordBytes(record, i - batch.first, record.timestamp - batch.baseTimestamp);
      if (batch.bytes + size <= batchBytesMax) {
        batch.bytes += size;
        batch.end = i + 1;
        if (record.timestamp > batch.maxTimestamp) batch.maxTimestamp = record.timestamp;
        continue;
      }
    }
    batch = { first: i, end: i + 1, baseTimestamp: record.timestamp, maxTimestamp: record.timestamp, bytes: RECORDS_OFFSET + recordBytes(record, 0, 0) };
    batches.push(batch);
  }
  return batches;
}

function recordBytes(record: EncodedRecord, offsetDelta: number, timestampDelta: number): number {
  const body = record.bodyBytes + varintBytes(offsetDelta) + varlongBytes(timestampDelta);
  return varintBytes(body) + body;
}

/** Writes one batch at `at`; returns where the next starts. */
function writeBatch(frame: Uint8Array, view: DataView, at: number, records: readonly EncodedRecord[], batch: BatchPlan): number {
  // baseOffset stays 0 (the frame is zeroed): the broker assigns offsets.
  view.setInt32(at + LENGTH_OFFSET, batch.bytes - LOG_OVERHEAD);
  view.setInt32(at + PARTITION_LEADER_EPOCH_OFFSET, -1);
  view.setInt8(at + MAGIC_OFFSET, CURRENT_MAGIC);
  view.setInt16(at + ATTRIBUTES_OFFSET, 0);
  view.setInt32(at + LAST_OFFSET_DELTA_OFFSET, batch.end - batch.first - 1);
  setInt64(view, at + BASE_TIMESTAMP_OFFSET, batch.baseTimestamp);
  setInt64(view, at + MAX_TIMESTAMP_OFFSET, batch.maxTimestamp);
  setInt64(view, at + PRODUCER_ID_OFFSET, -1);
  view.setInt16(at + PRODUCER_EPOCH_OFFSET, -1);
  view.setInt32(at + BASE_SEQUENCE_OFFSET, -1);
  view.setInt32(at + RECORDS_COUNT_OFFSET, batch.end - batch.first);
  let p = at + RECORDS_OFFSET;
  for (let i = batch.first; i < batch.end; i++) {
    const record = records[i]!;
    const offsetDelta = i - batch.first;
    const timestampDelta = record.timestamp - batch.baseTimestamp;
    p = writeVarint(frame, p, record.bodyBytes + varintBytes(offsetDelta) + varlongBytes(timestampDelta));
    frame[p++] = 0; // record attributes: unused in v2
    p = writeVarlong(frame, p, timestampDelta);
    p = writeVarint(frame, p, offsetDelta);
    p = writeField(frame, p, record.key);
    p = writeField(frame, p, record.value);
    p = writeVarint(frame, p, record.headers.length);
    for (const header of record.headers) {
      p = writeField(frame, p, header.key);
      p = writeField(frame, p, header.value);
    }
  }
  const end = at + batch.bytes;
  if (p !== end) throw new Error(`batch encoder: wrote ${p - at} bytes of a ${batch.bytes}-byte batch`); // a sizing bug, never input
  view.setUint32(at + CRC_OFFSET, crc32c(frame, at + ATTRIBUTES_OFFSET, end));
  return end;
}

// --- varints (zigzag, as Kafka's records) --------------------------------------------------

function fieldBytes(bytes: Uint8Array | null): number {
  return bytes === null ? varintBytes(NO_BYTES) : varintBytes(bytes.length) + bytes.length;
}

function writeField(out: Uint8Array, at: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarint(out, at, NO_BYTES);
  const p = writeVarint(out, at, bytes.length);
  out.set(bytes, p);
  return p + bytes.length;
}

/** Bytes of a zigzag varint of an int32. */
function varintBytes(n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  let bytes = 1;
  while (v >= 0x80) {
    v >>>= 7;
    bytes++;
  }
  return bytes;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

/** A zigzag varlong of a safe integer (timestamp deltas), without BigInt: numbers are exact below 2^53. */
function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varlongBytes(n: number): number {
  let v = zigzag(n);
  let bytes = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    bytes++;
  }
  return bytes;
}

function writeVarlong(out: Uint8Array, at: number, n: number): number {
  let v = zigzag(n);
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

function setInt64(view: DataView, at: number, value: number): void {
  view.setInt32(at, Math.floor(value / TWO_TO_32));
  view.setUint32(at + 4, value >>> 0);
}
