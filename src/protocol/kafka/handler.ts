/**
 * The contract between the Kafka door's connection loop and the code that
 * answers each API: one `ApiHandler` per API key, with the version range it
 * really implements. The table of handlers (handlers/index.ts) is the single
 * source of what ApiVersions advertises.
 *
 * A handler gets the request body decoded by the generic codec (camelCase
 * keys, int64 as bigint, records as zero-copy Buffers) and returns the
 * response body as a plain object for the same codec; missing fields take
 * their defaults. Per-partition and per-resource errors are the handler's
 * to write. A FerryError thrown out of `handle` becomes the response's
 * top-level error code when the response has one (see connection.ts);
 * otherwise the connection is closed, as Kafka does for requests it cannot
 * answer.
 */

import type { Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import type { RequestHeader } from './codec/message-codec.js';
import type { KafkaReader } from './codec/reader.js';
import type { KafkaWriter } from './codec/writer.js';
import type { FetchSessionCache } from './fetch-sessions.js';
import type { VersionRange } from './message-spec.js';

/** Returned by a handler when the protocol wants no response at all (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no response');

export type ResponseBody = Record<string, unknown>;

/** Per-connection state a handler may read or change (SASL, fetch sessions). */
export interface KafkaSession {
  /** Unique per connection within this process. */
  readonly connectionId: number;
  /** Client's address as the socket sees it, e.g. "/127.0.0.1" in Kafka's HOST column style. */
  readonly clientHost: string;
  /** The SASL mechanism chosen by SaslHandshake, if any. */
  saslMechanism: string | null;
  /** The authenticated user (SASL PLAIN); null before authentication or when SASL is off. */
  principal: string | null;
}

/** Door-wide settings handlers need: what to advertise about this broker. */
export interface KafkaDoorSettings {
  /** The host clients are told to connect to (Metadata, FindCoordinator, DescribeCluster). */
  advertisedHost: string;
  /** The Kafka port clients are told to connect to. */
  advertisedPort: number;
  /** SASL PLAIN users (name -> password); SASL is required when this is non-empty. */
  saslPlainUsers: ReadonlyMap<string, string>;
}

/** One entry of the ApiVersions answer. */
export interface SupportedApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export interface RequestContext {
  broker: Broker;
  settings: KafkaDoorSettings;
  session: KafkaSession;
  header: RequestHeader;
  /** header.requestApiVersion, already checked to be within the handler's range. */
  apiVersion: number;
  /** Every API the door implements, for ApiVersions. */
  supportedApis: readonly SupportedApi[];
  /** The door's incremental fetch sessions (KIP-227). */
  fetchSessions: FetchSessionCache;
  /** Whether record sets may be answered as FileRecords (left in their segment files, sent with sendfile). */
  sendsFileRecords: boolean;
  /** Aborted when the connection closes: long waits (Fetch, JoinGroup) end early. */
  signal: AbortSignal;
  /** Closes the connection once this request's response is written (Kafka does so after a failed SASL authentication). */
  closeAfterResponse(reason: string): void;
  logger: Logger;
}

/**
 * A hand-written codec for a hot API, used by the connection instead of the
 * generic one; its output must be the generic codec's, field for field (a
 * test checks each against it), for every version the handler serves.
 */
export interface ApiBodyCodec {
  /** Absent: requests decode with the generic codec. */
  decodeRequest?(reader: KafkaReader, version: number): Record<string, unknown>;
  /** Absent: responses encode with the generic codec. */
  encodeResponse?(body: ResponseBody, version: number, writer: KafkaWriter): void;
}

export interface ApiHandler {
  apiKey: number;
  /** The versions this handler really implements; ApiVersions advertises exactly this. */
  versions: VersionRange;
  /** Whether the API may be called before SASL authentication completes (ApiVersions, SaslHandshake, SaslAuthenticate). */
  allowedBeforeAuthentication?: boolean;
  /** The API's own codec, when the generic one costs too much on its hot path. */
  codec?: ApiBodyCodec;
  handle(request: Record<string, unknown>, context: RequestContext): Promise<ResponseBody | typeof NO_RESPONSE> | ResponseBody | typeof NO_RESPONSE;
}
