/**
 * Records as JSON: the produce request's key/value encodings (Confluent REST
 * Proxy v3) into broker records, and stored records back into JSON for the
 * fetch endpoint and SSE streams (Ferry extensions).
 *
 * Produce, one record (a JSON array of them is a Ferry extension):
 *
 *   { "partition_id": 0,                              optional; else Kafka's partitioner
 *     "key":   { "type": "STRING", "data": "user-1" },
 *     "value": { "type": "JSON",   "data": { "n": 1 } },
 *     "headers": [ { "name": "trace", "value": "<base64>" } ],
 *     "timestamp": "2024-05-01T12:00:00.000Z" }     optional; ISO-8601 or epoch ms; now by default
 *
 *   type JSON   the bytes are the JSON text of `data` (JSON.stringify), UTF-8
 *        STRING `data` is a string, stored as UTF-8
 *        BINARY `data` is base64, stored decoded
 *   `type` defaults to JSON. A missing key or value, or `"data": null`, is
 *   null (a null value is a tombstone). Header values are base64 or null.
 *
 * Read back:
 *
 *   { "partition_id": 0, "offset": 5, "timestamp": 1714564800000,     epoch ms
 *     "key": "user-1", "value": "{\"n\":1}",
 *     "headers": [ { "name": "trace", "value": "abc" } ] }
 *
 *   Bytes that are valid UTF-8 are shown as a string; other bytes as base64,
 *   flagged by `"key_encoding": "base64"` (`value_encoding`, and
 *   `value_encoding` inside a header). The type a record was produced with is
 *   not stored (Kafka records carry bytes only): a JSON value reads back as its
 *   JSON text.
 */

import { isUtf8 } from 'node:buffer';
import type { ProduceRecord } from '../../broker/broker.js';
import type { DecodedRecord, RecordHeader } from '../../storage/records.js';
import { badRequest } from './errors.js';
import { expectObject, expectString, isObject, optionalInteger } from './request-json.js';

export const EMBEDDED_TYPES = ['JSON', 'STRING', 'BINARY'] as const;
export type EmbeddedType = (typeof EMBEDDED_TYPES)[number];

/** What the produce answer says about a key or value: `{ "type": "JSON", "size": 7 }`. */
export interface DataSummary {
  type: EmbeddedType;
  size: number;
}

export interface ParsedRecord {
  record: ProduceRecord;
  key: DataSummary | null;
  value: DataSummary | null;
  /** Upper bound on the record's size inside a batch, for grouping records under max.message.bytes. */
  estimatedBytes: number;
}

/** Kafka's per-record framing is at most this many bytes beyond key, value and headers (varints, attributes, deltas). */
const RECORD_OVERHEAD_BYTES_MAX = 32;
const HEADER_OVERHEAD_BYTES_MAX = 10;
const PARTITION_ID_MAX = 2 ** 31 - 1;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** The largest time a JavaScript Date (and so an ISO-8601 answer) can hold. */
const TIMESTAMP_MS_MAX = 8.64e15;

/** One record or (Ferry extension) an array of them. */
export function parseProduceBody(body: unknown, recordsMax: number): { records: ParsedRecord[]; batch: boolean } {
  if (!Array.isArray(body)) return { records: [parseRecord(body, 'record')], batch: false };
  if (body.length > recordsMax) throw badRequest(`a produce request holds at most PRODUCE_RECORDS_MAX ${recordsMax} records, not ${body.length}`);
  return { records: body.map((item, i) => parseRecord(item, `record [${i}]`)), batch: true };
}

export function parseRecord(input: unknown, where: string): ParsedRecord {
  const object = expectObject(input, where);
  const key = parseData(object['key'], `${where}.key`);
  const value = parseData(object['value'], `${where}.value`);
  const headers = parseHeaders(object['headers'], `${where}.headers`);
  const partition = optionalInteger(object['partition_id'], `${where}.partition_id`, 0, PARTITION_ID_MAX);
  const timestamp = parseTimestamp(object['timestamp'], `${where}.timestamp`);
  const record: ProduceRecord = { key: key?.bytes ?? null, value: value?.bytes ?? null, headers };
  if (partition !== undefined) record.partition = partition;
  if (timestamp !== undefined) record.timestamp = timestamp;
  let estimatedBytes = RECORD_OVERHEAD_BYTES_MAX + (key?.bytes.length ?? 0) + (value?.bytes.length ?? 0);
  for (const header of headers) estimatedBytes += HEADER_OVERHEAD_BYTES_MAX + Buffer.byteLength(header.key) + (header.value?.length ?? 0);
  return { record, key: key && { type: key.type, size: key.bytes.length }, value: value && { type: value.type, size: value.bytes.length }, estimatedBytes };
}

