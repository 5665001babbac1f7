/**
 * Consumer groups as librdkafka speaks them (newer protocol versions than
 * kafkajs: FindCoordinator, JoinGroup with MEMBER_ID_REQUIRED, OffsetCommit
 * and OffsetFetch at librdkafka's choice): kcat's balanced consumer (-G)
 * reads a topic in a group, commits on close, and a second run resumes
 * from the committed offsets.
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { openKafkaServer, WAIT_MS, type KafkaTestServer } from './helpers.js';

afterAll(closeSharedStoragePool);

const run = promisify(execFile);
const GROUP = 'kcat-group';
const TOPIC = 'lines';

let server: KafkaTestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Reads `count` records as a member of GROUP, then leaves (committing what it read). */
async function kcatGroupRead(target: KafkaTestServer, count: number): Promise<string[]> {
  const args = ['-b', target.bootstrap, '-G', GROUP, '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000', '-X', 'heartbeat.interval.ms=100', '-c', String(count), '-f', '%s\\n', '-q', TOPIC];
  const { stdout } = await run('kcat', args, { timeout: WAIT_MS * 2 });
  return stdout.split('\n').filter((line) => line.length > 0);
}

describe('kcat balanced consumer', () => {
  it('reads in a group, commits, and resumes where it left off', async () => {
    server = await openKafkaServer({ groups: { initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 1000, offsetsTopicPartitions: 5 } });
    await server.broker.createTopic(TOPIC, { partitions: 2 });
    const first = Array.from({ length: 10 }, (_, i) => `first-${i}`);
    await server.broker.produce(TOPIC, first.map((value, i) => ({ value: Buffer.from(value), partition: i % 2 })));
    expect((await kcatGroupRead(server, 10)).sort()).toEqual([...first].sort());
    expect(server.broker.groups.fetchOffsets(GROUP, null).map((entry) => [entry.partition, entry.offset])).toEqual([
      [0, 5n],
      [1, 5n],
    ]);

    const later = ['later-0', 'later-1', 'later-2', 'later-3'];
    await server.broker.produce(TOPIC, later.map((value, i) => ({ value: Buffer.from(value), partition: i % 2 })));
    expect((await kcatGroupRead(server, 4)).sort()).toEqual(later);
    expect(server.broker.groups.describeGroup(GROUP)).toMatchObject({ state: 'Empty', members: [] });
  });
});
