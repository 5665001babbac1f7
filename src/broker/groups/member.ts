/**
 * One member of a classic group: who it is, the protocols it offered in its
 * last JoinGroup, its assignment, its session timer, and the replies it is
 * waiting for.
 */

import type { Waiter } from './waiter.js';

export interface GroupProtocol {
  name: string;
  /** Opaque to the coordinator (for "consumer" groups, a ConsumerProtocolSubscription). */
  metadata: Buffer;
}

export interface JoinedMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinResult {
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  /** Every member with its metadata for the chosen protocol, for the leader; empty for followers. */
  members: JoinedMember[];
  /** A static leader rejoining a stable group: it gets the members but must not assign again. */
  skipAssignment: boolean;
}

export interface SyncResult {
  protocolType: string | null;
  protocolName: string | null;
  /** Opaque (for "consumer" groups, a ConsumerProtocolAssignment); empty when the leader assigned this member nothing. */
  assignment: Buffer;
}

export class Member {
  protocols: GroupProtocol[];
  assignment: Buffer = Buffer.alloc(0);
  joinWaiter: Waiter<JoinResult> | null = null;
  syncWaiter: Waiter<SyncResult> | null = null;
  sessionTimer: NodeJS.Timeout | null = null;
  /** Joined in the current rebalance for the first time (Kafka's isNew): expired by its session timeout if it never comes back. */
  isNew = false;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    protocols: GroupProtocol[],
  ) {
    this.protocols = protocols;
  }

  get isAwaitingJoin(): boolean {
    return this.joinWaiter !== null;
  }

  get isAwaitingSync(): boolean {
    return this.syncWaiter !== null;
  }

  metadataFor(protocolName: string): Buffer {
    const protocol = this.protocols.find((candidate) => candidate.name === protocolName);
    return protocol ? protocol.metadata : Buffer.alloc(0);
  }

  /** Same protocol names, in the same order, with the same metadata bytes. */
  hasSameProtocols(protocols: readonly GroupProtocol[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every((protocol, i) => protocol.name === this.protocols[i]!.name && protocol.metadata.equals(this.protocols[i]!.metadata))
    );
  }

  clearSessionTimer(): void {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    this.sessionTimer = null;
  }
}
