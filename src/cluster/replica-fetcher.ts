/**
 * The follower side of replication, as Kafka's replica fetcher threads: one
 * fetch loop per leader broker, over the Kafka protocol (Fetch v12 with this
 * broker's id as replica_id, so the leader reads up to its log end and
 * counts the fetch offset as this follower's progress). Batches are appended
 * exactly as the leader holds them, offsets and leader epochs included
 * (PartitionLog.appendAsFollower).
 *
 * A partition that starts to be followed (a new leader or leader epoch) is
 * first truncated: OffsetForLeaderEpoch asks the leader where this log's
 * latest epoch ends in the leader's log, and whatever lies past that point
 * here is removed (KIP-101/KIP-279), so a replica that led and took writes
 * nobody else got never keeps them. Only then does it fetch.
 *
 * A partition a reassignment is adding may be throttled: its fetches ask
 * for less and wait between them, so it copies at its rate
 * (replica-throttle.ts); the other partitions of the same leader are not
 * slowed.
 *
 * Errors: a leader that does not (yet) agree it leads at this epoch
 * (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH) is
 * asked again after a pause, until the broker core hands over a new epoch;
 * a connection that fails is opened again after a pause.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { FollowedPartition, ReplicaFetching } from '../broker/replica-fetching.js';
import { ERROR_CODES } from '../errors.js';
import { BrokerSession } from '../client/kafka/broker-session.js';
import type { SaslPlainCredentials } from '../client/kafka/sasl-plain.js';
import type { BrokerRegistration } from './keys.js';
import { pacedUntilMs, throttledFetchBytes } from './replica-throttle.js';

/** replica.fetch.wait.max.ms */
const FETCH_WAIT_MS = 500;
/** replica.fetch.max.bytes: per partition. */
const PARTITION_FETCH_BYTES = 1024 * 1024;
/** replica.fetch.response.max.bytes */
const RESPONSE_FETCH_BYTES = 10 * 1024 * 1024;
/** replica.fetch.backoff.ms (Kafka: 1 s). */
const BACKOFF_MS = 500;
/** How long a request may take before the connection is dropped: the long-poll plus Kafka's request.timeout.ms. */
const REQUEST_TIMEOUT_MS = FETCH_WAIT_MS + 30_000;

const RETRY_LATER = new Set<number>([
  ERROR_CODES.NOT_LEADER_OR_FOLLOWER.code,
  ERROR_CODES.FENCED_LEADER_EPOCH.code,
  ERROR_CODES.UNKNOWN_LEADER_EPOCH.code,
  ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code,
  ERROR_CODES.LEADER_NOT_AVAILABLE.code,
  ERROR_CODES.KAFKA_STORAGE_ERROR.code,
]);

interface Followed {
  handle: FollowedPartition;
  /** Truncate first (OffsetForLeaderEpoch), then fetch. */
  truncated: boolean;
  /** No request for this partition before this time (it failed recently). */
  delayUntilMs: number;
  /** A throttled partition's pacing clock (replica-throttle.ts): no fetch while it is ahead of now. */
  pacedUntilMs: number;
}

export interface ReplicaFetcherOptions {
  brokerId: number;
  /** Where a leader is now (its registration), undefined when it is not live. */
  brokerAddress(brokerId: number): BrokerRegistration | undefined;
  /** SASL/PLAIN credentials when the leaders' Kafka port requires them. */
  saslPlain?: SaslPlainCredentials;
  logger: Logger;
}

export class ReplicaFetchers implements ReplicaFetching {
  private readonly byLeader = new Map<number, LeaderFetcher>();
  private closed = false;

  constructor(private readonly options: ReplicaFetcherOptions) {}

  follow(handle: FollowedPartition): void {
    if (this.closed) return;
    this.unfollow(handle.topic, handle.partition);
    let fetcher = this.byLeader.get(handle.leader);
    if (!fetcher) {
      fetcher = new LeaderFetcher(handle.leader, this.options);
      this.byLeader.set(handle.leader, fetcher);
    }
    fetcher.add(handle);
  }

