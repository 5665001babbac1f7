/**
 * OffsetForLeaderEpoch (key 23), versions 0-4: per partition, the end offset
 * of a leader epoch in the leader's log (the start of the next epoch, or the
 * log end for the current one) and the largest epoch at or below the one
 * asked for. A follower that comes back asks it before fetching and
 * truncates whatever its log holds past that point, so logs never fork
 * (KIP-101, KIP-279); consumers use it to detect truncation after a leader
 * change. Answered by the leader only; current_leader_epoch (v2+) fences a
 * caller with old metadata (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
 */

import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface OffsetForLeaderEpochRequest {
  topics: Array<{ topic: string; partitions: Array<{ partition: number; currentLeaderEpoch: number; leaderEpoch: number }> }>;
}

export const offsetForLeaderEpochHandler: ApiHandler = {
  apiKey: 23,
  versions: { min: 0, max: 4 },
  handle(request, context) {
    const body = request as unknown as OffsetForLeaderEpochRequest;
    const topics = body.topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map(({ partition, currentLeaderEpoch, leaderEpoch }) => {
        try {
          const found = context.broker.offsetForLeaderEpoch(topic.topic, partition, currentLeaderEpoch, leaderEpoch);
          return { errorCode: 0, partition, leaderEpoch: found.leaderEpoch, endOffset: BigInt(found.endOffset) };
        } catch (error) {
          const { errorCode } = errorFields(error, context.logger, `OffsetForLeaderEpoch ${topic.topic}-${partition}`);
          return { errorCode, partition, leaderEpoch: -1, endOffset: -1n };
        }
      }),
    }));
    return { throttleTimeMs: 0, topics };
  },
};
