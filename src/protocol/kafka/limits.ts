/**
 * The Kafka door's limits, in one place, with Kafka's broker setting named
 * where one exists.
 */

const MIB = 1024 * 1024;

/** socket.request.max.bytes (Kafka's default): a larger length prefix closes the connection before anything is allocated. */
export const REQUEST_BYTES_MAX = 100 * MIB;

/** Before SASL authentication completes, a frame may be at most this large (Kafka's sasl.server.max.receive.size). */
export const UNAUTHENTICATED_REQUEST_BYTES_MAX = 512 * 1024;

/** Requests read from one connection and not yet answered; beyond it the socket stops being read (Kafka mutes the channel). */
export const CONNECTION_REQUESTS_IN_FLIGHT_MAX = 64;

/** Bytes of requests one connection may have handed to handlers and not yet had answered (one request of any allowed size always passes). */
export const CONNECTION_REQUEST_BYTES_IN_FLIGHT_MAX = 128 * MIB;

/** connections.max.idle.ms (Kafka's default): a connection with nothing in flight and no bytes for this long is closed. */
export const CONNECTION_IDLE_MS = 600_000;

/** How long a connection closed for bad input may take to flush the responses already written before it is destroyed. */
export const CONNECTION_CLOSE_LINGER_MS = 5_000;

/** Open Kafka connections per broker (Kafka's max.connections is unbounded by default; file descriptors are not). */
export const CONNECTIONS_MAX = 10_000;

/** Response bytes queued on one socket before we stop reading its requests until it drains. */
export const CONNECTION_WRITE_BUFFER_BYTES_MAX = 64 * MIB;

/** fetch.max.bytes (Kafka's broker default 55 MiB): the most a Fetch response carries, whatever the client asks. */
export const FETCH_RESPONSE_BYTES_MAX = 55 * MIB;

/** The longest a Fetch may wait; Kafka lets the client choose, this keeps a request from parking forever. */
export const FETCH_WAIT_MS_MAX = 60_000;

/** max.incremental.fetch.session.cache.slots (Kafka's default). */
export const FETCH_SESSIONS_MAX = 1000;

/** min.incremental.fetch.session.eviction.ms (Kafka's default): a full cache evicts only sessions idle this long. */
export const FETCH_SESSION_EVICTION_IDLE_MS = 120_000;

/** Partitions one fetch session may hold; a session that would grow past it is closed and the client falls back to full fetches. */
export const FETCH_SESSION_PARTITIONS_MAX = 10_000;

/** Topics one Metadata request may auto-create; the rest answer UNKNOWN_TOPIC_OR_PARTITION until a later request. */
export const METADATA_AUTO_CREATED_TOPICS_MAX = 100;

/** Frame size prefix: int32. */
export const SIZE_PREFIX_BYTES = 4;

/** sendfile(2) calls in flight door-wide: each holds a libuv pool thread (shared with fdatasync) while its peer is slow. */
export const SENDFILE_IN_FLIGHT_MAX = 2;

/** A fetch's record set at least this large stays in its segment file and goes out with sendfile; smaller ones are read into memory (a pool-thread round trip costs more than copying them). */
export const SENDFILE_BYTES_MIN = 256 * 1024;

/** Fetches this many offsets or fewer behind the high watermark (consumers at the tail) read into memory without looking for a file range first. */
export const SENDFILE_OFFSETS_BEHIND_MIN = 256;
