import { afterAll, describe, expect, it, vi } from 'vitest';
import { decodeOffsetsTopicKey, offsetsPartitionFor } from '../../../src/broker/groups/offsets-topic-records.js';
import { MemberIdRequiredError } from '../../../src/broker/groups/rebalance.js';
import { FerryError } from '../../../src/errors.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { readAll } from '../../storage/helpers.js';
import { expectError, joinRequest, openBroker } from './helpers.js';

afterAll(closeSharedStoragePool);

describe('joining and syncing', () => {
  it('makes a one-member group: generation 1, the member leads and gets itself, its assignment comes back from SyncGroup', async () => {
    const { broker } = await openBroker();
    const joined = await broker.groups.join(joinRequest());
    expect(joined.memberId).toMatch(/^client-[0-9a-f-]{36}$/);
    expect(joined).toMatchObject({ generationId: 1, protocolType: 'consumer', protocolName: 'range', leaderId: joined.memberId, skipAssignment: false });
    expect(joined.members).toEqual([{ memberId: joined.memberId, groupInstanceId: null, metadata: Buffer.from('sub') }]);
    expect(broker.groups.describeGroup('g').state).toBe('CompletingRebalance');

    const synced = await broker.groups.sync({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('a1') }] });
    expect(synced).toEqual({ protocolType: 'consumer', protocolName: 'range', assignment: Buffer.from('a1') });
    broker.groups.heartbeat({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null });
    expect(broker.groups.describeGroup('g')).toMatchObject({
      state: 'Stable',
      protocolType: 'consumer',
      protocolName: 'range',
      members: [{ memberId: joined.memberId, clientId: 'client', clientHost: '/127.0.0.1', metadata: Buffer.from('sub'), assignment: Buffer.from('a1') }],
    });
    expect(broker.groups.listGroups()).toEqual([{ groupId: 'g', protocolType: 'consumer', state: 'Stable' }]);
    await broker.close();
  });

  it('hands a new v4+ member its id with MEMBER_ID_REQUIRED, then lets it join with that id', async () => {
    const { broker } = await openBroker();
    const error = await expectError(() => broker.groups.join(joinRequest({ requireKnownMemberId: true })), 'MEMBER_ID_REQUIRED');
    const memberId = (error as MemberIdRequiredError).memberId;
    expect(memberId).toMatch(/^client-/);
    const joined = await broker.groups.join(joinRequest({ requireKnownMemberId: true, memberId }));
    expect(joined).toMatchObject({ memberId, leaderId: memberId, generationId: 1 });
    await broker.close();
  });

  it('rebalances when a second member joins: the first learns it from its heartbeat, rejoins, and both sync to the leader\'s assignment', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    const first = await groups.join(joinRequest({ clientId: 'one' }));
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, assignments: [{ memberId: first.memberId, assignment: Buffer.from('all') }] });

    const secondJoin = groups.join(joinRequest({ clientId: 'two' }));
    expect(groups.describeGroup('g').state).toBe('PreparingRebalance');
    await expectError(() => groups.heartbeat({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null }), 'REBALANCE_IN_PROGRESS');
    await expectError(() => groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, assignments: [] }), 'REBALANCE_IN_PROGRESS');
    const firstAgain = await groups.join(joinRequest({ clientId: 'one', memberId: first.memberId }));
    const second = await secondJoin;
    expect(firstAgain).toMatchObject({ generationId: 2, leaderId: first.memberId });
    expect(firstAgain.members.map((member) => member.memberId)).toEqual([first.memberId, second.memberId]);
    expect(second).toMatchObject({ generationId: 2, leaderId: first.memberId, members: [] });

    // The follower's SyncGroup waits for the leader's.
    let followerSynced = false;
    const followerSync = groups.sync({ groupId: 'g', generationId: 2, memberId: second.memberId, groupInstanceId: null, assignments: [] }).then((result) => {
      followerSynced = true;
      return result;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(followerSynced).toBe(false);
    const leaderSync = await groups.sync({
      groupId: 'g',
      generationId: 2,
      memberId: first.memberId,
      groupInstanceId: null,
      assignments: [
        { memberId: first.memberId, assignment: Buffer.from('p0') },
        { memberId: second.memberId, assignment: Buffer.from('p1') },
      ],
    });
    expect(leaderSync.assignment).toEqual(Buffer.from('p0'));
    expect((await followerSync).assignment).toEqual(Buffer.from('p1'));
    expect(groups.describeGroup('g').state).toBe('Stable');
    await broker.close();
  });

  it('chooses the protocol every member supports with the most first-choice votes, and refuses members that share none', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    const metadata = Buffer.alloc(0);
    const a = groups.join(joinRequest({ clientId: 'a', protocols: [{ name: 'range', metadata }, { name: 'roundrobin', metadata }, { name: 'sticky', metadata }] }));
    const first = await a;
    const b = groups.join(joinRequest({ clientId: 'b', protocols: [{ name: 'roundrobin', metadata }, { name: 'range', metadata }] }));
    const c = groups.join(joinRequest({ clientId: 'c', protocols: [{ name: 'sticky', metadata }, { name: 'roundrobin', metadata }] }));
    await expectError(() => groups.join(joinRequest({ clientId: 'd', protocols: [{ name: 'sticky', metadata }] })), 'INCONSISTENT_GROUP_PROTOCOL');
    await expectError(() => groups.join(joinRequest({ clientId: 'e', protocolType: 'connect' })), 'INCONSISTENT_GROUP_PROTOCOL');
    const rejoined = await groups.join(joinRequest({ clientId: 'a', memberId: first.memberId, protocols: [{ name: 'range', metadata }, { name: 'roundrobin', metadata }, { name: 'sticky', metadata }] }));
    // range: a only; roundrobin: b, and c (sticky is not common); so roundrobin wins 2 to 1.
    expect(rejoined.protocolName).toBe('roundrobin');
    expect((await b).protocolName).toBe('roundrobin');
    expect((await c).protocolName).toBe('roundrobin');
    await broker.close();
  });

  it('validates group ids, session timeouts, members and generations', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    await expectError(() => groups.join(joinRequest({ groupId: '' })), 'INVALID_GROUP_ID');
    await expectError(() => groups.join(joinRequest({ sessionTimeoutMs: 5 })), 'INVALID_SESSION_TIMEOUT');
    await expectError(() => groups.join(joinRequest({ sessionTimeoutMs: 1_800_001 })), 'INVALID_SESSION_TIMEOUT');
    await expectError(() => groups.join(joinRequest({ memberId: 'nobody' })), 'UNKNOWN_MEMBER_ID');
    await expectError(() => groups.join(joinRequest({ protocols: [] })), 'INCONSISTENT_GROUP_PROTOCOL');
    const joined = await groups.join(joinRequest());
    await expectError(() => groups.heartbeat({ groupId: 'g', generationId: 1, memberId: 'nobody', groupInstanceId: null }), 'UNKNOWN_MEMBER_ID');
    await expectError(() => groups.heartbeat({ groupId: 'other', generationId: 1, memberId: joined.memberId, groupInstanceId: null }), 'UNKNOWN_MEMBER_ID');
    await expectError(() => groups.heartbeat({ groupId: 'g', generationId: 7, memberId: joined.memberId, groupInstanceId: null }), 'ILLEGAL_GENERATION');
    await expectError(() => groups.sync({ groupId: 'g', generationId: 7, memberId: joined.memberId, groupInstanceId: null, assignments: [] }), 'ILLEGAL_GENERATION');
    await expectError(() => groups.sync({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolName: 'roundrobin', assignments: [] }), 'INCONSISTENT_GROUP_PROTOCOL');
    // CompletingRebalance: a heartbeat of the new generation is fine.
    groups.heartbeat({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null });
    await broker.close();
  });

  it('a new group waits group.initial.rebalance.delay.ms, so members arriving together share the first generation', async () => {
    const { broker } = await openBroker({ groups: { initialRebalanceDelayMs: 50 } });
    const joins = [broker.groups.join(joinRequest({ clientId: 'a' })), broker.groups.join(joinRequest({ clientId: 'b' }))];
    const [a, b] = await Promise.all(joins);
    expect([a!.generationId, b!.generationId]).toEqual([1, 1]);
    expect(a!.members.map((member) => member.memberId)).toEqual([a!.memberId, b!.memberId]);
    await broker.close();
  });

  it('gives a member that lost its JoinGroup answer the same answer again, without another rebalance', async () => {
    const { broker } = await openBroker();
    const joined = await broker.groups.join(joinRequest());
    const again = await broker.groups.join(joinRequest({ memberId: joined.memberId }));
    expect(again).toEqual(joined);
    expect(broker.groups.describeGroup('g').state).toBe('CompletingRebalance');
    await broker.close();
  });

  it('does not wait for a member id handed out with MEMBER_ID_REQUIRED once that id expires', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    const first = await groups.join(joinRequest());
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, assignments: [] });
    await expectError(() => groups.join(joinRequest({ requireKnownMemberId: true, sessionTimeoutMs: 50 })), 'MEMBER_ID_REQUIRED');
    // A rebalance now waits for every known member and every pending id; the pending one never comes back.
    const rejoin = groups.join(joinRequest({ memberId: first.memberId, protocols: [{ name: 'range', metadata: Buffer.from('changed') }] }));
    expect(groups.describeGroup('g').state).toBe('PreparingRebalance');
    expect(await rejoin).toMatchObject({ generationId: 2, leaderId: first.memberId });
    await broker.close();
  });

  it('refuses members beyond the group size limit', async () => {
    const { broker } = await openBroker({ groups: { groupSizeMax: 1 } });
    await broker.groups.join(joinRequest());
    await expectError(() => broker.groups.join(joinRequest()), 'GROUP_MAX_SIZE_REACHED');
    await broker.close();
  });
});

