/**
 * Fetch (key 1), versions 4-17: record batches straight from the segments —
 * no decode, no re-encode. A partition far enough behind its high watermark
 * (catch-up) is answered with a leased range of its segment file
 * (FileRecords) when it comes to SENDFILE_BYTES_MIN or more: the connection
 * sends it with sendfile, page cache to socket. Otherwise (consumers at the
 * tail, small ranges) its bytes are read from the page cache in one pread and
 * placed in the response by reference (KafkaWriter external chunks), so they
 * are never copied again on their way out. Either way the bytes are the same
 * whole batches, under the same limits.
 *
 * Honours max_wait_ms (capped at FETCH_WAIT_MS_MAX), min_bytes, max_bytes
 * (capped at FETCH_RESPONSE_BYTES_MAX), partition_max_bytes, KIP-74 (the
 * first batch of the first non-empty partition comes whole even if larger
 * than the limits), fetch sessions (v7+, fetch-sessions.ts) and topic ids
 * (v13+). isolation_level: without transactions the last stable offset is
 * the high watermark, so both levels read the same records.
 *
 * Consumers read below the high watermark. A follower (replica_id >= 0, in
 * replica_state from v15) reads up to the log end, and its fetch offset
 * tells the leader how far it has replicated (Broker.replicaFetch).
 * current_leader_epoch (v9+) is checked as Kafka does: FENCED_LEADER_EPOCH
 * or UNKNOWN_LEADER_EPOCH when the client's epoch is not the leader's.
 *
 * Versions below 4 answer in the pre-0.11 message formats Ferry does not
 * keep, so they are not offered (Kafka 4.0 dropped them too).
 */

import { ERROR_CODES, FerryError } from '../../../errors.js';
import { INITIAL_EPOCH, partitionKey, SESSIONLESS_EPOCH, type FetchSession, type FetchSessionCache, type SessionPartition } from '../fetch-sessions.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { encodeFetchResponse, FETCH_CODEC_VERSIONS, type FetchResponseBody } from '../codec/fetch-codec.js';
import { FileRecords, type RecordSet } from '../codec/file-records.js';
import { readFileRecords } from '../file-sender.js';
import { FETCH_RESPONSE_BYTES_MAX, FETCH_WAIT_MS_MAX, SENDFILE_BYTES_MIN, SENDFILE_OFFSETS_BEHIND_MIN } from '../limits.js';
import type { PartitionLog } from '../../../storage/partition-log.js';
import { errorFields } from './error-fields.js';

const TOPIC_IDS_MIN_VERSION = 13;
const SESSIONS_MIN_VERSION = 7;
const REPLICA_STATE_MIN_VERSION = 15;
const READ_COMMITTED = 1;
const ZERO_UUID = Buffer.alloc(16);
const NO_RECORDS = Buffer.alloc(0);

interface FetchPartitionRequest {
  partition: number;
  currentLeaderEpoch?: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
}

interface FetchTopicRequest {
  topic: string;
  topicId: Buffer;
  partitions: FetchPartitionRequest[];
}

interface ForgottenTopic {
  topic: string;
  topicId: Buffer;
  partitions: number[];
}

interface FetchRequest {
  replicaId?: number;
  replicaState?: { replicaId: number };
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  sessionId: number;
  sessionEpoch: number;
  topics: FetchTopicRequest[];
  forgottenTopicsData: ForgottenTopic[];
}

interface PartitionAnswer {
  target: SessionPartition;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: RecordSet;
  nextOffset: number;
}

export const fetchHandler: ApiHandler = {
  apiKey: 1,
  versions: FETCH_CODEC_VERSIONS,
  codec: { encodeResponse: (body, version, writer) => encodeFetchResponse(body as unknown as FetchResponseBody, version, writer) },
  async handle(body, context) {
    const request = body as unknown as FetchRequest;
    const usesSessions = context.apiVersion >= SESSIONS_MIN_VERSION;
    const sessionEpoch = usesSessions ? request.sessionEpoch : SESSIONLESS_EPOCH;
    const cache = context.fetchSessions;
    const requested = requestedPartitions(request, context);
    const replicaId = (context.apiVersion >= REPLICA_STATE_MIN_VERSION ? request.replicaState?.replicaId : request.replicaId) ?? -1;
    let session: FetchSession | null = null;
    let targets: SessionPartition[];
    let incremental = false;
    try {
      if (sessionEpoch === SESSIONLESS_EPOCH) {
        if (request.sessionId !== 0) cache.close(request.sessionId);
        targets = requested;
      } else if (sessionEpoch === INITIAL_EPOCH) {
        if (request.sessionId !== 0) cache.close(request.sessionId);
        session = cache.open(requested);
        targets = session === null ? requested : [...session.partitions.values()];
      } else {
        session = cache.resume(request.sessionId, sessionEpoch);
        applyIncremental(cache, session, requested, request.forgottenTopicsData, context);
        session.nextEpoch = session.nextEpoch === 0x7fffffff ? 1 : session.nextEpoch + 1;
        targets = [...session.partitions.values()];
        incremental = true;
      }
    } catch (error) {
      if (!(error instanceof FerryError)) throw error;
      return { throttleTimeMs: 0, errorCode: error.errorCode, sessionId: 0, responses: [] };
    }
    const shows = incremental ? hasNews : (): boolean => true;
    const answers = await readWithWait(request, targets, shows, replicaId, context);
    const shown = answers.filter(shows);
    for (const answer of answers) if (!shows(answer)) releaseRecords(answer);
    if (session) remember(session, answers);
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: session?.id ?? 0,
      responses: groupByTopic(shown, request.isolationLevel === READ_COMMITTED),
    };
  },
};

