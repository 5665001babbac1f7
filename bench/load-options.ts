/**
 * The options of bench/load.ts (node:util parseArgs), one table that --help
 * is printed from, and their checks: a bad option is a LoadSetupError
 * naming it, before anything starts.
 */

import { parseArgs } from 'node:util';
import type { Encoding } from '../src/client/index.js';
import { PRODUCE_RECORDS_MAX } from '../src/protocol/http/limits.js';
import { PRODUCE_REQUESTS_INFLIGHT_MAX, type Acks, type Door } from './load-doors.js';
import { PROCESSES_MAX, STAMP_BYTES_MAX } from './load-records.js';

/** A problem with the options or the setup, said in one line (no stack). */
export class LoadSetupError extends Error {}

/** HTTP and WebSocket share this port on a broker started with the defaults (README); Kafka has 9092. */
const DEFAULT_HTTP_PORT = 8080;
const DEFAULT_KAFKA_PORT = 9092;
const PARTITIONS_MAX = 1_000;
const RECORD_BYTES_MAX = 1024 * 1024;
/** The HTTP door's limit of records per request. */
const BATCH_RECORDS_MAX = PRODUCE_RECORDS_MAX;
const INFLIGHT_MAX = 1_024;
const DURATION_SECONDS_MAX = 3_600;
const USAGE_WIDTH = 100;

interface OptionSpec {
  value?: string;
  default?: string;
  help: string;
}

/** Every option, in --help order; a value-less one is a flag. */
const OPTIONS = {
  door: { value: 'kafka|ws|http', default: 'kafka', help: 'the door producers and consumers use' },
  encoding: { value: 'binary|json', default: 'binary', help: 'ws only: how records are produced and pushed' },
  broker: { value: 'host:port', help: "a running Ferry's Kafka address; without it (and --http-url, --ws-url) the tool starts its own broker from dist/ and stops it after" },
  'http-url': { value: 'url', default: `http://<broker host>:${DEFAULT_HTTP_PORT}`, help: "a running broker's HTTP door: the http door, and topic setup and /metrics for every door" },
  'ws-url': { value: 'url', default: `ws://<broker host>:${DEFAULT_HTTP_PORT}/ws`, help: "a running broker's WebSocket door" },
  topic: { value: 'name', default: 'load-<epoch ms>', help: 'created with --partitions and the flush policy unless it exists (then used as it is)' },
  partitions: { value: 'n', default: '1', help: 'partitions of a topic the tool creates' },
  'record-bytes': { value: 'n', default: '100', help: `value size (at least ${STAMP_BYTES_MAX}: each value starts with its due time, producer and sequence number)` },
  batch: { value: 'n', default: '100', help: 'records per produce request (kafka: one send(), ws: one produce() call, http: one POST), all to one partition, partitions in turn' },
  producers: { value: 'n', default: '1', help: 'producer processes' },
  consumers: { value: 'n', default: '1', help: 'consumer processes, in one group (kafka, ws) or reading partition p when p % consumers is theirs (http); 0: produce only' },
  acks: { value: '0|1|all', default: '1', help: 'producer acks (http: 1 or all, the same on one broker; the door answers after the append)' },
  'flush-messages': { value: 'n', help: "topic config flush.messages of a topic the tool creates (1: fsync before every acknowledgement); default: the broker's (never)" },
  'flush-ms': { value: 'n', help: "topic config flush.ms of a topic the tool creates; default: the broker's (never)" },
  rate: { value: 'records/s', default: '0', help: `target rate, split evenly across producers, open loop: record i is due at start + i / rate and stamped with that time, a batch goes when its last record is due, latency counts from the due time (no coordinated omission); a producer with ${PRODUCE_REQUESTS_INFLIGHT_MAX.toLocaleString('en-US')} requests unanswered stops, failing the run (the rate is beyond reach). 0: closed loop, as fast as --inflight allows` },
  inflight: { value: 'n', default: '4', help: 'closed loop: requests each producer keeps in flight' },
  duration: { value: 'seconds', default: '10', help: 'measured time' },
  warmup: { value: 'seconds', default: '1', help: 'sent and delivered before the measured time, not counted in rates or latency' },
  json: { help: 'print one JSON line with the result instead of the table' },
  help: { help: 'print this' },
} satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

export function usage(): string {
  const specs = Object.entries(OPTIONS as Record<string, OptionSpec>);
  const names = specs.map(([name, spec]) => `--${name}${spec.value === undefined ? '' : ` <${spec.value}>`}`);
  const width = Math.max(...names.map((name) => name.length)) + 4;
  const lines = specs.flatMap(([, spec], i) =>
    wrap(`${spec.help}${spec.default === undefined ? '' : ` (default ${spec.default})`}`, USAGE_WIDTH - width).map((text, line) => `${(line === 0 ? `  ${names[i]!}` : '').padEnd(width)}${text}`),
  );
  return [
    'usage: npm run load -- [options]',
    '',
    'Producers and consumers, each its own process, against one door of a Ferry broker;',
    'reports records/s and MB/s produced and consumed, end-to-end latency (due time to',
    'delivery, HDR histograms) p50/p99/p99.9/max, every record accounted for (lost or',
    'duplicated: exit 1), and the broker\'s CPU, peak RSS and event-loop lag.',
    '',
    ...lines,
    '',
    ...wrap(
      'A broker the tool starts listens on 127.0.0.1 (free ports) with a temp data directory and group.initial.rebalance.delay.ms=500 (the consumers join at once; a group need not wait Kafka\'s 3 s for more members); its CPU and peak RSS come from /proc. Event-loop lag is the broker\'s nodejs_eventloop_lag_p99/max_seconds from /metrics over the run, less prom-client\'s 10 ms sampling interval; a running broker\'s CPU comes from /metrics too, and its RSS at the end only.',
      USAGE_WIDTH,
    ),
    '',
    'Examples:',
    '  npm run load -- --partitions 4 --producers 2 --consumers 2 --rate 20000 --duration 30',
    '  npm run load -- --door ws --encoding json --batch 1 --rate 2000',
    '  npm run load -- --door http --broker localhost:9092 --acks all --inflight 8',
    '',
    'Exit status: 0 when every record was read exactly once and nothing failed, 1 otherwise, 2 on bad options.',
  ].join('\n');
}

