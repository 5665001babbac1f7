/**
 * The broker core's TopicPlacements in cluster mode: topics and partition
 * states from etcd (TopicStates), live brokers from the BrokerDirectory.
 * Creating a topic writes its record (create-if-absent) and waits, bounded,
 * for the controller (PartitionController) to place every partition. ISR
 * changes go to the controller as requests (IsrChangeRequests).
 */

import { FerryError, type BrokerEndpoint } from '../errors.js';
import type { PartitionPlacement, PlacedTopic, TopicPlacements } from '../broker/topic-placements.js';
import type { ClusterNode } from './cluster-node.js';
import { encodeIsrChangeRequest } from './keys.js';

/** How long a creating broker waits for the controller to place a new topic's partitions. */
export const TOPIC_PLACEMENT_WAIT_MS = 10_000;

export class EtcdTopicPlacements implements TopicPlacements {
  constructor(private readonly node: ClusterNode) {}

  liveBrokerCount(): number {
    return this.node.brokers.length;
  }

  async createTopic(name: string, topic: PlacedTopic): Promise<void> {
    const record = { id: topic.topicId, partitions: topic.partitions, replicationFactor: topic.replicationFactor, configs: topic.configs, ...(topic.assignment ? { assignment: topic.assignment } : {}) };
    if (!(await this.node.topics.createTopic(name, record))) {
      // Two brokers racing to auto-create a topic: the loser answers once the winner's is placed, so it can use it.
      await this.whenPlaced(name).catch(() => undefined);
      throw new FerryError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    }
    await this.whenPlaced(name);
  }

  async updateTopic(name: string, change: { partitions?: number; configs?: Record<string, string> }): Promise<void> {
    const record = this.node.topics.topic(name);
    if (!record) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    const updated = { ...record, partitions: change.partitions ?? record.partitions, configs: change.configs ?? record.configs };
    if (!(await this.node.topics.updateTopic(name, updated))) throw new FerryError('INVALID_REQUEST', `topic ${name} was changed by another request meanwhile; try again`);
    await this.whenSeen(name, () => {
      const now = this.node.topics.topic(name);
      return now !== undefined && now.partitions === updated.partitions && JSON.stringify(now.configs) === JSON.stringify(updated.configs) && this.node.topics.isAssigned(name);
    }, 'the controller did not place its new partitions');
  }

  async deleteTopic(name: string): Promise<void> {
    if (!(await this.node.topics.deleteTopic(name))) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    await this.whenSeen(name, () => !this.exists(name), 'the deletion did not reach this broker');
  }

  exists(name: string): boolean {
    return this.node.topics.topic(name) !== undefined;
  }

  topics(): string[] {
    return this.node.topics.topics().filter((name) => this.node.topics.isAssigned(name));
  }

  topic(name: string): PlacedTopic | undefined {
    const record = this.node.topics.topic(name);
    if (!record || !this.node.topics.isAssigned(name)) return undefined;
    return { topicId: record.id, partitions: record.partitions, replicationFactor: record.replicationFactor, configs: record.configs };
  }

  placement(topic: string, partition: number): PartitionPlacement | undefined {
    return this.node.topics.partition(topic, partition)?.state;
  }

  isLive(brokerId: number): boolean {
    return this.node.brokers.some((registration) => registration.id === brokerId);
  }

  brokerEndpoint(brokerId: number): BrokerEndpoint | undefined {
    const broker = this.node.brokers.find((registration) => registration.id === brokerId);
    return broker && { id: broker.id, host: broker.host, kafkaPort: broker.kafkaPort, httpPort: broker.httpPort };
  }

  onChange(listener: (topic: string) => void): void {
    this.node.topics.on('change', listener);
  }

  proposeIsr(topic: string, partition: number, leaderEpoch: number, currentIsr: readonly number[], isr: number[]): void {
    const request = { leader: this.node.brokerId, leaderEpoch, basedOn: [...currentIsr], isr };
    // A request lost to an etcd outage is made again by the leader's next ISR check.
    this.node.isrChanges.propose(topic, partition, encodeIsrChangeRequest(request)).catch((error: Error) => this.node.logger.warn({ error: error.message, topic, partition }, 'cannot send an ISR change request'));
  }

  mayLead(): boolean {
    return this.node.membership.confirmed;
  }

  /** Resolves once every partition of the topic has a state; REQUEST_TIMED_OUT after TOPIC_PLACEMENT_WAIT_MS. */
  private whenPlaced(name: string): Promise<void> {
    return this.whenSeen(name, () => this.node.topics.isAssigned(name), 'the controller did not place its partitions');
  }

  /** Resolves once `done()` holds after a change of the topic (or at once); REQUEST_TIMED_OUT, saying `missing`, after TOPIC_PLACEMENT_WAIT_MS. */
  private whenSeen(name: string, seen: () => boolean, missing: string): Promise<void> {
    const states = this.node.topics;
    if (seen()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (topic: string): void => {
        if (topic !== name || !seen()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new FerryError('REQUEST_TIMED_OUT', `topic ${name}: ${missing} within ${TOPIC_PLACEMENT_WAIT_MS} ms`));
      }, TOPIC_PLACEMENT_WAIT_MS);
      const done = (): void => {
        clearTimeout(timer);
        states.off('change', check);
      };
      states.on('change', check);
    });
  }
}
