/**
 * `ferry consume <topic>`, modelled on kafka-console-consumer: a subscription
 * over the broker's WebSocket door, one line per record, by default the value
 * only, from the latest offset. The fields asked for are printed in
 * kafka-console-consumer's order and layout (DefaultMessageFormatter), each
 * followed by the key separator (a tab unless --key-separator says otherwise):
 *
 *   CreateTime:1700000000000	Partition:0	Offset:42	h1:v1,h2:v2	key	value
 *
 * with "null" for a null key or value and NO_HEADERS for a record without
 * headers. It ends after --max-messages records, after --timeout-ms with
 * nothing new, or on Ctrl-C, and says on stderr how many records it printed.
 */

import { Command, InvalidArgumentError, Option } from 'commander';
import type { ConsumedRecord, From } from '../client/index.js';
import { CliError } from './http-api.js';
import { cliError, connectBroker } from './ws-connect.js';

type Write = (line: string) => void;

interface ConsumeCommandOptions {
  fromBeginning: boolean;
  partition?: number;
  offset?: From;
  maxMessages?: number;
  timeoutMs?: number;
  printKey: boolean;
  printHeaders: boolean;
  printTimestamp: boolean;
  printPartition: boolean;
  printOffset: boolean;
  keySeparator: string;
}

function nonNegative(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('an integer from 0');
  return parsed;
}

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('a positive integer');
  return parsed;
}

function offset(value: string): From {
  if (value === 'earliest' || value === 'latest') return value;
  return { offset: nonNegative(value) };
}

const textDecoder = new TextDecoder();

/** One record as kafka-console-consumer's DefaultMessageFormatter lays it out. */
export function formatRecord(record: ConsumedRecord, options: ConsumeCommandOptions): string {
  const fields: string[] = [];
  if (options.printTimestamp) fields.push(`CreateTime:${record.timestamp}`);
  if (options.printPartition) fields.push(`Partition:${record.partition}`);
  if (options.printOffset) fields.push(`Offset:${record.offset}`);
  if (options.printHeaders) {
    const headers = record.headers.map((h) => `${h.key}:${h.value === null ? 'null' : textDecoder.decode(h.value)}`);
    fields.push(headers.length > 0 ? headers.join(',') : 'NO_HEADERS');
  }
  if (options.printKey) fields.push(record.keyText ?? 'null');
  fields.push(record.valueText ?? 'null');
  return fields.join(options.keySeparator);
}

function startingPoint(options: ConsumeCommandOptions): { partitions?: number[]; from: From } {
  if (options.offset !== undefined && options.partition === undefined) throw new CliError('--offset needs --partition');
  if (options.offset !== undefined && options.fromBeginning) throw new CliError('give --offset or --from-beginning, not both');
  const from = options.offset ?? (options.fromBeginning ? 'earliest' : 'latest');
  return options.partition === undefined ? { from } : { partitions: [options.partition], from };
}

async function consume(httpUrl: string, topic: string, options: ConsumeCommandOptions, write: Write): Promise<void> {
  const start = startingPoint(options);
  const client = await connectBroker(httpUrl, { encoding: 'json' });
  const subscription = client.subscribe(topic, start);
  // Each of these ends the iteration below, which then closes the client.
  const stop = (): void => subscription.close();
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  const restartIdleTimer = (): void => {
    if (options.timeoutMs === undefined) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(stop, options.timeoutMs);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A reader that went away (ferry consume | head) ends the consumer quietly; left on, as a failed write may report late.
  process.stdout.on('error', stop);
  let printed = 0;
  try {
    await subscription.ready;
    restartIdleTimer();
    for await (const record of subscription) {
      write(formatRecord(record, options));
      printed++;
      if (printed === options.maxMessages) break;
      restartIdleTimer();
    }
  } catch (error) {
    throw cliError(error);
  } finally {
    if (idleTimer) clearTimeout(idleTimer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await client.close();
    process.stderr.write(`Processed a total of ${printed} messages\n`);
  }
}

/** The `consume` command; `httpUrl()` reads the global --http option. */
export function consumeCommand(httpUrl: () => string, write: Write): Command {
  return new Command('consume')
    .description('print the records of a topic, one per line (like kafka-console-consumer)')
    .argument('<topic>')
    .option('--from-beginning', 'start at the earliest offset rather than the latest', false)
    .addOption(new Option('--partition <n>', 'read only this partition').argParser(nonNegative))
    .addOption(new Option('--offset <n|earliest|latest>', 'where to start in --partition').argParser(offset))
    .addOption(new Option('--max-messages <n>', 'exit after printing this many records').argParser(positive))
    .addOption(new Option('--timeout-ms <ms>', 'exit when no record arrives for this long').argParser(positive))
    .option('--print-key', 'print the key before the value (print.key)', false)
    .option('--print-headers', 'print the headers as k:v,k:v, or NO_HEADERS (print.headers)', false)
    .option('--print-timestamp', 'print CreateTime:<ms> (print.timestamp)', false)
    .option('--print-partition', 'print Partition:<n> (print.partition)', false)
    .option('--print-offset', 'print Offset:<n> (print.offset)', false)
    .option('--key-separator <sep>', 'between the printed fields (key.separator)', '\t')
    .action((topic: string, options: ConsumeCommandOptions) => consume(httpUrl(), topic, options, write));
}
