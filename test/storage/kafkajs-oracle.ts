/**
 * kafkajs's own RecordBatch v2 encoder and decoder, loaded from its sources:
 * the real Kafka client library the storage tests hold Ferry's codecs to.
 * Input shape (node_modules/kafkajs/src/protocol/recordBatch/{v0,record/v0}):
 * records are Record({ offsetDelta, timestampDelta, key, value, headers }),
 * headers an object whose array values repeat a key.
 */

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type KafkajsHeaders = Record<string, Buffer | string | Array<Buffer | string>>;

export interface KafkajsRecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: KafkajsHeaders;
}

export interface KafkajsBatchInput {
  compression?: number;
  firstOffset?: bigint;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch?: number;
  lastOffsetDelta: number;
  transactional?: boolean;
  producerId?: bigint;
  producerEpoch?: number;
  firstSequence?: number;
  records: KafkajsRecordInput[];
}

export interface KafkajsDecodedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}

export interface KafkajsDecodedBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  lastOffsetDelta: number;
  records: KafkajsDecodedRecord[];
}

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(input: Record<string, unknown>): Promise<{ buffer: Buffer }>;
};
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<KafkajsDecodedBatch>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (input: KafkajsRecordInput) => unknown;
const Long = require('kafkajs/src/utils/long') as { fromValue(value: bigint | number | string): unknown };

/** kafkajs's compression codes: it ships gzip itself; the others need plugins it does not have here. */
export const KAFKAJS_COMPRESSION = (require('kafkajs/src/protocol/message/compression') as { Types: { None: number; GZIP: number } }).Types;

/** One RecordBatch v2, encoded by kafkajs. */
export async function kafkajsEncodeBatch(input: KafkajsBatchInput): Promise<Buffer> {
  const encoder = await RecordBatch({
    ...input,
    firstOffset: Long.fromValue(input.firstOffset ?? 0n),
    producerId: Long.fromValue(input.producerId ?? -1n),
    records: input.records.map((record) => KafkajsRecord(record)),
  });
  return encoder.buffer;
}

/** One RecordBatch v2, decoded by kafkajs. */
export function kafkajsDecodeBatch(bytes: Buffer): Promise<KafkajsDecodedBatch> {
  return decodeRecordBatch(new Decoder(bytes));
}
