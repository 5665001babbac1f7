/**
 * Reads a client's JSON text frame into a checked request the door can hand
 * to the broker: types checked field by field, values turned into bytes.
 * Anything malformed is an InvalidRequest (INVALID_REQUEST, or the reserved
 * group types sync and heartbeat as UNSUPPORTED_VERSION) carrying the request's id when
 * one could be read, so the error answer names the request. Grammar in
 * protocol.ts.
 */

import type { Acks, ProduceRecord } from '../../broker/broker.js';
import { FerryError, type ErrorName } from '../../errors.js';
import type { RecordHeader } from '../../storage/records.js';
import { GROUP_SESSION_TIMEOUT_MS_DEFAULT, GROUP_REBALANCE_TIMEOUT_MS_DEFAULT } from './limits.js';
import { RESERVED_GROUP_TYPES, WIRE_ASSIGNORS, type RequestId, type WireAssignor, type WireFrom } from './protocol.js';

export interface PartitionStart {
  partition: number;
  /** null: the subscription's `from`. */
  from: WireFrom | null;
}

export type Request =
  | { type: 'produce'; id: RequestId | undefined; topic: string; acks: Acks; records: ProduceRecord[] }
  | { type: 'subscribe'; id: RequestId | undefined; topic: string; partitions: PartitionStart[] | null; from: WireFrom; creditBytes: number | null }
  | { type: 'credit'; subscription: number; bytes: number }
  | { type: 'unsubscribe'; id: RequestId | undefined; subscription: number }
  | { type: 'ping'; id: RequestId | undefined }
  | JoinGroupRequest
  | { type: 'commit'; id: RequestId | undefined; group: string; offsets: OffsetCommit[] }
  | { type: 'offsets'; id: RequestId | undefined; group: string; topics: string[] | null }
  | { type: 'leave'; id: RequestId | undefined; group: string }
  | { type: 'metadata'; id: RequestId | undefined; topics: string[] | null };

export interface JoinGroupRequest {
  type: 'join';
  id: RequestId | undefined;
  group: string;
  topics: string[];
  /** In order of preference, no repeats. */
  assignors: WireAssignor[];
  from: WireFrom;
  creditBytes: number | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** How long the door waits, after pushing `rebalancing`, for the client's commit before it rejoins. */
  revokeTimeoutMs: number;
  instanceId: string | null;
}

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata: string | null;
}

/** A request the door will not run; `requestId` is echoed in the error answer. */
export class InvalidRequest extends FerryError {
  constructor(
    readonly requestId: RequestId | undefined,
    message: string,
    errorName: ErrorName = 'INVALID_REQUEST',
  ) {
    super(errorName, message);
  }
}

type Json = Record<string, unknown>;


export function parseRequest(text: string): Request {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    throw new InvalidRequest(undefined, `malformed JSON: ${(error as Error).message}`);
  }
  if (!isObject(message)) throw new InvalidRequest(undefined, 'a request must be a JSON object');
  const id = requestIdOf(message);
  const fields = new Fields(message, id);
  const type = message.type;
  switch (type) {
    case 'produce':
      return { type, id, topic: fields.string('topic'), acks: acksOf(fields), records: recordsOf(fields) };
    case 'subscribe':
      return { type, id, topic: fields.string('topic'), partitions: partitionStartsOf(fields), from: fields.from('from', 'latest'), creditBytes: fields.optionalCount('credit') };
    case 'credit':
      return { type, subscription: fields.count('subscription'), bytes: fields.count('bytes') };
    case 'unsubscribe':
      return { type, id, subscription: fields.count('subscription') };
    case 'ping':
      return { type, id };
    case 'join':
      return joinOf(fields);
    case 'commit':
      return { type, id, group: fields.string('group'), offsets: offsetCommitsOf(fields) };
    case 'offsets':
      return { type, id, group: fields.string('group'), topics: fields.raw('topics') === undefined ? null : fields.topics('topics') };
    case 'leave':
      return { type, id, group: fields.string('group') };
    case 'metadata':
      return { type, id, topics: fields.raw('topics') === undefined ? null : fields.topics('topics') };
    default:
      if (typeof type === 'string' && RESERVED_GROUP_TYPES.includes(type)) {
        throw new InvalidRequest(id, `"${type}" is reserved: the door runs it on a group member's behalf after "join"`, 'UNSUPPORTED_VERSION');
      }
      throw new InvalidRequest(id, `unknown request type ${JSON.stringify(type)}`);
  }
}

