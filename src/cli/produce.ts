/**
 * `ferry produce <topic>`, modelled on kafka-console-producer: one record per
 * line of stdin (or of --file), through the broker's WebSocket door.
 *
 *   --key-separator <sep>   the text before the first <sep> is the key (like parse.key=true, key.separator)
 *   --header k=v            a header on every record; repeat for several
 *   --partition <n>         every record to partition n (otherwise keyed by murmur2, unkeyed sticky)
 *   --acks 0|1|all          as the producer's acks (default all)
 *   --file <path>           read lines from a file, with a progress line on a terminal's stderr
 *
 * Lines are sent in batches of at most BATCH_RECORDS_MAX records and about
 * BATCH_CHARS_MAX characters, with at most REQUESTS_IN_FLIGHT_MAX batches
 * unanswered: a big file is read no faster than the broker takes it. Batches
 * go out in order on one socket, so each partition keeps the input's order.
 */

import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { FerryClient, ProduceInput, ProduceOptions } from '../client/index.js';
import { CliError } from './http-api.js';
import { cliError, connectBroker } from './ws-connect.js';

const MIB = 1024 * 1024;
export const PRODUCE_LIMITS = Object.freeze({
  /** Records in one produce request. */
  batchRecordsMax: 500,
  /** Characters of keys, values and headers in one produce request (about its bytes; the broker's frame limit is 16 MiB). */
  batchCharsMax: 1 * MIB,
  /** Produce requests sent and not yet answered. */
  requestsInFlightMax: 8,
  /** A longer line is refused rather than buffered. */
  lineCharsMax: 8 * MIB,
  /** Read size for --file: many lines per read, so batches fill. */
  fileReadBytes: 1 * MIB,
  /** The progress line is redrawn at most this often. */
  progressRedrawMs: 250,
});
/** Per-record allowance for the JSON around a record, counted in batchCharsMax. */
const RECORD_OVERHEAD_CHARS = 32;

interface Header {
  key: string;
  value: string;
}

interface ProduceCommandOptions {
  keySeparator?: string;
  header?: Header[];
  partition?: number;
  acks: ProduceOptions['acks'];
  file?: string;
}

function nonNegative(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('a partition number (an integer from 0)');
  return parsed;
}

function acks(value: string): ProduceOptions['acks'] {
  if (value === '0') return 0;
  if (value === '1') return 1;
  if (value === 'all' || value === '-1') return 'all';
  throw new InvalidArgumentError('0, 1 or all');
}

