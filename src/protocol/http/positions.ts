/**
 * Where a read over HTTP starts: `offset=N`, `from=earliest|latest`, or an
 * SSE cursor (the `id` of the last event a client saw, sent back as
 * Last-Event-ID), and keeping a position inside the log as retention moves
 * its start.
 *
 * Cursor grammar (the SSE `id:` field):
 *   cursor = pair *( "," pair )
 *   pair   = partition ":" offset      the last offset delivered on that partition; -1 and below: none yet
 * A stream resumes at offset + 1 on every partition named.
 */

import type { Broker } from '../../broker/broker.js';
import { FerryError } from '../../errors.js';
import { badRequest } from './errors.js';
import { SSE_CURSOR_CHARS_MAX } from './limits.js';
import { queryChoice, queryInteger } from './request-json.js';

export type From = 'earliest' | 'latest';
export const FROM_CHOICES: readonly From[] = ['earliest', 'latest'];

const CURSOR = /^\d{1,9}:-?\d{1,16}(,\d{1,9}:-?\d{1,16})*$/;

/**
 * `offset=N` (checked against the log: 416 outside it) or `from=earliest|latest`
 * (else `fallback`), for one partition.
 */
export function requestedStart(broker: Broker, topic: string, partition: number, query: URLSearchParams, fallback: From): number {
  const offset = queryInteger(query, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER });
  if (offset === undefined) return broker.listOffset(topic, partition, queryChoice(query, 'from', FROM_CHOICES) ?? fallback).offset;
  const earliest = broker.listOffset(topic, partition, 'earliest').offset;
  const latest = broker.listOffset(topic, partition, 'latest').offset;
  if (offset < earliest || offset > latest) {
    throw new FerryError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside partition ${partition} of ${topic}: [${earliest}, ${latest}]`);
  }
  return offset;
}

/** `offset` moved into [log start, log end], as Kafka's auto.offset.reset does for a consumer that fell behind retention. */
export function clampToLog(broker: Broker, topic: string, partition: number, offset: number): number {
  const earliest = broker.listOffset(topic, partition, 'earliest').offset;
  const latest = broker.listOffset(topic, partition, 'latest').offset;
  return Math.min(Math.max(offset, earliest), latest);
}

/** partition -> last delivered offset, from a Last-Event-ID header; null when there is none. */
export function parseCursor(text: string | undefined): Map<number, number> | null {
  if (text === undefined || text === '') return null;
  if (text.length > SSE_CURSOR_CHARS_MAX || !CURSOR.test(text)) throw badRequest(`Last-Event-ID ${JSON.stringify(text.slice(0, 64))} is not a Ferry stream cursor (partition:offset,...)`);
  const cursor = new Map<number, number>();
  for (const pair of text.split(',')) {
    const [partition, offset] = pair.split(':');
    cursor.set(Number(partition), Number(offset));
  }
  return cursor;
}
