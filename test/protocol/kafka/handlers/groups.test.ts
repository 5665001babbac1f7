/**
 * The group APIs' handlers at every version they advertise, through the
 * generic codec (admin-harness.ts): FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete,
 * ListGroups, DescribeGroups, DeleteGroups.
 */

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../../src/errors.js';
import { deleteGroupsHandler } from '../../../../src/protocol/kafka/handlers/delete-groups.js';
import { describeGroupsHandler } from '../../../../src/protocol/kafka/handlers/describe-groups.js';
import { findCoordinatorHandler } from '../../../../src/protocol/kafka/handlers/find-coordinator.js';
import { heartbeatHandler } from '../../../../src/protocol/kafka/handlers/heartbeat.js';
import { joinGroupHandler } from '../../../../src/protocol/kafka/handlers/join-group.js';
import { leaveGroupHandler } from '../../../../src/protocol/kafka/handlers/leave-group.js';
import { listGroupsHandler } from '../../../../src/protocol/kafka/handlers/list-groups.js';
import { offsetCommitHandler } from '../../../../src/protocol/kafka/handlers/offset-commit.js';
import { offsetDeleteHandler } from '../../../../src/protocol/kafka/handlers/offset-delete.js';
import { offsetFetchHandler } from '../../../../src/protocol/kafka/handlers/offset-fetch.js';
import { syncGroupHandler } from '../../../../src/protocol/kafka/handlers/sync-group.js';
import { closeSharedStoragePool } from '../../../../src/storage/storage-pool.js';
import { ADVERTISED_HOST, ADVERTISED_PORT, openHarness, versionsOf, type Harness } from './admin-harness.js';

afterAll(closeSharedStoragePool);

const code = (name: keyof typeof ERROR_CODES): number => ERROR_CODES[name].code;
const GROUP_SETTINGS = { initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 1000, offsetsTopicPartitions: 3 };

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function open(): Promise<Harness> {
  harness = await openHarness({ groups: GROUP_SETTINGS });
  return harness;
}

interface Row {
  [key: string]: unknown;
}

/** JoinGroup at `version`, going through MEMBER_ID_REQUIRED first where the version asks for it. */
async function join(h: Harness, version: number, groupId: string, extra: Row = {}): Promise<Row> {
  const body = { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }], ...extra };
  let response = (await h.call(joinGroupHandler, version, body)) as Row;
  if (version >= 4 && extra['groupInstanceId'] == null) {
    expect(response).toMatchObject({ errorCode: code('MEMBER_ID_REQUIRED'), generationId: -1, leader: '' });
    response = (await h.call(joinGroupHandler, version, { ...body, memberId: response['memberId'] })) as Row;
  }
  return response;
}

describe('FindCoordinator', () => {
  it('names this broker for groups and transactional ids at every version; batches keys from v4', async () => {
    const h = await open();
    for (const version of versionsOf(findCoordinatorHandler)) {
      if (version < 4) {
        expect(await h.call(findCoordinatorHandler, version, { key: 'g', keyType: 0 })).toMatchObject({ errorCode: 0, nodeId: 1, host: ADVERTISED_HOST, port: ADVERTISED_PORT });
        if (version >= 1) {
          expect(await h.call(findCoordinatorHandler, version, { key: 'tx', keyType: 1 })).toMatchObject({ errorCode: 0, nodeId: 1 });
          expect(await h.call(findCoordinatorHandler, version, { key: 'g', keyType: 9 })).toMatchObject({ errorCode: code('INVALID_REQUEST'), nodeId: -1, port: -1 });
        }
        continue;
      }
      const response = (await h.call(findCoordinatorHandler, version, { keyType: 0, coordinatorKeys: ['a', 'b', ''] })) as { coordinators: Row[] };
      expect(response.coordinators).toEqual([
        { key: 'a', nodeId: 1, host: ADVERTISED_HOST, port: ADVERTISED_PORT, errorCode: 0, errorMessage: null },
        { key: 'b', nodeId: 1, host: ADVERTISED_HOST, port: ADVERTISED_PORT, errorCode: 0, errorMessage: null },
        expect.objectContaining({ key: '', errorCode: code('INVALID_GROUP_ID'), nodeId: -1 }),
      ]);
    }
  });
});

