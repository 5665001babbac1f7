/**
 * The Kafka admin client's limits, in one place, with the Kafka client
 * setting named where one exists.
 */

const MIB = 1024 * 1024;

/** socket.connection.setup.timeout.ms (Kafka's default is 10 s). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** request.timeout.ms (Kafka's admin client default is 30 s): an answer later than this fails the request. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Attempts of a group call whose coordinator is loading, unavailable or moved (Kafka's admin retries until default.api.timeout.ms). */
export const COORDINATOR_RETRIES_MAX = 10;

/** retry.backoff.ms (Kafka's default). */
export const RETRY_BACKOFF_MS = 100;

/** Requests sent on one connection and not yet answered; more wait for a slot (max.in.flight.requests.per.connection). */
export const IN_FLIGHT_REQUESTS_MAX = 16;

/** A response frame larger than this closes the connection before anything is allocated for it (as a broker bounds requests). */
export const RESPONSE_BYTES_MAX = 100 * MIB;

/** Sent in the request header and in ApiVersions v3+ (client.id, client.software.name). */
export const CLIENT_ID = 'ferry-admin';
export const CLIENT_SOFTWARE_NAME = 'ferry';
export const CLIENT_SOFTWARE_VERSION = '0.1.0';
