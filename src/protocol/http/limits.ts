/**
 * Every bound the HTTP door puts on a request, a response or a stream, in one
 * place, units last. A request past a limit gets a typed error (413 or 400)
 * naming the limit; nothing here grows with what a client sends or fails to
 * read.
 */

const KIB = 1024;
const MIB = 1024 * KIB;

/** Largest request body read into memory; a larger one is answered 413 and its connection closed. */
export const HTTP_BODY_BYTES_MAX = 8 * MIB;

/** Records in one produce request (a JSON array is a Ferry extension). */
export const PRODUCE_RECORDS_MAX = 10_000;
/**
 * A produce request's records go to the broker in groups of at most this many
 * estimated bytes, so that an array of small records never makes one record
 * batch over max.message.bytes (Kafka's default is 1 MiB + 12); a topic with a
 * smaller max.message.bytes gets smaller groups.
 */
export const PRODUCE_GROUP_BYTES_MAX = 512 * KIB;

/** Fetch endpoint: `max_bytes` default and ceiling. At least one whole batch is returned even when larger. */
export const FETCH_BYTES_DEFAULT = 1 * MIB;
export const FETCH_BYTES_MAX = 8 * MIB;
/** Fetch endpoint: `timeout_ms` (long-poll wait) ceiling. */
export const FETCH_TIMEOUT_MS_MAX = 30_000;

/** SSE: how long one broker long-poll waits for an append before it is simply reissued. */
export const SSE_POLL_WAIT_MS = 30_000;
/** SSE: a comment line goes out after this long without an event, so proxies keep the stream open. */
export const SSE_HEARTBEAT_MS = 15_000;
/**
 * SSE: bytes fetched per long-poll, shared out between the partitions of a
 * topic stream. A stream holds at most one fetched chunk per partition plus
 * what uWS has buffered for the socket, and fetches nothing more until the
 * client has read it (backpressure).
 */
export const SSE_STREAM_FETCH_BYTES_MAX = 1 * MIB;
export const SSE_PARTITION_FETCH_BYTES_MIN = 16 * KIB;
/**
 * SSE: partitions one topic stream may follow; beyond it, use per-partition
 * streams. Bounded because every event id carries a pair per partition, and a
 * reconnecting browser sends the id back in a request header (uWS's request
 * headers are limited to 4 KiB by default): 128 pairs of up to 15 characters.
 */
export const SSE_TOPIC_PARTITIONS_MAX = 128;
/** SSE: longest Last-Event-ID cursor accepted. */
export const SSE_CURSOR_CHARS_MAX = 4096;

/** /metrics: partitions whose offsets are exported, so one huge topic cannot blow up a scrape. */
export const METRICS_PARTITIONS_MAX = 10_000;
