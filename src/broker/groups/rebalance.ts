/**
 * Kafka's classic rebalance protocol over one Group: JoinGroup, SyncGroup,
 * Heartbeat and LeaveGroup, session timeouts, the rebalance timeout, the
 * initial delay of a new group, and static membership. Callers (the
 * coordinator) find or create the group and validate the request's shape;
 * this file decides.
 *
 * A generation: members join (PreparingRebalance) until every known member
 * has rejoined or the rebalance timeout (the largest of the members') expires,
 * when those that did not rejoin are removed. Then the generation number
 * grows, a protocol is chosen, the first member to have joined leads, and
 * every JoinGroup is answered (CompletingRebalance). The leader's SyncGroup
 * carries everyone's assignment, which is stored in __consumer_offsets before
 * any SyncGroup is answered (Stable).
 */

import { randomUUID } from 'node:crypto';
import { FerryError } from '../../errors.js';
import type { Group } from './group.js';
import type { GroupCoordinatorSettings } from './limits.js';
import { Member, type GroupProtocol, type JoinResult, type SyncResult } from './member.js';
import { Waiter } from './waiter.js';

export interface JoinRequest {
  groupId: string;
  /** Empty for a member joining for the first time. */
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  /** In the member's order of preference. */
  protocols: GroupProtocol[];
  /** JoinGroup v4+: a new dynamic member is first handed its id (MEMBER_ID_REQUIRED) and joins again with it. */
  requireKnownMemberId: boolean;
  signal?: AbortSignal;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** SyncGroup v5+: checked against the group's when given. */
  protocolType?: string | null;
  protocolName?: string | null;
  /** From the leader: every member's assignment (members left out get an empty one). Ignored from followers. */
  assignments: ReadonlyArray<{ memberId: string; assignment: Buffer }>;
  signal?: AbortSignal;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface MemberIdentity {
  /** Empty to name a static member by its instance id alone. */
  memberId: string;
  groupInstanceId: string | null;
}

/** JoinGroup v4+'s first answer to a new member: an error that carries the id to join with. */
export class MemberIdRequiredError extends FerryError {
  constructor(readonly memberId: string) {
    super('MEMBER_ID_REQUIRED', `a new member must join again with the member id ${memberId}`);
  }
}

export interface RebalanceHooks {
  settings: GroupCoordinatorSettings;
  now(): number;
  /** Writes the group's metadata (members, assignments) to __consumer_offsets. */
  storeGroup(group: Group): Promise<void>;
  /** A background failure nobody waits on (storing an emptied group). */
  reportError(error: unknown, what: string): void;
  /** Once the coordinator closed, no timer is armed again (a store finishing late must not leave one behind). */
  isClosed(): boolean;
  /** A pending member id expired: the group may now hold nothing worth keeping (see Group.isUnused). */
  pendingMemberExpired(group: Group): void;
}

export class Rebalancer {
  constructor(private readonly hooks: RebalanceHooks) {}

  // --- JoinGroup ---------------------------------------------------------------------------

  join(group: Group, request: JoinRequest): Promise<JoinResult> {
    if (group.state === 'Dead') throw new FerryError('COORDINATOR_NOT_AVAILABLE', `group ${group.groupId} is being deleted`);
    if (!group.supportsProtocols(request.protocolType, request.protocols.map((protocol) => protocol.name))) {
      throw new FerryError('INCONSISTENT_GROUP_PROTOCOL', `group ${group.groupId} uses protocol type ${group.protocolType ?? '(none)'} and its members share none of [${request.protocols.map((p) => p.name).join(', ')}]`);
    }
    return request.memberId === '' ? this.joinNewMember(group, request) : this.joinKnownMember(group, request);
  }

  private joinNewMember(group: Group, request: JoinRequest): Promise<JoinResult> {
    const memberId = `${request.clientId}-${randomUUID()}`;
    if (request.groupInstanceId !== null) {
      const holder = group.staticMembers.get(request.groupInstanceId);
      const existing = holder === undefined ? undefined : group.members.get(holder);
      if (existing) return this.replaceStaticMember(group, existing, memberId, request);
    }
    if (group.size >= this.hooks.settings.groupSizeMax) {
      throw new FerryError('GROUP_MAX_SIZE_REACHED', `group ${group.groupId} has reached its maximum of ${this.hooks.settings.groupSizeMax} members`);
    }
    // Static members skip the round trip: their instance id already names them.
    if (request.requireKnownMemberId && request.groupInstanceId === null) {
      this.addPendingMember(group, memberId, request.sessionTimeoutMs);
      throw new MemberIdRequiredError(memberId);
    }
    return this.addMemberAndRebalance(group, memberId, request);
  }