describe('leaving and timing out', () => {
  it('LeaveGroup removes members (batch, with per-member errors) and rebalances the rest', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    const first = await groups.join(joinRequest());
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, assignments: [] });
    const secondJoin = groups.join(joinRequest());
    await groups.join(joinRequest({ memberId: first.memberId }));
    const second = await secondJoin;

    const outcomes = groups.leave('g', [
      { memberId: second.memberId, groupInstanceId: null },
      { memberId: 'nobody', groupInstanceId: null },
    ]);
    expect(outcomes.map((outcome) => outcome.error?.errorName ?? null)).toEqual([null, 'UNKNOWN_MEMBER_ID']);
    expect(groups.describeGroup('g').state).toBe('PreparingRebalance');
    const rejoined = await groups.join(joinRequest({ memberId: first.memberId }));
    expect(rejoined).toMatchObject({ generationId: 3, leaderId: first.memberId });
    expect(rejoined.members.map((member) => member.memberId)).toEqual([first.memberId]);
    expect(groups.leave('missing', [{ memberId: 'x', groupInstanceId: null }])[0]!.error?.errorName).toBe('UNKNOWN_MEMBER_ID');

    groups.leave('g', [{ memberId: first.memberId, groupInstanceId: null }]);
    expect(groups.describeGroup('g')).toMatchObject({ state: 'Empty', members: [] });
    await broker.close();
  });

  it('removes a member whose session expires, and the group goes empty', async () => {
    const { broker } = await openBroker();
    const joined = await broker.groups.join(joinRequest({ sessionTimeoutMs: 50, rebalanceTimeoutMs: 50 }));
    await broker.groups.sync({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, assignments: [] });
    await vi.waitFor(() => expect(broker.groups.describeGroup('g').state).toBe('Empty'), { timeout: 5000, interval: 20 });
    await expectError(() => broker.groups.heartbeat({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null }), 'UNKNOWN_MEMBER_ID');
    await broker.close();
  });

  it('completes a rebalance without members that do not rejoin within the rebalance timeout', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    // The first member keeps a long session but never rejoins; the second's rebalance timeout bounds the wait.
    const first = await groups.join(joinRequest({ sessionTimeoutMs: 60_000, rebalanceTimeoutMs: 100 }));
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, assignments: [] });
    const second = await groups.join(joinRequest({ sessionTimeoutMs: 60_000, rebalanceTimeoutMs: 100 }));
    expect(second).toMatchObject({ generationId: 2, leaderId: second.memberId });
    expect(second.members.map((member) => member.memberId)).toEqual([second.memberId]);
    await expectError(() => groups.heartbeat({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null }), 'UNKNOWN_MEMBER_ID');
    await broker.close();
  });

  it('answers a waiting JoinGroup with an error when its connection closes, and every waiter when the broker closes', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    const first = await groups.join(joinRequest());
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, assignments: [] });
    const connection = new AbortController();
    const abandoned = expectError(groups.join(joinRequest({ signal: connection.signal })), 'REQUEST_TIMED_OUT');
    connection.abort();
    await abandoned;
    const waiting = expectError(groups.join(joinRequest()), 'COORDINATOR_NOT_AVAILABLE');
    await broker.close();
    await waiting;
    await expectError(() => groups.join(joinRequest()), 'COORDINATOR_NOT_AVAILABLE');
  });
});

