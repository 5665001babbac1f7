#!/usr/bin/env node
/**
 * The `ferry` command line.
 *
 *   ferry start [--data-dir ./data]    open (and recover) the storage engine and keep its upkeep running
 *   ferry dump-log <file.log>          print a segment's batches (and --records), like kafka-dump-log
 */

import path from 'node:path';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { DEFAULT_LOG_CONFIG } from '../storage/log-config.js';
import { LogManager } from '../storage/log-manager.js';
import { closeSharedStoragePool } from '../storage/storage-pool.js';
import { crc32cImplementation } from '../storage/crc32c.js';
import { dumpLog } from './dump-log.js';

const logger = pino({ name: 'ferry' });

async function start(options: { dataDir: string }): Promise<void> {
  const startedMs = Date.now();
  const dataDir = path.resolve(options.dataDir);
  const manager = await LogManager.open({ dataDir, configFor: () => ({ ...DEFAULT_LOG_CONFIG }) });
  const stop = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'closing logs');
    await manager.close();
    await closeSharedStoragePool();
    logger.info('clean shutdown');
    process.exit(0);
  };
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));
  // Keep the process alive: upkeep timers are unref'd so that tests and tools can exit.
  setInterval(() => undefined, 1 << 30);
  logger.info({ dataDir, partitions: manager.partitions.length, openMs: Date.now() - startedMs, crc32c: crc32cImplementation }, 'storage engine ready');
  logger.warn('this build has the storage engine only: the Kafka, HTTP and WebSocket doors are not part of it yet');
}

const program = new Command('ferry').description('Ferry: an event-streaming broker in the Kafka model');

program
  .command('start')
  .description('open the data directory (recovering it after an unclean stop) and run storage upkeep')
  .addOption(new Option('--data-dir <dir>', 'where partition logs live').default('./data').env('FERRY_DATA_DIR'))
  .action(start);

program
  .command('dump-log')
  .description('print the record batches of a segment file (exit 1 on a CRC failure or torn tail)')
  .argument('<file>', 'a segment .log file')
  .option('--records', 'print every record too', false)
  .action((file: string, options: { records: boolean }) => {
    const healthy = dumpLog(file, { records: options.records, write: (line) => process.stdout.write(`${line}\n`) });
    process.exitCode = healthy ? 0 : 1;
  });

await program.parseAsync();