  private joinKnownMember(group: Group, request: JoinRequest): Promise<JoinResult> {
    const pendingTimer = group.pendingMembers.get(request.memberId);
    if (pendingTimer) {
      clearTimeout(pendingTimer);
      group.pendingMembers.delete(request.memberId);
      return this.addMemberAndRebalance(group, request.memberId, request);
    }
    const member = this.memberOf(group, request.memberId, request.groupInstanceId);
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, request);
      case 'CompletingRebalance':
        // Same protocols: the member lost our JoinGroup answer; give it again.
        if (member.hasSameProtocols(request.protocols)) return Promise.resolve(this.joinResultFor(group, member, false));
        return this.updateMemberAndRebalance(group, member, request);
      case 'Stable':
        // A follower with nothing new simply learns the current generation; the leader rejoining means it wants to assign again.
        if (member.memberId !== group.leaderId && member.hasSameProtocols(request.protocols)) return Promise.resolve(this.joinResultFor(group, member, false));
        return this.updateMemberAndRebalance(group, member, request);
      default:
        throw new FerryError('UNKNOWN_MEMBER_ID', `member ${request.memberId} is not in group ${group.groupId} (${group.state})`);
    }
  }

  /**
   * A static member (same group.instance.id) came back with no member id: the
   * new id takes the old member's place, and the old id is fenced. A stable
   * group with unchanged protocols does not rebalance.
   */
  private async replaceStaticMember(group: Group, member: Member, newMemberId: string, request: JoinRequest): Promise<JoinResult> {
    const fenced = new FerryError('FENCED_INSTANCE_ID', `instance ${request.groupInstanceId} of group ${group.groupId} rejoined as member ${newMemberId}`);
    member.joinWaiter?.reject(fenced);
    member.syncWaiter?.reject(fenced);
    member.joinWaiter = null;
    member.syncWaiter = null;
    const oldMemberId = member.memberId;
    group.replaceMemberId(member, newMemberId);
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    if (group.state !== 'Stable' || !member.hasSameProtocols(request.protocols)) return this.updateMemberAndRebalance(group, member, request);
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    this.scheduleSession(group, member);
    try {
      await this.hooks.storeGroup(group);
    } catch (error) {
      // Not stored: undo, so the old incarnation keeps its place and this one may retry.
      if (group.members.get(newMemberId) === member) group.replaceMemberId(member, oldMemberId);
      throw error;
    }
    return this.joinResultFor(group, member, member.memberId === group.leaderId);
  }

  private addPendingMember(group: Group, memberId: string, sessionTimeoutMs: number): void {
    if (this.hooks.isClosed()) return;
    const timer = setTimeout(() => {
      if (group.pendingMembers.get(memberId) !== timer) return;
      group.pendingMembers.delete(memberId);
      this.tryCompleteJoin(group);
      this.hooks.pendingMemberExpired(group);
    }, sessionTimeoutMs);
    timer.unref();
    group.pendingMembers.set(memberId, timer);
  }

  private addMemberAndRebalance(group: Group, memberId: string, request: JoinRequest): Promise<JoinResult> {
    const member = new Member(memberId, request.groupInstanceId, request.clientId, request.clientHost, request.sessionTimeoutMs, request.rebalanceTimeoutMs, request.protocols);
    member.isNew = true;
    if (group.members.size === 0) group.protocolType = request.protocolType;
    group.add(member);
    const waiter = new Waiter<JoinResult>(request.signal);
    member.joinWaiter = waiter;
    this.scheduleSession(group, member);
    if (group.initialDelay) group.initialDelay.newMemberAdded = true;
    this.maybePrepareRebalance(group);
    return waiter.promise;
  }

  private updateMemberAndRebalance(group: Group, member: Member, request: JoinRequest): Promise<JoinResult> {
    member.protocols = request.protocols;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    member.joinWaiter?.reject(new FerryError('REBALANCE_IN_PROGRESS', `member ${member.memberId} joined group ${group.groupId} again`));
    const waiter = new Waiter<JoinResult>(request.signal);
    member.joinWaiter = waiter;
    this.scheduleSession(group, member);
    this.maybePrepareRebalance(group);
    return waiter.promise;
  }

  private maybePrepareRebalance(group: Group): void {
    if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
    else this.prepareRebalance(group);
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'CompletingRebalance') this.failSyncs(group, new FerryError('REBALANCE_IN_PROGRESS', `group ${group.groupId} is rebalancing again`));
    const wasEmpty = group.state === 'Empty';
    group.transitionTo('PreparingRebalance', this.hooks.now());
    group.clearJoinTimer();
    const delayMs = this.hooks.settings.initialRebalanceDelayMs;
    if (wasEmpty && delayMs > 0) {
      group.initialDelay = { remainingMs: Math.max(group.rebalanceTimeoutMs - delayMs, 0), newMemberAdded: false };
      this.startJoinTimer(group, delayMs);
      return;
    }
    this.startJoinTimer(group, group.rebalanceTimeoutMs);
    this.tryCompleteJoin(group);
  }

  private startJoinTimer(group: Group, delayMs: number): void {
    if (this.hooks.isClosed()) return;
    group.joinTimer = setTimeout(() => this.onJoinTimer(group), delayMs);
    group.joinTimer.unref();
  }

  private onJoinTimer(group: Group): void {
    group.joinTimer = null;
    const delay = group.initialDelay;
    if (delay && delay.newMemberAdded && delay.remainingMs > 0) {
      // Members are still arriving: wait a little more, within the rebalance timeout.
      const nextMs = Math.min(this.hooks.settings.initialRebalanceDelayMs, delay.remainingMs);
      group.initialDelay = { remainingMs: delay.remainingMs - nextMs, newMemberAdded: false };
      this.startJoinTimer(group, nextMs);
      return;
    }
    this.completeJoin(group);
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && group.initialDelay === null && group.allMembersJoined) this.completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are out, then the next generation starts. */
  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    group.clearJoinTimer();
    group.initialDelay = null;
    for (const member of [...group.members.values()]) {
      if (!member.isAwaitingJoin) this.dropMember(group, member, new FerryError('UNKNOWN_MEMBER_ID', `member ${member.memberId} did not rejoin group ${group.groupId} in time`));
    }
    for (const timer of group.pendingMembers.values()) clearTimeout(timer);
    group.pendingMembers.clear();
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.leaderId = null;
      group.transitionTo('Empty', this.hooks.now());
      this.hooks.storeGroup(group).catch((error: unknown) => this.hooks.reportError(error, `storing empty group ${group.groupId}`));
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transitionTo('CompletingRebalance', this.hooks.now());
    for (const member of group.members.values()) {
      const waiter = member.joinWaiter!;
      member.joinWaiter = null;
      member.isNew = false;
      waiter.resolve(this.joinResultFor(group, member, false));
      this.scheduleSession(group, member);
    }
  }

  private joinResultFor(group: Group, member: Member, skipAssignment: boolean): JoinResult {
    const isLeader = member.memberId === group.leaderId;
    return {
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leaderId: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader ? group.joinedMembers() : [],
      skipAssignment,
    };
  }

  // --- SyncGroup ---------------------------------------------------------------------------

  sync(group: Group, request: SyncRequest): Promise<SyncResult> {
    const member = this.memberOf(group, request.memberId, request.groupInstanceId);
    this.checkGeneration(group, request.generationId);
    if ((request.protocolType != null && request.protocolType !== group.protocolType) || (request.protocolName != null && request.protocolName !== group.protocolName)) {
      throw new FerryError('INCONSISTENT_GROUP_PROTOCOL', `group ${group.groupId} uses ${group.protocolType}/${group.protocolName}, not ${request.protocolType}/${request.protocolName}`);
    }
    if (group.state === 'PreparingRebalance') throw new FerryError('REBALANCE_IN_PROGRESS', `group ${group.groupId} is rebalancing`);
    this.scheduleSession(group, member);
    if (group.state === 'Stable') return Promise.resolve(this.syncResultFor(group, member));
    member.syncWaiter?.reject(new FerryError('REBALANCE_IN_PROGRESS', `member ${member.memberId} sent SyncGroup again`));
    const waiter = new Waiter<SyncResult>(request.signal);
    member.syncWaiter = waiter;
    if (member.memberId === group.leaderId) void this.completeSync(group, request.assignments);
    return waiter.promise;
  }

  /** The leader's assignment: stored first, then every waiting member answered. */
  private async completeSync(group: Group, assignments: SyncRequest['assignments']): Promise<void> {
    const generationId = group.generationId;
    const byMember = new Map(assignments.map((entry) => [entry.memberId, entry.assignment]));
    for (const member of group.members.values()) member.assignment = byMember.get(member.memberId) ?? Buffer.alloc(0);
    try {
      await this.hooks.storeGroup(group);
    } catch (error) {
      if (group.state !== 'CompletingRebalance' || group.generationId !== generationId) return;
      this.failSyncs(group, error instanceof FerryError ? error : new FerryError('COORDINATOR_NOT_AVAILABLE', `storing group ${group.groupId} failed`));
      this.prepareRebalance(group);
      return;
    }
    if (group.state !== 'CompletingRebalance' || group.generationId !== generationId) return;
    group.transitionTo('Stable', this.hooks.now());
    for (const member of group.members.values()) {
      const waiter = member.syncWaiter;
      member.syncWaiter = null;
      waiter?.resolve(this.syncResultFor(group, member));
    }
  }

  private syncResultFor(group: Group, member: Member): SyncResult {
    return { protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
  }

  /** Every waiting SyncGroup fails and the assignments are void (a new rebalance started, or storing failed). */
  private failSyncs(group: Group, error: FerryError): void {
    for (const member of group.members.values()) {
      member.assignment = Buffer.alloc(0);
      member.syncWaiter?.reject(error);
      member.syncWaiter = null;
    }
  }

  // --- Heartbeat and LeaveGroup --------------------------------------------------------------

  heartbeat(group: Group, request: HeartbeatRequest): void {
    const member = this.memberOf(group, request.memberId, request.groupInstanceId);
    this.checkGeneration(group, request.generationId);
    this.scheduleSession(group, member);
    if (group.state === 'PreparingRebalance') throw new FerryError('REBALANCE_IN_PROGRESS', `group ${group.groupId} is rebalancing: join again`);
  }

  /** Removes one member (or forgets a pending member id); throws the member's error. */
  leave(group: Group, identity: MemberIdentity): void {
    let memberId = identity.memberId;
    if (identity.groupInstanceId !== null) {
      const holder = group.staticMembers.get(identity.groupInstanceId);
      if (holder === undefined) throw new FerryError('UNKNOWN_MEMBER_ID', `no member of group ${group.groupId} has instance id ${identity.groupInstanceId}`);
      if (memberId !== '' && holder !== memberId) throw new FerryError('FENCED_INSTANCE_ID', `instance ${identity.groupInstanceId} of group ${group.groupId} is now member ${holder}, not ${memberId}`);
      memberId = holder;
    }
    const pendingTimer = group.pendingMembers.get(memberId);
    if (pendingTimer) {
      clearTimeout(pendingTimer);
      group.pendingMembers.delete(memberId);
      this.tryCompleteJoin(group);
      return;
    }
    const member = group.members.get(memberId);
    if (!member) throw new FerryError('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${group.groupId}`);
    this.removeMember(group, member, new FerryError('UNKNOWN_MEMBER_ID', `member ${memberId} left group ${group.groupId}`));
  }

  // --- members and sessions ------------------------------------------------------------------

  /** The member a request names; UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID otherwise. */
  memberOf(group: Group, memberId: string, groupInstanceId: string | null): Member {
    if (group.state === 'Dead') throw new FerryError('COORDINATOR_NOT_AVAILABLE', `group ${group.groupId} is being deleted`);
    if (group.isStaticMemberFenced(memberId, groupInstanceId)) {
      throw new FerryError('FENCED_INSTANCE_ID', `instance ${groupInstanceId} of group ${group.groupId} belongs to another member than ${memberId}`);
    }
    const member = group.members.get(memberId);
    if (!member) throw new FerryError('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${group.groupId}`);
    return member;
  }

  checkGeneration(group: Group, generationId: number): void {
    if (generationId !== group.generationId) throw new FerryError('ILLEGAL_GENERATION', `group ${group.groupId} is at generation ${group.generationId}, not ${generationId}`);
  }

  /** Restarts a member's session: it is removed if nothing is heard from it for sessionTimeoutMs. */
  scheduleSession(group: Group, member: Member): void {
    member.clearSessionTimer();
    if (this.hooks.isClosed()) return;
    member.sessionTimer = setTimeout(() => this.onSessionExpired(group, member), member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private onSessionExpired(group: Group, member: Member): void {
    member.sessionTimer = null;
    if (group.members.get(member.memberId) !== member) return;
    // A member parked in JoinGroup or SyncGroup is alive: it is waiting on us.
    if (member.isAwaitingJoin || member.isAwaitingSync) {
      this.scheduleSession(group, member);
      return;
    }
    this.removeMember(group, member, new FerryError('UNKNOWN_MEMBER_ID', `member ${member.memberId} of group ${group.groupId} timed out`));
  }

  /** Removes a member and moves the group on: a rebalance when it was settled, maybe the end of the join phase when rebalancing. */
  private removeMember(group: Group, member: Member, reason: FerryError): void {
    this.dropMember(group, member, reason);
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.prepareRebalance(group);
    else if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
  }

  private dropMember(group: Group, member: Member, reason: FerryError): void {
    member.clearSessionTimer();
    member.joinWaiter?.reject(reason);
    member.syncWaiter?.reject(reason);
    member.joinWaiter = null;
    member.syncWaiter = null;
    group.remove(member);
  }

  /** Every waiting member is answered with `error`; used when the coordinator closes or the group is deleted. */
  abandon(group: Group, error: FerryError): void {
    group.clearTimers();
    for (const member of group.members.values()) {
      member.joinWaiter?.reject(error);
      member.syncWaiter?.reject(error);
      member.joinWaiter = null;
      member.syncWaiter = null;
    }
  }
}
