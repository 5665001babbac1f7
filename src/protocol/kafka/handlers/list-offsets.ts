/**
 * ListOffsets (key 2), versions 1-10: per partition, the offset for a
 * timestamp or one of Kafka's special timestamps:
 *   -1 LATEST (the high watermark), -2 EARLIEST (the log start),
 *   -3 MAX_TIMESTAMP (v7+: the first record carrying the newest timestamp),
 *   -4 EARLIEST_LOCAL (v8+) and -5 EARLIEST_TIERED (v9+): the log start,
 *      since every record of a Ferry log is local.
 * A timestamp after every record answers offset -1, as Kafka does. Version 0
 * (the old multi-offset form) is not offered; Kafka 4.0 dropped it too.
 * Without transactions, read_committed and read_uncommitted agree.
 */

import type { OffsetSpec } from '../../../broker/broker.js';
import { FerryError } from '../../../errors.js';
import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const EARLIEST_TIERED = -5n;
/** Leader epoch of every batch this single-node broker writes (PartitionLog's default). */
const LEADER_EPOCH = 0;

interface ListOffsetsRequest {
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; timestamp: bigint }> }>;
}

function offsetSpec(timestamp: bigint): OffsetSpec {
  switch (timestamp) {
    case LATEST:
      return 'latest';
    case EARLIEST:
    case EARLIEST_LOCAL:
    case EARLIEST_TIERED:
      return 'earliest';
    case MAX_TIMESTAMP:
      return 'maxTimestamp';
    default:
      if (timestamp < 0n) throw new FerryError('INVALID_REQUEST', `timestamp ${timestamp} is neither a time nor a known special value`);
      return { timestamp: Number(timestamp) };
  }
}

export const listOffsetsHandler: ApiHandler = {
  apiKey: 2,
  versions: { min: 1, max: 10 },
  handle(body, context) {
    const request = body as unknown as ListOffsetsRequest;
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => {
          try {
            const found = context.broker.listOffset(topic.name, partition.partitionIndex, offsetSpec(partition.timestamp));
            return {
              partitionIndex: partition.partitionIndex,
              errorCode: 0,
              timestamp: BigInt(found.timestamp),
              offset: BigInt(found.offset),
              leaderEpoch: found.offset >= 0 ? LEADER_EPOCH : -1,
            };
          } catch (error) {
            const { errorCode } = errorFields(error, context.logger, 'list offsets');
            return { partitionIndex: partition.partitionIndex, errorCode, timestamp: -1n, offset: -1n, leaderEpoch: -1 };
          }
        }),
      })),
    };
  },
};