describe('static membership', () => {
  it('a rejoin with the same instance id takes the old member id\'s place without a rebalance, and fences the old id', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    const first = await groups.join(joinRequest({ groupInstanceId: 'instance-1' }));
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'instance-1', assignments: [{ memberId: first.memberId, assignment: Buffer.from('mine') }] });

    const again = await groups.join(joinRequest({ groupInstanceId: 'instance-1', requireKnownMemberId: true }));
    expect(again.memberId).not.toBe(first.memberId);
    expect(again).toMatchObject({ generationId: 1, leaderId: again.memberId, skipAssignment: true });
    expect(groups.describeGroup('g').state).toBe('Stable');
    const synced = await groups.sync({ groupId: 'g', generationId: 1, memberId: again.memberId, groupInstanceId: 'instance-1', assignments: [] });
    expect(synced.assignment).toEqual(Buffer.from('mine'));
    await expectError(() => groups.heartbeat({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'instance-1' }), 'FENCED_INSTANCE_ID');
    await expectError(() => groups.commitOffsets({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'instance-1', offsets: [] }), 'FENCED_INSTANCE_ID');
    expect(groups.leave('g', [{ memberId: first.memberId, groupInstanceId: 'instance-1' }])[0]!.error?.errorName).toBe('FENCED_INSTANCE_ID');
    // Leaving by instance id alone.
    expect(groups.leave('g', [{ memberId: '', groupInstanceId: 'instance-1' }])[0]!.error).toBeNull();
    expect(groups.describeGroup('g').state).toBe('Empty');
    await broker.close();
  });

  it('a static member rejoining with different protocols triggers a rebalance', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    const first = await groups.join(joinRequest({ groupInstanceId: 'i' }));
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'i', assignments: [] });
    const again = await groups.join(joinRequest({ groupInstanceId: 'i', protocols: [{ name: 'range', metadata: Buffer.from('new subscription') }] }));
    expect(again).toMatchObject({ generationId: 2, leaderId: again.memberId, skipAssignment: false });
    await broker.close();
  });
});