function joinOf(fields: Fields): JoinGroupRequest {
  const instanceId = fields.raw('instance_id');
  if (instanceId !== undefined && (typeof instanceId !== 'string' || instanceId.length === 0)) throw fields.invalid('instance_id must be a non-empty string');
  return {
    type: 'join',
    id: fields.id,
    group: fields.string('group'),
    topics: fields.topics('topics'),
    assignors: assignorsOf(fields),
    from: fields.from('from', 'latest'),
    creditBytes: fields.optionalCount('credit'),
    sessionTimeoutMs: fields.optionalCount('session_timeout_ms') ?? GROUP_SESSION_TIMEOUT_MS_DEFAULT,
    rebalanceTimeoutMs: fields.optionalCount('rebalance_timeout_ms') ?? GROUP_REBALANCE_TIMEOUT_MS_DEFAULT,
    revokeTimeoutMs: fields.optionalCount('revoke_timeout_ms') ?? 0,
    instanceId: instanceId ?? null,
  };
}

function assignorsOf(fields: Fields): WireAssignor[] {
  const assignor = fields.raw('assignor');
  if (assignor === undefined) return ['range'];
  const names: unknown[] = Array.isArray(assignor) ? assignor : [assignor];
  if (names.length === 0 || !names.every((name): name is WireAssignor => WIRE_ASSIGNORS.includes(name as WireAssignor))) {
    throw fields.invalid(`assignor must be one of ${WIRE_ASSIGNORS.join(', ')} or a non-empty list of them`);
  }
  return [...new Set(names)];
}

function offsetCommitsOf(fields: Fields): OffsetCommit[] {
  const offsets = fields.raw('offsets');
  // Empty is allowed: it commits nothing, and tells a revoking member the client is done (protocol.ts).
  if (!Array.isArray(offsets)) throw fields.invalid('offsets must be an array');
  return offsets.map((entry, i) => {
    if (!isObject(entry)) throw fields.invalid(`offsets[${i}] must be {topic, partition, offset}`);
    const entryFields = new Fields(entry, fields.id, `offsets[${i}].`);
    const metadata = entry.metadata;
    if (metadata !== undefined && metadata !== null && typeof metadata !== 'string') throw entryFields.invalid('metadata must be a string');
    return { topic: entryFields.string('topic'), partition: entryFields.count('partition'), offset: entryFields.count('offset'), metadata: metadata ?? null };
  });
}

function requestIdOf(message: Json): RequestId | undefined {
  const id = message.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : undefined;
}

function acksOf(fields: Fields): Acks {
  const acks = fields.raw('acks');
  if (acks === undefined || acks === 'all' || acks === -1) return -1;
  if (acks === 0 || acks === 1) return acks;
  throw new InvalidRequest(fields.id, `acks must be 0, 1, -1 or "all", not ${JSON.stringify(acks)}`, 'INVALID_REQUIRED_ACKS');
}

function recordsOf(fields: Fields): ProduceRecord[] {
  const records = fields.raw('records');
  if (!Array.isArray(records) || records.length === 0) throw fields.invalid('records must be a non-empty array');
  return records.map((record, i) => {
    const where = `records[${i}]`;
    if (!isObject(record)) throw fields.invalid(`${where} must be an object`);
    const recordFields = new Fields(record, fields.id, `${where}.`);
    const produced: ProduceRecord = {
      key: recordFields.value('key', true),
      value: recordFields.value('value', false),
      headers: headersOf(recordFields),
    };
    const partition = recordFields.optionalCount('partition');
    if (partition !== null) produced.partition = partition;
    const timestamp = recordFields.raw('timestamp');
    if (timestamp !== undefined) {
      if (!Number.isSafeInteger(timestamp) || (timestamp as number) < 0) throw recordFields.invalid('timestamp must be a non-negative integer (ms since the epoch)');
      produced.timestamp = timestamp as number;
    }
    return produced;
  });
}

function headersOf(fields: Fields): RecordHeader[] {
  const headers = fields.raw('headers');
  if (headers === undefined || headers === null) return [];
  if (Array.isArray(headers)) {
    return headers.map((header, i) => {
      if (!isObject(header)) throw fields.invalid(`headers[${i}] must be {key, value}`);
      const headerFields = new Fields(header, fields.id, `${fields.prefix}headers[${i}].`);
      return { key: headerFields.string('key'), value: headerFields.value('value', true) };
    });
  }
  if (!isObject(headers)) throw fields.invalid('headers must be an array of {key, value} or an object');
  const headerFields = new Fields(headers, fields.id, `${fields.prefix}headers.`);
  return Object.keys(headers).map((key) => ({ key, value: headerFields.value(key, true) }));
}

