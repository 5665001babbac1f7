/**
 * The cluster's topics and partition states as etcd holds them
 * (`topics/<name>`, `partitions/<topic>/<n>`, keys.ts), kept current by one
 * watch over each prefix that starts right after the revision of the first
 * read, as BrokerDirectory does. The writes go through here too:
 *
 *   createTopic      create-if-absent (the key's create revision is 0)
 *   updateTopic      compare-and-swap on the record's mod revision (more
 *                    partitions, other configs)
 *   deleteTopic      the record, its partition states, ISR requests and
 *                    reassignment requests in one transaction
 *   writePartition   compare-and-swap on the key's mod revision as last seen
 *                    (0: the key must not exist), so two writers never lose
 *                    an update: the loser's transaction fails and it reads
 *                    the winner's state from the watch
 *
 * Every entry remembers its mod revision for the next compare-and-swap.
 */

import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { watchPrefix } from './prefix-watch.js';
import type { Logger } from 'pino';
import {
  decodePartitionState,
  decodeTopicRecord,
  encodePartitionState,
  encodeTopicRecord,
  parsePartitionKey,
  type ClusterKeys,
  type PartitionState,
  type TopicRecord,
} from './keys.js';

export interface VersionedPartitionState {
  state: PartitionState;
  /** The key's mod revision: what a compare-and-swap of this state compares against. */
  modRevision: string;
}

interface TopicStatesEvents {
  /** A topic record or a partition state was written (or a topic record deleted). */
  change: [topic: string];
}

export class TopicStates extends EventEmitter<TopicStatesEvents> {
  private readonly topicsByName = new Map<string, TopicRecord>();
  /** Each topic record's mod revision, for updateTopic's compare-and-swap. */
  private readonly topicRevisions = new Map<string, string>();
  private readonly partitionsByTopic = new Map<string, Map<number, VersionedPartitionState>>();
  private watchers: Watcher[] = [];

