/**
 * Requests addressed to the controller about one partition, kept in etcd at
 * `<prefix><topic>/<n>` and watched by every broker so that whichever is
 * controller acts on them. Two kinds use it:
 *
 *   isr-changes/     a leader's ISR change (Kafka's AlterPartition)
 *   reassignments/   an operator's move of replicas (Kafka's
 *                    AlterPartitionReassignments, `ferry partitions reassign`)
 *
 * A newer request for a partition replaces an older one; the controller
 * checks it against the state it holds, writes the outcome by
 * compare-and-swap and deletes the request, unless a newer one took its
 * place meanwhile.
 */

import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import {
  decodeIsrChangeRequest,
  decodeReassignmentRequest,
  parsePartitionKey,
  type ClusterKeys,
  type IsrChangeRequest,
  type ReassignmentRequest,
} from './keys.js';
import { watchPrefix } from './prefix-watch.js';

export interface PendingRequest<T> {
  topic: string;
  partition: number;
  request: T;
  /** The request key's mod revision: it is deleted only if no newer request replaced it. */
  modRevision: string;
}

interface RequestKind<T> {
  /** What the log calls a request of this kind. */
  name: string;
  prefix(keys: ClusterKeys): string;
  decode(key: string, value: string): T;
}

interface RequestEvents {
  change: [];
}

export class PartitionRequests<T> extends EventEmitter<RequestEvents> {
  private readonly pendingByKey = new Map<string, PendingRequest<T>>();
  private watcher: Watcher | null = null;
  private readonly prefix: string;

  private constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly kind: RequestKind<T>,
    private readonly logger: Logger,
  ) {
    super();
    this.prefix = kind.prefix(keys);
  }

  static async open<T>(client: Etcd3, keys: ClusterKeys, kind: RequestKind<T>, logger: Logger): Promise<PartitionRequests<T>> {
    const requests = new PartitionRequests(client, keys, kind, logger);
    const read = await client.getAll().prefix(requests.prefix).exec();
    for (const kv of read.kvs) requests.put(kv);
    requests.watcher = await watchPrefix(client, requests.prefix, read.header.revision, (kv) => requests.put(kv), (kv) => requests.remove(kv), logger);
    return requests;
  }

  pending(): PendingRequest<T>[] {
    return [...this.pendingByKey.values()];
  }

  request(topic: string, partition: number): PendingRequest<T> | undefined {
    return this.pendingByKey.get(this.keyOf(topic, partition));
  }

  /** Puts a request (replacing any earlier one for the partition). */
  async propose(topic: string, partition: number, value: string): Promise<void> {
    await this.client.put(this.keyOf(topic, partition)).value(value);
  }

  /** The controller is done with a request: deleted unless a newer one took its place. */
  async done(pending: PendingRequest<T>): Promise<void> {
    const key = this.keyOf(pending.topic, pending.partition);
    await this.client.if(key, 'Mod', '==', pending.modRevision).then(this.client.delete().key(key)).commit();
  }

  async close(): Promise<void> {
    this.removeAllListeners();
    await this.watcher?.cancel();
  }

  private keyOf(topic: string, partition: number): string {
    return `${this.prefix}${topic}/${partition}`;
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const parsed = parsePartitionKey(this.keys, key, this.prefix);
    try {
      if (!parsed) throw new Error(`${key}: not a ${this.kind.name} key`);
      this.pendingByKey.set(key, { ...parsed, request: this.kind.decode(key, kv.value.toString()), modRevision: kv.mod_revision });
    } catch (error) {
      this.logger.error({ error: (error as Error).message }, `ignoring a bad ${this.kind.name}`);
      return;
    }
    this.emit('change');
  }

  private remove(kv: IKeyValue): void {
    if (this.pendingByKey.delete(kv.key.toString())) this.emit('change');
  }
}

export type IsrChangeRequests = PartitionRequests<IsrChangeRequest>;
export type ReassignmentRequests = PartitionRequests<ReassignmentRequest>;
export type PendingIsrChange = PendingRequest<IsrChangeRequest>;
export type PendingReassignment = PendingRequest<ReassignmentRequest>;

export function openIsrChangeRequests(client: Etcd3, keys: ClusterKeys, logger: Logger): Promise<IsrChangeRequests> {
  return PartitionRequests.open(client, keys, { name: 'ISR change request', prefix: (k) => k.isrChangesPrefix, decode: decodeIsrChangeRequest }, logger);
}

export function openReassignmentRequests(client: Etcd3, keys: ClusterKeys, logger: Logger): Promise<ReassignmentRequests> {
  return PartitionRequests.open(client, keys, { name: 'reassignment request', prefix: (k) => k.reassignmentsPrefix, decode: decodeReassignmentRequest }, logger);
}
