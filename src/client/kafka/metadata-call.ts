/**
 * Metadata: the brokers, and the partitions of the topics asked for (with
 * their leaders). Sent from v4 with AllowAutoTopicCreation false, so asking
 * about a topic never creates it. `topics` empty asks for brokers only; null
 * for every topic. A topic the broker cannot answer is thrown with its name.
 */

import type { BrokerSession } from './broker-session.js';
import type { BrokerNode } from './group-calls.js';
import { checkErrorCode, NONE } from './kafka-errors.js';

export interface PartitionMetadata {
  partition: number;
  leaderId: number;
}

export interface TopicMetadata {
  name: string;
  isInternal: boolean;
  partitions: PartitionMetadata[];
}

export interface ClusterMetadata {
  brokers: BrokerNode[];
  topics: TopicMetadata[];
}

const ZERO_UUID = Buffer.alloc(16);

interface MetadataResponse {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
  topics: Array<{ errorCode: number; name: string | null; isInternal: boolean; partitions: Array<{ errorCode: number; partitionIndex: number; leaderId: number }> }>;
}

/** `throwTopicErrors` false leaves a failed topic out instead (its partitions then have no leader). */
export async function fetchMetadata(session: BrokerSession, topics: readonly string[] | null, options = { throwTopicErrors: true }): Promise<ClusterMetadata> {
  const { response } = await session.call('Metadata', () => ({
    topics: topics === null ? null : topics.map((name) => ({ name, topicId: ZERO_UUID })),
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  }));
  const body = response as unknown as MetadataResponse;
  return {
    brokers: body.brokers.map(({ nodeId, host, port }) => ({ nodeId, host, port })),
    topics: body.topics.filter((topic) => options.throwTopicErrors || topic.errorCode === NONE).map((topic) => {
      checkErrorCode(topic.errorCode, `Metadata for topic ${topic.name ?? '(by id)'}`);
      return {
        name: topic.name ?? '',
        isInternal: topic.isInternal,
        partitions: topic.partitions
          .map((partition) => ({ partition: partition.partitionIndex, leaderId: partition.leaderId }))
          .sort((a, b) => a.partition - b.partition),
      };
    }),
  };
}