describe('offsets', () => {
  it('commits from the current generation, refuses stale or unknown committers, and fetches (-1 where nothing is committed)', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    await broker.createTopic('orders', { partitions: 2 });
    const joined = await groups.join(joinRequest());
    const member = { groupId: 'g', memberId: joined.memberId, groupInstanceId: null };
    await expectError(() => groups.commitOffsets({ ...member, generationId: 1, offsets: [{ topic: 'orders', partition: 0, offset: 1n }] }), 'REBALANCE_IN_PROGRESS');
    await groups.sync({ ...member, generationId: 1, assignments: [] });

    const outcomes = await groups.commitOffsets({
      ...member,
      generationId: 1,
      offsets: [
        { topic: 'orders', partition: 0, offset: 10n, leaderEpoch: 2, metadata: 'm' },
        { topic: 'orders', partition: 9, offset: 1n },
        { topic: 'orders', partition: 1, offset: 1n, metadata: 'x'.repeat(4097) },
      ],
    });
    expect(outcomes.map((outcome) => outcome.error?.errorName ?? null)).toEqual([null, 'UNKNOWN_TOPIC_OR_PARTITION', 'OFFSET_METADATA_TOO_LARGE']);
    await expectError(() => groups.commitOffsets({ ...member, generationId: 0, offsets: [] }), 'ILLEGAL_GENERATION');
    await expectError(() => groups.commitOffsets({ ...member, memberId: 'nobody', generationId: 1, offsets: [] }), 'UNKNOWN_MEMBER_ID');
    await expectError(() => groups.commitOffsets({ groupId: 'g', memberId: '', groupInstanceId: null, generationId: -1, offsets: [] }), 'UNKNOWN_MEMBER_ID');
    await expectError(() => groups.resetOffsets('g', []), 'NON_EMPTY_GROUP');

    expect(groups.fetchOffsets('g', [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }])).toEqual([
      { topic: 'orders', partition: 0, offset: 10n, leaderEpoch: 2, metadata: 'm' },
      { topic: 'orders', partition: 1, offset: -1n, leaderEpoch: -1, metadata: null },
    ]);
    expect(groups.fetchOffsets('g', null).map((entry) => [entry.topic, entry.partition, entry.offset])).toEqual([['orders', 0, 10n]]);
    expect(groups.fetchOffsets('unknown', [{ topic: 'orders', partition: 0 }])[0]!.offset).toBe(-1n);
    await broker.close();
  });

  it('accepts commits from members of the current generation while the group rebalances', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    await broker.createTopic('orders');
    const first = await groups.join(joinRequest());
    await groups.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, assignments: [] });
    const second = groups.join(joinRequest());
    expect(groups.describeGroup('g').state).toBe('PreparingRebalance');
    const outcomes = await groups.commitOffsets({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, offsets: [{ topic: 'orders', partition: 0, offset: 4n }] });
    expect(outcomes[0]!.error).toBeNull();
    await groups.join(joinRequest({ memberId: first.memberId }));
    await second;
    await broker.close();
  });

  it('accepts simple commits (generation -1) for groups without members, and resets offsets of an empty group', async () => {
    const { broker } = await openBroker();
    const groups = broker.groups;
    await broker.createTopic('orders');
    await expectError(() => groups.commitOffsets({ groupId: 'fresh', generationId: 3, memberId: 'm', groupInstanceId: null, offsets: [] }), 'ILLEGAL_GENERATION');
    await groups.commitOffsets({ groupId: 'simple', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 'orders', partition: 0, offset: 5n }] });
    expect(groups.listGroups()).toEqual([{ groupId: 'simple', protocolType: '', state: 'Empty' }]);
    await groups.resetOffsets('simple', [{ topic: 'orders', partition: 0, offset: 2n }]);
    expect(groups.fetchOffsets('simple', null)[0]!.offset).toBe(2n);
    await broker.close();
  });

  it('keeps offsets and group metadata in __consumer_offsets with Kafka\'s schemas, and reloads them on open', async () => {
    const { broker, dataDir } = await openBroker();
    await broker.createTopic('orders', { partitions: 2 });
    const joined = await broker.groups.join(joinRequest({ sessionTimeoutMs: 60_000 }));
    await broker.groups.sync({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('a') }] });
    await broker.groups.commitOffsets({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, offsets: [{ topic: 'orders', partition: 1, offset: 7n, metadata: 'meta' }] });
    await broker.groups.commitOffsets({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, offsets: [{ topic: 'orders', partition: 1, offset: 8n }] });
    await broker.groups.commitOffsets({ groupId: 'other', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 'orders', partition: 0, offset: 3n }] });
    const offsetsTopic = broker.describeTopic('__consumer_offsets');
    expect(offsetsTopic).toMatchObject({ internal: true, configs: { 'cleanup.policy': 'compact' } });
    expect(broker.listTopics().map((topic) => topic.name)).toEqual(['orders']);
    const stored = readAll(broker.log('__consumer_offsets', offsetsPartitionFor('g', offsetsTopic.partitions.length)));
    const keys = stored.map((record) => decodeOffsetsTopicKey(record.key!));
    expect(keys).toContainEqual({ kind: 'group', group: 'g' });
    expect(keys.filter((key) => key.kind === 'offset' && key.group === 'g')).toEqual([
      { kind: 'offset', group: 'g', topic: 'orders', partition: 1 },
      { kind: 'offset', group: 'g', topic: 'orders', partition: 1 },
    ]);
    await broker.close();

    const reopened = await openBroker({ dataDir });
    const groups = reopened.broker.groups;
    expect(groups.fetchOffsets('g', null)).toEqual([{ topic: 'orders', partition: 1, offset: 8n, leaderEpoch: -1, metadata: '' }]);
    expect(groups.fetchOffsets('other', null).map((entry) => entry.offset)).toEqual([3n]);
    // The member survives the restart: it keeps heartbeating in its generation, and its assignment is there.
    groups.heartbeat({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null });
    expect(groups.describeGroup('g')).toMatchObject({ state: 'Stable', protocolName: 'range', generationId: 1, leaderId: joined.memberId, members: [{ memberId: joined.memberId, assignment: Buffer.from('a') }] });
    await reopened.broker.close();
  });

  it('deletes offsets of unsubscribed topics and whole empty groups, with tombstones that survive a restart', async () => {
    const { broker, dataDir } = await openBroker();
    const groups = broker.groups;
    await broker.createTopic('orders');
    await broker.createTopic('audit');
    const subscription = Buffer.from('0000000000010006' + Buffer.from('orders').toString('hex') + 'ffffffff', 'hex'); // v0: topics [orders], userData null
    const joined = await groups.join(joinRequest({ protocols: [{ name: 'range', metadata: subscription }] }));
    const member = { groupId: 'g', memberId: joined.memberId, groupInstanceId: null, generationId: 1 };
    await groups.sync({ ...member, assignments: [] });
    await groups.commitOffsets({ ...member, offsets: [{ topic: 'orders', partition: 0, offset: 1n }, { topic: 'audit', partition: 0, offset: 2n }] });

    await expectError(() => groups.deleteOffsets('missing', []), 'GROUP_ID_NOT_FOUND');
    const deleted = await groups.deleteOffsets('g', [{ topic: 'orders', partition: 0 }, { topic: 'audit', partition: 0 }]);
    expect(deleted.map((outcome) => outcome.error?.errorName ?? null)).toEqual(['GROUP_SUBSCRIBED_TO_TOPIC', null]);
    expect(groups.fetchOffsets('g', null).map((entry) => entry.topic)).toEqual(['orders']);

    const refused = await groups.deleteGroups(['g', 'missing', '']);
    expect(refused.map((outcome) => outcome.error?.errorName ?? null)).toEqual(['NON_EMPTY_GROUP', 'GROUP_ID_NOT_FOUND', 'INVALID_GROUP_ID']);
    groups.leave('g', [{ memberId: joined.memberId, groupInstanceId: null }]);
    expect(groups.listGroups({ states: ['empty'] }).map((group) => group.groupId)).toEqual(['g']);
    expect(groups.listGroups({ states: ['Stable'] })).toEqual([]);
    expect((await groups.deleteGroups(['g']))[0]!.error).toBeNull();
    expect(groups.listGroups()).toEqual([]);
    expect(groups.describeGroup('g')).toMatchObject({ state: 'Dead', members: [] });
    await broker.close();

    const reopened = await openBroker({ dataDir });
    expect(reopened.broker.groups.listGroups()).toEqual([]);
    expect(reopened.broker.groups.fetchOffsets('g', null)).toEqual([]);
    await reopened.broker.close();
  });
});