function header(value: string, previous: Header[] = []): Header[] {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, got ${value}`);
  return [...previous, { key: value.slice(0, at), value: value.slice(at + 1) }];
}

/** Lines of `input`, a read's worth at a time (so a terminal's line goes out as soon as it is typed). */
async function* lineGroups(input: Readable): AsyncGenerator<string[]> {
  input.setEncoding('utf8');
  let rest = '';
  for await (const chunk of input as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    if (rest.length > PRODUCE_LIMITS.lineCharsMax) throw new CliError(`a line is longer than ${PRODUCE_LIMITS.lineCharsMax} characters`);
    if (lines.length > 0) yield lines.map(withoutCarriageReturn);
  }
  if (rest !== '') yield [withoutCarriageReturn(rest)];
}

function withoutCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Turns lines into records with the command's key separator, headers and partition. */
class RecordMaker {
  private lineNumber = 0;
  readonly headerChars: number;

  constructor(private readonly options: ProduceCommandOptions) {
    this.headerChars = (options.header ?? []).reduce((sum, h) => sum + h.key.length + h.value.length, 0);
  }

  make(line: string): ProduceInput {
    this.lineNumber++;
    const record: ProduceInput = { value: line };
    const separator = this.options.keySeparator;
    if (separator !== undefined) {
      const at = line.indexOf(separator);
      if (at < 0) throw new CliError(`line ${this.lineNumber} has no key separator ${JSON.stringify(separator)}`);
      record.key = line.slice(0, at);
      record.value = line.slice(at + separator.length);
    }
    if (this.options.header) record.headers = this.options.header;
    if (this.options.partition !== undefined) record.partition = this.options.partition;
    return record;
  }
}

/** Records sent so far, and the progress line (terminal only) and summary on stderr. */
class Progress {
  sentRecords = 0;
  private readonly startMs = performance.now();
  private lastDrawMs = 0;
  private readonly redraw: boolean;

  constructor(enabled: boolean) {
    this.redraw = enabled && process.stderr.isTTY === true;
  }

  add(records: number): void {
    this.sentRecords += records;
    const nowMs = performance.now();
    if (!this.redraw || nowMs - this.lastDrawMs < PRODUCE_LIMITS.progressRedrawMs) return;
    this.lastDrawMs = nowMs;
    process.stderr.write(`\r${this.line(nowMs)}\x1b[K`);
  }

  summary(): string {
    return `${this.redraw ? '\r\x1b[K' : ''}${this.line(performance.now())}\n`;
  }

  private line(nowMs: number): string {
    const seconds = (nowMs - this.startMs) / 1000;
    const rate = seconds > 0 ? Math.round(this.sentRecords / seconds) : 0;
    return `${this.sentRecords} records sent in ${seconds.toFixed(1)} s (${rate} records/s)`;
  }
}

/** Sends batches in order, at most requestsInFlightMax unanswered; the first failure stops everything after it. */
class BatchSender {
  private readonly inFlight: Array<Promise<void>> = [];
  private failure: unknown = null;

  constructor(
    private readonly client: FerryClient,
    private readonly topic: string,
    private readonly options: ProduceOptions,
    private readonly progress: Progress,
  ) {}

  async send(batch: ProduceInput[]): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.length >= PRODUCE_LIMITS.requestsInFlightMax) await this.inFlight.shift();
    this.throwIfFailed();
    const answered = this.client.produce(this.topic, batch, this.options).then(
      () => this.progress.add(batch.length),
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    this.inFlight.push(answered);
  }

  async finish(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}

async function produce(httpUrl: string, topic: string, options: ProduceCommandOptions): Promise<void> {
  const input = options.file === undefined ? process.stdin : fs.createReadStream(options.file, { highWaterMark: PRODUCE_LIMITS.fileReadBytes });
  const opened = new Promise<void>((resolve, reject) => (options.file === undefined ? resolve() : input.once('open', () => resolve()).once('error', reject)));
  await opened.catch((error: Error) => {
    throw new CliError(`cannot read ${options.file}: ${error.message}`);
  });
  // No reconnect: a batch lost with its socket must fail the command, not be silently skipped.
  const client = await connectBroker(httpUrl, { reconnect: false });
  const progress = new Progress(options.file !== undefined);
  const sender = new BatchSender(client, topic, options.acks === undefined ? {} : { acks: options.acks }, progress);
  const maker = new RecordMaker(options);
  try {
    let batch: ProduceInput[] = [];
    let batchChars = 0;
    for await (const lines of lineGroups(input)) {
      for (const line of lines) {
        batch.push(maker.make(line));
        batchChars += line.length + maker.headerChars + RECORD_OVERHEAD_CHARS;
        if (batch.length < PRODUCE_LIMITS.batchRecordsMax && batchChars < PRODUCE_LIMITS.batchCharsMax) continue;
        await sender.send(batch);
        batch = [];
        batchChars = 0;
      }
      if (batch.length === 0) continue;
      await sender.send(batch); // what one read gave: nothing more is waiting
      batch = [];
      batchChars = 0;
    }
    await sender.finish();
  } catch (error) {
    throw cliError(error);
  } finally {
    input.destroy();
    await client.close();
    if (options.file !== undefined) process.stderr.write(progress.summary());
  }
}

/** The `produce` command; `httpUrl()` reads the global --http option. */
export function produceCommand(httpUrl: () => string): Command {
  return new Command('produce')
    .description('send one record per line of stdin (or --file) to a topic (like kafka-console-producer)')
    .argument('<topic>')
    .option('--key-separator <sep>', 'the text before the first <sep> of a line is its key, the rest its value')
    .option('--header <key=value>', 'a header on every record; repeat for several', header)
    .addOption(new Option('--partition <n>', 'send every record to this partition').argParser(nonNegative))
    .addOption(new Option('--acks <acks>', 'acknowledgement: 0 (none), 1 (leader) or all').argParser(acks))
    .option('--file <path>', 'read the lines from a file instead of stdin, showing progress on a terminal')
    .action((topic: string, options: ProduceCommandOptions) => produce(httpUrl(), topic, options));
}
