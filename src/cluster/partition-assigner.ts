/**
 * The controller's first duty: give every partition of every topic record a
 * state (replicas spread over the live brokers as Kafka does, assignment.ts;
 * leader = the first replica, leader epoch 0, ISR = the replicas). Runs only
 * while this broker is controller, on every topic change and when it becomes
 * controller, and writes only partitions that have no state yet, each with a
 * create-if-absent compare-and-swap: a controller that takes over finishes
 * whatever its predecessor left unassigned, and two brokers that briefly both
 * believe they are controller cannot overwrite each other.
 *
 * A topic whose replication factor exceeds the live brokers waits (logged)
 * until enough brokers are back. Broker failure changes nothing yet: no
 * leader is re-elected and no ISR shrinks (the next slice of issue 6).
 */

import type { Logger } from 'pino';
import { assignReplicas } from './assignment.js';
import type { BrokerDirectory } from './broker-directory.js';
import type { ControllerElection } from './controller.js';
import type { TopicStates } from './topic-states.js';

/** Pause before a pass that failed (etcd unreachable) runs again. */
const RETRY_MS = 1_000;

export class PartitionAssigner {
  private running = false;
  private again = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly election: ControllerElection,
    private readonly directory: BrokerDirectory,
    private readonly states: TopicStates,
    private readonly logger: Logger,
  ) {
    const wake = (): void => this.schedule();
    election.on('change', wake);
    directory.on('change', wake);
    states.on('change', wake);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** One pass at a time; a change during a pass runs another after it. */
  private schedule(): void {
    if (this.closed || !this.election.isController) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.assignAll()
      .catch((error: Error) => {
        this.logger.warn({ error: error.message }, 'assigning partitions failed; retrying');
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

  private async assignAll(): Promise<void> {
    for (const name of this.states.topics()) {
      if (this.closed || !this.election.isController) return;
      if (!this.states.isAssigned(name)) await this.assignTopic(name);
    }
  }

  private async assignTopic(name: string): Promise<void> {
    const record = this.states.topic(name)!;
    const brokers = this.directory.brokers;
    if (brokers.length < record.replicationFactor) {
      this.logger.warn({ topic: name, replicationFactor: record.replicationFactor, liveBrokers: brokers.length }, 'too few live brokers to assign the topic; waiting for more');
      return;
    }
    const assignment = assignReplicas(brokers, record.partitions, record.replicationFactor);
    const written: number[] = [];
    for (let partition = 0; partition < record.partitions; partition++) {
      if (this.states.partition(name, partition)) continue;
      const replicas = assignment[partition]!;
      // Create-if-absent: a partition some other controller assigned meanwhile keeps its state.
      if (await this.states.writePartition(name, partition, { leader: replicas[0]!, leaderEpoch: 0, replicas, isr: [...replicas] }, '0')) written.push(partition);
    }
    this.logger.info({ topic: name, partitions: written, assignment }, 'assigned partitions');
  }
}
