/** `ferry topics describe` shows kafka-topics' Adding/Removing Replicas only while a partition moves. */

import { describe, expect, it } from 'vitest';
import type { BrokerHttpApi, V3Partition } from '../../src/cli/http-api.js';
import { describeTopics } from '../../src/cli/topics.js';

const partition = (extra: Partial<V3Partition>): V3Partition => ({ partition_id: 0, leader_id: 1, leader_epoch: 0, replica_ids: [2, 3, 4, 1], isr_ids: [1, 2, 3], log_start_offset: 0, log_end_offset: 9, ...extra });

async function describedLine(found: V3Partition): Promise<string> {
  const api = {
    topic: async () => ({ topic_name: 't', topic_id: 'id', partitions_count: 1, replication_factor: 3 }),
    partitions: async () => [found],
    configs: async () => [],
  } as unknown as BrokerHttpApi;
  const lines: string[] = [];
  await describeTopics(api, ['t'], (line) => lines.push(line));
  return lines[1]!;
}

describe('topics describe during a reassignment', () => {
  it('adds Adding Replicas and Removing Replicas after the Isr while they are not empty', async () => {
    expect(await describedLine(partition({ adding_replica_ids: [4], removing_replica_ids: [1] }))).toBe(
      '\tTopic: t\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 2,3,4,1\tIsr: 1,2,3\tAdding Replicas: 4\tRemoving Replicas: 1\tLogStartOffset: 0\tLogEndOffset: 9',
    );
    expect(await describedLine(partition({ removing_replica_ids: [1] }))).toContain('Isr: 1,2,3\tRemoving Replicas: 1\tLogStartOffset');
  });

  it('prints nothing more for a partition that is not moving', async () => {
    expect(await describedLine(partition({ replica_ids: [1, 2, 3] }))).toBe('\tTopic: t\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1,2,3\tIsr: 1,2,3\tLogStartOffset: 0\tLogEndOffset: 9');
  });
});
