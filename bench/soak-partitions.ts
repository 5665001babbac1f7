/**
 * The soak topic's partition states as the controller writes them to etcd
 * (/ferry/<cluster>/partitions/<topic>/<n>), followed by an etcd watch from
 * the revision of a first read, so that every state is seen with the time it
 * was seen: a new leader's timestamp is the failover's detection time, to a
 * watch event's delay rather than to a poll interval.
 */

import { performance } from 'node:perf_hooks';
import type { Etcd3, Watcher } from 'etcd3';
import { decodePartitionState, parsePartitionKey, type ClusterKeys, type PartitionState } from '../src/cluster/keys.js';

export interface SeenState {
  atMs: number;
  partition: number;
  state: PartitionState;
}

export class PartitionWatch {
  /** Every state seen, in the order seen (the first read's states at its time). */
  readonly history: SeenState[] = [];
  readonly current: PartitionState[] = [];

  private constructor(
    private readonly keys: ClusterKeys,
    private readonly topic: string,
    private watcher: Watcher | null = null,
  ) {}

  static async start(client: Etcd3, keys: ClusterKeys, topic: string): Promise<PartitionWatch> {
    const watch = new PartitionWatch(keys, topic);
    const prefix = `${keys.partitionsPrefix}${topic}/`;
    const first = await client.getAll().prefix(prefix).exec();
    for (const kv of first.kvs) watch.seen(kv.key.toString(), kv.value.toString());
    watch.watcher = await client.watch().prefix(prefix).startRevision(String(Number(first.header.revision) + 1)).create();
    watch.watcher.on('put', (kv) => watch.seen(kv.key.toString(), kv.value.toString()));
    return watch;
  }

  async close(): Promise<void> {
    await this.watcher?.cancel();
  }

  /** Every partition led and with all `replicas` brokers in its ISR. */
  fullIsr(partitions: number, replicas: number): boolean {
    if (this.current.filter(Boolean).length !== partitions) return false;
    return this.current.every((state) => state.leader !== -1 && state.isr.length === replicas);
  }

  /** The first leader other than `formerLeader` at a newer epoch seen for `partition` at or after `sinceMs`. */
  firstNewLeader(partition: number, formerLeader: number, formerEpoch: number, sinceMs: number): SeenState | undefined {
    return this.history.find((seen) => seen.partition === partition && seen.atMs >= sinceMs && seen.state.leaderEpoch > formerEpoch && seen.state.leader !== formerLeader && seen.state.leader !== -1);
  }

  private seen(key: string, value: string): void {
    const parsed = parsePartitionKey(this.keys, key);
    if (!parsed || parsed.topic !== this.topic) return;
    const state = decodePartitionState(key, value);
    this.current[parsed.partition] = state;
    this.history.push({ atMs: performance.now(), partition: parsed.partition, state });
  }
}