function partitionStartsOf(fields: Fields): PartitionStart[] | null {
  const partitions = fields.raw('partitions');
  if (partitions === undefined || partitions === null) return null;
  if (!Array.isArray(partitions) || partitions.length === 0) throw fields.invalid('partitions must be a non-empty array');
  const seen = new Set<number>();
  return partitions.map((entry, i) => {
    const start = partitionStartOf(entry, fields, i);
    if (seen.has(start.partition)) throw fields.invalid(`partition ${start.partition} is listed twice`);
    seen.add(start.partition);
    return start;
  });
}

/** `p` or `{partition: p, from}`. */
function partitionStartOf(entry: unknown, fields: Fields, index: number): PartitionStart {
  const prefix = `partitions[${index}].`;
  if (!isObject(entry)) return { partition: new Fields({ partition: entry }, fields.id, prefix).count('partition'), from: null };
  const entryFields = new Fields(entry, fields.id, prefix);
  return { partition: entryFields.count('partition'), from: entryFields.from('from', null) };
}

/**
 * Padded standard base64 decoded, or null. Node's decoder is lenient (it
 * skips what is not base64, stops at '=' and takes the URL-safe alphabet
 * too), so the text is checked by what came out: anything skipped or cut
 * short leaves fewer bytes than the length promises. A regular expression
 * over the text did the same check at ~10 us per KiB (2.7 s of 13.8 s of the
 * broker in a JSON produce profile); this costs the decode and two scans.
 */
function standardBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0) return null;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== (text.length / 4) * 3 - padding) return null;
  if (text.includes('-') || text.includes('_')) return null;
  return bytes;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed reads of one JSON object's fields, with errors naming the field. */
class Fields {
  constructor(
    private readonly object: Json,
    readonly id: RequestId | undefined,
    readonly prefix = '',
  ) {}

  raw(name: string): unknown {
    return this.object[name];
  }

  invalid(message: string): InvalidRequest {
    return new InvalidRequest(this.id, `${this.prefix}${message}`);
  }

  string(name: string): string {
    const value = this.object[name];
    if (typeof value !== 'string') throw this.invalid(`${name} must be a string`);
    return value;
  }

  /** A non-negative safe integer. */
  count(name: string): number {
    const value = this.object[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw this.invalid(`${name} must be a non-negative integer`);
    return value;
  }

  /** A non-empty list of distinct topic names. */
  topics(name: string): string[] {
    const value = this.object[name];
    if (!Array.isArray(value) || value.length === 0 || !value.every((topic) => typeof topic === 'string' && topic.length > 0)) {
      throw this.invalid(`${name} must be a non-empty array of topic names`);
    }
    if (new Set(value).size !== value.length) throw this.invalid(`${name} lists a topic twice`);
    return value as string[];
  }

  optionalCount(name: string): number | null {
    return this.object[name] === undefined ? null : this.count(name);
  }

  /** A Value (protocol.ts) as bytes; an absent field is null where `optional`. */
  value(name: string, optional: boolean): Buffer | null {
    const value = this.object[name];
    if (value === null || (value === undefined && optional)) return null;
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    if (isObject(value) && typeof value.base64 === 'string') {
      const bytes = standardBase64(value.base64);
      if (bytes === null) throw this.invalid(`${name}.base64 is not padded standard base64`);
      return bytes;
    }
    throw this.invalid(`${name} must be a string, {"base64": "..."} or null`);
  }

  from<T extends WireFrom | null>(name: string, absent: T): WireFrom | T {
    const value = this.object[name];
    if (value === undefined) return absent;
    if (value === 'earliest' || value === 'latest') return value;
    if (isObject(value)) {
      const fromFields = new Fields(value, this.id, `${this.prefix}${name}.`);
      if (value.offset !== undefined) return { offset: fromFields.count('offset') };
      if (value.timestamp !== undefined) {
        if (!Number.isSafeInteger(value.timestamp)) throw fromFields.invalid('timestamp must be an integer (ms since the epoch)');
        return { timestamp: value.timestamp as number };
      }
    }
    throw this.invalid(`${name} must be "earliest", "latest", {"offset": n} or {"timestamp": ms}`);
  }
}
