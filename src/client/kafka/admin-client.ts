/**
 * A small Kafka admin client on Ferry's own codec, for the `ferry groups`
 * commands: it speaks the Kafka protocol, so it works against Ferry and
 * against any Kafka broker.
 *
 * Requests go where Kafka sends them: group requests to the group's
 * coordinator (FindCoordinator), ListOffsets to each partition's leader
 * (Metadata), ListGroups to every broker. One session (connection plus
 * negotiated versions) per broker address, opened on first use and kept
 * until close(). Coordinator errors (loading, unavailable, moved) are
 * retried a bounded number of times; every other error is the caller's.
 */

import { FerryError } from '../../errors.js';
import { BrokerSession } from './broker-session.js';
import { formatAddress, type ConnectionOptions } from './connection.js';
import * as groupCalls from './group-calls.js';
import type { BrokerNode, GroupDescription, GroupListing, GroupOutcome } from './group-calls.js';
import { fetchMetadata, type TopicMetadata } from './metadata-call.js';
import * as offsetCalls from './offset-calls.js';
import type { SaslPlainCredentials } from './sasl-plain.js';
import { COORDINATOR_RETRIES_MAX, RETRY_BACKOFF_MS } from './limits.js';
import type { CommitOutcome, ListedOffset, OffsetQuery, PartitionOffset, TopicPartition } from './offset-calls.js';

export interface AdminClientOptions {
  /** `host:port` of any broker of the cluster (`[v6addr]:port` for IPv6). */
  bootstrapServer: string;
  clientId?: string;
  /** Authenticate every connection with SASL/PLAIN (a broker started with --sasl-plain-users). */
  saslPlain?: SaslPlainCredentials;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Splits `host:port` (or `[ipv6]:port`); INVALID_CONFIG when it is not one. */
export function parseBootstrapServer(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) throw new FerryError('INVALID_CONFIG', `bootstrap server ${JSON.stringify(text)} is not host:port`);
  return { host: match[1] ?? match[2] ?? '', port };
}

const COORDINATOR_ERRORS = new Set(['COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR']);

function isCoordinatorError(error: unknown): error is FerryError {
  return error instanceof FerryError && COORDINATOR_ERRORS.has(error.errorName);
}

function outcomeErrors(outcomes: ReadonlyArray<{ error: FerryError | null }>): Array<FerryError | null> {
  return outcomes.map((outcome) => outcome.error);
}

export class KafkaAdminClient {
  private readonly sessions = new Map<string, Promise<BrokerSession>>();
  private readonly coordinators = new Map<string, Promise<BrokerNode>>();
  private readonly bootstrap: { host: string; port: number };

  constructor(private readonly options: AdminClientOptions) {
    this.bootstrap = parseBootstrapServer(options.bootstrapServer);
  }

  /** Connects to the bootstrap server and negotiates versions: the first call of a command, so an unreachable broker is said at once. */
  async connect(): Promise<void> {
    await this.session(this.bootstrap);
  }

