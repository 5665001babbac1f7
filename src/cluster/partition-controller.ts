/**
 * The controller's work on partition states, run only while this broker is
 * controller, as one pass at a time on every change that matters (the
 * controller role, the live brokers, topics and partition states, leaders'
 * ISR requests) and on the preferred-leader timer:
 *
 *   1. Assign: every partition of a new topic gets a state (replicas spread
 *      over the live brokers as Kafka does, assignment.ts; leader = first
 *      replica, epoch 0, ISR = the replicas). A topic whose replication
 *      factor exceeds the live brokers waits (logged) for more.
 *   2. Elect: a partition whose leader is gone gets a new one from its ISR,
 *      dead followers leave ISRs, and on the timer preferred leaders take
 *      their partitions back (leader-election.ts).
 *   3. ISR changes leaders asked for are checked and applied
 *      (partition-requests.ts).
 *   4. Reassignments: operators' requests start moving replicas, and a
 *      move whose target replicas are all in sync completes
 *      (reassignment.ts, partition-requests.ts).
 *
 * Every write is a compare-and-swap on the state this broker last saw
 * (create-if-absent for a new partition): a controller that takes over
 * finishes whatever its predecessor left, and two brokers that briefly both
 * believe they are controller cannot overwrite each other; the loser sees
 * the winner's state through the watch and decides again.
 */

import type { Logger } from 'pino';
import { logConfigFromTopicConfigs } from '../storage/log-config.js';
import { assignReplicas } from './assignment.js';
import type { BrokerDirectory } from './broker-directory.js';
import type { ControllerElection } from './controller.js';
import type { IsrChangeRequests, ReassignmentRequests } from './partition-requests.js';
import { applyIsrChange, electLeader } from './leader-election.js';
import { reassignmentStep } from './reassignment.js';
import type { TopicStates } from './topic-states.js';

/** Pause before a pass that failed (etcd unreachable) runs again. */
const RETRY_MS = 1_000;

export interface PartitionControllerOptions {
  /** Topic config defaults of this broker (unclean.leader.election.enable may be set broker-wide). */
  topicConfigDefaults: Readonly<Record<string, string>>;
  /** leader.imbalance.check.interval.seconds in ms (Kafka: 300 s); 0 turns preferred-leader elections off. */
  preferredLeaderCheckMs: number;
}

export class PartitionController {
  private running = false;
  private again = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly preferredTimer: NodeJS.Timeout | null = null;
  /** The next pass also moves leaders back to their preferred replicas. */
  private preferredDue = false;

