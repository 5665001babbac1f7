/**
 * Following partition leaders in a Ferry cluster: where a FerryClient sends
 * a produce or a subscription when its own broker does not lead the
 * partition (NOT_LEADER_OR_FOLLOWER), when the partition has no leader for a
 * moment (LEADER_NOT_AVAILABLE, a failover under way) or when the socket to
 * a leader closed (the broker died).
 *
 * The client's own socket (its "home", the URL it was given) is tried first,
 * so a single node, and a cluster whose leader the client reached, costs
 * nothing more: no metadata round trip until an error says so. Otherwise
 * the leader named in the error, or else the broker the `metadata` answer
 * names (asked of any open socket, after a backoff), gets a socket of its
 * own (a "peer", opened once and reused; a peer does not reconnect: a lost
 * one is dropped and the leader looked up again). Routes are remembered per
 * topic (and partition, when the request names one). When the home socket
 * itself is down and there is somewhere else to ask (a peer, or the
 * `bootstrap` brokers), its subscriptions and unsent produces come here too,
 * and nothing is routed to it until it is back.
 *
 * Produce is retried at most PRODUCE_ATTEMPTS_MAX times, and only where the
 * broker cannot have written the records: refused before the append
 * (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS) or
 * never sent. A produce sent and unanswered when its socket closed may have
 * been written: it fails with NETWORK_EXCEPTION and the caller decides, as
 * a Kafka producer without idempotence would have to.
 *
 * A subscription moves to the new leader's socket with its own positions
 * (the offset after the last push it received), and what it had received
 * stays queued for the caller: no record lost or repeated. It keeps trying,
 * with capped backoff, while the partition is leaderless. A subscription
 * follows one leader: one whose partitions are led by different brokers
 * fails with PARTITIONS_LED_APART (subscribe per partition there) rather
 * than chase one leader after another.
 *
 * A group membership follows its coordinator: refused with NOT_COORDINATOR
 * (the error names the coordinator) it joins at the coordinator's socket;
 * when no coordinator is named (COORDINATOR_NOT_AVAILABLE, or the socket it
 * was on closed) it joins again at any open socket after a backoff, whose
 * answer names the coordinator. It keeps trying, with capped backoff, until
 * it joins, leaves, or the client closes (Kafka's consumers retry
 * coordinator errors without end too).
 */

import { leaderSocketUrl, type MetadataMessage, type ProducedResult, type WireAcks, type WireCommittedOffset } from '../protocol/ws/protocol.js';
import { FerryClientError } from './errors.js';
import type { ProduceInput } from './record.js';
import type { GroupMembership } from './group-membership.js';
import type { Subscription } from './subscription.js';

/** Tries of one produce across leader changes: a failover takes about a lease TTL, which the backoff covers. */
export const PRODUCE_ATTEMPTS_MAX = 12;
export const FOLLOW_DELAY_MIN_MS = 100;
export const FOLLOW_DELAY_MAX_MS = 2_000;
/** Peer sockets one client keeps open at most (one per broker that leads something it uses). */
export const PEERS_MAX = 64;

/** The error of a subscription whose partitions have different leaders (not a Kafka name: Kafka's consumers fetch per leader). */
export const LED_APART = 'PARTITIONS_LED_APART';

