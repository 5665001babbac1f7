/**
 * When a group exists: once something of it is accepted (a member, a
 * pending member id, an offset), gone as soon as it holds nothing again,
 * and at most groupsMax of them.
 */

import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Broker } from '../../../src/broker/broker.js';
import { MemberIdRequiredError } from '../../../src/broker/groups/rebalance.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { expectError, joinRequest, openBroker } from './helpers.js';

afterAll(closeSharedStoragePool);

function groupIds(broker: Broker): string[] {
  return broker.groups.listGroups().map((group) => group.groupId);
}

function simpleCommit(broker: Broker, groupId: string, topic: string, partition = 0): Promise<Array<string | null>> {
  return broker.groups
    .commitOffsets({ groupId, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic, partition, offset: 1n }] })
    .then((outcomes) => outcomes.map((outcome) => outcome.error?.errorName ?? null));
}

describe('groups that hold nothing', () => {
  it('an OffsetCommit whose partitions are all refused makes no group', async () => {
    const { broker } = await openBroker();
    expect(await simpleCommit(broker, 'g', 'missing-topic')).toEqual(['UNKNOWN_TOPIC_OR_PARTITION']);
    expect(await broker.groups.resetOffsets('reset', [])).toEqual([]);
    expect(groupIds(broker)).toEqual([]);
    expect(broker.groups.describeGroup('g').state).toBe('Dead');
    await broker.close();
  });

  it('a refused first JoinGroup makes no group', async () => {
    const { broker } = await openBroker();
    await expectError(() => broker.groups.join(joinRequest({ protocols: [] })), 'INCONSISTENT_GROUP_PROTOCOL');
    expect(groupIds(broker)).toEqual([]);
    await broker.close();
  });

  it('a new group with only a MEMBER_ID_REQUIRED member id goes when that id expires, or leaves', async () => {
    const { broker } = await openBroker();
    await expectError(() => broker.groups.join(joinRequest({ groupId: 'expires', requireKnownMemberId: true, sessionTimeoutMs: 50 })), 'MEMBER_ID_REQUIRED');
    const error = await expectError(() => broker.groups.join(joinRequest({ groupId: 'leaves', requireKnownMemberId: true })), 'MEMBER_ID_REQUIRED');
    expect(groupIds(broker)).toEqual(['expires', 'leaves']);
    broker.groups.leave('leaves', [{ memberId: (error as MemberIdRequiredError).memberId, groupInstanceId: null }]);
    expect(groupIds(broker)).toEqual(['expires']);
    await vi.waitFor(() => expect(groupIds(broker)).toEqual([]), { timeout: 5000, interval: 20 });
    await broker.close();
  });

  it('a group whose last offset OffsetDelete removes goes, and stays gone after a restart', async () => {
    const { broker, dataDir } = await openBroker();
    await broker.createTopic('t');
    expect(await simpleCommit(broker, 'g', 't')).toEqual([null]);
    await broker.groups.deleteOffsets('g', [{ topic: 't', partition: 0 }]);
    expect(groupIds(broker)).toEqual([]);
    await broker.close();
    const reopened = await openBroker({ dataDir });
    expect(groupIds(reopened.broker)).toEqual([]);
    await reopened.broker.close();
  });

  it('a group that had members stays Empty, as in Kafka, until the retention pass', async () => {
    const { broker } = await openBroker();
    const joined = await broker.groups.join(joinRequest());
    broker.groups.leave('g', [{ memberId: joined.memberId, groupInstanceId: null }]);
    expect(broker.groups.listGroups()).toEqual([{ groupId: 'g', protocolType: 'consumer', state: 'Empty' }]);
    await broker.close();
  });
});

describe('groupsMax', () => {
  it('refuses a JoinGroup or commit that would make a group beyond it with COORDINATOR_NOT_AVAILABLE; existing groups go on', async () => {
    const { broker } = await openBroker({ groups: { groupsMax: 2 } });
    await broker.createTopic('t');
    await broker.groups.join(joinRequest({ groupId: 'a' }));
    expect(await simpleCommit(broker, 'b', 't')).toEqual([null]);
    await expectError(() => broker.groups.join(joinRequest({ groupId: 'c' })), 'COORDINATOR_NOT_AVAILABLE');
    await expectError(() => broker.groups.join(joinRequest({ groupId: 'c', requireKnownMemberId: true })), 'COORDINATOR_NOT_AVAILABLE');
    await expectError(() => simpleCommit(broker, 'c', 't'), 'COORDINATOR_NOT_AVAILABLE');
    // Nothing accepted, nothing to make: the partition's own error, not the limit's.
    expect(await simpleCommit(broker, 'c', 'missing-topic')).toEqual(['UNKNOWN_TOPIC_OR_PARTITION']);
    expect(await simpleCommit(broker, 'b', 't', 0)).toEqual([null]);
    expect(groupIds(broker)).toEqual(['a', 'b']);

    expect((await broker.groups.deleteGroups(['b']))[0]!.error).toBeNull();
    expect(await simpleCommit(broker, 'c', 't')).toEqual([null]);
    expect(groupIds(broker)).toEqual(['a', 'c']);
    await broker.close();
  });

  it('counts a group held only by a pending member id, until that id expires', async () => {
    const { broker } = await openBroker({ groups: { groupsMax: 1 } });
    await broker.createTopic('t');
    await expectError(() => broker.groups.join(joinRequest({ groupId: 'pending', requireKnownMemberId: true, sessionTimeoutMs: 50 })), 'MEMBER_ID_REQUIRED');
    await expectError(() => simpleCommit(broker, 'other', 't'), 'COORDINATOR_NOT_AVAILABLE');
    await vi.waitFor(() => expect(groupIds(broker)).toEqual([]), { timeout: 5000, interval: 20 });
    expect(await simpleCommit(broker, 'other', 't')).toEqual([null]);
    await broker.close();
  });

  it('loads every stored group even beyond it (lowered since), and makes no new one', async () => {
    const { broker, dataDir } = await openBroker();
    await broker.createTopic('t');
    await simpleCommit(broker, 'a', 't');
    await simpleCommit(broker, 'b', 't');
    await broker.close();
    const reopened = await openBroker({ dataDir, groups: { groupsMax: 1 } });
    expect(groupIds(reopened.broker)).toEqual(['a', 'b']);
    await expectError(() => simpleCommit(reopened.broker, 'c', 't'), 'COORDINATOR_NOT_AVAILABLE');
    await reopened.broker.close();
  });
});