describe('offsets retention and deleted topics', () => {
  it('expires offsets of empty and simple groups after offsetsRetentionMs, removes emptied groups, keeps live subscriptions', async () => {
    let nowMs = 1_000_000;
    const { broker, dataDir } = await openBroker({ groups: { clock: () => nowMs, offsetsRetentionMs: 1000 } });
    const groups = broker.groups;
    await broker.createTopic('orders');
    await broker.createTopic('audit');
    await groups.resetOffsets('simple', [{ topic: 'orders', partition: 0, offset: 1n }]);
    const subscription = Buffer.from('0000000000010006' + Buffer.from('orders').toString('hex') + 'ffffffff', 'hex'); // v0: topics [orders]
    const joined = await groups.join(joinRequest({ groupId: 'live', sessionTimeoutMs: 60_000, protocols: [{ name: 'range', metadata: subscription }] }));
    const member = { groupId: 'live', memberId: joined.memberId, groupInstanceId: null, generationId: 1 };
    await groups.sync({ ...member, assignments: [] });
    await groups.commitOffsets({ ...member, offsets: [{ topic: 'orders', partition: 0, offset: 5n }, { topic: 'audit', partition: 0, offset: 6n }] });

    expect(await groups.expireOffsets()).toBe(0);
    nowMs += 1000;
    // simple's offset and live's unsubscribed audit offset expire; live keeps orders.
    expect(await groups.expireOffsets()).toBe(2);
    expect(groups.listGroups().map((group) => group.groupId)).toEqual(['live']);
    expect(groups.fetchOffsets('live', null).map((offset) => offset.topic)).toEqual(['orders']);

    groups.leave('live', [{ memberId: joined.memberId, groupInstanceId: null }]);
    expect(await groups.expireOffsets()).toBe(0); // empty only since now
    nowMs += 1000;
    expect(await groups.expireOffsets()).toBe(1);
    expect(groups.listGroups()).toEqual([]);
    await broker.close();

    const reopened = await openBroker({ dataDir });
    expect(reopened.broker.groups.listGroups()).toEqual([]);
    await reopened.broker.close();
  });

  it('forgets committed offsets of a deleted topic, and recreates __consumer_offsets if it was deleted', async () => {
    const { broker } = await openBroker();
    await broker.createTopic('orders');
    await broker.createTopic('audit');
    await broker.groups.resetOffsets('g', [
      { topic: 'orders', partition: 0, offset: 1n },
      { topic: 'audit', partition: 0, offset: 2n },
    ]);
    await broker.deleteTopic('orders');
    expect(broker.groups.fetchOffsets('g', null).map((offset) => offset.topic)).toEqual(['audit']);
    await broker.deleteTopic('__consumer_offsets');
    await broker.groups.resetOffsets('g', [{ topic: 'audit', partition: 0, offset: 3n }]);
    expect(broker.describeTopic('__consumer_offsets').partitions).toHaveLength(5);
    await broker.close();
  });
});

describe('errors', () => {
  it('are FerryErrors carrying Kafka codes', async () => {
    const { broker } = await openBroker();
    const error = await expectError(() => broker.groups.join(joinRequest({ requireKnownMemberId: true })), 'MEMBER_ID_REQUIRED');
    expect(error).toBeInstanceOf(FerryError);
    expect(error.errorCode).toBe(79);
    await broker.close();
  });
});