  async listGroups(): Promise<GroupListing[]> {
    const { brokers } = await fetchMetadata(await this.session(this.bootstrap), []);
    const perBroker = await Promise.all(brokers.map(async (node) => groupCalls.listGroups(await this.session(node))));
    const byId = new Map(perBroker.flat().map((group) => [group.groupId, group]));
    return [...byId.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  async describeGroup(groupId: string): Promise<GroupDescription & { coordinator: BrokerNode }> {
    return this.atCoordinator(groupId, async (session, coordinator) => {
      const [description] = await groupCalls.describeGroups(session, [groupId]);
      if (description === undefined) throw new FerryError('UNKNOWN_SERVER_ERROR', `DescribeGroups ${groupId}: the coordinator answered no group`);
      return { ...description, coordinator };
    });
  }

  async deleteGroups(groupIds: readonly string[]): Promise<GroupOutcome[]> {
    const outcomes = groupIds.map(async (groupId) => {
      try {
        return await this.atCoordinator(groupId, (session) => groupCalls.deleteGroups(session, [groupId]), outcomeErrors);
      } catch (error) {
        if (!(error instanceof FerryError)) throw error;
        return [{ groupId, error }];
      }
    });
    return (await Promise.all(outcomes)).flat();
  }

  /** Committed offsets of the group: of `partitions`, or all when null; uncommitted partitions are left out. */
  async committedOffsets(groupId: string, partitions: readonly TopicPartition[] | null = null): Promise<PartitionOffset[]> {
    return this.atCoordinator(groupId, (session) => offsetCalls.fetchCommittedOffsets(session, groupId, partitions));
  }

  /** A simple commit (no generation, no member): the coordinator takes it only while the group has no members. */
  async commitOffsets(groupId: string, offsets: readonly PartitionOffset[]): Promise<CommitOutcome[]> {
    return this.atCoordinator(groupId, (session) => offsetCalls.commitOffsets(session, groupId, offsets), outcomeErrors);
  }

  /** The named topics' partitions (UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist). */
  async describeTopics(topics: readonly string[]): Promise<TopicMetadata[]> {
    if (topics.length === 0) return [];
    return (await fetchMetadata(await this.session(this.bootstrap), topics)).topics;
  }

  /**
   * One offset per partition, each asked of the partition's leader. A
   * partition that does not exist or has no leader gets its error in its
   * entry, as a broker's per-partition error would be.
   */
  async listOffsets(partitions: readonly TopicPartition[], query: OffsetQuery): Promise<ListedOffset[]> {
    if (partitions.length === 0) return [];
    const topics = [...new Set(partitions.map((entry) => entry.topic))];
    const metadata = await fetchMetadata(await this.session(this.bootstrap), topics, { throwTopicErrors: false });
    const byLeader = new Map<number, TopicPartition[]>();
    const unanswerable: ListedOffset[] = [];
    for (const entry of partitions) {
      const leaderId = metadata.topics.find((topic) => topic.name === entry.topic)?.partitions.find((p) => p.partition === entry.partition)?.leaderId ?? -1;
      const node = metadata.brokers.find((broker) => broker.nodeId === leaderId);
      if (node === undefined) {
        const error = new FerryError(leaderId < 0 ? 'UNKNOWN_TOPIC_OR_PARTITION' : 'LEADER_NOT_AVAILABLE', `partition ${entry.topic}-${entry.partition} ${leaderId < 0 ? 'does not exist or has no leader' : `is led by broker ${leaderId}, which Metadata did not name`}`);
        unanswerable.push({ ...entry, offset: -1n, timestamp: -1n, error });
      } else {
        byLeader.set(leaderId, [...(byLeader.get(leaderId) ?? []), entry]);
      }
    }
    const answers = await Promise.all(
      [...byLeader].map(async ([leaderId, entries]) => {
        const node = metadata.brokers.find((broker) => broker.nodeId === leaderId)!;
        return offsetCalls.listOffsets(await this.session(node), entries, query);
      }),
    );
    return [...answers.flat(), ...unanswerable].sort(offsetCalls.byTopicPartition);
  }

  /** The group's coordinator, asked of the bootstrap server once per client (again after it said it is not, or not yet, the coordinator). */
  findCoordinator(groupId: string): Promise<BrokerNode> {
    let coordinator = this.coordinators.get(groupId);
    if (coordinator === undefined) {
      coordinator = this.session(this.bootstrap).then((session) => groupCalls.findGroupCoordinator(session, groupId));
      coordinator.catch(() => this.coordinators.delete(groupId));
      this.coordinators.set(groupId, coordinator);
    }
    return coordinator;
  }

  /**
   * Runs `call` at the group's coordinator. A coordinator that is loading,
   * unavailable or no longer the group's (thrown, or in one of the call's
   * outcomes) is looked up again and asked again, COORDINATOR_RETRIES_MAX
   * times at most, RETRY_BACKOFF_MS apart, as Kafka's admin client does.
   */
  private async atCoordinator<T>(groupId: string, call: (session: BrokerSession, coordinator: BrokerNode) => Promise<T>, errorsOf: (result: T) => Array<FerryError | null> = () => []): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const coordinator = await this.findCoordinator(groupId);
        const result = await call(await this.session(coordinator), coordinator);
        if (!errorsOf(result).some(isCoordinatorError) || attempt >= COORDINATOR_RETRIES_MAX) return result;
      } catch (error) {
        if (!isCoordinatorError(error) || attempt >= COORDINATOR_RETRIES_MAX) throw error;
      }
      this.coordinators.delete(groupId);
      await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS));
    }
  }

  close(): void {
    for (const session of this.sessions.values()) session.then((opened) => opened.close(), () => undefined);
    this.sessions.clear();
  }

  private session(node: { host: string; port: number }): Promise<BrokerSession> {
    const address = formatAddress(node.host, node.port);
    let session = this.sessions.get(address);
    if (session === undefined) {
      session = BrokerSession.open(this.connectionOptions(node));
      // A failed open is forgotten, so the next call tries again.
      session.catch(() => this.sessions.delete(address));
      this.sessions.set(address, session);
    }
    return session;
  }

  private connectionOptions(node: { host: string; port: number }): ConnectionOptions & { saslPlain?: SaslPlainCredentials } {
    return {
      host: node.host,
      port: node.port,
      ...(this.options.saslPlain === undefined ? {} : { saslPlain: this.options.saslPlain }),
      ...(this.options.clientId === undefined ? {} : { clientId: this.options.clientId }),
      ...(this.options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.options.connectTimeoutMs }),
      ...(this.options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: this.options.requestTimeoutMs }),
    };
  }
}
