/**
 * The Kafka door: a node:net server speaking Kafka's binary protocol on its
 * own port (9092 by default), one KafkaConnection per client socket, every
 * API answered by the handler table in handlers/index.ts.
 */

import net from 'node:net';
import { pino, type Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import { KafkaConnection, type DoorState } from './connection.js';
import { FetchSessionCache } from './fetch-sessions.js';
import { FileSender } from './file-sender.js';
import type { KafkaDoorSettings } from './handler.js';
import { HANDLERS_BY_KEY, SUPPORTED_APIS } from './handlers/index.js';
import { CONNECTIONS_MAX, REQUEST_BYTES_MAX } from './limits.js';

export const KAFKA_PORT_DEFAULT = 9092;
const ALL_INTERFACES = '0.0.0.0';

export interface KafkaServerOptions {
  broker: Broker;
  /** Interface to listen on; all interfaces (IPv6 and IPv4 where available) by default. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** What clients are told to connect to; `localhost` and the bound port by default. */
  settings?: Partial<KafkaDoorSettings>;
  /** socket.request.max.bytes */
  requestBytesMax?: number;
  logger?: Logger;
}

export interface RunningKafkaServer {
  port: number;
  readonly connectionCount: number;
  /** Request frames received (well-formed or not) since start. */
  readonly framesReceived: number;
  close(): Promise<void>;
}

export async function startKafkaServer(options: KafkaServerOptions): Promise<RunningKafkaServer> {
  const logger = options.logger ?? pino({ name: 'ferry' });
  const server = net.createServer();
  // Beyond it new connections are refused at once rather than run the process out of file descriptors.
  server.maxConnections = CONNECTIONS_MAX;
  const connections = new Set<KafkaConnection>();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // No host on all interfaces: Node then binds [::] dual-stack where IPv6 exists, so `localhost`
    // reaches the broker whichever address family a client resolves it to.
    const host = options.host === undefined || options.host === ALL_INTERFACES ? undefined : options.host;
    server.listen({ port: options.port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const door: DoorState = {
    broker: options.broker,
    settings: {
      advertisedHost: options.settings?.advertisedHost ?? 'localhost',
      advertisedPort: options.settings?.advertisedPort ?? port,
      saslPlainUsers: options.settings?.saslPlainUsers ?? new Map(),
    },
    handlers: HANDLERS_BY_KEY,
    supportedApis: SUPPORTED_APIS,
    logger,
    requestBytesMax: options.requestBytesMax ?? REQUEST_BYTES_MAX,
    stats: { frames: 0 },
    fetchSessions: new FetchSessionCache(),
    fileSender: new FileSender(),
  };
  let nextConnectionId = 1;
  server.on('connection', (socket) => {
    const connection = new KafkaConnection(socket, door, nextConnectionId++);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  server.on('error', (error) => logger.error({ err: error }, 'Kafka listener error'));
  return {
    port,
    get connectionCount() {
      return connections.size;
    },
    get framesReceived() {
      return door.stats.frames;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections) connection.destroy();
        server.close(() => resolve());
      }),
  };
}
