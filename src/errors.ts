/**
 * Error codes shared by every layer, in Kafka's own numbering.
 *
 * Kafka's error codes are the lingua franca of the broker: the storage layer
 * raises them, the Kafka door writes the number on the wire, and the HTTP and
 * WebSocket doors translate the name. One table, with the `retriable` flag a
 * client needs to decide whether to try again.
 */

export const ERROR_CODES = {
  UNKNOWN_SERVER_ERROR: { code: -1, retriable: false },
  NONE: { code: 0, retriable: false },
  OFFSET_OUT_OF_RANGE: { code: 1, retriable: false },
  CORRUPT_MESSAGE: { code: 2, retriable: true },
  UNKNOWN_TOPIC_OR_PARTITION: { code: 3, retriable: true },
  INVALID_FETCH_SIZE: { code: 4, retriable: false },
  LEADER_NOT_AVAILABLE: { code: 5, retriable: true },
  NOT_LEADER_OR_FOLLOWER: { code: 6, retriable: true },
  REQUEST_TIMED_OUT: { code: 7, retriable: true },
  NETWORK_EXCEPTION: { code: 13, retriable: true },
  MESSAGE_TOO_LARGE: { code: 10, retriable: false },
  INVALID_TOPIC_EXCEPTION: { code: 17, retriable: false },
  RECORD_LIST_TOO_LARGE: { code: 18, retriable: false },
  NOT_ENOUGH_REPLICAS: { code: 19, retriable: true },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { code: 20, retriable: true },
  FENCED_LEADER_EPOCH: { code: 74, retriable: true },
  UNKNOWN_LEADER_EPOCH: { code: 75, retriable: true },
  INVALID_REQUIRED_ACKS: { code: 21, retriable: false },
  INVALID_TIMESTAMP: { code: 32, retriable: false },
  UNSUPPORTED_VERSION: { code: 35, retriable: false },
  TOPIC_ALREADY_EXISTS: { code: 36, retriable: false },
  INVALID_PARTITIONS: { code: 37, retriable: false },
  INVALID_REPLICATION_FACTOR: { code: 38, retriable: false },
  INVALID_REQUEST: { code: 42, retriable: false },
  INVALID_CONFIG: { code: 40, retriable: false },
  TOPIC_AUTHORIZATION_FAILED: { code: 29, retriable: false },
  UNSUPPORTED_SASL_MECHANISM: { code: 33, retriable: false },
  ILLEGAL_SASL_STATE: { code: 34, retriable: false },
  INVALID_REPLICA_ASSIGNMENT: { code: 39, retriable: false },
  POLICY_VIOLATION: { code: 44, retriable: false },
  SASL_AUTHENTICATION_FAILED: { code: 58, retriable: false },
  TOPIC_DELETION_DISABLED: { code: 73, retriable: false },
  MISMATCHED_ENDPOINT_TYPE: { code: 114, retriable: false },
  UNSUPPORTED_ENDPOINT_TYPE: { code: 115, retriable: false },
  UNSUPPORTED_FOR_MESSAGE_FORMAT: { code: 43, retriable: false },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { code: 45, retriable: false },
  INVALID_PRODUCER_EPOCH: { code: 47, retriable: false },
  DUPLICATE_SEQUENCE_NUMBER: { code: 46, retriable: false },
  INVALID_TXN_STATE: { code: 48, retriable: false },
  INVALID_PRODUCER_ID_MAPPING: { code: 49, retriable: false },
  UNKNOWN_PRODUCER_ID: { code: 59, retriable: false },
  PRODUCER_FENCED: { code: 90, retriable: false },
  KAFKA_STORAGE_ERROR: { code: 56, retriable: true },
  UNSUPPORTED_COMPRESSION_TYPE: { code: 76, retriable: false },
  UNKNOWN_TOPIC_ID: { code: 100, retriable: true },
  INVALID_RECORD: { code: 87, retriable: false },
  OFFSET_METADATA_TOO_LARGE: { code: 12, retriable: false },
  COORDINATOR_LOAD_IN_PROGRESS: { code: 14, retriable: true },
  COORDINATOR_NOT_AVAILABLE: { code: 15, retriable: true },
  NOT_COORDINATOR: { code: 16, retriable: true },
  ILLEGAL_GENERATION: { code: 22, retriable: false },
  INCONSISTENT_GROUP_PROTOCOL: { code: 23, retriable: false },
  INVALID_GROUP_ID: { code: 24, retriable: false },
  UNKNOWN_MEMBER_ID: { code: 25, retriable: false },
  INVALID_SESSION_TIMEOUT: { code: 26, retriable: false },
  REBALANCE_IN_PROGRESS: { code: 27, retriable: false },
  INVALID_COMMIT_OFFSET_SIZE: { code: 28, retriable: false },
  NON_EMPTY_GROUP: { code: 68, retriable: false },
  GROUP_ID_NOT_FOUND: { code: 69, retriable: false },
  MEMBER_ID_REQUIRED: { code: 79, retriable: false },
  GROUP_MAX_SIZE_REACHED: { code: 81, retriable: false },
  FENCED_INSTANCE_ID: { code: 82, retriable: false },
  GROUP_SUBSCRIBED_TO_TOPIC: { code: 86, retriable: false },
  UNSTABLE_OFFSET_COMMIT: { code: 88, retriable: true },
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: { code: 53, retriable: false },
  FETCH_SESSION_ID_NOT_FOUND: { code: 70, retriable: true },
  INVALID_FETCH_SESSION_EPOCH: { code: 71, retriable: true },
  INCONSISTENT_TOPIC_ID: { code: 103, retriable: true },
} as const;

export type ErrorName = keyof typeof ERROR_CODES;

/** Bad input or an unmet request, carrying the protocol's error code. */
export class FerryError extends Error {
  readonly errorName: ErrorName;

  constructor(errorName: ErrorName, message: string) {
    super(message);
    this.name = 'FerryError';
    this.errorName = errorName;
  }

  get errorCode(): number {
    return ERROR_CODES[this.errorName].code;
  }

  get retriable(): boolean {
    return ERROR_CODES[this.errorName].retriable;
  }
}

/** Where a client reaches a broker: what a redirect names. */
export interface BrokerEndpoint {
  id: number;
  host: string;
  kafkaPort: number;
  /** HTTP and WebSocket. */
  httpPort: number;
}

/**
 * NOT_LEADER_OR_FOLLOWER in cluster mode, naming the partition's leader when
 * it is live, so each door can redirect the client there (the HTTP door with
 * a 307, the WebSocket door in its error message).
 */
export class NotLeaderError extends FerryError {
  constructor(
    message: string,
    readonly leader: BrokerEndpoint | null,
  ) {
    super('NOT_LEADER_OR_FOLLOWER', message);
  }
}

/** A broken internal invariant: a bug, never bad input. Fails loudly. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
