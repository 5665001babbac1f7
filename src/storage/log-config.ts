/**
 * Per-partition log settings, named after Kafka's topic configs.
 *
 * `logConfigFromTopicConfigs` reads Kafka's property names and string values
 * (as CreateTopics, AlterConfigs and the REST API carry them) into typed
 * settings with units in their names. Defaults are Kafka's.
 */

import { FerryError } from '../errors.js';

export type TimestampType = 'CreateTime' | 'LogAppendTime';

export interface LogConfig {
  /** segment.bytes: roll the active segment before it would exceed this. */
  segmentBytes: number;
  /** segment.ms: roll a non-empty active segment this long after it was created. */
  segmentMs: number;
  /** segment.index.bytes: roll when the offset index reaches this size. */
  segmentIndexBytes: number;
  /** index.interval.bytes: log bytes between two sparse index entries. */
  indexIntervalBytes: number;
  /** retention.ms: delete segments whose newest record is older; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: delete oldest segments while the log is larger; -1 = no limit. */
  retentionBytes: number;
  /** cleanup.policy contains "delete". */
  cleanupDelete: boolean;
  /** cleanup.policy contains "compact". */
  cleanupCompact: boolean;
  /** delete.retention.ms: how long a tombstone survives compaction. */
  deleteRetentionMs: number;
  /** max.message.bytes: largest record batch accepted, log overhead included. */
  maxMessageBytes: number;
  /** message.timestamp.type */
  timestampType: TimestampType;
  /** flush.messages: fsync once this many records are unflushed; 1 = fsync before every acknowledgement. */
  flushMessages: number;
  /** flush.ms: fsync at least this often while data is unflushed. */
  flushMs: number;
  /** preallocate: reserve segment.bytes of disk when a segment is created (released again on roll). */
  preallocate: boolean;
  /** min.insync.replicas: an acks=all produce needs at least this many in-sync replicas (cluster mode; a single node is 1). */
  minInsyncReplicas: number;
  /** unclean.leader.election.enable: elect a replica outside the ISR when no ISR member is live (loses acknowledged records). */
  uncleanLeaderElection: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  cleanupDelete: true,
  cleanupCompact: false,
  deleteRetentionMs: DAY_MS,
  maxMessageBytes: 1024 * 1024 + 12,
  timestampType: 'CreateTime',
  flushMessages: Number.POSITIVE_INFINITY,
  flushMs: Number.POSITIVE_INFINITY,
  preallocate: false,
  minInsyncReplicas: 1,
  uncleanLeaderElection: false,
});

/** Smallest segment we accept, as Kafka. */
const SEGMENT_BYTES_MIN = 14;
/** Index entries hold positions as int32: a segment cannot be larger. */
const INT32_MAX = 0x7fffffff;

type Parser = (config: LogConfig, value: string, name: string) => void;

function integer(value: string, name: string, min: number, max = Number.POSITIVE_INFINITY): number {
  if (!/^-?\d+$/.test(value.trim())) throw new FerryError('INVALID_CONFIG', `${name}=${value} is not an integer`);
  const parsed = Number(value);
  if (parsed < min) throw new FerryError('INVALID_CONFIG', `${name}=${value} is below the minimum ${min}`);
  if (parsed > max) throw new FerryError('INVALID_CONFIG', `${name}=${value} is above the maximum ${max}`);
  // Kafka uses Long.MAX_VALUE for "never"; anything beyond 2^53 means the same here.
  return Number.isSafeInteger(parsed) ? parsed : Number.POSITIVE_INFINITY;
}

function boolean(value: string, name: string): boolean {
  if (value !== 'true' && value !== 'false') throw new FerryError('INVALID_CONFIG', `${name}=${value} must be true or false`);
  return value === 'true';
}

