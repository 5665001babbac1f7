/**
 * Leaders' requests to change an ISR (Kafka's AlterPartition), kept in etcd
 * at `isr-changes/<topic>/<n>` so that every change of a partition state
 * goes through the controller: a leader puts its request (a newer one
 * replaces an older), the controller checks it against the state it holds,
 * writes the new state by compare-and-swap and deletes the request.
 */

import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { decodeIsrChangeRequest, encodeIsrChangeRequest, parsePartitionKey, type ClusterKeys, type IsrChangeRequest } from './keys.js';
import { watchPrefix } from './prefix-watch.js';

export interface PendingIsrChange {
  topic: string;
  partition: number;
  request: IsrChangeRequest;
  /** The request key's mod revision: it is deleted only if no newer request replaced it. */
  modRevision: string;
}

interface IsrChangeEvents {
  change: [];
}

export class IsrChangeRequests extends EventEmitter<IsrChangeEvents> {
  private readonly pendingByKey = new Map<string, PendingIsrChange>();
  private watcher: Watcher | null = null;

  private constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly logger: Logger,
  ) {
    super();
  }

  static async open(client: Etcd3, keys: ClusterKeys, logger: Logger): Promise<IsrChangeRequests> {
    const requests = new IsrChangeRequests(client, keys, logger);
    const read = await client.getAll().prefix(keys.isrChangesPrefix).exec();
    for (const kv of read.kvs) requests.put(kv);
    requests.watcher = await watchPrefix(client, keys.isrChangesPrefix, read.header.revision, (kv) => requests.put(kv), (kv) => requests.remove(kv), logger);
    return requests;
  }

  pending(): PendingIsrChange[] {
    return [...this.pendingByKey.values()];
  }

  /** A leader's request (it replaces any earlier one for the partition). */
  async propose(topic: string, partition: number, request: IsrChangeRequest): Promise<void> {
    await this.client.put(this.keys.isrChangeKey(topic, partition)).value(encodeIsrChangeRequest(request));
  }

  /** The controller is done with a request: deleted unless a newer one took its place. */
  async done(change: PendingIsrChange): Promise<void> {
    const key = this.keys.isrChangeKey(change.topic, change.partition);
    await this.client.if(key, 'Mod', '==', change.modRevision).then(this.client.delete().key(key)).commit();
  }

  async close(): Promise<void> {
    this.removeAllListeners();
    await this.watcher?.cancel();
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const parsed = parsePartitionKey(this.keys, key, this.keys.isrChangesPrefix);
    try {
      if (!parsed) throw new Error(`${key}: not an ISR change key`);
      this.pendingByKey.set(key, { ...parsed, request: decodeIsrChangeRequest(key, kv.value.toString()), modRevision: kv.mod_revision });
    } catch (error) {
      this.logger.error({ error: (error as Error).message }, 'ignoring a bad ISR change request');
      return;
    }
    this.emit('change');
  }

  private remove(kv: IKeyValue): void {
    if (this.pendingByKey.delete(kv.key.toString())) this.emit('change');
  }
}