describe('membership APIs', () => {
  it('JoinGroup v0-9, then SyncGroup, Heartbeat and LeaveGroup at the matching versions', async () => {
    const h = await open();
    for (const version of versionsOf(joinGroupHandler)) {
      const groupId = `group-v${version}`;
      const joined = await join(h, version, groupId);
      const memberId = joined['memberId'] as string;
      expect(memberId).toMatch(/^ferry-test-/);
      expect(joined).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range', leader: memberId });
      expect(joined['members']).toEqual([expect.objectContaining({ memberId, metadata: Buffer.from('m') })]);
      if (version >= 7) expect(joined['protocolType']).toBe('consumer');

      const syncVersion = Math.min(version, syncGroupHandler.versions.max);
      const synced = await h.call(syncGroupHandler, syncVersion, { groupId, generationId: 1, memberId, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId, assignment: Buffer.from('a') }] });
      expect(synced).toMatchObject({ errorCode: 0, assignment: Buffer.from('a') });
      if (syncVersion >= 5) expect(synced).toMatchObject({ protocolType: 'consumer', protocolName: 'range' });

      const heartbeatVersion = Math.min(version, heartbeatHandler.versions.max);
      expect(await h.call(heartbeatHandler, heartbeatVersion, { groupId, generationId: 1, memberId })).toMatchObject({ errorCode: 0 });
      expect(await h.call(heartbeatHandler, heartbeatVersion, { groupId, generationId: 2, memberId })).toMatchObject({ errorCode: code('ILLEGAL_GENERATION') });
      expect(await h.call(heartbeatHandler, heartbeatVersion, { groupId, generationId: 1, memberId: 'stranger' })).toMatchObject({ errorCode: code('UNKNOWN_MEMBER_ID') });

      const leaveVersion = Math.min(version, leaveGroupHandler.versions.max);
      const left = await h.call(leaveGroupHandler, leaveVersion, leaveVersion >= 3 ? { groupId, members: [{ memberId }, { memberId: 'stranger' }] } : { groupId, memberId });
      expect(left['errorCode']).toBe(0);
      if (leaveVersion >= 3) expect(left['members']).toEqual([expect.objectContaining({ memberId, errorCode: 0 }), expect.objectContaining({ memberId: 'stranger', errorCode: code('UNKNOWN_MEMBER_ID') })]);
      expect(h.broker.groups.describeGroup(groupId).state).toBe('Empty');
    }
  });

  it('answers JoinGroup errors with the request\'s member id, and LeaveGroup v0-2 errors at the top level', async () => {
    const h = await open();
    expect(await h.call(joinGroupHandler, 5, { groupId: 'g', sessionTimeoutMs: 10, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })).toMatchObject({
      errorCode: code('INVALID_SESSION_TIMEOUT'),
      memberId: '',
      protocolName: '',
    });
    expect(await h.call(joinGroupHandler, 9, { groupId: 'g', sessionTimeoutMs: 10_000, memberId: 'ghost', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })).toMatchObject({
      errorCode: code('UNKNOWN_MEMBER_ID'),
      memberId: 'ghost',
      protocolName: null,
    });
    expect(await h.call(leaveGroupHandler, 1, { groupId: 'g', memberId: 'ghost' })).toMatchObject({ errorCode: code('UNKNOWN_MEMBER_ID') });
    expect(await h.call(syncGroupHandler, 3, { groupId: 'g', generationId: 1, memberId: 'ghost', assignments: [] })).toMatchObject({ errorCode: code('UNKNOWN_MEMBER_ID'), assignment: Buffer.alloc(0) });
  });

  it('static members (v5+): a rejoin by instance id keeps the generation; v9 tells the leader to skip assignment', async () => {
    const h = await open();
    const first = await join(h, 9, 'static', { groupInstanceId: 'i-1' });
    expect(first).toMatchObject({ errorCode: 0, generationId: 1 });
    await h.call(syncGroupHandler, 5, { groupId: 'static', generationId: 1, memberId: first['memberId'], groupInstanceId: 'i-1', assignments: [] });
    const again = await join(h, 9, 'static', { groupInstanceId: 'i-1' });
    expect(again).toMatchObject({ errorCode: 0, generationId: 1, skipAssignment: true, leader: again['memberId'] });
    expect(again['members']).toHaveLength(1);
    const older = await join(h, 5, 'static', { groupInstanceId: 'i-1' });
    expect(older).toMatchObject({ errorCode: 0, generationId: 1, members: [] });
    expect(await h.call(heartbeatHandler, 4, { groupId: 'static', generationId: 1, memberId: first['memberId'], groupInstanceId: 'i-1' })).toMatchObject({ errorCode: code('FENCED_INSTANCE_ID') });
  });
});