  unfollow(topic: string, partition: number): void {
    for (const [leader, fetcher] of this.byLeader) {
      if (!fetcher.remove(topic, partition)) continue;
      if (fetcher.isEmpty) {
        fetcher.stop();
        this.byLeader.delete(leader);
      }
      return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const fetchers = [...this.byLeader.values()];
    this.byLeader.clear();
    await Promise.all(fetchers.map((fetcher) => fetcher.stop()));
  }
}

class LeaderFetcher {
  private readonly partitions = new Map<string, Followed>();
  private session: BrokerSession | null = null;
  private stopped = false;
  private readonly loop: Promise<void>;
  private readonly logger: Logger;
  private lastErrorLogMs = 0;

  constructor(
    private readonly leader: number,
    private readonly options: ReplicaFetcherOptions,
  ) {
    this.logger = options.logger.child({ replicaFetcher: leader });
    this.loop = this.run();
  }

  get isEmpty(): boolean {
    return this.partitions.size === 0;
  }

  add(handle: FollowedPartition): void {
    this.partitions.set(key(handle.topic, handle.partition), { handle, truncated: false, delayUntilMs: 0, pacedUntilMs: 0 });
  }

  remove(topic: string, partition: number): boolean {
    return this.partitions.delete(key(topic, partition));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.session?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const session = await this.connect();
        if (!session) {
          await sleep(BACKOFF_MS);
          continue;
        }
        const now = Date.now();
        const ready = [...this.partitions.values()].filter((followed) => readyAtMs(followed) <= now && followed.handle.current());
        const truncating = ready.filter((followed) => !followed.truncated);
        if (truncating.length > 0) await this.truncate(session, truncating);
        const fetching = ready.filter((followed) => followed.truncated && this.partitions.get(key(followed.handle.topic, followed.handle.partition)) === followed);
        if (fetching.length === 0) {
          await sleep(truncating.length > 0 ? 0 : this.idleMs(now));
          continue;
        }
        await this.fetch(session, fetching);
      } catch (error) {
        if (this.stopped) return;
        this.logError('replica fetch failed; reconnecting', error as Error);
        this.session?.close();
        this.session = null;
        await sleep(BACKOFF_MS);
      }
    }
    this.session?.close();
  }

  private async connect(): Promise<BrokerSession | null> {
    if (this.session) return this.session;
    const address = this.options.brokerAddress(this.leader);
    if (!address) return null;
    this.session = await BrokerSession.open({
      host: address.host,
      port: address.kafkaPort,
      clientId: `ferry-replica-fetcher-${this.options.brokerId}`,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      ...(this.options.saslPlain ? { saslPlain: this.options.saslPlain } : {}),
    });
    return this.session;
  }

  /** OffsetForLeaderEpoch for each partition, then truncation to where the leader's log and this one agree. */
  private async truncate(session: BrokerSession, partitions: Followed[]): Promise<void> {
    const asking = partitions.filter((followed) => {
      if (followed.handle.log.latestLeaderEpoch >= 0) return true;
      followed.truncated = true; // nothing with an epoch here: nothing that could have diverged
      return false;
    });
    if (asking.length === 0) return;
    const { response } = await session.call('OffsetForLeaderEpoch', () => ({
      replicaId: this.options.brokerId,
      topics: byTopic(asking, (followed) => ({ partition: followed.handle.partition, currentLeaderEpoch: followed.handle.leaderEpoch, leaderEpoch: followed.handle.log.latestLeaderEpoch })),
    }));
    const answers = new Map<string, { errorCode: number; leaderEpoch: number; endOffset: bigint }>();
    for (const topic of response['topics'] as unknown as Array<{ topic: string; partitions: Array<{ errorCode: number; partition: number; leaderEpoch: number; endOffset: bigint }> }>) {
      for (const partition of topic.partitions) answers.set(key(topic.topic, partition.partition), partition);
    }
    for (const followed of asking) {
      const { handle } = followed;
      const answer = answers.get(key(handle.topic, handle.partition));
      if (!answer || !handle.current()) continue;
      if (answer.errorCode !== 0) {
        this.backOff(followed, `OffsetForLeaderEpoch: error ${answer.errorCode}`);
        continue;
      }
      const target = truncationOffset(handle, answer.leaderEpoch, Number(answer.endOffset));
      if (target < handle.log.logEndOffset) {
        this.logger.warn({ topic: handle.topic, partition: handle.partition, from: handle.log.logEndOffset, to: target, leaderEpoch: handle.leaderEpoch }, 'truncating a diverged replica log to where it agrees with the leader');
        await handle.log.truncateTo(target);
      }
      followed.truncated = true;
    }
  }

  private async fetch(session: BrokerSession, partitions: Followed[]): Promise<void> {
    const asked = new Map<string, { followed: Followed; fetchOffset: number }>();
    for (const followed of partitions) asked.set(key(followed.handle.topic, followed.handle.partition), { followed, fetchOffset: followed.handle.log.logEndOffset });
    const { response } = await session.call('Fetch', () => ({
      replicaId: this.options.brokerId,
      maxWaitMs: FETCH_WAIT_MS,
      minBytes: 1,
      maxBytes: RESPONSE_FETCH_BYTES,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: byTopic(partitions, (followed) => ({
        partition: followed.handle.partition,
        currentLeaderEpoch: followed.handle.leaderEpoch,
        fetchOffset: BigInt(followed.handle.log.logEndOffset),
        lastFetchedEpoch: -1,
        logStartOffset: BigInt(followed.handle.log.logStartOffset),
        partitionMaxBytes: followed.handle.throttleBytesPerSecond === null ? PARTITION_FETCH_BYTES : throttledFetchBytes(followed.handle.throttleBytesPerSecond, PARTITION_FETCH_BYTES),
      })),
      forgottenTopicsData: [],
      rackId: '',
    }));
    if (response['errorCode'] !== 0) throw new Error(`Fetch from broker ${this.leader}: error ${String(response['errorCode'])}`);
    const appends: Array<Promise<void>> = [];
    for (const topic of response['responses'] as unknown as Array<{ topic: string; partitions: FetchedPartition[] }>) {
      for (const answer of topic.partitions) {
        const target = asked.get(key(topic.topic, answer.partitionIndex));
        if (target) appends.push(this.applySafely(target.followed, target.fetchOffset, answer));
      }
    }
    await Promise.all(appends);
  }

  /** One partition's answer; a failure of that partition backs it off and truncates again, leaving the others to go on. */
  private async applySafely(followed: Followed, fetchOffset: number, answer: FetchedPartition): Promise<void> {
    try {
      await this.apply(followed, fetchOffset, answer);
    } catch (error) {
      followed.truncated = false;
      this.backOff(followed, `applying the fetched records failed: ${(error as Error).message}`, false);
    }
  }

  private async apply(followed: Followed, fetchOffset: number, answer: FetchedPartition): Promise<void> {
    const { handle } = followed;
    // Leadership moved on while the fetch was out, or a truncation changed the log: this answer is stale.
    if (!handle.current() || this.partitions.get(key(handle.topic, handle.partition)) !== followed || handle.log.logEndOffset !== fetchOffset) return;
    if (answer.errorCode === ERROR_CODES.OFFSET_OUT_OF_RANGE.code) {
      await this.outOfRange(followed, Number(answer.logStartOffset), Number(answer.highWatermark));
      return;
    }
    if (answer.errorCode !== 0) {
      this.backOff(followed, `Fetch: error ${answer.errorCode}`, RETRY_LATER.has(answer.errorCode));
      return;
    }
    const records = answer.records;
    if (records && records.length > 0) {
      const bytes = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
      const firstBaseOffset = firstBatchBaseOffset(bytes);
      // An empty log that starts inside a batch (the leader's log start was mid-batch when this replica started
      // over there): the leader sends that whole batch, so the log starts at its base instead (as Kafka, KAFKA-6975).
      if (firstBaseOffset < fetchOffset && handle.log.logEndOffset === handle.log.logStartOffset) await handle.log.truncateFullyAndStartAt(firstBaseOffset);
      await handle.log.appendAsFollower(bytes);
      if (handle.throttleBytesPerSecond !== null) followed.pacedUntilMs = pacedUntilMs(followed.pacedUntilMs, Date.now(), records.byteLength, handle.throttleBytesPerSecond);
    }
    // DeleteRecords and retention on the leader move its log start: the follower's follows (Kafka's followers do).
    const leaderLogStart = Number(answer.logStartOffset);
    if (leaderLogStart > handle.log.logStartOffset) handle.log.deleteRecordsBefore(Math.min(leaderLogStart, handle.log.logEndOffset));
    handle.setHighWatermark(Number(answer.highWatermark));
  }

  /**
   * The leader has no offset where this log ends. Below its log start
   * (retention moved on while this replica was away): start over there.
   * Past its end (this log holds what the leader never got): truncate by
   * epoch again, and if that finds nothing, to the leader's high watermark.
   */
  private async outOfRange(followed: Followed, leaderLogStart: number, leaderHighWatermark: number): Promise<void> {
    const { handle } = followed;
    if (handle.log.logEndOffset < leaderLogStart) {
      this.logger.warn({ topic: handle.topic, partition: handle.partition, logEnd: handle.log.logEndOffset, leaderLogStart }, 'replica is behind the leader\'s log start; starting over there');
      await handle.log.truncateFullyAndStartAt(leaderLogStart);
      return;
    }
    if (followed.truncated && handle.log.logEndOffset > leaderHighWatermark && leaderHighWatermark >= 0) {
      await handle.log.truncateTo(leaderHighWatermark);
    }
    followed.truncated = false;
  }

  /** How long to wait with nothing to fetch: until the first paced or backed-off partition may go, at most a fifth of a long-poll. */
  private idleMs(nowMs: number): number {
    let idleMs = FETCH_WAIT_MS / 5;
    for (const followed of this.partitions.values()) {
      const readyMs = readyAtMs(followed);
      if (readyMs > nowMs) idleMs = Math.min(idleMs, Math.ceil(readyMs - nowMs));
    }
    return idleMs;
  }

  private backOff(followed: Followed, why: string, expected = true): void {
    followed.delayUntilMs = Date.now() + BACKOFF_MS;
    const { handle } = followed;
    if (!expected) this.logger.warn({ topic: handle.topic, partition: handle.partition, why }, 'replica fetch of a partition failed');
    else this.logger.debug({ topic: handle.topic, partition: handle.partition, why }, 'leader not ready for this replica yet');
  }

  /** At most one line a few seconds while a leader stays unreachable. */
  private logError(message: string, error: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLogMs < 5_000) return;
    this.lastErrorLogMs = now;
    this.logger.warn({ leader: this.leader, error: error.message }, message);
  }
}

