/**
 * HTTP statuses and Confluent-style error bodies for everything that can go
 * wrong in the HTTP door.
 *
 * Body: `{ "error_code": <HTTP status>, "message": "...", "kafka_error": "TOPIC_ALREADY_EXISTS" }`.
 * `error_code` and `message` are the Confluent REST Proxy v3 error shape;
 * `kafka_error` (Ferry extension) is the broker's Kafka error name when the
 * broker raised it, so clients can tell INVALID_CONFIG from INVALID_PARTITIONS.
 *
 *   Kafka error                                  HTTP
 *   UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID  404
 *   TOPIC_ALREADY_EXISTS                         409
 *   MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE     413
 *   OFFSET_OUT_OF_RANGE                          416
 *   INVALID_*, CORRUPT_MESSAGE, UNSUPPORTED_*    400
 *   retriable broker states (storage error, shutting down, no leader)  503
 *   anything else, and bugs                      500 (details logged, not sent)
 *
 * Cluster mode: NOT_LEADER_OR_FOLLOWER with a live leader is `307 Temporary
 * Redirect`, `Location:` the same path and query on the leader's HTTP port,
 * body as above plus `leader: {id, host, http_port}`; curl -L and fetch()
 * follow it with the same method and body. It is 503 (leader in the body,
 * no Location) where following could repeat a write: when the error answers
 * a produce this broker had begun (produce.ts). LEADER_NOT_AVAILABLE (a
 * failover under way) is 503 with `Retry-After: 1`.
 */

import { FerryError, NotLeaderError, type ErrorName } from '../../errors.js';

/** An error the HTTP door itself raises: bad shape, unknown cluster, no route, body too large. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Close the connection after answering (a request body we refused to read is still arriving). */
    readonly closeConnection = false,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ErrorBody {
  error_code: number;
  message: string;
  kafka_error?: ErrorName;
  /** NOT_LEADER_OR_FOLLOWER: the partition's live leader. */
  leader?: { id: number; host: string; http_port: number };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  /** Location of a redirect, Retry-After. */
  headers: Array<readonly [name: string, value: string]>;
  closeConnection: boolean;
  /** A bug or an unexpected failure: worth a log line with the stack. */
  unexpected: boolean;
}

const STATUS_BY_KAFKA_ERROR: Partial<Record<ErrorName, number>> = {
  UNKNOWN_TOPIC_OR_PARTITION: 404,
  UNKNOWN_TOPIC_ID: 404,
  TOPIC_ALREADY_EXISTS: 409,
  MESSAGE_TOO_LARGE: 413,
  RECORD_LIST_TOO_LARGE: 413,
  OFFSET_OUT_OF_RANGE: 416,
  CORRUPT_MESSAGE: 400,
  INVALID_FETCH_SIZE: 400,
  INVALID_TOPIC_EXCEPTION: 400,
  INVALID_REQUIRED_ACKS: 400,
  INVALID_TIMESTAMP: 400,
  UNSUPPORTED_VERSION: 400,
  INVALID_PARTITIONS: 400,
  INVALID_REPLICATION_FACTOR: 400,
  INVALID_REQUEST: 400,
  INVALID_CONFIG: 400,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 400,
  UNSUPPORTED_COMPRESSION_TYPE: 400,
  INVALID_RECORD: 400,
  LEADER_NOT_AVAILABLE: 503,
  NOT_LEADER_OR_FOLLOWER: 503,
  NOT_ENOUGH_REPLICAS: 503,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 503,
  FENCED_LEADER_EPOCH: 503,
  UNKNOWN_LEADER_EPOCH: 503,
  KAFKA_STORAGE_ERROR: 503,
  REQUEST_TIMED_OUT: 503,
};

export function statusForKafkaError(name: ErrorName): number {
  return STATUS_BY_KAFKA_ERROR[name] ?? 500;
}

export const STATUS_TEMPORARY_REDIRECT = 307;
/** Seconds a client waits before asking again while a partition has no leader (a failover takes about a lease TTL). */
export const LEADER_NOT_AVAILABLE_RETRY_AFTER_S = 1;

/**
 * The answer to `error`. `redirectTarget` is the request's path and query,
 * given where the request may be sent again as it is (see the header):
 * then NOT_LEADER_OR_FOLLOWER redirects there on the leader.
 */
export function errorResponse(error: unknown, redirectTarget: string | null = null): ErrorResponse {
  if (error instanceof HttpError) {
    return { status: error.status, body: { error_code: error.status, message: error.message }, headers: [], closeConnection: error.closeConnection, unexpected: false };
  }
  if (error instanceof FerryError) {
    const leader = error instanceof NotLeaderError ? error.leader : null;
    const redirect = leader !== null && redirectTarget !== null;
    const status = redirect ? STATUS_TEMPORARY_REDIRECT : statusForKafkaError(error.errorName);
    const body: ErrorBody = { error_code: status, message: error.message, kafka_error: error.errorName };
    const headers: ErrorResponse['headers'] = [];
    if (leader) body.leader = { id: leader.id, host: leader.host, http_port: leader.httpPort };
    if (leader && redirect) headers.push(['location', `http://${hostForUrl(leader.host)}:${leader.httpPort}${redirectTarget}`]);
    if (error.errorName === 'LEADER_NOT_AVAILABLE') headers.push(['retry-after', String(LEADER_NOT_AVAILABLE_RETRY_AFTER_S)]);
    return { status, body, headers, closeConnection: false, unexpected: status === 500 };
  }
  return { status: 500, body: { error_code: 500, message: 'internal server error' }, headers: [], closeConnection: false, unexpected: true };
}

/** An IPv6 literal goes in brackets in a URL. */
function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** 400 for a request whose JSON or parameters have the wrong shape. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}