function parseData(input: unknown, where: string): { type: EmbeddedType; bytes: Buffer } | null {
  if (input === undefined || input === null) return null;
  const object = expectObject(input, where);
  const type = object['type'] ?? 'JSON';
  if (!EMBEDDED_TYPES.includes(type as EmbeddedType)) {
    throw badRequest(`${where}.type must be one of ${EMBEDDED_TYPES.join(', ')}, not ${JSON.stringify(type)} (Ferry has no Schema Registry)`);
  }
  const data = object['data'];
  if (data === undefined || data === null) return null;
  return { type: type as EmbeddedType, bytes: encodeData(type as EmbeddedType, data, `${where}.data`) };
}

/** JSON.parse accepts nesting that JSON.stringify then overflows the stack on: that is bad input, not a broker failure. */
function jsonText(data: unknown, where: string): string {
  try {
    return JSON.stringify(data);
  } catch (error) {
    if (error instanceof RangeError) throw badRequest(`${where} is nested too deeply`);
    throw error;
  }
}

function encodeData(type: EmbeddedType, data: unknown, where: string): Buffer {
  switch (type) {
    case 'JSON':
      return Buffer.from(jsonText(data, where), 'utf8');
    case 'STRING':
      return Buffer.from(expectString(data, where), 'utf8');
    case 'BINARY':
      return decodeBase64(data, where);
  }
}

function decodeBase64(data: unknown, where: string): Buffer {
  const text = expectString(data, where);
  if (!BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1) throw badRequest(`${where} must be base64`);
  return Buffer.from(text, 'base64');
}

function parseHeaders(input: unknown, where: string): RecordHeader[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input)) throw badRequest(`${where} must be an array of { "name", "value" (base64) }`);
  return input.map((item, i) => {
    if (!isObject(item)) throw badRequest(`${where}[${i}] must be an object { "name", "value" (base64) }`);
    const key = expectString(item['name'], `${where}[${i}].name`);
    const value = item['value'] === null || item['value'] === undefined ? null : decodeBase64(item['value'], `${where}[${i}].value`);
    return { key, value };
  });
}

function parseTimestamp(input: unknown, where: string): number | undefined {
  if (input === undefined || input === null) return undefined;
  const ms = typeof input === 'string' ? Date.parse(input) : input;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0 || ms > TIMESTAMP_MS_MAX) {
    throw badRequest(`${where} must be an ISO-8601 date-time or non-negative epoch milliseconds, not ${JSON.stringify(input)}`);
  }
  return ms;
}

// --- reading -----------------------------------------------------------------------------------

export interface HeaderJson {
  name: string;
  value: string | null;
  value_encoding?: 'base64';
}

export interface RecordJson {
  partition_id: number;
  offset: number;
  timestamp: number;
  key: string | null;
  key_encoding?: 'base64';
  value: string | null;
  value_encoding?: 'base64';
  headers: HeaderJson[];
}

export function renderRecord(partition: number, record: DecodedRecord): RecordJson {
  const json: RecordJson = { partition_id: partition, offset: Number(record.offset), timestamp: Number(record.timestamp), key: null, value: null, headers: [] };
  const key = renderBytes(record.key);
  json.key = key.text;
  if (key.base64) json.key_encoding = 'base64';
  const value = renderBytes(record.value);
  json.value = value.text;
  if (value.base64) json.value_encoding = 'base64';
  json.headers = record.headers.map((header) => {
    const rendered = renderBytes(header.value);
    return rendered.base64 ? { name: header.key, value: rendered.text, value_encoding: 'base64' } : { name: header.key, value: rendered.text };
  });
  return json;
}

function renderBytes(bytes: Buffer | null): { text: string | null; base64: boolean } {
  if (bytes === null) return { text: null, base64: false };
  if (isUtf8(bytes)) return { text: bytes.toString('utf8'), base64: false };
  return { text: bytes.toString('base64'), base64: true };
}