/** Errors a leader change explains: the request may go again, to the leader. */
const FOLLOWED_ERRORS: ReadonlySet<string> = new Set(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'NOT_ENOUGH_REPLICAS', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH']);

/** One broker's socket, as the follower uses it (a FerryClient: the home or a peer). */
export interface LeaderLink {
  /** Where it connects: ws://host:port/ws?encoding=... */
  readonly socketUrl: string;
  /** Closed for good (a peer that lost its socket, or the client closed). */
  readonly isClosed: boolean;
  readonly connected: boolean;
  produceHere(topic: string, records: readonly ProduceInput[], acks: WireAcks | undefined): Promise<ProducedResult[]>;
  metadata(topics?: readonly string[]): Promise<MetadataMessage>;
  /** A group's committed offsets asked of this broker alone (the coordinator). */
  committedOffsetsHere(group: string, topics?: readonly string[]): Promise<WireCommittedOffset[]>;
  /** Takes `subscription` over: it resubscribes here from its positions. */
  adopt(subscription: Subscription): void;
  /** Takes `membership` over: it joins here. */
  adoptMembership(membership: GroupMembership): void;
  close(): Promise<void>;
}

/** Opens a peer link to `url` (ws://host:port/ws); resolves once it is ready. */
export type PeerOpener = (url: string) => Promise<LeaderLink>;

/** Errors after which a membership joins at another broker (the coordinator moved, or its socket went). */
const COORDINATOR_ERRORS: ReadonlySet<string> = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS']);

export function isCoordinatorMove(error: unknown): error is FerryClientError {
  return error instanceof FerryClientError && (COORDINATOR_ERRORS.has(error.errorName) || error.unsent);
}

/** A produce may go again elsewhere; a subscription may move. */
export function isFollowable(error: unknown): error is FerryClientError {
  return error instanceof FerryClientError && (FOLLOWED_ERRORS.has(error.errorName) || error.unsent);
}

export class LeaderFollower {
  private readonly peers = new Map<string, Promise<LeaderLink>>();
  /** topic or topic/partition -> the key of the link that led it last. */
  private readonly routes = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly home: LeaderLink,
    private readonly openPeer: PeerOpener,
    /** Brokers to ask who leads when no socket is open (ws://host:port). */
    private readonly bootstrap: readonly string[],
  ) {}

  /** Some socket other than the home's can say who leads: a peer, or a bootstrap broker. */
  canLookElsewhere(): boolean {
    return this.peers.size > 0 || this.bootstrap.length > 0;
  }

  /** The home socket is down and leaders can be found elsewhere: nothing goes to it meanwhile. */
  private unusable(link: LeaderLink): boolean {
    return link === this.home && !link.connected && this.canLookElsewhere();
  }

  // --- produce -----------------------------------------------------------------------------

  async produce(topic: string, partition: number | undefined, records: readonly ProduceInput[], acks: WireAcks | undefined): Promise<ProducedResult[]> {
    const route = routeKey(topic, partition);
    for (let attempt = 1; ; attempt++) {
      const link = await this.routed(route);
      let failure: FerryClientError;
      try {
        if (this.unusable(link)) throw homeDown(link);
        return await link.produceHere(topic, records, acks);
      } catch (error) {
        if (!isFollowable(error) || attempt >= PRODUCE_ATTEMPTS_MAX || this.givenUp()) throw error;
        failure = error;
      }
      try {
        await this.reroute(route, topic, partition ?? 0, failure, attempt);
      } catch {
        // No link could say where the leader is (or its socket would not open): the next attempt tries again.
      }
    }
  }

  // --- subscriptions -----------------------------------------------------------------------

  /** `subscription` failed on its link for `error` (isFollowable): find its leader and hand it over, retrying with backoff. */
  async move(subscription: Subscription, error: FerryClientError): Promise<void> {
    const partitions = subscriptionPartitions(subscription);
    // Per partition when it reads one: partitions of a topic led apart (a group member's reads) must not share a route.
    const route = routeKey(subscription.topic, partitions?.length === 1 ? partitions[0] : undefined);
    let reason: FerryClientError | null = error;
    for (let attempt = 1; subscription.active && !this.givenUp(); attempt++) {
      try {
        // One partition: the leader an error names will do. Several: metadata, so that partitions led apart are caught, not chased one error at a time.
        if (partitions?.length === 1) await this.reroute(route, subscription.topic, partitions[0]!, reason, attempt);
        else await this.rerouteAll(route, subscription.topic, partitions, attempt);
        const link = await this.routed(route);
        if (!subscription.active) return;
        if (this.unusable(link)) throw homeDown(link);
        link.adopt(subscription);
        return;
      } catch (lookupError) {
        if (lookupError instanceof FerryClientError && lookupError.errorName === LED_APART) {
          subscription.fail(lookupError);
          return;
        }
        // No socket to ask, no leader yet, or the leader's socket would not open: try again after the next backoff.
        reason = lookupError instanceof FerryClientError ? lookupError : null;
      }
    }
    // Given up while between sockets: no client holds it any more, so end its iteration here.
    if (!subscription.active) return;
    if (this.closed) subscription.end();
    else subscription.fail(error);
  }

  // --- group memberships -------------------------------------------------------------------

  /** `membership` must join elsewhere (isCoordinatorMove): at the coordinator `error` names, else at any open socket. */
  async moveMembership(membership: GroupMembership, error: FerryClientError): Promise<void> {
    const attempt = ++membership.coordinatorMoves;
    const named = error.leader?.url;
    try {
      // Straight to a named coordinator the first time; otherwise after a backoff, so brokers that disagree for a moment are not ping-ponged.
      if (named === undefined || attempt > 1) await sleep(followDelayMs(attempt));
      if (this.givenUp()) {
        if (!membership.active) return;
        if (this.closed) membership.end();
        else membership.fail(error);
        return;
      }
      if (!membership.active) return;
      const link = named === undefined ? await this.anyOpenLink() : await this.linkAt(named);
      if (membership.active) link.adoptMembership(membership);
    } catch {
      // No socket to ask, or the coordinator's would not open: ask any socket next time.
      void this.moveMembership(membership, new FerryClientError('COORDINATOR_NOT_AVAILABLE', `no socket could take group ${membership.group} now`, true));
    }
  }

  // --- routes and links --------------------------------------------------------------------

  /** The client was closed, or its own socket shut down for good (reconnect off): nothing is followed any more. */
  private givenUp(): boolean {
    return this.closed || this.home.isClosed;
  }

  /** Closes every peer link. */
  async close(): Promise<void> {
    this.closed = true;
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all(peers.map((peer) => peer.then((link) => link.close(), () => undefined)));
  }

  /** The link `route` goes to: its leader's when known and still open, else home. */
  private async routed(route: string): Promise<LeaderLink> {
    const key = this.routes.get(route);
    if (key === undefined) return this.home;
    const peer = this.peers.get(key);
    if (!peer) return this.home;
    try {
      const link = await peer;
      if (!link.isClosed) return link;
    } catch {
      // Would not open: looked up again below.
    }
    this.dropPeer(key);
    this.routes.delete(route);
    return this.home;
  }

  /**
   * Points `route` at the leader: the one `error` names at once, otherwise
   * after a backoff the one metadata names. Throws when no link can say.
   */
  private async reroute(route: string, topic: string, partition: number, error: FerryClientError | null, attempt: number): Promise<void> {
    const named = error?.leader?.url;
    if (named !== undefined && attempt === 1) {
      await this.point(route, named);
      return;
    }
    await sleep(followDelayMs(attempt));
    const url = await this.leaderUrl(topic, partition);
    if (url === null) throw new FerryClientError('LEADER_NOT_AVAILABLE', `${topic}-${partition} has no leader now`, true);
    await this.point(route, url);
  }

  /** Points `route` at the one leader of `partitions` (null: every partition), as metadata says; throws when they have none now or several. */
  private async rerouteAll(route: string, topic: string, partitions: readonly number[] | null, attempt: number): Promise<void> {
    if (attempt > 1) await sleep(followDelayMs(attempt - 1));
    const metadata = await (await this.anyOpenLink()).metadata([topic]);
    const described = metadata.topics.find((entry) => entry.topic === topic)?.partitions ?? [];
    const wanted = partitions === null ? described : described.filter((entry) => partitions.includes(entry.partition));
    const leaders = [...new Set(wanted.map((entry) => entry.leader))];
    if (leaders.length > 1 && !leaders.includes(-1)) {
      throw new FerryClientError(LED_APART, `the partitions of ${topic} this subscription reads are led by brokers ${leaders.join(', ')}: a subscription follows one leader, so subscribe to each partition (partitions: [p]) on its own`, false);
    }
    const broker = metadata.brokers.find((entry) => entry.id === leaders[0]);
    if (leaders.length !== 1 || !broker || broker.http_port === null) throw new FerryClientError('LEADER_NOT_AVAILABLE', `${topic} has no leader to subscribe at now`, true);
    await this.point(route, leaderSocketUrl(broker.host, broker.http_port));
  }

  private async point(route: string, url: string): Promise<void> {
    const link = await this.linkAt(url);
    if (link === this.home) this.routes.delete(route);
    else this.routes.set(route, linkKey(url));
  }

  /** A group's committed offsets from the coordinator a refusal named (`url`, the error's leader). */
  async committedOffsetsAt(url: string, group: string, topics?: readonly string[]): Promise<WireCommittedOffset[]> {
    return (await this.linkAt(url)).committedOffsetsHere(group, topics);
  }

  /** The home when `url` is its broker, else the peer there (opened now if need be). */
  private async linkAt(url: string): Promise<LeaderLink> {
    const key = linkKey(url);
    if (key === linkKey(this.home.socketUrl)) return this.home;
    const link = await this.peer(key, url);
    if (!link.isClosed) return link;
    // A peer that lost its socket since: open a new one (the broker may be back).
    this.dropPeer(key);
    return this.peer(key, url);
  }

  private peer(key: string, url: string): Promise<LeaderLink> {
    const open = this.peers.get(key);
    if (open) return open;
    if (this.peers.size >= PEERS_MAX) throw new FerryClientError('NETWORK_EXCEPTION', `this client already keeps ${PEERS_MAX} sockets to leaders`, true);
    const opening = this.openPeer(url);
    this.peers.set(key, opening);
    opening.catch(() => this.dropPeer(key));
    return opening;
  }

  private dropPeer(key: string): void {
    const peer = this.peers.get(key);
    this.peers.delete(key);
    void peer?.then((link) => link.close(), () => undefined);
  }

  /** The leader's socket URL as some open link's metadata says; null while it has none (failover) or names none we can reach. */
  private async leaderUrl(topic: string, partition: number): Promise<string | null> {
    const metadata = await (await this.anyOpenLink()).metadata([topic]);
    const leader = metadata.topics.find((entry) => entry.topic === topic)?.partitions.find((entry) => entry.partition === partition)?.leader ?? -1;
    const broker = metadata.brokers.find((entry) => entry.id === leader);
    return broker && broker.http_port !== null ? leaderSocketUrl(broker.host, broker.http_port) : null;
  }

  private async anyOpenLink(): Promise<LeaderLink> {
    if (this.home.connected) return this.home;
    for (const peer of this.peers.values()) {
      const link = await peer.catch(() => null);
      if (link?.connected) return link;
    }
    for (const url of this.bootstrap) {
      const link = await this.peer(linkKey(url), url).catch(() => null);
      if (link?.connected) return link;
    }
    throw new FerryClientError('NETWORK_EXCEPTION', 'no open socket to ask which broker leads the partition', true);
  }
}

/** The partitions a subscription reads, when known (null: every partition of the topic). */
function subscriptionPartitions(subscription: Subscription): readonly number[] | null {
  const positions = subscription.currentPositions();
  return positions.length > 0 ? positions.map(({ partition }) => partition) : subscription.requestedPartitions() ?? null;
}

function homeDown(home: LeaderLink): FerryClientError {
  const error = new FerryClientError('NETWORK_EXCEPTION', `the connection to ${home.socketUrl} is down; looking for the leader elsewhere`, true);
  error.unsent = true;
  return error;
}

function routeKey(topic: string, partition: number | undefined): string {
  return partition === undefined ? topic : `${topic}\u0000${partition}`;
}

/** host:port: one link per broker whatever the path and query. */
function linkKey(url: string): string {
  return new URL(url).host;
}

function followDelayMs(attempt: number): number {
  const backoffMs = Math.min(FOLLOW_DELAY_MAX_MS, FOLLOW_DELAY_MIN_MS * 2 ** (attempt - 1));
  return Math.round(backoffMs * (0.5 + Math.random() / 2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
