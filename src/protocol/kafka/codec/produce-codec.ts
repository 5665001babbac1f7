/**
 * Produce (key 0) request decode and response encode written out by hand for
 * the versions the door serves (3-11): the hottest API, where the generic
 * spec-driven codec's per-field walk of the message tree cost about as much
 * as the append itself for small batches (CPU profile at 10,000 one-record
 * requests/s). The output is exactly the generic codec's, field for field
 * (checked against it in test/protocol/kafka/produce-codec.test.ts), and the
 * generic codec stays the reference.
 *
 * Grammar (v9+ flexible: compact strings/arrays/records and a tagged-field
 * section after every struct; Ferry reads and writes no tagged field here,
 * unknown ones in requests are skipped):
 *
 *   ProduceRequest  => transactional_id:NULLABLE_STRING acks:INT16 timeout_ms:INT32
 *                      [topic_data: name:STRING [partition_data: index:INT32 records:RECORDS]]
 *   ProduceResponse => [responses: name:STRING
 *                        [partition_responses: index:INT32 error_code:INT16 base_offset:INT64
 *                          log_append_time_ms:INT64 log_start_offset:INT64 (v5+)
 *                          [record_errors (v8+): batch_index:INT32 message:NULLABLE_STRING]
 *                          error_message:NULLABLE_STRING (v8+)
 *                          <tagged (v10+): current_leader, tag 0, never written>]]
 *                      throttle_time_ms:INT32 <tagged (v10+): node_endpoints, tag 0, never written>
 */

import { FerryError } from '../../../errors.js';
import type { KafkaReader } from './reader.js';
import type { KafkaWriter } from './writer.js';

export const PRODUCE_CODEC_VERSIONS = { min: 3, max: 11 } as const;
const FLEXIBLE_MIN_VERSION = 9;
const LOG_START_OFFSET_MIN_VERSION = 5;
const ERROR_DETAILS_MIN_VERSION = 8;

export interface ProducePartitionData {
  index: number;
  records: Buffer | null;
}

export interface ProduceTopicData {
  name: string;
  partitionData: ProducePartitionData[];
}

export interface ProduceRequestBody {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topicData: ProduceTopicData[];
}

export interface RecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

export interface ProducePartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  logStartOffset: bigint;
  recordErrors?: RecordError[];
  errorMessage: string | null;
}

export interface ProduceResponseBody {
  responses: Array<{ name: string; partitionResponses: ProducePartitionResponse[] }>;
  throttleTimeMs: number;
}

function checkVersion(version: number): void {
  if (version < PRODUCE_CODEC_VERSIONS.min || version > PRODUCE_CODEC_VERSIONS.max) {
    throw new FerryError('UNSUPPORTED_VERSION', `Produce v${version}: the hand-written codec covers ${PRODUCE_CODEC_VERSIONS.min}-${PRODUCE_CODEC_VERSIONS.max}`);
  }
}

export function decodeProduceRequest(reader: KafkaReader, version: number): ProduceRequestBody {
  checkVersion(version);
  const flexible = version >= FLEXIBLE_MIN_VERSION;
  const transactionalId = flexible ? reader.readCompactNullableString() : reader.readNullableString();
  const acks = reader.readInt16();
  const timeoutMs = reader.readInt32();
  const topicCount = reader.readArrayLength(flexible);
  if (topicCount < 0) throw new FerryError('INVALID_REQUEST', 'Produce topic_data: null where not nullable');
  const topicData = new Array<ProduceTopicData>(topicCount);
  for (let t = 0; t < topicCount; t++) {
    const name = flexible ? reader.readCompactString() : reader.readString();
    const partitionCount = reader.readArrayLength(flexible);
    if (partitionCount < 0) throw new FerryError('INVALID_REQUEST', 'Produce partition_data: null where not nullable');
    const partitionData = new Array<ProducePartitionData>(partitionCount);
    for (let p = 0; p < partitionCount; p++) {
      const index = reader.readInt32();
      const records = flexible ? reader.readCompactNullableBytes() : reader.readNullableBytes();
      if (flexible) reader.readTaggedFields();
      partitionData[p] = { index, records };
    }
    if (flexible) reader.readTaggedFields();
    topicData[t] = { name, partitionData };
  }
  if (flexible) reader.readTaggedFields();
  return { transactionalId, acks, timeoutMs, topicData };
}

export function encodeProduceResponse(body: ProduceResponseBody, version: number, writer: KafkaWriter): void {
  checkVersion(version);
  const flexible = version >= FLEXIBLE_MIN_VERSION;
  writer.writeArrayLength(body.responses.length, flexible);
  for (const topic of body.responses) {
    if (flexible) writer.writeCompactString(topic.name);
    else writer.writeString(topic.name);
    writer.writeArrayLength(topic.partitionResponses.length, flexible);
    for (const partition of topic.partitionResponses) encodePartition(partition, version, flexible, writer);
    if (flexible) writer.writeEmptyTaggedFields();
  }
  writer.writeInt32(body.throttleTimeMs);
  if (flexible) writer.writeEmptyTaggedFields();
}

function encodePartition(partition: ProducePartitionResponse, version: number, flexible: boolean, writer: KafkaWriter): void {
  writer.writeInt32(partition.index);
  writer.writeInt16(partition.errorCode);
  writer.writeInt64(partition.baseOffset);
  writer.writeInt64(partition.logAppendTimeMs);
  if (version >= LOG_START_OFFSET_MIN_VERSION) writer.writeInt64(partition.logStartOffset);
  if (version >= ERROR_DETAILS_MIN_VERSION) {
    const recordErrors = partition.recordErrors ?? [];
    writer.writeArrayLength(recordErrors.length, flexible);
    for (const recordError of recordErrors) {
      writer.writeInt32(recordError.batchIndex);
      if (flexible) writer.writeCompactNullableString(recordError.batchIndexErrorMessage);
      else writer.writeNullableString(recordError.batchIndexErrorMessage);
      if (flexible) writer.writeEmptyTaggedFields();
    }
    if (flexible) writer.writeCompactNullableString(partition.errorMessage);
    else writer.writeNullableString(partition.errorMessage);
  }
  if (flexible) writer.writeEmptyTaggedFields();
}