function requestedPartitions(request: FetchRequest, context: RequestContext): SessionPartition[] {
  const out: SessionPartition[] = [];
  for (const topic of request.topics) {
    const name = topicName(topic.topic, topic.topicId, context);
    for (const partition of topic.partitions) {
      out.push({
        topic: name,
        topicId: context.apiVersion >= TOPIC_IDS_MIN_VERSION ? topic.topicId : ZERO_UUID,
        partition: partition.partition,
        fetchOffset: Number(partition.fetchOffset),
        currentLeaderEpoch: partition.currentLeaderEpoch ?? -1,
        maxBytes: partition.partitionMaxBytes,
        lastHighWatermark: -1,
        lastLogStartOffset: -1,
        lastErrorCode: -1,
      });
    }
  }
  return out;
}

/** v13+ names topics by id; an unknown id keeps an empty name and answers UNKNOWN_TOPIC_ID. */
function topicName(name: string, topicId: Buffer, context: RequestContext): string {
  if (context.apiVersion < TOPIC_IDS_MIN_VERSION) return name;
  return context.broker.topicNameById(topicId.toString('base64url')) ?? '';
}

function applyIncremental(
  cache: FetchSessionCache,
  session: FetchSession,
  requested: readonly SessionPartition[],
  forgotten: readonly ForgottenTopic[],
  context: RequestContext,
): void {
  for (const topic of forgotten) {
    const name = topicName(topic.topic, topic.topicId, context);
    for (const partition of topic.partitions) session.partitions.delete(partitionKey(name, partition));
  }
  for (const partition of requested) {
    const key = partitionKey(partition.topic, partition.partition);
    const known = session.partitions.get(key);
    if (known) {
      known.fetchOffset = partition.fetchOffset;
      known.currentLeaderEpoch = partition.currentLeaderEpoch;
      known.maxBytes = partition.maxBytes;
    } else {
      cache.add(session, key, partition);
    }
  }
}

/**
 * Reads every target; while fewer than min_bytes came back and no error is
 * to be shown, waits for appends until max_wait_ms. (An error the session
 * already reported does not end the wait, or a consumer of a deleted topic
 * would spin.)
 */
async function readWithWait(
  request: FetchRequest,
  targets: readonly SessionPartition[],
  shows: (answer: PartitionAnswer) => boolean,
  replicaId: number,
  context: RequestContext,
): Promise<PartitionAnswer[]> {
  const deadline = Date.now() + Math.max(0, Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX));
  const budget = Math.max(0, Math.min(request.maxBytes, FETCH_RESPONSE_BYTES_MAX));
  for (;;) {
    const answers = readAll(targets, budget, replicaId, context);
    let bytes = 0;
    let failed = false;
    for (const answer of answers) {
      bytes += answer.records.length;
      if (answer.errorCode !== 0 && shows(answer)) failed = true;
    }
    const remainingMs = deadline - Date.now();
    if (bytes >= request.minBytes || failed || remainingMs <= 0 || context.signal.aborted) return answers;
    for (const answer of answers) releaseRecords(answer);
    await context.broker.waitForAppend(targets, remainingMs, context.signal);
  }
}

function readAll(targets: readonly SessionPartition[], budgetBytes: number, replicaId: number, context: RequestContext): PartitionAnswer[] {
  let remaining = budgetBytes;
  let sentAny = false;
  return targets.map((target) => {
    const answer = readOne(target, Math.min(remaining, target.maxBytes), !sentAny, replicaId, context);
    remaining = Math.max(0, remaining - answer.records.length);
    if (answer.records.length > 0) sentAny = true;
    return answer;
  });
}