  constructor(
    private readonly election: ControllerElection,
    private readonly directory: BrokerDirectory,
    private readonly states: TopicStates,
    private readonly isrChanges: IsrChangeRequests,
    private readonly reassignments: ReassignmentRequests,
    private readonly options: PartitionControllerOptions,
    private readonly logger: Logger,
  ) {
    const wake = (): void => this.schedule();
    election.on('change', wake);
    directory.on('change', wake);
    states.on('change', wake);
    isrChanges.on('change', wake);
    reassignments.on('change', wake);
    if (options.preferredLeaderCheckMs > 0) {
      this.preferredTimer = setInterval(() => {
        this.preferredDue = true;
        this.schedule();
      }, options.preferredLeaderCheckMs);
      this.preferredTimer.unref();
    }
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.preferredTimer) clearInterval(this.preferredTimer);
  }

  /** One pass at a time; a change during a pass runs another after it. */
  private schedule(): void {
    if (this.closed || !this.election.isController) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pass()
      .catch((error: Error) => {
        this.logger.warn({ error: error.message }, 'a controller pass failed; retrying');
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          this.schedule();
        }, RETRY_MS);
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
  }

  private get active(): boolean {
    return !this.closed && this.election.isController;
  }

  private async pass(): Promise<void> {
    const preferred = this.preferredDue;
    this.preferredDue = false;
    for (const name of this.states.topics()) {
      if (!this.active) return;
      if (!this.states.isAssigned(name)) await this.assignTopic(name);
    }
    await this.elect(preferred);
    await this.applyIsrChanges();
    await this.reassign();
  }

  private async assignTopic(name: string): Promise<void> {
    const record = this.states.topic(name)!;
    const brokers = this.directory.brokers;
    if (brokers.length < record.replicationFactor) {
      this.logger.warn({ topic: name, replicationFactor: record.replicationFactor, liveBrokers: brokers.length }, 'too few live brokers to assign the topic; waiting for more');
      return;
    }
    // Replicas given at creation (Kafka's replica assignment) for the partitions they cover; the controller's own placement for the rest.
    const placed = assignReplicas(brokers, record.partitions, record.replicationFactor);
    const assignment = placed.map((replicas, partition) => record.assignment?.[partition] ?? replicas);
    const written: number[] = [];
    for (let partition = 0; partition < record.partitions; partition++) {
      if (this.states.partition(name, partition)) continue;
      const replicas = assignment[partition]!;
      // Create-if-absent: a partition some other controller assigned meanwhile keeps its state.
      if (await this.states.writePartition(name, partition, { leader: replicas[0]!, leaderEpoch: 0, replicas, isr: [...replicas] }, '0')) written.push(partition);
    }
    this.logger.info({ topic: name, partitions: written, assignment }, 'assigned partitions');
  }

  private async elect(preferred: boolean): Promise<void> {
    const live = new Set(this.directory.brokers.map((broker) => broker.id));
    for (const name of this.states.topics()) {
      const record = this.states.topic(name);
      if (!record) continue;
      const unclean = this.uncleanAllowed(record.configs);
      for (let partition = 0; partition < record.partitions; partition++) {
        if (!this.active) return;
        const known = this.states.partition(name, partition);
        if (!known) continue;
        const next = electLeader(known.state, live, { unclean, preferred });
        if (!next) continue;
        const written = await this.states.writePartition(name, partition, next, known.modRevision);
        const change = { topic: name, partition, from: known.state, to: next, written };
        if (next.leader !== known.state.leader) this.logger.warn(change, next.leader === -1 ? 'partition offline: no in-sync replica is live' : 'elected a new partition leader');
        else this.logger.info(change, 'dead brokers left the ISR');
      }
    }
  }

  private async applyIsrChanges(): Promise<void> {
    const live = new Set(this.directory.brokers.map((broker) => broker.id));
    for (const change of this.isrChanges.pending()) {
      if (!this.active) return;
      const known = this.states.partition(change.topic, change.partition);
      if (known) {
        const next = applyIsrChange(known.state, change.request, live);
        if ('refused' in next) {
          this.logger.debug({ topic: change.topic, partition: change.partition, request: change.request, reason: next.refused }, 'ISR change refused');
        } else {
          const written = await this.states.writePartition(change.topic, change.partition, next, known.modRevision);
          // Lost to a concurrent write: the request stays, and the next pass decides against the newer state.
          if (!written) continue;
          this.logger.info({ topic: change.topic, partition: change.partition, from: known.state.isr, to: next.isr }, next.isr.length < known.state.isr.length ? 'ISR shrank' : 'ISR expanded');
        }
      }
      await this.isrChanges.done(change);
    }
  }

  /**
   * Starts, replaces and completes reassignments. Runs over every partition,
   * not only those with a request: a move runs on in its state after its
   * request is gone (a controller that wrote the completion but died before
   * deleting the request leaves a request the next pass finds done).
   */
  private async reassign(): Promise<void> {
    for (const pending of this.reassignments.pending()) {
      if (!this.active) return;
      const record = this.states.topic(pending.topic);
      if (record && pending.partition < record.partitions) continue;
      // The CLI checks; a request for a partition that no longer exists (deleted meanwhile) is dropped.
      this.logger.warn({ topic: pending.topic, partition: pending.partition }, 'dropping a reassignment of a partition that does not exist');
      await this.reassignments.done(pending);
    }
    for (const name of this.states.topics()) {
      const record = this.states.topic(name);
      if (!record) continue;
      for (let partition = 0; partition < record.partitions; partition++) {
        if (!this.active) return;
        const known = this.states.partition(name, partition);
        if (!known) continue;
        const pending = this.reassignments.request(name, partition);
        const step = reassignmentStep(known.state, pending?.request);
        if (!step) continue;
        if (step.kind !== 'done') {
          // Lost to a concurrent write: the next pass decides against the newer state.
          if (!(await this.states.writePartition(name, partition, step.state, known.modRevision))) continue;
          this.logger.info({ topic: name, partition, from: known.state, to: step.state }, step.kind === 'start' ? 'reassignment started' : 'reassignment completed');
        }
        if (step.kind !== 'start' && pending) await this.reassignments.done(pending);
      }
    }
  }

  private uncleanAllowed(configs: Readonly<Record<string, string>>): boolean {
    try {
      return logConfigFromTopicConfigs(configs, logConfigFromTopicConfigs(this.options.topicConfigDefaults)).uncleanLeaderElection;
    } catch {
      return false; // a config this broker cannot read: the safe choice
    }
  }
}