export interface LoadOptions {
  door: Door;
  encoding: Encoding;
  /** null: start a broker. */
  running: { kafka: string; httpUrl: string; wsUrl: string } | null;
  topic: string;
  partitions: number;
  /** Whether --partitions, --flush-messages or --flush-ms were given (they only apply to a topic the tool creates). */
  topicOptionsGiven: boolean;
  recordBytes: number;
  batch: number;
  producers: number;
  consumers: number;
  acks: Acks;
  flushMessages: number | null;
  flushMs: number | null;
  rate: number;
  inflight: number;
  durationSeconds: number;
  warmupSeconds: number;
  json: boolean;
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new LoadSetupError(`--${name} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  return value as T;
}

function number(name: string, value: string, min: number, max: number, integer = true): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) || parsed < min || parsed > max) {
    throw new LoadSetupError(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** host:port's host, and a URL's host:port with another scheme. */
function hostOf(address: string): string {
  return address.replace(/:\d+$/, '');
}

function runningBroker(given: { broker?: string; http?: string; ws?: string }): LoadOptions['running'] {
  const { broker, http, ws } = given;
  if (broker === undefined && http === undefined && ws === undefined) return null;
  if (broker !== undefined && !/^[^\s:]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/.test(broker)) throw new LoadSetupError(`--broker must be host:port (the Kafka listener), not ${JSON.stringify(broker)}`);
  const urlHost = (url: string | undefined): string | undefined => (url === undefined ? undefined : new URL(url).hostname);
  const host = broker !== undefined ? hostOf(broker) : (urlHost(http) ?? urlHost(ws)!);
  const httpUrl = (http ?? (ws !== undefined ? ws.replace(/^ws/, 'http').replace(/\/ws\/?$/, '') : `http://${host}:${DEFAULT_HTTP_PORT}`)).replace(/\/$/, '');
  const wsUrl = ws ?? `${httpUrl.replace(/^http/, 'ws')}/ws`;
  return { kafka: broker ?? `${host}:${DEFAULT_KAFKA_PORT}`, httpUrl, wsUrl };
}

export function parseOptions(argv: readonly string[]): LoadOptions | 'help' {
  const spec = Object.fromEntries(Object.entries(OPTIONS as Record<string, OptionSpec>).map(([name, option]) => [name, { type: option.value === undefined ? ('boolean' as const) : ('string' as const) }]));
  let values: Partial<Record<OptionName, string | boolean>>;
  try {
    values = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: false }).values as typeof values;
  } catch (error) {
    throw new LoadSetupError((error as Error).message);
  }
  if (values.help === true) return 'help';
  const get = (name: OptionName): string => (values[name] as string | undefined) ?? (OPTIONS[name] as OptionSpec).default!;
  const given = (name: OptionName): string | undefined => values[name] as string | undefined;
  const door = oneOf('door', get('door'), ['kafka', 'ws', 'http'] as const);
  if (given('encoding') !== undefined && door !== 'ws') throw new LoadSetupError('--encoding is for --door ws');
  const acks = oneOf('acks', get('acks'), ['0', '1', 'all'] as const);
  if (door === 'http' && acks === '0') throw new LoadSetupError('--acks 0 is not what the HTTP door does: it answers a POST after the append (acks 1; all is the same on one broker)');
  const optional = (name: OptionName, min: number, max: number): number | null => (given(name) === undefined ? null : number(name, given(name)!, min, max));
  return {
    door,
    encoding: oneOf('encoding', get('encoding'), ['binary', 'json'] as const),
    running: runningBroker({ broker: given('broker'), http: given('http-url'), ws: given('ws-url') }),
    topic: given('topic') ?? `load-${Date.now()}`,
    partitions: number('partitions', get('partitions'), 1, PARTITIONS_MAX),
    topicOptionsGiven: given('partitions') !== undefined || given('flush-messages') !== undefined || given('flush-ms') !== undefined,
    recordBytes: number('record-bytes', get('record-bytes'), STAMP_BYTES_MAX, RECORD_BYTES_MAX),
    batch: number('batch', get('batch'), 1, BATCH_RECORDS_MAX),
    producers: number('producers', get('producers'), 1, PROCESSES_MAX),
    consumers: number('consumers', get('consumers'), 0, PROCESSES_MAX),
    acks,
    flushMessages: optional('flush-messages', 1, Number.MAX_SAFE_INTEGER),
    flushMs: optional('flush-ms', 0, Number.MAX_SAFE_INTEGER),
    rate: number('rate', get('rate'), 0, Number.MAX_SAFE_INTEGER, false),
    inflight: number('inflight', get('inflight'), 1, INFLIGHT_MAX),
    durationSeconds: number('duration', get('duration'), 0.1, DURATION_SECONDS_MAX, false),
    warmupSeconds: number('warmup', get('warmup'), 0, DURATION_SECONDS_MAX, false),
    json: values.json === true,
  };
}
