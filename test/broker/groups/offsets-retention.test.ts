/**
 * Offsets retention and every other step that decides from a group's state
 * and then appends tombstones, racing a commit whose append is under way:
 * what the client was answered, what memory holds and what a restart reads
 * back must agree.
 */

import { afterAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../../src/broker/broker.js';
import type { CommitRequest } from '../../../src/broker/groups/group-coordinator.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { joinRequest, openBroker } from './helpers.js';

afterAll(closeSharedStoragePool);

const RETENTION_MS = 1000;

function simpleCommit(broker: Broker, partition: number, offset: bigint): Promise<Array<string | null>> {
  const request: CommitRequest = { groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition, offset }] };
  return broker.groups.commitOffsets(request).then((outcomes) => outcomes.map((outcome) => outcome.error?.errorName ?? null));
}

/** g's committed offsets, in memory now and as a broker reopened on the same data dir reads them. */
async function offsetsNowAndAfterRestart(broker: Broker, dataDir: string): Promise<{ inMemory: bigint[]; afterRestart: bigint[]; groupsAfterRestart: string[] }> {
  const inMemory = broker.groups.fetchOffsets('g', null).map((offset) => offset.offset);
  await broker.close();
  const reopened = await openBroker({ dataDir });
  const afterRestart = reopened.broker.groups.fetchOffsets('g', null).map((offset) => offset.offset);
  const groupsAfterRestart = reopened.broker.groups.listGroups().map((group) => group.groupId);
  await reopened.broker.close();
  return { inMemory, afterRestart, groupsAfterRestart };
}

describe('a commit whose append is under way', () => {
  it('survives a retention pass that starts meanwhile, in memory and after a restart', async () => {
    let nowMs = 1_000_000;
    const { broker, dataDir } = await openBroker({ groups: { clock: () => nowMs, offsetsRetentionMs: RETENTION_MS } });
    await broker.createTopic('t');
    await simpleCommit(broker, 0, 5n);
    nowMs += 5 * RETENTION_MS; // 5 has expired; the 9 about to be committed has not
    const committed = simpleCommit(broker, 0, 9n);
    const expired = broker.groups.expireOffsets();
    expect(await committed).toEqual([null]);
    expect(await expired).toBe(0);
    expect(await offsetsNowAndAfterRestart(broker, dataDir)).toEqual({ inMemory: [9n], afterRestart: [9n], groupsAfterRestart: ['g'] });
  });

  it('is deleted with its group by a DeleteGroups that starts meanwhile, so the group does not come back after a restart', async () => {
    const { broker, dataDir } = await openBroker();
    await broker.createTopic('t', { partitions: 2 });
    await simpleCommit(broker, 0, 5n);
    const committed = simpleCommit(broker, 1, 9n);
    const deleted = broker.groups.deleteGroups(['g']);
    expect(await committed).toEqual([null]);
    expect((await deleted).map((outcome) => outcome.error?.errorName ?? null)).toEqual([null]);
    expect(broker.groups.listGroups()).toEqual([]);
    expect(await offsetsNowAndAfterRestart(broker, dataDir)).toEqual({ inMemory: [], afterRestart: [], groupsAfterRestart: [] });
  });

  it('is deleted by an OffsetDelete of its partition that starts meanwhile', async () => {
    const { broker, dataDir } = await openBroker();
    await broker.createTopic('t', { partitions: 2 });
    await simpleCommit(broker, 0, 5n);
    const committed = simpleCommit(broker, 1, 9n);
    const deleted = broker.groups.deleteOffsets('g', [{ topic: 't', partition: 1 }]);
    expect(await committed).toEqual([null]);
    expect((await deleted).map((outcome) => outcome.error?.errorName ?? null)).toEqual([null]);
    expect(await offsetsNowAndAfterRestart(broker, dataDir)).toEqual({ inMemory: [5n], afterRestart: [5n], groupsAfterRestart: ['g'] });
  });

  it('is forgotten with its topic when the topic is deleted meanwhile', async () => {
    const { broker, dataDir } = await openBroker();
    await broker.createTopic('t');
    await broker.createTopic('kept');
    await broker.groups.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 'kept', partition: 0, offset: 3n }] });
    const committed = simpleCommit(broker, 0, 9n);
    const forgotten = broker.groups.forgetTopic('t');
    expect(await committed).toEqual([null]);
    await forgotten;
    expect(await offsetsNowAndAfterRestart(broker, dataDir)).toEqual({ inMemory: [3n], afterRestart: [3n], groupsAfterRestart: ['g'] });
  });
});

describe('retention of an empty consumer group', () => {
  it('an offset committed into a consumer group empty for longer than the retention lasts the retention from its commit', async () => {
    let nowMs = 1_000_000;
    const { broker } = await openBroker({ groups: { clock: () => nowMs, offsetsRetentionMs: RETENTION_MS } });
    await broker.createTopic('t');
    const joined = await broker.groups.join(joinRequest());
    broker.groups.leave('g', [{ memberId: joined.memberId, groupInstanceId: null }]);
    expect(broker.groups.describeGroup('g')).toMatchObject({ state: 'Empty', protocolType: 'consumer' });
    nowMs += 5 * RETENTION_MS;
    expect(await simpleCommit(broker, 0, 9n)).toEqual([null]);
    expect(await broker.groups.expireOffsets()).toBe(0);
    expect(broker.groups.fetchOffsets('g', null).map((offset) => offset.offset)).toEqual([9n]);
    nowMs += RETENTION_MS;
    expect(await broker.groups.expireOffsets()).toBe(1);
    expect(broker.groups.listGroups()).toEqual([]);
    await broker.close();
  });
});
