/**
 * Operators' requests to move partitions (Kafka's AlterPartitionReassignments),
 * kept in etcd at `reassignments/<topic>/<n>` and watched by every broker so
 * that whichever is controller acts on them: `ferry partitions reassign`
 * puts a request (a newer one replaces an older: Kafka's cancel-or-change),
 * the controller starts the move in the partition state, completes it once
 * the target replicas are in sync, and deletes the request.
 */

import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { decodeReassignmentRequest, parsePartitionKey, type ClusterKeys, type ReassignmentRequest } from './keys.js';
import { watchPrefix } from './prefix-watch.js';

export interface PendingReassignment {
  topic: string;
  partition: number;
  request: ReassignmentRequest;
  /** The request key's mod revision: it is deleted only if no newer request replaced it. */
  modRevision: string;
}

interface ReassignmentEvents {
  change: [];
}

export class ReassignmentRequests extends EventEmitter<ReassignmentEvents> {
  private readonly pendingByKey = new Map<string, PendingReassignment>();
  private watcher: Watcher | null = null;

  private constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly logger: Logger,
  ) {
    super();
  }

  static async open(client: Etcd3, keys: ClusterKeys, logger: Logger): Promise<ReassignmentRequests> {
    const requests = new ReassignmentRequests(client, keys, logger);
    const read = await client.getAll().prefix(keys.reassignmentsPrefix).exec();
    for (const kv of read.kvs) requests.put(kv);
    requests.watcher = await watchPrefix(client, keys.reassignmentsPrefix, read.header.revision, (kv) => requests.put(kv), (kv) => requests.remove(kv), logger);
    return requests;
  }

  pending(): PendingReassignment[] {
    return [...this.pendingByKey.values()];
  }

  request(topic: string, partition: number): PendingReassignment | undefined {
    return this.pendingByKey.get(this.keys.reassignmentKey(topic, partition));
  }

  /** The controller is done with a request: deleted unless a newer one took its place. */
  async done(change: PendingReassignment): Promise<void> {
    const key = this.keys.reassignmentKey(change.topic, change.partition);
    await this.client.if(key, 'Mod', '==', change.modRevision).then(this.client.delete().key(key)).commit();
  }

  async close(): Promise<void> {
    this.removeAllListeners();
    await this.watcher?.cancel();
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const parsed = parsePartitionKey(this.keys, key, this.keys.reassignmentsPrefix);
    try {
      if (!parsed) throw new Error(`${key}: not a reassignment key`);
      this.pendingByKey.set(key, { ...parsed, request: decodeReassignmentRequest(key, kv.value.toString()), modRevision: kv.mod_revision });
    } catch (error) {
      this.logger.error({ error: (error as Error).message }, 'ignoring a bad reassignment request');
      return;
    }
    this.emit('change');
  }

  private remove(kv: IKeyValue): void {
    if (this.pendingByKey.delete(kv.key.toString())) this.emit('change');
  }
}
