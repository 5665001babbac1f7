/**
 * `ferry start`: open the broker on a data directory (recovering any log not
 * closed cleanly) and serve the HTTP and WebSocket doors on one port, until
 * SIGINT or SIGTERM, which close every log cleanly.
 */

import path from 'node:path';
import { pino } from 'pino';
import { Broker } from '../broker/broker.js';
import { startServer } from '../protocol/server.js';
import { crc32cImplementation } from '../storage/crc32c.js';
import { closeSharedStoragePool } from '../storage/storage-pool.js';

export interface StartOptions {
  dataDir: string;
  host: string;
  httpPort: number;
  allowUwsFallback: boolean;
  autoCreateTopics: boolean;
  numPartitions: number;
  /** Broker-wide topic config defaults (Kafka topic names), from --config. */
  topicDefaults?: Record<string, string>;
}

export async function start(options: StartOptions): Promise<void> {
  const logger = pino({ name: 'ferry' });
  const startedMs = Date.now();
  const dataDir = path.resolve(options.dataDir);
  const broker = await Broker.open({ dataDir, autoCreateTopics: options.autoCreateTopics, defaultPartitions: options.numPartitions, defaultTopicConfigs: options.topicDefaults ?? {} });
  const server = await startServer({ broker, host: options.host, port: options.httpPort, allowUwsFallback: options.allowUwsFallback, logger });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'closing');
    server.close();
    await broker.close();
    await closeSharedStoragePool();
    logger.info('clean shutdown');
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void stop(signal));
  process.on('SIGTERM', (signal) => void stop(signal));
  logger.info(
    { dataDir, clusterId: broker.clusterId, topics: broker.listTopics({ includeInternal: true }).length, http: `http://${options.host}:${server.port}`, uwsNative: server.native, crc32c: crc32cImplementation, openMs: Date.now() - startedMs },
    'ferry ready',
  );
}
