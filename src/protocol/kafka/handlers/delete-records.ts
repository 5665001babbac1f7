/**
 * DeleteRecords (key 21), versions 0-2: per partition, every offset below
 * Offset (-1: the high watermark) becomes unreadable, and the answer is the
 * new log start (LowWatermark). The log start never moves back: an offset
 * below it leaves it where it is. Per partition: UNKNOWN_TOPIC_OR_PARTITION,
 * OFFSET_OUT_OF_RANGE (beyond the high watermark, or below -1), with
 * LowWatermark -1 on error.
 */

import type { Broker } from '../../../broker/broker.js';
import { FerryError } from '../../../errors.js';
import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface DeleteRecordsRequest {
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; offset: bigint }> }>;
}

/** Kafka's "up to the high watermark". */
const HIGH_WATERMARK = -1n;
const UNKNOWN_LOW_WATERMARK = -1n;

export const deleteRecordsHandler: ApiHandler = {
  apiKey: 21,
  versions: { min: 0, max: 2 },
  handle(request, context) {
    const body = request as unknown as DeleteRecordsRequest;
    const topics = body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map(({ partitionIndex, offset }) => {
        try {
          return { partitionIndex, lowWatermark: deleteBefore(context.broker, topic.name, partitionIndex, offset), errorCode: 0 };
        } catch (error) {
          const { errorCode } = errorFields(error, context.logger, `DeleteRecords ${topic.name}-${partitionIndex}`);
          return { partitionIndex, lowWatermark: UNKNOWN_LOW_WATERMARK, errorCode };
        }
      }),
    }));
    return { throttleTimeMs: 0, topics };
  },
};

function deleteBefore(broker: Broker, topic: string, partition: number, offset: bigint): bigint {
  const highWatermark = BigInt(broker.leaderPartition(topic, partition).highWatermark);
  if (offset !== HIGH_WATERMARK && (offset < 0n || offset > highWatermark)) {
    throw new FerryError('OFFSET_OUT_OF_RANGE', `offset ${offset} of ${topic}-${partition} is outside 0..${highWatermark} (the high watermark), and is not -1`);
  }
  return BigInt(broker.deleteRecords(topic, partition, Number(offset)));
}
