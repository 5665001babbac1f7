/**
 * `ferry start`: open the broker on a data directory (recovering any log not
 * closed cleanly), serve the Kafka protocol on its port and the HTTP and
 * WebSocket doors on another, until SIGINT or SIGTERM, which close every log
 * cleanly.
 */

import path from 'node:path';
import { pino } from 'pino';
import { Broker } from '../broker/broker.js';
import type { GroupCoordinatorSettings } from '../broker/groups/limits.js';
import { startKafkaServer } from '../protocol/kafka/server.js';
import { startServer } from '../protocol/server.js';
import { crc32cImplementation } from '../storage/crc32c.js';
import { closeSharedStoragePool } from '../storage/storage-pool.js';

export interface StartOptions {
  dataDir: string;
  host: string;
  httpPort: number;
  kafkaPort: number;
  /** What Kafka clients are told to connect to. */
  advertisedHost: string;
  /** SASL PLAIN users; SASL is required on the Kafka port when given. */
  saslPlainUsers?: Map<string, string>;
  allowUwsFallback: boolean;
  autoCreateTopics: boolean;
  numPartitions: number;
  /** Broker-wide topic config defaults (Kafka topic names), from --config. */
  topicDefaults?: Record<string, string>;
  /** producer.id.expiration.ms, from --config; Kafka's one day by default. */
  producerIdExpirationMs?: number;
  /** Group coordinator settings from --config (group.*, offsets.*); Kafka's defaults otherwise. */
  groups?: Partial<GroupCoordinatorSettings>;
}

export async function start(options: StartOptions): Promise<void> {
  const logger = pino({ name: 'ferry' });
  const startedMs = Date.now();
  const dataDir = path.resolve(options.dataDir);
  const broker = await Broker.open({
    dataDir,
    autoCreateTopics: options.autoCreateTopics,
    defaultPartitions: options.numPartitions,
    defaultTopicConfigs: options.topicDefaults ?? {},
    ...(options.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: options.producerIdExpirationMs } : {}),
    groups: options.groups ?? {},
  });
  const server = await startServer({ broker, host: options.host, port: options.httpPort, allowUwsFallback: options.allowUwsFallback, logger });
  const kafka = await startKafkaServer({
    broker,
    host: options.host,
    port: options.kafkaPort,
    settings: { advertisedHost: options.advertisedHost, saslPlainUsers: options.saslPlainUsers ?? new Map() },
    logger,
  });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'closing');
    server.close();
    await kafka.close();
    await broker.close();
    await closeSharedStoragePool();
    logger.info('clean shutdown');
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void stop(signal));
  process.on('SIGTERM', (signal) => void stop(signal));
  logger.info(
    { dataDir, clusterId: broker.clusterId, topics: broker.listTopics({ includeInternal: true }).length, http: `http://${options.host}:${server.port}`, kafka: `${options.advertisedHost}:${kafka.port}`, sasl: (options.saslPlainUsers?.size ?? 0) > 0, uwsNative: server.native, crc32c: crc32cImplementation, openMs: Date.now() - startedMs },
    'ferry ready',
  );
}
