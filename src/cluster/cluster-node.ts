/**
 * A broker's part in a cluster, tied to its lifecycle: started once the
 * doors listen (the registration carries their real ports), closed before the
 * broker closes. Closing resigns the controller role and revokes the
 * registration lease, so the other brokers see this one leave at once rather
 * than after the lease TTL.
 *
 * It holds membership, the live broker set, the controller election, the
 * topics and partition states (TopicStates), leaders' ISR change requests
 * and, while this broker is controller, the PartitionController that
 * assigns partitions, elects leaders and applies ISR changes.
 *
 * After its lease was lost and it registered again, the node re-reads every
 * partition state before it lets the broker lead again (membership's stall).
 */

import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { BrokerDirectory } from './broker-directory.js';
import { ControllerElection } from './controller.js';
import { connectEtcd } from './etcd-client.js';
import { clusterKeys, isBrokerId, LEASE_TTL_SECONDS_MIN, type BrokerRegistration } from './keys.js';
import { BrokerMembership } from './membership.js';
import { openIsrChangeRequests, openReassignmentRequests, type IsrChangeRequests, type ReassignmentRequests } from './partition-requests.js';
import { PartitionController } from './partition-controller.js';
import { TopicStates } from './topic-states.js';

/** Pause before reading the partition states again after a failed re-read. */
const RESYNC_RETRY_MS = 1_000;

/** etcd's lease TTL when none is given: Kafka's broker.session.timeout.ms is 9 s. */
export const DEFAULT_LEASE_TTL_SECONDS = 10;

export interface ClusterNodeOptions {
  /** etcd client URLs, e.g. http://127.0.0.1:2379. */
  endpoints: readonly string[];
  clusterName: string;
  registration: BrokerRegistration;
  leaseTtlSeconds: number;
  /** This broker's topic config defaults (unclean.leader.election.enable may be set broker-wide). */
  topicConfigDefaults?: Readonly<Record<string, string>>;
  /** leader.imbalance.check.interval.seconds in ms; 0: no preferred-leader elections. Kafka: 300 s. */
  preferredLeaderCheckMs?: number;
  logger: Logger;
}

/** Kafka's leader.imbalance.check.interval.seconds. */
export const PREFERRED_LEADER_CHECK_MS_DEFAULT = 300_000;

interface ClusterNodeEvents {
  /** The node can no longer take part (its id was taken while its lease was lost): stop the broker. */
  fatal: [error: Error];
}

export class ClusterNode extends EventEmitter<ClusterNodeEvents> {
  private closed = false;

  private constructor(
    readonly brokerId: number,
    readonly logger: Logger,
    private readonly client: Etcd3,
    readonly membership: BrokerMembership,
    readonly directory: BrokerDirectory,
    readonly controller: ControllerElection,
    readonly topics: TopicStates,
    readonly isrChanges: IsrChangeRequests,
    private readonly reassignments: ReassignmentRequests,
    private readonly partitionController: PartitionController,
  ) {
    super();
  }

  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    if (!isBrokerId(options.registration.id)) throw new Error(`a broker id is an integer from 0 to 2^31-1, got ${options.registration.id}`);
    if (!Number.isInteger(options.leaseTtlSeconds) || options.leaseTtlSeconds < LEASE_TTL_SECONDS_MIN) throw new Error(`the lease TTL is a whole number of seconds from ${LEASE_TTL_SECONDS_MIN}, got ${options.leaseTtlSeconds}`);
    const keys = clusterKeys(options.clusterName);
    const logger = options.logger.child({ cluster: options.clusterName, brokerId: options.registration.id });
    const client = connectEtcd(options.endpoints);
    let membership: BrokerMembership | null = null;
    let directory: BrokerDirectory | null = null;
    let topics: TopicStates | null = null;
    let isrChanges: IsrChangeRequests | null = null;
    let reassignments: ReassignmentRequests | null = null;
    try {
      membership = await BrokerMembership.register({ client, keys, registration: options.registration, leaseTtlSeconds: options.leaseTtlSeconds, logger });
      directory = await BrokerDirectory.open(client, keys, logger);
      topics = await TopicStates.open(client, keys, logger);
      isrChanges = await openIsrChangeRequests(client, keys, logger);
      reassignments = await openReassignmentRequests(client, keys, logger);
      const controller = await ControllerElection.start({ client, keys, brokerId: options.registration.id, leaseTtlSeconds: options.leaseTtlSeconds, logger });
      const partitionController = new PartitionController(
        controller,
        directory,
        topics,
        isrChanges,
        reassignments,
        { topicConfigDefaults: options.topicConfigDefaults ?? {}, preferredLeaderCheckMs: options.preferredLeaderCheckMs ?? PREFERRED_LEADER_CHECK_MS_DEFAULT },
        logger,
      );
      const node = new ClusterNode(options.registration.id, logger, client, membership, directory, controller, topics, isrChanges, reassignments, partitionController);
      membership.on('fatal', (error) => node.emit('fatal', error));
      const states = topics;
      const member = membership;
      member.on('registered', () => {
        // Whatever changed while this broker was not registered is read before it leads again; retried until etcd answers.
        const resync = (): void => {
          states.resync().then(
            () => member.endStall(),
            (error: Error) => {
              logger.warn({ error: error.message }, 'cannot re-read the partition states after registering again; retrying, leading nothing meanwhile');
              setTimeout(resync, RESYNC_RETRY_MS).unref();
            },
          );
        };
        resync();
      });
      directory.on('change', (brokers) => logger.info({ brokers: brokers.map((broker) => broker.id) }, 'live brokers changed'));
      controller.on('change', (state) => logger.info(state, 'controller changed'));
      logger.info({ brokers: directory.brokers.map((broker) => broker.id), controllerId: controller.controllerId }, 'joined the cluster');
      return node;
    } catch (error) {
      await reassignments?.close().catch(() => undefined);
      await isrChanges?.close().catch(() => undefined);
      await topics?.close().catch(() => undefined);
      await directory?.close().catch(() => undefined);
      await membership?.close().catch(() => undefined);
      client.close();
      throw error;
    }
  }

  get brokers(): BrokerRegistration[] {
    return this.directory.brokers;
  }

  /** Leaves the cluster: resign the controller role, revoke the registration, close the etcd client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // At once, not one after another: with etcd unreachable each waits out its call deadline.
    this.partitionController.close();
    const results = await Promise.allSettled([this.controller.close(), this.directory.close(), this.topics.close(), this.isrChanges.close(), this.reassignments.close(), this.membership.close()]);
    this.client.close();
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }
}
