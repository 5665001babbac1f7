/**
 * Calls Kafka-door handlers directly on a real broker in a temp dir, with
 * both bodies passed through the generic codec at the version under test:
 * the request as a client would encode it (absent fields take their
 * defaults), the response as the door would write it. A field the version
 * cannot carry, or a value of the wrong type, fails the test here rather
 * than on a client.
 */

import { FetchSessionCache } from '../../../../src/protocol/kafka/fetch-sessions.js';
import { pino } from 'pino';
import { afterAll, afterEach } from 'vitest';
import { Broker, type BrokerOptions } from '../../../../src/broker/broker.js';
import { findApi } from '../../../../src/protocol/kafka/apis.js';
import { decode, encode, type KafkaStruct } from '../../../../src/protocol/kafka/codec/message-codec.js';
import { KafkaReader } from '../../../../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../../../../src/protocol/kafka/codec/writer.js';
import { NO_RESPONSE, type ApiHandler, type KafkaDoorSettings, type KafkaSession, type RequestContext } from '../../../../src/protocol/kafka/handler.js';
import { SUPPORTED_APIS } from '../../../../src/protocol/kafka/handlers/index.js';
import { closeSharedStoragePool } from '../../../../src/storage/storage-pool.js';
import { tempDir } from '../../../storage/helpers.js';

export const ADVERTISED_HOST = 'ferry.test';
export const ADVERTISED_PORT = 19092;

export interface Harness {
  broker: Broker;
  settings: KafkaDoorSettings;
  session: KafkaSession;
  /** The reasons handlers gave for closing the connection after their response. */
  closeRequests: string[];
  /** Encodes `body` at `version`, decodes it, runs the handler, and returns the response as a client would decode it. */
  call(handler: ApiHandler, version: number, body: Record<string, unknown>): Promise<KafkaStruct>;
  close(): Promise<void>;
}

function roundTrip(spec: Parameters<typeof encode>[0], version: number, value: Record<string, unknown>): KafkaStruct {
  const writer = new KafkaWriter(64);
  encode(spec, version, value, writer);
  const reader = new KafkaReader(Buffer.from(writer.finish()));
  const decoded = decode(spec, version, reader);
  if (reader.remaining !== 0) throw new Error(`${reader.remaining} bytes left after ${spec.name} v${version}`);
  return decoded;
}

export async function openHarness(options: Partial<BrokerOptions> = {}, saslPlainUsers: ReadonlyMap<string, string> = new Map()): Promise<Harness> {
  const broker = await Broker.open({ dataDir: tempDir('ferry-kafka-admin-'), ...options });
  const settings: KafkaDoorSettings = { advertisedHost: ADVERTISED_HOST, advertisedPort: ADVERTISED_PORT, saslPlainUsers };
  const session: KafkaSession = { connectionId: 1, clientHost: '/127.0.0.1', saslMechanism: null, principal: null };
  const logger = pino({ level: 'silent' });
  let correlationId = 0;
  const closeRequests: string[] = [];
  const fetchSessions = new FetchSessionCache();
  return {
    broker,
    settings,
    session,
    closeRequests,
    async call(handler, version, body) {
      const api = findApi(handler.apiKey);
      if (!api) throw new Error(`no spec for API ${handler.apiKey}`);
      if (version < handler.versions.min || version > handler.versions.max) throw new Error(`${api.name} v${version} is outside the handler's range`);
      const request = roundTrip(api.request, version, body);
      const context: RequestContext = {
        broker,
        settings,
        session,
        header: { requestApiKey: handler.apiKey, requestApiVersion: version, correlationId: ++correlationId, clientId: 'ferry-test' },
        apiVersion: version,
        supportedApis: SUPPORTED_APIS,
        fetchSessions,
        // Responses are round-tripped through the generic codec here, which needs record sets in memory.
        sendsFileRecords: false,
        signal: new AbortController().signal,
        logger,
        closeAfterResponse: (reason) => closeRequests.push(reason),
      };
      const response = await handler.handle(request, context);
      if (response === NO_RESPONSE) throw new Error(`${api.name} answered nothing`);
      return roundTrip(api.response, version, response);
    },
    close: () => broker.close(),
  };
}

/** Every version in the handler's range, for tests that run at each. */
export function versionsOf(handler: ApiHandler): number[] {
  const versions: number[] = [];
  for (let version = handler.versions.min; version <= handler.versions.max; version++) versions.push(version);
  return versions;
}

/**
 * For a test file: an `open` that closes every harness it opened after each
 * test, and the shared storage pool after the file.
 */
export function useHarnesses(): (options?: Partial<BrokerOptions>, saslPlainUsers?: ReadonlyMap<string, string>) => Promise<Harness> {
  const opened = new Set<Harness>();
  afterEach(async () => {
    for (const harness of opened) await harness.close();
    opened.clear();
  });
  afterAll(closeSharedStoragePool);
  return async (options = {}, saslPlainUsers = new Map()) => {
    const harness = await openHarness(options, saslPlainUsers);
    opened.add(harness);
    return harness;
  };
}
