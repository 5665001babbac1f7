/**
 * The Kafka door's limits, in one place, with Kafka's broker setting named
 * where one exists.
 */

const MIB = 1024 * 1024;

/** socket.request.max.bytes (Kafka's default): a larger length prefix closes the connection before anything is allocated. */
export const REQUEST_BYTES_MAX = 100 * MIB;

/** Requests read from one connection and not yet answered; beyond it the socket stops being read (Kafka mutes the channel). */
export const CONNECTION_REQUESTS_IN_FLIGHT_MAX = 64;

/** Response bytes queued on one socket before we stop reading its requests until it drains. */
export const CONNECTION_WRITE_BUFFER_BYTES_MAX = 64 * MIB;

/** fetch.max.bytes (Kafka's broker default 55 MiB): the most a Fetch response carries, whatever the client asks. */
export const FETCH_RESPONSE_BYTES_MAX = 55 * MIB;

/** The longest a Fetch may wait; Kafka lets the client choose, this keeps a request from parking forever. */
export const FETCH_WAIT_MS_MAX = 60_000;

/** max.incremental.fetch.session.cache.slots (Kafka's default). */
export const FETCH_SESSIONS_MAX = 1000;

/** Frame size prefix: int32. */
export const SIZE_PREFIX_BYTES = 4;