const PARSERS: Record<string, Parser> = {
  'segment.bytes': (c, v, n) => { c.segmentBytes = integer(v, n, SEGMENT_BYTES_MIN, INT32_MAX); },
  'segment.ms': (c, v, n) => { c.segmentMs = integer(v, n, 1); },
  'index.interval.bytes': (c, v, n) => { c.indexIntervalBytes = integer(v, n, 0); },
  'retention.ms': (c, v, n) => { c.retentionMs = integer(v, n, -1); },
  'retention.bytes': (c, v, n) => { c.retentionBytes = integer(v, n, -1); },
  'delete.retention.ms': (c, v, n) => { c.deleteRetentionMs = integer(v, n, 0); },
  'max.message.bytes': (c, v, n) => { c.maxMessageBytes = integer(v, n, 0, INT32_MAX); },
  'segment.index.bytes': (c, v, n) => { c.segmentIndexBytes = integer(v, n, 8, INT32_MAX); },
  'flush.messages': (c, v, n) => { c.flushMessages = integer(v, n, 1); },
  'flush.ms': (c, v, n) => { c.flushMs = integer(v, n, 0); },
  preallocate: (c, v, n) => { c.preallocate = boolean(v, n); },
  'min.insync.replicas': (c, v, n) => { c.minInsyncReplicas = integer(v, n, 1, INT32_MAX); },
  'unclean.leader.election.enable': (c, v, n) => { c.uncleanLeaderElection = boolean(v, n); },
  'message.timestamp.type': (c, v, n) => {
    if (v !== 'CreateTime' && v !== 'LogAppendTime') {
      throw new FerryError('INVALID_CONFIG', `${n}=${v} must be CreateTime or LogAppendTime`);
    }
    c.timestampType = v;
  },
  'cleanup.policy': (c, v, n) => {
    const policies = v.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
    if (policies.length === 0 || policies.some((p) => p !== 'delete' && p !== 'compact')) {
      throw new FerryError('INVALID_CONFIG', `${n}=${v} must be delete, compact or compact,delete`);
    }
    c.cleanupDelete = policies.includes('delete');
    c.cleanupCompact = policies.includes('compact');
  },
};

export const SUPPORTED_LOG_CONFIG_NAMES: readonly string[] = Object.keys(PARSERS);

/**
 * Kafka's broker-wide setting that gives each topic config its default
 * (server.properties reads these names; DescribeConfigs lists them as synonyms).
 */
export const BROKER_NAME_OF_TOPIC_CONFIG: Readonly<Record<string, string>> = {
  'segment.bytes': 'log.segment.bytes',
  'segment.ms': 'log.roll.ms',
  'segment.index.bytes': 'log.index.size.max.bytes',
  'index.interval.bytes': 'log.index.interval.bytes',
  'retention.ms': 'log.retention.ms',
  'retention.bytes': 'log.retention.bytes',
  'cleanup.policy': 'log.cleanup.policy',
  'delete.retention.ms': 'log.cleaner.delete.retention.ms',
  'max.message.bytes': 'message.max.bytes',
  'message.timestamp.type': 'log.message.timestamp.type',
  'flush.messages': 'log.flush.interval.messages',
  'flush.ms': 'log.flush.interval.ms',
  preallocate: 'log.preallocate',
  'min.insync.replicas': 'min.insync.replicas',
  'unclean.leader.election.enable': 'unclean.leader.election.enable',
};

/** Kafka's Long.MAX_VALUE, which its configs use for "never" (Infinity here). */
const LONG_MAX = '9223372036854775807';

function long(value: number): string {
  return Number.isFinite(value) ? String(value) : LONG_MAX;
}

/** The inverse of the parsers: every supported topic config of `config` as Kafka writes its value (DescribeConfigs). */
export function topicConfigValues(config: Readonly<LogConfig>): Record<string, string> {
  const policies = [config.cleanupCompact ? 'compact' : '', config.cleanupDelete ? 'delete' : ''].filter((p) => p !== '');
  return {
    'segment.bytes': long(config.segmentBytes),
    'segment.ms': long(config.segmentMs),
    'index.interval.bytes': long(config.indexIntervalBytes),
    'retention.ms': long(config.retentionMs),
    'retention.bytes': long(config.retentionBytes),
    'delete.retention.ms': long(config.deleteRetentionMs),
    'max.message.bytes': long(config.maxMessageBytes),
    'segment.index.bytes': long(config.segmentIndexBytes),
    'flush.messages': long(config.flushMessages),
    'flush.ms': long(config.flushMs),
    preallocate: String(config.preallocate),
    'min.insync.replicas': String(config.minInsyncReplicas),
    'unclean.leader.election.enable': String(config.uncleanLeaderElection),
    'message.timestamp.type': config.timestampType,
    'cleanup.policy': policies.join(','),
  };
}

/** Kafka topic configs (name -> string value) over the defaults. Unknown names are an error. */
export function logConfigFromTopicConfigs(
  configs: Readonly<Record<string, string>>,
  base: Readonly<LogConfig> = DEFAULT_LOG_CONFIG,
): LogConfig {
  const config: LogConfig = { ...base };
  for (const [name, value] of Object.entries(configs)) {
    // Own properties only: "constructor" or "toString" are not configs.
    const parse = Object.hasOwn(PARSERS, name) ? PARSERS[name] : undefined;
    if (!parse) throw new FerryError('INVALID_CONFIG', `unknown topic config ${name}`);
    parse(config, value, name);
  }
  return config;
}