interface FetchedPartition {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  records: Uint8Array | null;
}

/**
 * Where a follower's log must end, given the leader's answer for the
 * follower's latest epoch (KIP-279): when the leader knows that epoch, at
 * its end offset; when the leader's largest epoch at or below it is older,
 * at the smaller of the leader's end for that older epoch and this log's
 * own end for it; when the leader knows no such epoch, at the high
 * watermark this follower last had (everything below it was committed).
 */
export function truncationOffset(handle: FollowedPartition, leaderEpoch: number, endOffset: number): number {
  const log = handle.log;
  if (leaderEpoch < 0 || endOffset < 0) return Math.min(log.logEndOffset, handle.highWatermark());
  if (leaderEpoch === log.latestLeaderEpoch) return Math.min(endOffset, log.logEndOffset);
  const own = log.endOffsetForLeaderEpoch(leaderEpoch);
  return Math.min(endOffset, own.endOffset < 0 ? endOffset : own.endOffset, log.logEndOffset);
}

/** When the partition may be fetched again: after its back-off and its throttle's pacing. */
function readyAtMs(followed: Followed): number {
  return Math.max(followed.delayUntilMs, followed.pacedUntilMs);
}

function key(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** Partitions grouped by topic, in the shape Kafka's requests take. */
function byTopic<T>(partitions: Followed[], entry: (followed: Followed) => T): Array<{ topic: string; partitions: T[] }> {
  const topics = new Map<string, T[]>();
  for (const followed of partitions) {
    let list = topics.get(followed.handle.topic);
    if (!list) topics.set(followed.handle.topic, (list = []));
    list.push(entry(followed));
  }
  return [...topics].map(([topic, list]) => ({ topic, partitions: list }));
}

/** The base offset of the first record batch in `bytes` (the first 8 bytes, big-endian). */
function firstBatchBaseOffset(bytes: Buffer): number {
  return Number(bytes.readBigInt64BE(0));
}
