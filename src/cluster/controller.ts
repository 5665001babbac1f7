/**
 * Controller election: one broker of the cluster is its controller at a
 * time, chosen by etcd (etcd3's Election, the Go client's concurrency
 * election): every broker campaigns with its id under its own lease, and the
 * oldest candidate key is the controller. A controller that stops resigns
 * (revokes its campaign lease) so the next candidate takes over at once; one
 * that dies loses the role when its lease expires.
 *
 * Two views, kept apart on purpose: `isController` is this broker's own
 * campaign having won (and not failed since), `controllerId` is who etcd says
 * leads, from an observer's watch. They agree except for the moment between
 * an etcd change and its arrival here.
 */

import { EventEmitter } from 'node:events';
import type { Campaign, Election, ElectionObserver, Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { ClusterKeys } from './keys.js';

/** Pause before campaigning or observing again after etcd3 reported a failure. */
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
  private readonly election: Election;
  private campaign: Campaign | null = null;
  private observer: ElectionObserver | null = null;
  private elected = false;
  private leaderId: number | null = null;
  private closed = false;
  private retryTimers = new Set<NodeJS.Timeout>();

  private constructor(private readonly options: ControllerOptions) {
    super();
    this.election = options.client.namespace(options.keys.root).election(options.keys.controllerElection, options.leaseTtlSeconds);
  }

  /** Starts observing (resolves once the current controller, if any, is known) and campaigning. */
  static async start(options: ControllerOptions): Promise<ControllerElection> {
    const controller = new ControllerElection(options);
    await controller.observe();
    controller.runCampaign();
    return controller;
  }

  get isController(): boolean {
    return this.elected;
  }

  get controllerId(): number | null {
    return this.leaderId;
  }

  /** Resigns (a successor is elected at once) and stops observing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    const campaign = this.campaign;
    this.campaign = null;
    this.setElected(false);
    await campaign?.resign();
    await this.observer?.cancel();
    this.removeAllListeners();
  }

  private async observe(): Promise<void> {
    const observer = await this.election.observe();
    if (this.closed) {
      await observer.cancel();
      return;
    }
    this.observer = observer;
    // etcd3's first 'change' carries undefined even when there is a leader: read leader() instead.
    observer.on('change', () => this.setLeaderId(parseLeader(observer.leader())));
    observer.on('error', (error) => {
      this.options.logger.warn({ error: error.message }, 'controller observer failed; observing again');
      this.observer = null;
      this.retry(() => void this.observe().catch((failure: Error) => this.options.logger.warn({ error: failure.message }, 'cannot observe the controller election')));
    });
    this.setLeaderId(parseLeader(observer.leader()));
  }

  private runCampaign(): void {
    const campaign = this.election.campaign(String(this.options.brokerId));
    this.campaign = campaign;
    campaign.on('elected', () => {
      if (this.campaign !== campaign) return;
      this.options.logger.info({ brokerId: this.options.brokerId }, 'elected controller');
      this.setElected(true);
    });
    campaign.on('error', (error) => {
      if (this.campaign !== campaign) return;
      // The campaign's lease is gone or etcd3 gave up on it: no longer controller, campaign anew.
      this.options.logger.warn({ error: error.message, wasController: this.elected }, 'controller campaign failed; campaigning again');
      this.campaign = null;
      this.setElected(false);
      // Ends the failed campaign's own wait for its predecessors (its lease is gone, so revoking may fail).
      campaign.resign().catch(() => undefined);
      this.retry(() => this.runCampaign());
    });
  }

  private retry(action: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (!this.closed) action();
    }, RETRY_MS);
    this.retryTimers.add(timer);
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

/** A candidate's value is its broker id in decimal; anything else counts as no controller. */
function parseLeader(value: string | undefined): number | null {
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/** The controller's broker id as etcd holds it now, for a one-off look (`ferry cluster describe`). */
export async function currentControllerId(client: Etcd3, keys: ClusterKeys): Promise<number | null> {
  return parseLeader(await client.namespace(keys.root).election(keys.controllerElection).leader());
}
