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
 * the least recently used is evicted, as Kafka's cache does for idle ones.
 */

import { randomInt } from 'node:crypto';
import { FerryError } from '../../errors.js';
import { FETCH_SESSIONS_MAX } from './limits.js';

export const SESSIONLESS_EPOCH = -1;
export const INITIAL_EPOCH = 0;

/** One partition a fetch wants, and what the session last told the client about it. */
export interface SessionPartition {
  topic: string;
  /** 16 bytes; zero for requests that name topics (v12 and below). */
  topicId: Buffer;
  partition: number;
  fetchOffset: number;
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
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();

  constructor(private readonly sessionsMax = FETCH_SESSIONS_MAX) {}

  /** A new session holding `partitions` (in request order); evicts the least recently used when full. */
  open(partitions: readonly SessionPartition[]): FetchSession {
    if (this.sessions.size >= this.sessionsMax) {
      const oldest = this.sessions.keys().next();
      if (!oldest.done) this.sessions.delete(oldest.value);
    }
    let id: number;
    do id = randomInt(1, 0x7fffffff);
    while (this.sessions.has(id));
    const session: FetchSession = { id, nextEpoch: INITIAL_EPOCH + 1, partitions: new Map() };
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
    // Most recently used goes to the back of the eviction order.
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  close(id: number): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}
