/**
 * Fetch sessions (KIP-227), per broker: a consumer that fetches the same
 * partitions over and over registers them once (a full fetch with epoch 0),
 * then sends only what changed (incremental fetches with epoch 1, 2, ...)
 * and gets back only partitions with news: records, or a moved high
 * watermark, log start or error.
 *
 * Epochs: -1 = no session (full fetch, sessionless answer; closes the named
 * session if any), 0 = open a new session with a full fetch, >0 = the next
 * incremental fetch of an existing session, which must carry exactly the
 * epoch the session expects. At most FETCH_SESSIONS_MAX sessions; when full,
 * the least recently used one is evicted only if it has been idle for
 * FETCH_SESSION_EVICTION_IDLE_MS, otherwise no session is opened and the
 * fetch is answered sessionless (as Kafka's cache does), so a crowd of
 * consumers cannot knock each other's live sessions out. A session holds at
 * most FETCH_SESSION_PARTITIONS_MAX partitions.
 */

import { randomInt } from 'node:crypto';
import { FerryError } from '../../errors.js';
import { FETCH_SESSION_EVICTION_IDLE_MS, FETCH_SESSION_PARTITIONS_MAX, FETCH_SESSIONS_MAX } from './limits.js';

export const SESSIONLESS_EPOCH = -1;
export const INITIAL_EPOCH = 0;

/** One partition a fetch wants, and what the session last told the client about it. */
export interface SessionPartition {
  topic: string;
  /** 16 bytes; zero for requests that name topics (v12 and below). */
  topicId: Buffer;
  partition: number;
  fetchOffset: number;
  /** The leader epoch the client believes in (v9+; -1: none): checked against the leader's. */
  currentLeaderEpoch: number;
  maxBytes: number;
  lastHighWatermark: number;
  lastLogStartOffset: number;
  lastErrorCode: number;
}

export interface FetchSession {
  readonly id: number;
  /** The epoch the next incremental fetch must carry. */
  nextEpoch: number;
  /** Insertion order is fetch order; partitions that returned data move to the back. */
  readonly partitions: Map<string, SessionPartition>;
  lastUsedMs: number;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class FetchSessionCache {
  /** In least-recently-used order: a session moves to the back when used. */
  private readonly sessions = new Map<number, FetchSession>();

  constructor(
    private readonly sessionsMax = FETCH_SESSIONS_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A new session holding `partitions` (in request order), or null when the
   * cache is full of sessions in use or the partitions are too many for one
   * session: the caller then answers sessionless.
   */
  open(partitions: readonly SessionPartition[]): FetchSession | null {
    if (partitions.length > FETCH_SESSION_PARTITIONS_MAX) return null;
    if (this.sessions.size >= this.sessionsMax) {
      const oldest = this.sessions.values().next();
      if (oldest.done || this.now() - oldest.value.lastUsedMs < FETCH_SESSION_EVICTION_IDLE_MS) return null;
      this.sessions.delete(oldest.value.id);
    }
    let id: number;
    do id = randomInt(1, 0x7fffffff);
    while (this.sessions.has(id));
    const session: FetchSession = { id, nextEpoch: INITIAL_EPOCH + 1, partitions: new Map(), lastUsedMs: this.now() };
    for (const partition of partitions) session.partitions.set(partitionKey(partition.topic, partition.partition), partition);
    this.sessions.set(id, session);
    return session;
  }

  /** The session for an incremental fetch at `epoch`; FerryErrors as Kafka answers them. */
  resume(id: number, epoch: number): FetchSession {
    const session = this.sessions.get(id);
    if (session === undefined) throw new FerryError('FETCH_SESSION_ID_NOT_FOUND', `fetch session ${id} is not known (expired or evicted)`);
    if (epoch !== session.nextEpoch) {
      throw new FerryError('INVALID_FETCH_SESSION_EPOCH', `fetch session ${id} expects epoch ${session.nextEpoch}, got ${epoch}`);
    }
    this.sessions.delete(id);
    this.sessions.set(id, session);
    session.lastUsedMs = this.now();
    return session;
  }

  /** Adds a partition to a session; past FETCH_SESSION_PARTITIONS_MAX the session is closed and the client told to start over. */
  add(session: FetchSession, key: string, partition: SessionPartition): void {
    if (session.partitions.size >= FETCH_SESSION_PARTITIONS_MAX) {
      this.close(session.id);
      throw new FerryError('FETCH_SESSION_ID_NOT_FOUND', `fetch session ${session.id} would hold more than ${FETCH_SESSION_PARTITIONS_MAX} partitions; closed`);
    }
    session.partitions.set(key, partition);
  }

  close(id: number): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}
