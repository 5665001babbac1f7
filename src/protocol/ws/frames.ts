/**
 * The JSON views the door sends: a FerryError as an error message, stored
 * batches as a records message. Binary pushes need no view (their header is
 * written by protocol.ts), which is the point of the binary encoding.
 */

import { isUtf8 } from 'node:buffer';
import type { FetchResult, ProducedRecord } from '../../broker/broker.js';
import { ERROR_CODES, FerryError, NotLeaderError, type BrokerEndpoint } from '../../errors.js';
import { decodeBatches, type DecodedRecord } from '../../storage/records.js';
import { leaderSocketUrl, type ErrorMessage, type WireLeader, type RecordsMessage, type RequestId, type WireRecord, type WireValue } from './protocol.js';

export interface ErrorContext {
  id?: string | number | undefined;
  subscription?: number;
  partition?: number;
  group?: string;
  /** Where the client should go instead, when the error alone does not name it (NOT_COORDINATOR: the coordinator). */
  leader?: BrokerEndpoint;
}

/** A FerryError as the protocol's error message; anything else is UNKNOWN_SERVER_ERROR (the caller logs it). */
export function errorMessage(error: unknown, context: ErrorContext): ErrorMessage {
  const message: ErrorMessage = { type: 'error', error_code: ERROR_CODES.UNKNOWN_SERVER_ERROR.code, error_name: 'UNKNOWN_SERVER_ERROR', retriable: false, message: 'internal error' };
  if (context.id !== undefined) message.id = context.id;
  if (context.subscription !== undefined) message.subscription = context.subscription;
  if (context.partition !== undefined) message.partition = context.partition;
  if (context.group !== undefined) message.group = context.group;
  if (error instanceof FerryError) {
    message.error_code = error.errorCode;
    message.error_name = error.errorName;
    message.retriable = error.retriable;
    message.message = error.message;
  }
  const leader = error instanceof NotLeaderError && error.leader ? error.leader : context.leader;
  if (leader) message.leader = wireLeader(leader);
  return message;
}

export function wireLeader({ id, host, httpPort }: BrokerEndpoint): WireLeader {
  return { id, host, http_port: httpPort, url: leaderSocketUrl(host, httpPort) };
}

/**
 * The JSON produce answer, {type:"produced", results:[...], id?} as
 * JSON.stringify would write it, written by hand: one result per record made
 * JSON.stringify the largest item of the broker's profile under JSON produce
 * (10% at 250k records/s of 500-record requests); concatenation is ~6x
 * cheaper. Every field is an integer (offsets, ms timestamps), so a number's
 * string is its JSON.
 */
export function producedText(id: RequestId | undefined, results: readonly ProducedRecord[]): string {
  let text = '{"type":"produced","results":[';
  for (let i = 0; i < results.length; i++) {
    const result = results[i]!;
    text += `${i === 0 ? '' : ','}{"partition":${result.partition},"offset":${result.offset},"timestamp":${result.timestamp}}`;
  }
  return id === undefined ? `${text}]}` : `${text}],"id":${JSON.stringify(id)}}`;
}

/**
 * The records of `fetched` at or after `fetchOffset` (a fetch starts at the
 * batch holding it), control batches left out: what a JSON push carries.
 */
export function recordsAfter(fetched: FetchResult, fetchOffset: number): DecodedRecord[] {
  const from = BigInt(fetchOffset);
  const records: DecodedRecord[] = [];
  for (const batch of decodeBatches(fetched.bytes)) {
    if (batch.isControl) continue;
    for (const record of batch.records) if (record.offset >= from) records.push(record);
  }
  return records;
}

export function recordsMessage(subscription: number, partition: number, records: readonly DecodedRecord[], fetched: FetchResult): RecordsMessage {
  return {
    type: 'records',
    subscription,
    partition,
    records: records.map(wireRecord),
    next_offset: fetched.nextOffset,
    high_watermark: fetched.highWatermark,
    bytes: fetched.bytes.length,
  };
}

function wireRecord(record: DecodedRecord): WireRecord {
  return {
    offset: Number(record.offset),
    timestamp: Number(record.timestamp),
    key: wireValue(record.key),
    value: wireValue(record.value),
    headers: record.headers.map((header) => ({ key: header.key, value: wireValue(header.value) })),
  };
}

/** Text when the bytes are valid UTF-8 (so the string round-trips to the same bytes), base64 otherwise. */
export function wireValue(bytes: Buffer | null): WireValue {
  if (bytes === null) return null;
  return isUtf8(bytes) ? bytes.toString('utf8') : { base64: bytes.toString('base64') };
}
