/**
 * The soak's invariants, checked against a full read-back of the topic from
 * offset 0 once producing has stopped. Pure functions: each returns the
 * violations it found (at most VIOLATIONS_SHOWN_MAX named, all counted).
 *
 * Offsets are compared in acknowledgement order per producer and partition:
 * one producer has one request in flight, so its acks in a partition must
 * have strictly increasing offsets; two producers' acks may arrive in either
 * order, so across producers only uniqueness of (partition, offset) holds.
 */

import type { Acked, Served } from './soak-clients.js';

const VIOLATIONS_SHOWN_MAX = 10;

export type ReadBack = Map<number, Array<{ offset: number; value: string }>>;

export interface InvariantResult {
  name: string;
  violations: number;
  examples: string[];
}

function result(name: string, found: string[]): InvariantResult {
  return { name, violations: found.length, examples: found.slice(0, VIOLATIONS_SHOWN_MAX) };
}

function valueAt(read: ReadBack): Map<string, string> {
  const at = new Map<string, string>();
  for (const [partition, records] of read) for (const { offset, value } of records) at.set(`${partition}/${offset}`, value);
  return at;
}

export function checkInvariants(acked: readonly Acked[], read: ReadBack, served: Served, liveCaughtUp: boolean): InvariantResult[] {
  const at = valueAt(read);
  const times = new Map<string, number>();
  for (const records of read.values()) for (const { value } of records) times.set(value, (times.get(value) ?? 0) + 1);

  const lost = acked.filter((record) => !times.has(record.value)).map((record) => `${record.value} (acked at partition ${record.partition} offset ${record.offset}) not in the log`);
  const duplicated = [...times].filter(([, count]) => count > 1).map(([value, count]) => `${value} ${count} times`);
  const moved = acked
    .filter((record) => times.has(record.value) && at.get(`${record.partition}/${record.offset}`) !== record.value)
    .map((record) => `${record.value} acked at partition ${record.partition} offset ${record.offset}, which holds ${at.get(`${record.partition}/${record.offset}`) ?? 'nothing'}`);

  const backwards: string[] = [];
  const lastOffset = new Map<string, Acked>();
  const claimed = new Map<string, string>();
  for (const record of acked) {
    const stream = `${record.producer}/${record.partition}`;
    const previous = lastOffset.get(stream);
    if (previous && record.offset <= previous.offset) backwards.push(`producer ${record.producer} partition ${record.partition}: ${previous.value} at ${previous.offset}, then ${record.value} at ${record.offset}`);
    lastOffset.set(stream, record);
    const slot = `${record.partition}/${record.offset}`;
    const owner = claimed.get(slot);
    if (owner !== undefined) backwards.push(`partition ${record.partition} offset ${record.offset} acknowledged for both ${owner} and ${record.value}`);
    claimed.set(slot, record.value);
  }
  for (const [partition, records] of read) {
    records.forEach(({ offset }, i) => {
      if (offset !== i) backwards.push(`read-back of partition ${partition}: record ${i} has offset ${offset}`);
    });
  }

  // A record the live consumer was served must be the log's record at that offset: otherwise it read past the high watermark.
  const unstable: string[] = [];
  for (const [partition, byOffset] of served) {
    for (const [offset, value] of byOffset) {
      const final = at.get(`${partition}/${offset}`);
      if (final !== value) unstable.push(`partition ${partition} offset ${offset}: served "${value}", the log holds ${final === undefined ? 'nothing' : `"${final}"`}`);
    }
  }
  if (!liveCaughtUp) unstable.push('the live consumer had not been served every acknowledged record when it was stopped');

  return [
    result('no acknowledged record lost', lost),
    result('no duplicate (idempotence)', duplicated),
    result('acknowledged records at their acknowledged offsets', moved),
    result('offsets monotonic per partition in acknowledgement order', backwards),
    result('live consumer served only committed records, and all acknowledged ones', unstable),
  ];
}
