/**
 * One classic consumer group: its state, generation, chosen protocol,
 * leader, members (and static instance ids), members that were handed an id
 * but have not joined with it yet, and its committed offsets. Pure data and
 * the rules that need nothing but the group; the rebalance logic that moves
 * it between states lives in rebalance.ts.
 *
 * States and the transitions Kafka allows:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
 *     ▲                  ▲    │                                          │
 *     └──nobody joined───┘    └──────────◀── member joins/leaves ────────┤
 *                        ▲                                               ▼
 *                        └─────────── member joins/leaves ─────────── Stable
 *   any state ──delete──▶ Dead
 */

import { assert } from '../../errors.js';
import type { JoinedMember, Member } from './member.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const GROUP_STATES: readonly GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

const VALID_PREVIOUS_STATES: Readonly<Record<GroupState, readonly GroupState[]>> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Empty', 'Stable', 'CompletingRebalance'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'],
};

export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: bigint;
  /** -1 when the committer did not say. */
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: bigint;
}

/** The first wait of a new group (group.initial.rebalance.delay.ms), extended while members keep arriving. */
export interface InitialDelay {
  remainingMs: number;
  newMemberAdded: boolean;
}

export class Group {
  state: GroupState = 'Empty';
  /** Null until a member joins (or for a group that only ever committed offsets). */
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  stateTimestampMs: number;
  readonly members = new Map<string, Member>();
  /** group.instance.id -> the member id that currently holds it. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, each with the timer that forgets it. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  /** `${topic}\0${partition}` -> committed offset. */
  readonly offsets = new Map<string, CommittedOffset>();
  joinTimer: NodeJS.Timeout | null = null;
  initialDelay: InitialDelay | null = null;

  constructor(
    readonly groupId: string,
    nowMs: number,
  ) {
    this.stateTimestampMs = nowMs;
  }

  transitionTo(state: GroupState, nowMs: number): void {
    assert(VALID_PREVIOUS_STATES[state].includes(this.state), `group ${this.groupId} cannot go from ${this.state} to ${state}`);
    this.state = state;
    this.stateTimestampMs = nowMs;
  }

  /**
   * Nothing to keep: Empty, no member or pending member id, no offsets, and
   * never through a generation, so no group metadata record of it exists.
   * Such a group (a first JoinGroup answered MEMBER_ID_REQUIRED, a refused
   * join, a commit whose append failed) is forgotten at once.
   */
  get isUnused(): boolean {
    return this.state === 'Empty' && this.size === 0 && this.offsets.size === 0 && this.generationId === 0;
  }

  get size(): number {
    return this.members.size + this.pendingMembers.size;
  }

  add(member: Member): void {
    assert(!this.members.has(member.memberId), `member ${member.memberId} is already in group ${this.groupId}`);
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.leaderId ??= member.memberId;
  }

  /** Takes a member out; the leadership passes to the longest-standing member left. */
  remove(member: Member): void {
    this.members.delete(member.memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === member.memberId) this.staticMembers.delete(member.groupInstanceId);
    if (this.leaderId === member.memberId) this.leaderId = this.members.keys().next().value ?? null;
  }

  /** A static member rejoining under a new member id: same place in the group, new id. */
  replaceMemberId(member: Member, newMemberId: string): void {
    const oldMemberId = member.memberId;
    const entries = [...this.members].map(([id, existing]): [string, Member] => (id === oldMemberId ? [newMemberId, existing] : [id, existing]));
    this.members.clear();
    for (const [id, existing] of entries) this.members.set(id, existing);
    member.memberId = newMemberId;
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, newMemberId);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
  }

  /** Fenced: the instance id is held by a different member id (an older incarnation of the same instance). */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const holder = this.staticMembers.get(groupInstanceId);
    return holder !== undefined && holder !== memberId;
  }

  get allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const member of this.members.values()) if (!member.isAwaitingJoin) return false;
    return true;
  }

  get rebalanceTimeoutMs(): number {
    let timeoutMs = 0;
    for (const member of this.members.values()) timeoutMs = Math.max(timeoutMs, member.rebalanceTimeoutMs);
    return timeoutMs;
  }

  /** Whether a member offering these protocols may join: same type, and one protocol every current member supports. */
  supportsProtocols(protocolType: string, protocolNames: readonly string[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocolNames.length > 0;
    if (protocolType !== this.protocolType) return false;
    return protocolNames.some((name) => this.supportedByAll(name));
  }

  private supportedByAll(protocolName: string): boolean {
    for (const member of this.members.values()) if (!member.protocols.some((protocol) => protocol.name === protocolName)) return false;
    return true;
  }

  /**
   * The protocol for the next generation: among those every member supports,
   * the one most members list first among them (each member votes for its
   * most preferred candidate); ties go to the leader's preference order.
   */
  selectProtocol(): string {
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    const first = leader ?? this.members.values().next().value;
    assert(first !== undefined, `group ${this.groupId} has no members to choose a protocol for`);
    const candidates = first.protocols.map((protocol) => protocol.name).filter((name) => this.supportedByAll(name));
    assert(candidates.length > 0, `group ${this.groupId} has no protocol every member supports`);
    const votes = new Map<string, number>(candidates.map((name) => [name, 0]));
    for (const member of this.members.values()) {
      const choice = member.protocols.find((protocol) => votes.has(protocol.name))!.name;
      votes.set(choice, votes.get(choice)! + 1);
    }
    let best = candidates[0]!;
    for (const name of candidates) if (votes.get(name)! > votes.get(best)!) best = name;
    return best;
  }

  /** Every member with its metadata for the chosen protocol, in join order: what the leader assigns from. */
  joinedMembers(): JoinedMember[] {
    const protocolName = this.protocolName ?? '';
    return [...this.members.values()].map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId, metadata: member.metadataFor(protocolName) }));
  }

  clearJoinTimer(): void {
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.joinTimer = null;
  }

  clearTimers(): void {
    this.clearJoinTimer();
    for (const member of this.members.values()) member.clearSessionTimer();
    for (const timer of this.pendingMembers.values()) clearTimeout(timer);
  }
}

export function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