function readOne(target: SessionPartition, maxBytes: number, minOneBatch: boolean, replicaId: number, context: RequestContext): PartitionAnswer {
  try {
    if (target.topic === '') throw new FerryError('UNKNOWN_TOPIC_ID', `no topic has id ${target.topicId.toString('base64url')}`);
    const { log, highWatermark } =
      replicaId >= 0
        ? context.broker.replicaFetch(target.topic, target.partition, replicaId, target.fetchOffset, target.currentLeaderEpoch)
        : context.broker.leaderPartition(target.topic, target.partition, target.currentLeaderEpoch);
    const logStartOffset = log.logStartOffset;
    // Kafka's range is the log, not the high watermark: a consumer just past a new leader's high watermark waits, it is not reset.
    if (target.fetchOffset < logStartOffset || target.fetchOffset > log.logEndOffset) {
      return { target, errorCode: ERROR_CODES.OFFSET_OUT_OF_RANGE.code, highWatermark, logStartOffset, records: NO_RECORDS, nextOffset: target.fetchOffset };
    }
    const readUpTo = replicaId >= 0 ? log.logEndOffset : highWatermark;
    const read = readRecords(log, target.fetchOffset, Math.max(0, maxBytes), minOneBatch, readUpTo, context);
    return { target, errorCode: 0, highWatermark, logStartOffset, records: read.records, nextOffset: read.nextOffset };
  } catch (error) {
    const { errorCode } = errorFields(error, context.logger, 'fetch');
    return { target, errorCode, highWatermark: -1, logStartOffset: -1, records: NO_RECORDS, nextOffset: target.fetchOffset };
  }
}

/** Whole batches from `fetchOffset`: a file range to sendfile when far behind and large, else bytes in memory. */
function readRecords(log: PartitionLog, fetchOffset: number, maxBytes: number, minOneBatch: boolean, highWatermark: number, context: RequestContext): { records: RecordSet; nextOffset: number } {
  const options = { minOneBatch, maxOffset: highWatermark };
  if (!context.sendsFileRecords || maxBytes < SENDFILE_BYTES_MIN || highWatermark - fetchOffset <= SENDFILE_OFFSETS_BEHIND_MIN) {
    const read = log.read(fetchOffset, maxBytes, options);
    return { records: read.bytes, nextOffset: read.nextOffset };
  }
  const found = log.readFileRange(fetchOffset, maxBytes, options);
  if (found.range === null) return { records: NO_RECORDS, nextOffset: found.nextOffset };
  const records = new FileRecords(found.range);
  return { records: records.length >= SENDFILE_BYTES_MIN ? records : readFileRecords(records), nextOffset: found.nextOffset };
}

/** Gives back the file range of an answer that will not be sent. */
function releaseRecords(answer: PartitionAnswer): void {
  if (answer.records instanceof FileRecords) answer.records.release();
}

/** Whether an incremental fetch must show this partition: records, or a high watermark, log start or error the client has not seen. */
function hasNews(answer: PartitionAnswer): boolean {
  const seen = answer.target;
  return answer.records.length > 0 || answer.errorCode !== seen.lastErrorCode || answer.highWatermark !== seen.lastHighWatermark || answer.logStartOffset !== seen.lastLogStartOffset;
}

/** Notes what the client now knows; partitions that returned records go to the back so the others get their turn next time. */
function remember(session: FetchSession, answers: readonly PartitionAnswer[]): void {
  for (const answer of answers) {
    const target = answer.target;
    target.lastErrorCode = answer.errorCode;
    target.lastHighWatermark = answer.highWatermark;
    target.lastLogStartOffset = answer.logStartOffset;
    if (answer.records.length > 0) {
      const key = partitionKey(target.topic, target.partition);
      session.partitions.delete(key);
      session.partitions.set(key, target);
    }
  }
}

function groupByTopic(answers: readonly PartitionAnswer[], readCommitted: boolean): Array<Record<string, unknown>> {
  const topics: Array<{ topic: string; topicId: Buffer; partitions: Array<Record<string, unknown>> }> = [];
  for (const answer of answers) {
    let last = topics[topics.length - 1];
    if (last === undefined || last.topic !== answer.target.topic || !last.topicId.equals(answer.target.topicId)) {
      last = { topic: answer.target.topic, topicId: answer.target.topicId, partitions: [] };
      topics.push(last);
    }
    last.partitions.push({
      partitionIndex: answer.target.partition,
      errorCode: answer.errorCode,
      highWatermark: BigInt(answer.highWatermark),
      lastStableOffset: BigInt(answer.highWatermark),
      logStartOffset: BigInt(answer.logStartOffset),
      abortedTransactions: readCommitted ? [] : null,
      preferredReadReplica: -1,
      records: answer.records,
    });
  }
  return topics;
}