describe('offset APIs', () => {
  it('OffsetCommit v0-9 (simple commits) and OffsetFetch v0-9 read them back; -1 and empty metadata where nothing is committed', async () => {
    const h = await open();
    await h.broker.createTopic('orders', { partitions: 2 });
    for (const version of versionsOf(offsetCommitHandler)) {
      const partition = { partitionIndex: 0, committedOffset: BigInt(100 + version), committedLeaderEpoch: 4, commitTimestamp: -1n, committedMetadata: `v${version}` };
      const response = await h.call(offsetCommitHandler, version, { groupId: 'simple', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'orders', partitions: [partition, { ...partition, partitionIndex: 7 }] }] });
      expect(response['topics']).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 7, errorCode: code('UNKNOWN_TOPIC_OR_PARTITION') }] }]);
      expect(h.broker.groups.fetchOffsets('simple', [{ topic: 'orders', partition: 0 }])[0]).toMatchObject({ offset: BigInt(100 + version), metadata: `v${version}`, leaderEpoch: version >= 6 ? 4 : -1 });
    }
    for (const version of versionsOf(offsetFetchHandler)) {
      const topics = [{ name: 'orders', partitionIndexes: [0, 1] }];
      const response = await h.call(offsetFetchHandler, version, version >= 8 ? { groups: [{ groupId: 'simple', topics }, { groupId: 'nobody', topics }] } : { groupId: 'simple', topics });
      const expected = [
        expect.objectContaining({ partitionIndex: 0, committedOffset: 109n, metadata: 'v9', errorCode: 0 }),
        expect.objectContaining({ partitionIndex: 1, committedOffset: -1n, metadata: '', errorCode: 0 }),
      ];
      if (version >= 8) {
        const groups = response['groups'] as Array<{ groupId: string; topics: Array<{ partitions: Row[] }> }>;
        expect(groups.map((group) => group.groupId)).toEqual(['simple', 'nobody']);
        expect(groups[0]!.topics[0]!.partitions).toEqual(expected);
        expect(groups[1]!.topics[0]!.partitions.map((p) => p['committedOffset'])).toEqual([-1n, -1n]);
      } else {
        expect((response['topics'] as Array<{ partitions: Row[] }>)[0]!.partitions).toEqual(expected);
      }
      if (version >= 2 && version < 8) {
        const all = await h.call(offsetFetchHandler, version, { groupId: 'simple', topics: null });
        expect(all['topics']).toEqual([{ name: 'orders', partitions: [expect.objectContaining({ partitionIndex: 0, committedOffset: 109n })] }]);
      }
    }
  });

  it('a group-wide OffsetCommit refusal is every partition\'s error', async () => {
    const h = await open();
    await h.broker.createTopic('orders', { partitions: 2 });
    const response = await h.call(offsetCommitHandler, 2, {
      groupId: 'missing',
      generationIdOrMemberEpoch: 5,
      memberId: 'm',
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }, { partitionIndex: 1, committedOffset: 1n, committedMetadata: null }] }],
    });
    expect(response['topics']).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: code('ILLEGAL_GENERATION') }, { partitionIndex: 1, errorCode: code('ILLEGAL_GENERATION') }] }]);
  });

  it('OffsetDelete v0 forgets offsets; GROUP_ID_NOT_FOUND for an unknown group', async () => {
    const h = await open();
    await h.broker.createTopic('orders');
    await h.broker.groups.resetOffsets('g', [{ topic: 'orders', partition: 0, offset: 3n }]);
    const deleted = await h.call(offsetDeleteHandler, 0, { groupId: 'g', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }] });
    expect(deleted).toMatchObject({ errorCode: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }] }] });
    expect(h.broker.groups.fetchOffsets('g', null)).toEqual([]);
    expect(await h.call(offsetDeleteHandler, 0, { groupId: 'nope', topics: [] })).toMatchObject({ errorCode: code('GROUP_ID_NOT_FOUND') });
  });
});

