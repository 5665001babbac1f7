/**
 * Fetch (key 1) response encode written out by hand for the versions the
 * door serves (4-17): at 10,000 one-record fetches/s the generic codec's
 * per-field walk of the response tree was the largest part of encoding
 * (CPU profile). The bytes are exactly the generic codec's for every body
 * the Fetch handler builds (checked against it in fetch-codec.test.ts); the
 * tagged fields the handler never sets (diverging_epoch, current_leader,
 * snapshot_id, node_endpoints) are refused rather than silently dropped.
 *
 * Grammar (v12+ flexible: compact strings/arrays/records, a tagged-field
 * section after every struct):
 *
 *   FetchResponse => throttle_time_ms:INT32 error_code:INT16 (v7+) session_id:INT32 (v7+)
 *                    [responses: topic:STRING (v4-12) | topic_id:UUID (v13+)
 *                      [partitions: partition_index:INT32 error_code:INT16 high_watermark:INT64
 *                        last_stable_offset:INT64 log_start_offset:INT64 (v5+)
 *                        [aborted_transactions (nullable): producer_id:INT64 first_offset:INT64]
 *                        preferred_read_replica:INT32 (v11+) records:RECORDS]]
 */

import { assert, FerryError } from '../../../errors.js';
import type { RecordSet } from './file-records.js';
import type { KafkaWriter } from './writer.js';

export const FETCH_CODEC_VERSIONS = { min: 4, max: 17 } as const;
const SESSIONS_MIN_VERSION = 7;
const LOG_START_OFFSET_MIN_VERSION = 5;
const PREFERRED_READ_REPLICA_MIN_VERSION = 11;
const FLEXIBLE_MIN_VERSION = 12;
const TOPIC_IDS_MIN_VERSION = 13;

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface FetchPartitionData {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  abortedTransactions: AbortedTransaction[] | null;
  preferredReadReplica: number;
  records: RecordSet | null;
}

export interface FetchTopicResponse {
  topic: string;
  topicId: Buffer;
  partitions: FetchPartitionData[];
}

export interface FetchResponseBody {
  throttleTimeMs: number;
  errorCode: number;
  sessionId: number;
  responses: FetchTopicResponse[];
}

/** Tagged fields the generic codec would write when set, which this codec does not. */
const UNSUPPORTED_PARTITION_FIELDS = ['divergingEpoch', 'currentLeader', 'snapshotId'] as const;

export function encodeFetchResponse(body: FetchResponseBody, version: number, writer: KafkaWriter): void {
  if (version < FETCH_CODEC_VERSIONS.min || version > FETCH_CODEC_VERSIONS.max) {
    throw new FerryError('UNSUPPORTED_VERSION', `Fetch v${version}: the hand-written codec covers ${FETCH_CODEC_VERSIONS.min}-${FETCH_CODEC_VERSIONS.max}`);
  }
  assert(!('nodeEndpoints' in body), 'the Fetch response codec does not write node_endpoints');
  const flexible = version >= FLEXIBLE_MIN_VERSION;
  writer.writeInt32(body.throttleTimeMs);
  if (version >= SESSIONS_MIN_VERSION) {
    writer.writeInt16(body.errorCode);
    writer.writeInt32(body.sessionId);
  }
  writer.writeArrayLength(body.responses.length, flexible);
  for (const topic of body.responses) {
    if (version >= TOPIC_IDS_MIN_VERSION) writer.writeUuid(topic.topicId);
    else if (flexible) writer.writeCompactString(topic.topic);
    else writer.writeString(topic.topic);
    writer.writeArrayLength(topic.partitions.length, flexible);
    for (const partition of topic.partitions) encodePartition(partition, version, flexible, writer);
    if (flexible) writer.writeEmptyTaggedFields();
  }
  if (flexible) writer.writeEmptyTaggedFields();
}

function encodePartition(partition: FetchPartitionData, version: number, flexible: boolean, writer: KafkaWriter): void {
  for (const field of UNSUPPORTED_PARTITION_FIELDS) assert(!(field in partition), `the Fetch response codec does not write ${field}`);
  writer.writeInt32(partition.partitionIndex);
  writer.writeInt16(partition.errorCode);
  writer.writeInt64(partition.highWatermark);
  writer.writeInt64(partition.lastStableOffset);
  if (version >= LOG_START_OFFSET_MIN_VERSION) writer.writeInt64(partition.logStartOffset);
  const aborted = partition.abortedTransactions;
  writer.writeArrayLength(aborted === null ? null : aborted.length, flexible);
  for (const transaction of aborted ?? []) {
    writer.writeInt64(transaction.producerId);
    writer.writeInt64(transaction.firstOffset);
    if (flexible) writer.writeEmptyTaggedFields();
  }
  if (version >= PREFERRED_READ_REPLICA_MIN_VERSION) writer.writeInt32(partition.preferredReadReplica);
  writer.writeRecords(partition.records, flexible);
  if (flexible) writer.writeEmptyTaggedFields();
}
