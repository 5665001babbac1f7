/**
 * The WebSocket door's `metadata` request on a single node (protocol.ts):
 * the broker lists itself, as the client reached it, and leads every
 * partition. The cluster answers (several brokers, leaders elsewhere) are
 * tested with real brokers in test/cluster/client-follows-leaders.test.ts.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../../src/protocol/ws/protocol.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { TestSocket, startDoor, type Harness } from './door-harness.js';

afterAll(closeSharedStoragePool);

let harness: Harness;
beforeAll(async () => {
  harness = await startDoor();
  await harness.broker.createTopic('meta-a', { partitions: 2 });
  await harness.broker.createTopic('meta-b', { partitions: 1 });
});
afterAll(() => harness.close());

type Metadata = Extract<ServerMessage, { type: 'metadata' }>;
type ErrorAnswer = Extract<ServerMessage, { type: 'error' }>;

describe('metadata', () => {
  it('names this broker as the only one and as the leader of every partition asked about', async () => {
    const socket = await TestSocket.open(harness.port);
    socket.send({ type: 'metadata', id: 'm1', topics: ['meta-a'] });
    const answer = (await socket.take((m) => !Buffer.isBuffer(m) && m.type === 'metadata', 'metadata')) as Metadata;
    const self = harness.broker.brokerId;
    expect(answer).toEqual({
      type: 'metadata',
      id: 'm1',
      brokers: [{ id: self, host: '127.0.0.1', http_port: harness.port }],
      topics: [{ topic: 'meta-a', partitions: [0, 1].map((partition) => ({ partition, leader: self, leader_epoch: expect.any(Number) })) }],
    });
    socket.close();
  });

  it('lists every topic without `topics`, and refuses an unknown one by name', async () => {
    const socket = await TestSocket.open(harness.port);
    socket.send({ type: 'metadata', id: 2 });
    const all = (await socket.take((m) => !Buffer.isBuffer(m) && m.type === 'metadata', 'metadata')) as Metadata;
    expect(all.topics.map((topic) => topic.topic).sort()).toEqual(['meta-a', 'meta-b']);
    socket.send({ type: 'metadata', id: 3, topics: ['no-such-topic'] });
    const error = (await socket.take((m) => !Buffer.isBuffer(m) && m.type === 'error', 'error')) as ErrorAnswer;
    expect(error).toMatchObject({ id: 3, error_name: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(error.leader).toBeUndefined();
    socket.close();
  });
});