describe('groupsMax', () => {
  it('JoinGroup and OffsetCommit that would make a group beyond it answer COORDINATOR_NOT_AVAILABLE, which clients retry', async () => {
    harness = await openHarness({ groups: { ...GROUP_SETTINGS, groupsMax: 1 } });
    const h = harness;
    await h.broker.createTopic('orders');
    const commit = (groupId: string): Promise<Row> =>
      h.call(offsetCommitHandler, 2, { groupId, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }] });
    expect((await commit('first'))['topics']).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }] }]);
    expect((await commit('second'))['topics']).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: code('COORDINATOR_NOT_AVAILABLE') }] }]);
    const body = { groupId: 'second', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }] };
    for (const version of [0, 4, 9]) expect(await h.call(joinGroupHandler, version, body)).toMatchObject({ errorCode: code('COORDINATOR_NOT_AVAILABLE') });
    expect(ERROR_CODES.COORDINATOR_NOT_AVAILABLE.retriable).toBe(true);
    expect((await commit('first'))['topics']).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }] }]);
  });
});

describe('group admin APIs', () => {
  it('ListGroups v0-5 (state filter v4+, type filter v5+), DescribeGroups v0-5, DeleteGroups v0-2', async () => {
    const h = await open();
    const joined = await join(h, 5, 'live', { clientId: 'ignored' });
    const memberId = joined['memberId'] as string;
    await h.call(syncGroupHandler, 3, { groupId: 'live', generationId: 1, memberId, assignments: [{ memberId, assignment: Buffer.from('asg') }] });
    // A group with nothing accepted does not exist, so the idle groups hold an offset.
    await h.broker.createTopic('orders');
    const someOffset = [{ topic: 'orders', partition: 0, offset: 1n }];
    await h.broker.groups.resetOffsets('idle', someOffset);

    for (const version of versionsOf(listGroupsHandler)) {
      const all = (await h.call(listGroupsHandler, version, {})) as { errorCode: number; groups: Row[] };
      expect(all.groups.map((group) => [group['groupId'], group['protocolType']])).toEqual([
        ['live', 'consumer'],
        ['idle', ''],
      ]);
      if (version >= 4) {
        expect(all.groups.map((group) => group['groupState'])).toEqual(['Stable', 'Empty']);
        const stable = (await h.call(listGroupsHandler, version, { statesFilter: ['stable'] })) as { groups: Row[] };
        expect(stable.groups.map((group) => group['groupId'])).toEqual(['live']);
      }
      if (version >= 5) {
        expect(all.groups.map((group) => group['groupType'])).toEqual(['classic', 'classic']);
        expect(((await h.call(listGroupsHandler, version, { typesFilter: ['consumer'] })) as { groups: Row[] }).groups).toEqual([]);
      }
    }

    for (const version of versionsOf(describeGroupsHandler)) {
      const described = (await h.call(describeGroupsHandler, version, { groups: ['live', 'unknown'] })) as { groups: Row[] };
      expect(described.groups[0]).toMatchObject({
        errorCode: 0,
        groupId: 'live',
        groupState: 'Stable',
        protocolType: 'consumer',
        protocolData: 'range',
        members: [expect.objectContaining({ memberId, clientId: 'ferry-test', clientHost: '/127.0.0.1', memberMetadata: Buffer.from('m'), memberAssignment: Buffer.from('asg') })],
      });
      expect(described.groups[1]).toMatchObject({ errorCode: 0, groupId: 'unknown', groupState: 'Dead', members: [] });
    }

    for (const version of versionsOf(deleteGroupsHandler)) {
      await h.broker.groups.resetOffsets(`idle-${version}`, someOffset);
      const deleted = await h.call(deleteGroupsHandler, version, { groupsNames: ['live', `idle-${version}`, 'unknown'] });
      expect(deleted['results']).toEqual([
        { groupId: 'live', errorCode: code('NON_EMPTY_GROUP') },
        { groupId: `idle-${version}`, errorCode: 0 },
        { groupId: 'unknown', errorCode: code('GROUP_ID_NOT_FOUND') },
      ]);
    }
  });
});
