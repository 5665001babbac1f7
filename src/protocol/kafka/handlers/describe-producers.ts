/**
 * DescribeProducers (key 61), version 0: per partition, the idempotent
 * producers its log knows (kafka-transactions.sh describe-producers): id,
 * epoch, last sequence written, timestamp of the last batch. Without
 * transactions the coordinator epoch and the open transaction's first
 * offset are always -1.
 */

import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface DescribeProducersRequest {
  topics: Array<{ name: string; partitionIndexes: number[] }>;
}

const NO_SEQUENCE = -1;

export const describeProducersHandler: ApiHandler = {
  apiKey: 61,
  versions: { min: 0, max: 0 },
  handle(body, context) {
    const request = body as unknown as DescribeProducersRequest;
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitionIndexes.map((partitionIndex) => {
          try {
            const activeProducers = context.broker.describeProducers(topic.name, partitionIndex).map((entry) => ({
              producerId: entry.producerId,
              producerEpoch: entry.epoch,
              lastSequence: entry.batches.at(-1)?.lastSeq ?? NO_SEQUENCE,
              lastTimestamp: BigInt(entry.lastTimestampMs),
              coordinatorEpoch: entry.coordinatorEpoch,
              currentTxnStartOffset: BigInt(entry.currentTxnFirstOffset),
            }));
            return { partitionIndex, errorCode: 0, errorMessage: null, activeProducers };
          } catch (error) {
            const { errorCode, errorMessage } = errorFields(error, context.logger, 'describe producers');
            return { partitionIndex, errorCode, errorMessage, activeProducers: [] };
          }
        }),
      })),
    };
  },
};
