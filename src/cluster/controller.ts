/**
 * Controller election: one broker of the cluster is its controller at a
 * time, as Kafka elected it through ZooKeeper's ephemeral /controller node:
 * the broker that creates `keys.controller` (create-if-absent, under a lease
 * of its own) is the controller; the others watch the key and try again when
 * it is deleted. A controller that stops deletes it (revokes its lease) so
 * another takes over at once; one that dies loses the role when its lease
 * expires; one whose lease is lost steps down and campaigns again.
 *
 * etcd3's Election (a queue of candidate keys, each waiting on its
 * predecessor) was used first; with brokers campaigning at once it could
 * leave no broker elected while every candidate was alive (etcd3 issue
 * #176), so the queue is not used.
 *
 * Two views: `isController` is this broker holding the key, `controllerId`
 * is who holds it as this broker last saw it (the watch).
 */

import { EventEmitter } from 'node:events';
import type { Etcd3, Lease, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { ClusterKeys } from './keys.js';

/** Pause before campaigning or watching again after etcd failed a call. */
const RETRY_MS = 1_000;

export interface ControllerOptions {
  client: Etcd3;
  keys: ClusterKeys;
  brokerId: number;
  leaseTtlSeconds: number;
  logger: Logger;
}

interface ControllerEvents {
  /** The controller changed, or this broker became or stopped being it. */
  change: [state: { controllerId: number | null; isController: boolean }];
}

export class ControllerElection extends EventEmitter<ControllerEvents> {
  private lease: Lease | null = null;
  private watcher: Watcher | null = null;
  private elected = false;
  private leaderId: number | null = null;
  private closed = false;
  private campaigning = false;
  private retryTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: ControllerOptions) {
    super();
  }

  /** Starts watching the controller key and campaigns; resolves once the first campaign has an answer. */
  static async start(options: ControllerOptions): Promise<ControllerElection> {
    const controller = new ControllerElection(options);
    await controller.watch();
    await controller.campaign();
    return controller;
  }

  get isController(): boolean {
    return this.elected;
  }

  get controllerId(): number | null {
    return this.leaderId;
  }

  /** Steps down (the key goes with the lease, so another broker is elected at once) and stops watching. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.setElected(false);
    const lease = this.lease;
    this.lease = null;
    if (lease) {
      lease.removeAllListeners('lost');
      await lease.revoke().catch(() => lease.release());
    }
    await this.watcher?.cancel();
    this.removeAllListeners();
  }

  private async watch(): Promise<void> {
    const { client, keys } = this.options;
    const watcher = await client.watch().key(keys.controller).create();
    if (this.closed) {
      await watcher.cancel();
      return;
    }
    this.watcher = watcher;
    watcher.on('put', (kv) => this.setLeaderId(parseLeader(kv.value.toString())));
    watcher.on('delete', () => {
      this.setLeaderId(null);
      void this.campaign();
    });
    watcher.on('error', (error) => {
      this.options.logger.warn({ error: error.message }, 'controller watch failed; watching again');
      this.watcher = null;
      this.retry(() => void this.watch().then(() => this.campaign()).catch((failure: Error) => this.options.logger.warn({ error: failure.message }, 'cannot watch the controller key')));
    });
    this.setLeaderId(parseLeader((await client.get(keys.controller).string()) ?? undefined));
  }

  /** Creates the controller key if nobody holds it; otherwise notes who does. One attempt at a time. */
  private async campaign(): Promise<void> {
    if (this.closed || this.elected || this.campaigning) return;
    this.campaigning = true;
    const { client, keys, brokerId, leaseTtlSeconds, logger } = this.options;
    const lease = client.lease(leaseTtlSeconds);
    try {
      const leaseId = await lease.grant();
      const result = await client
        .if(keys.controller, 'Create', '==', 0)
        .then(client.put(keys.controller).value(String(brokerId)).lease(leaseId))
        .else(client.get(keys.controller))
        .commit();
      if (this.closed) {
        await lease.revoke().catch(() => lease.release());
        return;
      }
      if (result.succeeded) {
        this.lease = lease;
        lease.on('lost', (error) => this.leaseLost(lease, error));
        logger.info({ brokerId }, 'elected controller');
        this.setLeaderId(brokerId);
        this.setElected(true);
      } else {
        await lease.revoke().catch(() => lease.release());
        const holder = result.responses[0]?.response_range.kvs[0];
        this.setLeaderId(parseLeader(holder?.value.toString()));
        // The holder's key went between the compare and now: the watch's delete comes, or try again.
        if (!holder) this.retry(() => void this.campaign());
      }
    } catch (error) {
      await lease.revoke().catch(() => lease.release());
      logger.warn({ error: (error as Error).message }, 'controller campaign failed; campaigning again');
      this.retry(() => void this.campaign());
    } finally {
      this.campaigning = false;
    }
  }

  private leaseLost(lease: Lease, error: Error): void {
    if (this.closed || lease !== this.lease) return;
    this.lease = null;
    this.options.logger.warn({ error: error.message }, 'controller lease lost; stepping down and campaigning again');
    this.setElected(false);
    this.retry(() => void this.campaign());
  }

  private retry(action: () => void): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) action();
    }, RETRY_MS);
  }

  private setElected(elected: boolean): void {
    if (this.elected === elected) return;
    this.elected = elected;
    this.emitChange();
  }

  private setLeaderId(leaderId: number | null): void {
    if (this.leaderId === leaderId) return;
    this.leaderId = leaderId;
    this.emitChange();
  }

  private emitChange(): void {
    this.emit('change', { controllerId: this.leaderId, isController: this.elected });
  }
}

/** The key's value is the controller's broker id in decimal; anything else counts as no controller. */
function parseLeader(value: string | undefined): number | null {
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/** The controller's broker id as etcd holds it now, for a one-off look (`ferry cluster describe`). */
export async function currentControllerId(client: Etcd3, keys: ClusterKeys): Promise<number | null> {
  return parseLeader((await client.get(keys.controller).string()) ?? undefined);
}
