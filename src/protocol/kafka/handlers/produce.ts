/**
 * Produce (key 0), versions 3-11: record batches go to storage exactly as the
 * producer sent them (validated, offsets assigned in place by the log).
 * Versions 0-2 carry the pre-0.11 message formats (v0/v1 MessageSets),
 * which Ferry's storage does not keep, so they are not offered (Kafka 4.0
 * dropped them too).
 *
 * Every partition's append is issued before any is awaited, in request order,
 * so appends from one connection keep the order they were sent in. acks=0
 * gets no response at all, as the protocol says, and a failed acks=0 append
 * closes the connection (Kafka's only way to tell); acks other than 0, 1 and
 * -1 get INVALID_REQUIRED_ACKS per partition. acks=-1 waits up to the
 * request's timeout for the in-sync replicas (Broker.produceBatches). Transactional produce is not
 * supported yet: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat
 * as fatal for the transactional producer and leave everything else alone.
 */

import { FerryError } from '../../../errors.js';
import type { Acks } from '../../../broker/broker.js';
import type { AppendResult } from '../../../storage/partition-log.js';
import { decodeProduceRequest, encodeProduceResponse, PRODUCE_CODEC_VERSIONS, type ProduceResponseBody } from '../codec/produce-codec.js';
import { NO_RESPONSE, type ApiHandler, type RequestContext } from '../handler.js';
import { errorFields } from './error-fields.js';

interface PartitionData {
  index: number;
  records: Buffer | null;
}

interface TopicData {
  name: string;
  partitionData: PartitionData[];
}

interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topicData: TopicData[];
}

interface PartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  logStartOffset: bigint;
  errorMessage: string | null;
}

const VALID_ACKS = new Set([0, 1, -1]);

export const produceHandler: ApiHandler = {
  apiKey: 0,
  versions: PRODUCE_CODEC_VERSIONS,
  codec: {
    decodeRequest: (reader, version) => decodeProduceRequest(reader, version) as unknown as Record<string, unknown>,
    encodeResponse: (body, version, writer) => encodeProduceResponse(body as unknown as ProduceResponseBody, version, writer),
  },
  async handle(body, context) {
    const request = body as unknown as ProduceRequest;
    // Every append starts now, in request order; each is turned at once into a promise that never
    // rejects, so a partition failing fast while an earlier one waits on I/O is not left unhandled.
    const topics = request.topicData.map((topic) => ({
      name: topic.name,
      partitions: topic.partitionData.map((partition) => partitionResponse(partition.index, append(request, topic.name, partition, context), context)),
    }));
    if (request.acks === 0) {
      // No answer is sent, so a failure can only be signalled as Kafka does: by closing the
      // connection, which makes the client refresh its metadata and reconnect.
      const outcomes = await Promise.all(topics.flatMap((topic) => topic.partitions));
      const failure = outcomes.find((outcome) => outcome.errorCode !== 0);
      if (failure !== undefined) context.closeAfterResponse(`acks=0 produce failed: ${failure.errorMessage ?? failure.errorCode}`);
      return NO_RESPONSE;
    }
    const responses = [];
    for (const topic of topics) responses.push({ name: topic.name, partitionResponses: await Promise.all(topic.partitions) });
    return { responses, throttleTimeMs: 0 };
  },
};

function append(request: ProduceRequest, topic: string, partition: PartitionData, context: RequestContext): Promise<AppendResult> {
  try {
    if (!VALID_ACKS.has(request.acks)) throw new FerryError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1, not ${request.acks}`);
    if (request.transactionalId !== null) {
      throw new FerryError('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'transactions are not supported by this broker yet');
    }
    if (partition.records === null || partition.records.length === 0) throw new FerryError('CORRUPT_MESSAGE', `no records for ${topic}-${partition.index}`);
    return context.broker.produceBatches(topic, partition.index, partition.records, { acks: request.acks as Acks, timeoutMs: request.timeoutMs });
  } catch (error) {
    return Promise.reject(error);
  }
}

async function partitionResponse(index: number, result: Promise<AppendResult>, context: RequestContext): Promise<PartitionResponse> {
  try {
    const appended = await result;
    return {
      index,
      errorCode: 0,
      baseOffset: BigInt(appended.firstOffset),
      logAppendTimeMs: BigInt(appended.logAppendTimeMs),
      logStartOffset: BigInt(appended.logStartOffset),
      errorMessage: null,
    };
  } catch (error) {
    const { errorCode, errorMessage } = errorFields(error, context.logger, 'produce');
    return { index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, errorMessage };
  }
}

