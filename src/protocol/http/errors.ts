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
 */

import { FerryError, type ErrorName } from '../../errors.js';

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
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
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

export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof HttpError) {
    return { status: error.status, body: { error_code: error.status, message: error.message }, closeConnection: error.closeConnection, unexpected: false };
  }
  if (error instanceof FerryError) {
    const status = statusForKafkaError(error.errorName);
    return { status, body: { error_code: status, message: error.message, kafka_error: error.errorName }, closeConnection: false, unexpected: status === 500 };
  }
  return { status: 500, body: { error_code: 500, message: 'internal server error' }, closeConnection: false, unexpected: true };
}

/** 400 for a request whose JSON or parameters have the wrong shape. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}
