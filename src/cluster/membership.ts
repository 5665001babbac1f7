/**
 * A broker's membership of the cluster: its registration at
 * `/ferry/<cluster>/brokers/<id>`, attached to an etcd lease that etcd3 keeps
 * alive. The key lives exactly as long as the lease: a broker that stops
 * cleanly revokes it (the others see the key go at once), one that dies lets
 * it expire after its TTL.
 *
 * The key is created only if absent (a transaction comparing its create
 * revision with 0), so a second live broker with the same id is refused, as
 * Kafka refuses a duplicate broker.id. When etcd says the lease is gone (it
 * expired while this broker could not reach etcd, or was revoked by someone
 * else), the broker registers again under a new lease, retrying until etcd
 * answers; if by then another broker holds the id, that is fatal.
 *
 * A broker whose event loop stood still for half its lease TTL or more (a
 * SIGSTOP, a VM freeze, a pause of that size) cannot know whether its lease
 * expired meanwhile and another broker took over its partitions: until
 * etcd confirms the lease (one keepalive sent after the stall answers with
 * time left) it is `stalled`, and the broker takes no writes as a leader.
 * An etcd outage alone does not stall it, even once etcd3 gives the lease
 * up (twice the TTL without an answer): etcd extends leases when it comes
 * back, so the broker keeps serving through an outage, as Kafka's brokers
 * do through a ZooKeeper one. acks=all stays safe either way: a broker that
 * was replaced cannot advance its high watermark without the followers,
 * which fetch from the new leader.
 */

import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';
import { decodeRegistration, encodeRegistration, type BrokerRegistration, type ClusterKeys } from './keys.js';

/** Pause between attempts to register again after a lost lease (etcd unreachable). */
const REREGISTER_RETRY_MS = 1_000;
/** How often the stall detector looks at the clock. */
const STALL_TICK_MS = 200;

export class DuplicateBrokerIdError extends Error {
  constructor(
    readonly brokerId: number,
    readonly holder: BrokerRegistration | null,
  ) {
    const where = holder ? ` (${holder.host}:${holder.kafkaPort})` : '';
    super(`broker id ${brokerId} is already registered by a live broker${where}; each broker of a cluster needs its own --broker-id`);
  }
}

export interface MembershipOptions {
  client: Etcd3;
  keys: ClusterKeys;
  registration: BrokerRegistration;
  leaseTtlSeconds: number;
  logger: Logger;
}

interface MembershipEvents {
  /** The lease was lost; the broker is not registered until 'registered'. */
  lost: [];
  /** Registered again under a new lease after a loss. */
  registered: [];
  /** Registering again is impossible (the id is taken): the broker must stop. */
  fatal: [error: Error];
  /** The event loop stood still long enough that the lease may have expired unseen. */
  stalled: [stoodStillMs: number];
  /** etcd confirmed the lease after a stall (or the broker registered again). */
  confirmed: [];
}

export class BrokerMembership extends EventEmitter<MembershipEvents> {
  private lease: Lease | null = null;
  private closed = false;
  private lastTickMs = performance.now();
  private stalled = false;
  private readonly stallTimer: NodeJS.Timeout;

  private constructor(private readonly options: MembershipOptions) {
    super();
    this.stallTimer = setInterval(() => this.checkStall(), STALL_TICK_MS);
    this.stallTimer.unref();
  }

  /** Registers the broker; rejects with DuplicateBrokerIdError when its id is taken. */
  static async register(options: MembershipOptions): Promise<BrokerMembership> {
    const membership = new BrokerMembership(options);
    await membership.registerOnce();
    return membership;
  }

  get registered(): boolean {
    return this.lease !== null;
  }

  /** Not stalled since etcd last confirmed the lease: this broker may act as a leader (also while etcd is unreachable). */
  get confirmed(): boolean {
    this.checkStall();
    return !this.stalled;
  }

  /** Half the TTL: a keepalive goes every third of it, so a live broker never stands still this long between two. */
  private get stallThresholdMs(): number {
    return (this.options.leaseTtlSeconds * 1000) / 2;
  }

  private checkStall(): void {
    const now = performance.now();
    const stoodStillMs = now - this.lastTickMs;
    this.lastTickMs = now;
    if (stoodStillMs < this.stallThresholdMs || this.closed) return;
    const first = !this.stalled;
    this.stalled = true;
    if (!first) return;
    this.options.logger.warn({ stoodStillMs: Math.round(stoodStillMs) }, 'the event loop stood still long enough to lose the cluster lease; taking no leader writes until etcd confirms it');
    this.emit('stalled', stoodStillMs);
    void this.confirmLease();
  }

  /** One keepalive sent now: time left on the lease ends the stall; a lease that is gone is lost (and registered again). */
  private async confirmLease(): Promise<void> {
    const lease = this.lease;
    if (!lease) return; // registering again: 'registered' ends the stall
    try {
      const answer = await lease.keepaliveOnce();
      if (lease !== this.lease) return;
      if (Number(answer.TTL) > 0) {
        this.endStall();
        return;
      }
      this.leaseLost(lease, new Error('etcd says the lease expired during the stall'));
    } catch (error) {
      if (lease !== this.lease || this.closed) return;
      this.options.logger.warn({ error: (error as Error).message }, 'cannot confirm the lease after a stall yet; retrying');
      await sleep(REREGISTER_RETRY_MS);
      if (this.stalled) void this.confirmLease();
    }
  }

  /** The stall is over: called when etcd confirmed the lease, or by the node once it has registered again and re-read the cluster. */
  endStall(): void {
    if (!this.stalled) return;
    this.stalled = false;
    this.emit('confirmed');
  }

  /** Revokes the lease: the registration is deleted now, not at the TTL. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.stallTimer);
    const lease = this.lease;
    this.lease = null;
    if (lease) await lease.revoke();
  }

  private async registerOnce(): Promise<void> {
    const { client, keys, registration, leaseTtlSeconds } = this.options;
    const key = keys.brokerKey(registration.id);
    const lease = client.lease(leaseTtlSeconds);
    lease.on('lost', (error) => this.leaseLost(lease, error));
    try {
      const leaseId = await lease.grant();
      const result = await client
        .if(key, 'Create', '==', 0)
        .then(client.put(key).value(encodeRegistration(registration)).lease(leaseId))
        .else(client.get(key))
        .commit();
      if (!result.succeeded) {
        const holder = result.responses[0]?.response_range.kvs[0];
        throw new DuplicateBrokerIdError(registration.id, holder ? decodeRegistration(key, holder.value.toString()) : null);
      }
    } catch (error) {
      lease.removeAllListeners('lost');
      await lease.revoke().catch(() => lease.release());
      throw error;
    }
    this.lease = lease;
    this.options.logger.info({ key, leaseTtlSeconds, lease: await lease.grant() }, 'registered in the cluster');
  }

  private leaseLost(lease: Lease, error: Error): void {
    if (this.closed || lease !== this.lease) return;
    this.lease = null;
    this.options.logger.warn({ error: error.message }, 'cluster lease lost; registering again');
    this.emit('lost');
    void this.registerAgain();
  }

  private async registerAgain(): Promise<void> {
    while (!this.closed) {
      try {
        await this.registerOnce();
        if (this.closed) {
          await this.lease?.revoke();
          return;
        }
        this.emit('registered');
        return;
      } catch (error) {
        if (error instanceof DuplicateBrokerIdError) {
          this.emit('fatal', error);
          return;
        }
        this.options.logger.warn({ error: (error as Error).message }, 'cannot register in the cluster yet; retrying');
        await sleep(REREGISTER_RETRY_MS);
      }
    }
  }
}
