/**
 * Every bound of the WebSocket door, in one place. Together they cap what one
 * socket can make the broker hold: at most SOCKET_BACKPRESSURE_BYTES_MAX in
 * uWS's send buffer (the socket is closed beyond it), and in practice about
 * socketBufferedBytesSoftMax + subscriptionsMax x (pushBytesMax + one batch),
 * since pushes pause above the soft mark and each subscription reads at most
 * its credit per round.
 *
 * The door announces them in its hello message (protocol.ts).
 */

import type { WireLimits } from './protocol.js';

export interface WsLimits {
  /**
   * Largest incoming frame (uWS maxPayloadLength). Above it uWS closes that
   * socket at once, without a close frame (the client sees 1006); other
   * sockets are untouched. Sized for a
   * produce of a default max.message.bytes batch as base64 JSON, with room.
   */
  payloadBytesMax: number;
  /** Seconds without traffic before uWS closes a socket; uWS pings idle sockets, and browsers answer. */
  idleTimeoutSeconds: number;
  /** Pushes pause while uWS buffers more than this for the socket, and resume on drain. */
  socketBufferedBytesSoftMax: number;
  /**
   * uWS maxBackpressure, with closeOnBackpressureLimit: a socket whose send
   * buffer grows past this (a client that sends requests and never reads the
   * answers) is closed rather than allowed to grow without bound.
   */
  socketBackpressureBytesMax: number;
  /** Stored bytes read per subscription per push round (one fetch per partition, their sum at most this). */
  pushBytesMax: number;
  /** A subscription's credit is clamped here, however much the client grants. */
  creditBytesMax: number;
  /** Credit of a subscribe that names none. */
  creditBytesDefault: number;
  subscriptionsPerSocketMax: number;
  /** Partitions across a socket's subscriptions: each holds one long-poll. */
  subscribedPartitionsPerSocketMax: number;
  /** Produce requests of one socket awaiting the broker; more are refused, not queued. */
  inflightRequestsPerSocketMax: number;
  /** One long-poll round; the push loop re-arms it (a bound, not a polling period: appends wake it). */
  longPollWaitMs: number;
  /** Open sockets; upgrades beyond it are answered 503. */
  socketsMax: number;
  /** Consumer groups one socket may be a member of at once (each is a member, a heartbeat timer and a subscription per topic). */
  groupsPerSocketMax: number;
  /** Idle buffers the door keeps for copying binary produce frames out of uWS (receive-buffers.ts), in all. */
  receivePoolBytesMax: number;
  /** A buffer larger than this (a frame past the usual 1 MiB batch) is not kept for reuse. */
  receivePooledBufferBytesMax: number;
  /**
   * JoinGroup/SyncGroup attempts in a row the door makes for one member
   * (MEMBER_ID_REQUIRED, a rebalance restarting under it...) before it gives
   * up and reports the last error: a bound, so a group that never settles
   * cannot keep the door rejoining forever.
   */
  joinAttemptsMax: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;

export const WS_LIMITS: Readonly<WsLimits> = Object.freeze({
  payloadBytesMax: 16 * MIB,
  idleTimeoutSeconds: 120,
  socketBufferedBytesSoftMax: 1 * MIB,
  socketBackpressureBytesMax: 64 * MIB,
  pushBytesMax: 1 * MIB,
  creditBytesMax: 64 * MIB,
  creditBytesDefault: 1 * MIB,
  subscriptionsPerSocketMax: 64,
  subscribedPartitionsPerSocketMax: 1024,
  inflightRequestsPerSocketMax: 128,
  longPollWaitMs: 30_000,
  socketsMax: 10_000,
  groupsPerSocketMax: 16,
  joinAttemptsMax: 20,
  receivePoolBytesMax: 16 * MIB,
  receivePooledBufferBytesMax: 2 * MIB,
});

/** A join's session timeout when it names none (Kafka's consumer default since 3.0 is 45 s; a tab closing is noticed sooner). */
export const GROUP_SESSION_TIMEOUT_MS_DEFAULT = 30_000;
/** A join's rebalance timeout (max.poll.interval.ms in Kafka's consumer) when it names none. */
export const GROUP_REBALANCE_TIMEOUT_MS_DEFAULT = 60_000;
/** The door heartbeats a member this many times per session timeout (Kafka's advice: at most a third of it)... */
export const GROUP_HEARTBEATS_PER_SESSION = 3;
/** ...and at least this often (Kafka's heartbeat.interval.ms default): a heartbeat is how a member learns of a rebalance, which waits for it. */
export const GROUP_HEARTBEAT_INTERVAL_MS_MAX = 3_000;

export function wireLimits(limits: WsLimits): WireLimits {
  return {
    payload_bytes_max: limits.payloadBytesMax,
    credit_bytes_max: limits.creditBytesMax,
    credit_bytes_default: limits.creditBytesDefault,
    push_bytes_max: limits.pushBytesMax,
    subscriptions_max: limits.subscriptionsPerSocketMax,
    subscribed_partitions_max: limits.subscribedPartitionsPerSocketMax,
    inflight_requests_max: limits.inflightRequestsPerSocketMax,
    idle_timeout_s: limits.idleTimeoutSeconds,
    groups_max: limits.groupsPerSocketMax,
  };
}