  private constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly logger: Logger,
  ) {
    super();
  }

  static async open(client: Etcd3, keys: ClusterKeys, logger: Logger): Promise<TopicStates> {
    const states = new TopicStates(client, keys, logger);
    const [topics, partitions] = await Promise.all([client.getAll().prefix(keys.topicsPrefix).exec(), client.getAll().prefix(keys.partitionsPrefix).exec()]);
    for (const kv of topics.kvs) states.putTopic(kv);
    for (const kv of partitions.kvs) states.putPartition(kv);
    states.watchers = await Promise.all([
      watchPrefix(client, keys.topicsPrefix, topics.header.revision, (kv) => states.putTopic(kv), (kv) => states.removeTopic(kv), logger),
      watchPrefix(client, keys.partitionsPrefix, partitions.header.revision, (kv) => states.putPartition(kv), (kv) => states.deletePartition(kv), logger),
    ]);
    return states;
  }

  topics(): string[] {
    return [...this.topicsByName.keys()];
  }

  topic(name: string): TopicRecord | undefined {
    return this.topicsByName.get(name);
  }

  partition(topic: string, partition: number): VersionedPartitionState | undefined {
    return this.partitionsByTopic.get(topic)?.get(partition);
  }

  /** Every partition of the topic has a state (the controller has assigned it). */
  isAssigned(name: string): boolean {
    const record = this.topicsByName.get(name);
    if (!record) return false;
    const partitions = this.partitionsByTopic.get(name);
    for (let partition = 0; partition < record.partitions; partition++) if (!partitions?.has(partition)) return false;
    return true;
  }

  /** Writes the topic record unless the topic exists; false when it does. */
  async createTopic(name: string, record: TopicRecord): Promise<boolean> {
    const key = this.keys.topicKey(name);
    const result = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(encodeTopicRecord(record))).commit();
    return result.succeeded;
  }

  /** Compare-and-swap on the record as last seen: false when it changed (or went) meanwhile. */
  async updateTopic(name: string, record: TopicRecord): Promise<boolean> {
    const key = this.keys.topicKey(name);
    const revision = this.topicRevisions.get(name);
    if (revision === undefined) return false;
    const result = await this.client.if(key, 'Mod', '==', revision).then(this.client.put(key).value(encodeTopicRecord(record))).commit();
    return result.succeeded;
  }

  /** Deletes the topic's record, partition states, ISR and reassignment requests at once; false when there was no record. */
  async deleteTopic(name: string): Promise<boolean> {
    const key = this.keys.topicKey(name);
    const result = await this.client
      .if(key, 'Create', '>', 0)
      .then(
        this.client.delete().key(key),
        this.client.delete().prefix(`${this.keys.partitionsPrefix}${name}/`),
        this.client.delete().prefix(`${this.keys.isrChangesPrefix}${name}/`),
        this.client.delete().prefix(`${this.keys.reassignmentsPrefix}${name}/`),
      )
      .commit();
    return result.succeeded;
  }

  /**
   * Compare-and-swap: writes the state if the key's mod revision is still
   * `expectedModRevision` ('0': absent); false otherwise. A new state ('0')
   * is written only while the topic's record is as this broker last saw it:
   * a controller whose watch has not yet delivered a topic's deletion (the
   * partition states' watch runs ahead of the records') cannot bring the
   * deleted partitions back.
   */
  async writePartition(topic: string, partition: number, state: PartitionState, expectedModRevision: string): Promise<boolean> {
    const key = this.keys.partitionKey(topic, partition);
    let guard = this.client.if(key, 'Mod', '==', expectedModRevision);
    if (expectedModRevision === '0') {
      const topicRevision = this.topicRevisions.get(topic);
      if (topicRevision === undefined) return false;
      guard = guard.and(this.keys.topicKey(topic), 'Mod', '==', topicRevision);
    }
    const result = await guard.then(this.client.put(key).value(encodePartitionState(state))).commit();
    return result.succeeded;
  }

  /**
   * Reads every partition state again and applies those the watch has not
   * delivered yet (after a stall or a lost lease, before this broker acts on
   * what it knows). States only move forward: an older revision is ignored.
   */
  async resync(): Promise<void> {
    const partitions = await this.client.getAll().prefix(this.keys.partitionsPrefix).exec();
    for (const kv of partitions.kvs) this.putPartition(kv);
  }

  async close(): Promise<void> {
    this.removeAllListeners();
    await Promise.all(this.watchers.map((watcher) => watcher.cancel()));
  }

  private putTopic(kv: IKeyValue): void {
    const key = kv.key.toString();
    const name = key.slice(this.keys.topicsPrefix.length);
    try {
      this.topicsByName.set(name, decodeTopicRecord(key, kv.value.toString()));
      this.topicRevisions.set(name, kv.mod_revision);
    } catch (error) {
      this.logger.error({ error: (error as Error).message }, 'ignoring a bad topic record');
      return;
    }
    this.emit('change', name);
  }

  private removeTopic(kv: IKeyValue): void {
    const name = kv.key.toString().slice(this.keys.topicsPrefix.length);
    this.topicRevisions.delete(name);
    if (this.topicsByName.delete(name)) this.emit('change', name);
  }

  private putPartition(kv: IKeyValue): void {
    const key = kv.key.toString();
    const parsed = parsePartitionKey(this.keys, key);
    let state: PartitionState;
    try {
      if (!parsed) throw new Error(`${key}: not a partition key`);
      state = decodePartitionState(key, kv.value.toString());
    } catch (error) {
      this.logger.error({ error: (error as Error).message }, 'ignoring a bad partition state');
      return;
    }
    let partitions = this.partitionsByTopic.get(parsed.topic);
    if (!partitions) this.partitionsByTopic.set(parsed.topic, (partitions = new Map()));
    const known = partitions.get(parsed.partition);
    if (known && BigInt(known.modRevision) >= BigInt(kv.mod_revision)) return; // a resync's copy of what the watch already gave
    partitions.set(parsed.partition, { state, modRevision: kv.mod_revision });
    this.emit('change', parsed.topic);
  }

  private deletePartition(kv: IKeyValue): void {
    const parsed = parsePartitionKey(this.keys, kv.key.toString());
    if (parsed && this.partitionsByTopic.get(parsed.topic)?.delete(parsed.partition)) this.emit('change', parsed.topic);
  }
}
