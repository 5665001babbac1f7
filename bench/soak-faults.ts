/**
 * One fault cycle of the soak on one broker, and its measurement:
 *
 *   kill   SIGKILL, then (once etcd let its lease go) started again on its data directory
 *   pause  SIGSTOP for a random pause (half to two and a half leases: some outlast the lease, some not), then SIGCONT
 *   term   SIGTERM (a clean stop), then started again
 *
 * then the cluster is waited for to be whole again (three brokers registered,
 * every partition led with all three in its ISR, and a write acknowledged on
 * every partition) before the next cycle, so that never more than one broker
 * is down and acks=all with min.insync.replicas=2 can always go on.
 *
 * Failover, per partition the victim led: from the fault (and, separately,
 * from the controller's new leader appearing in etcd: detection) to the first
 * acknowledged produce for that partition after the new leader appeared. A
 * pause that ended before any election is measured from SIGCONT instead (the
 * old leader kept the partition). A cycle's figure is its slowest partition.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PartitionState } from '../src/cluster/keys.js';
import type { BrokerProcess } from '../test/cluster/brokers.js';
import { firstAckSince, type SoakProducer } from './soak-clients.js';
import { BROKER_IDS, type SoakCluster } from './soak-cluster.js';
import type { PartitionWatch } from './soak-partitions.js';

export const FAULT_KINDS = ['kill', 'pause', 'term'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A clean stop that takes longer than this is a finding (the broker is then SIGKILLed). */
const TERM_WAIT_MS = 30_000;
/** How long a whole cluster may take to come back after a fault before the soak gives up on it. */
const SETTLE_WAIT_MS = 120_000;
const POLL_MS = 50;
const PAUSE_LEASES_MIN = 0.5;
const PAUSE_LEASES_MAX = 2.5;
const QUIET_MS_MIN = 1_000;
const QUIET_MS_MAX = 3_000;

export interface PartitionFailover {
  partition: number;
  /** A new leader was elected (false: a pause ended first and the old leader kept it). */
  elected: boolean;
  faultToDetectionMs: number | null;
  detectionToProduceMs: number | null;
  faultToProduceMs: number;
}

export interface CycleResult {
  index: number;
  kind: FaultKind;
  victim: number;
  wasController: boolean;
  pauseMs: number | null;
  failovers: PartitionFailover[];
  /** Set when the cycle did not complete; the soak stops there. */
  error: string | null;
  tookMs: number;
}

export interface CycleContext {
  cluster: SoakCluster;
  watch: PartitionWatch;
  producers: readonly SoakProducer[];
  partitions: number;
  leaseTtlSeconds: number;
  random: () => number;
}

async function until<T>(what: string, waitMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${waitMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** The cluster is whole: every broker registered, every partition led with a full ISR, and writes acknowledged on each since `sinceMs`. */
export async function whole(context: CycleContext, sinceMs: number): Promise<void> {
  const { cluster, watch, producers, partitions } = context;
  await until('all three brokers registered', SETTLE_WAIT_MS, async () => ((await cluster.registeredIds()).length === BROKER_IDS.length ? true : undefined));
  await until('every ISR full', SETTLE_WAIT_MS, () => (watch.fullIsr(partitions, BROKER_IDS.length) ? true : undefined));
  const fullAtMs = Math.max(sinceMs, performance.now());
  for (let partition = 0; partition < partitions; partition++) {
    await until(`a write acknowledged on partition ${partition}`, SETTLE_WAIT_MS, () => (firstAckSince(producers, partition, fullAtMs) ? true : undefined));
  }
}

/** A victim at random among the brokers that lead a partition (a broker leading none would measure nothing). */
export function pickVictim(context: CycleContext): number {
  const leaders = [...new Set(context.watch.current.map((state) => state.leader))].filter((id) => id !== -1).sort((a, b) => a - b);
  return leaders[Math.floor(context.random() * leaders.length)]!;
}

async function stopAndRestart(context: CycleContext, broker: BrokerProcess, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const { cluster } = context;
  cluster.expectExit(broker);
  broker.child.kill(signal);
  if (signal === 'SIGTERM') {
    const timer = setTimeout(() => broker.child.kill('SIGKILL'), TERM_WAIT_MS);
    const code = await broker.exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`broker ${broker.id} stopped by SIGTERM exited with code ${code}, signal ${broker.child.signalCode} (SIGKILLed after ${TERM_WAIT_MS} ms if still running)`);
  } else {
    await broker.exited;
  }
  await cluster.registrationGone(broker.id);
  await cluster.launch(broker.id);
}

/** Injects the fault and brings the broker back; resolves with SIGCONT's time for a pause, else null. */
async function inject(context: CycleContext, kind: FaultKind, broker: BrokerProcess, pauseMs: number | null): Promise<number | null> {
  if (kind === 'kill') await stopAndRestart(context, broker, 'SIGKILL');
  if (kind === 'term') await stopAndRestart(context, broker, 'SIGTERM');
  if (kind !== 'pause') return null;
  broker.child.kill('SIGSTOP');
  try {
    await sleep(pauseMs!);
  } finally {
    broker.child.kill('SIGCONT');
  }
  return performance.now();
}

/**
 * Each partition the victim led: when its new leader appeared and when the
 * first write after that was acknowledged, waiting (bounded) for that write.
 * A short pause's election can land just after SIGCONT, when the cluster
 * already looked whole, so the write after it may still be on its way.
 */
async function measure(context: CycleContext, led: number[], before: readonly PartitionState[], faultAtMs: number, resumedAtMs: number | null, victim: number): Promise<PartitionFailover[]> {
  const failovers: PartitionFailover[] = [];
  for (const partition of led) failovers.push(await measureOne(context, partition, before, faultAtMs, resumedAtMs, victim));
  return failovers;
}

async function measureOne(context: CycleContext, partition: number, before: readonly PartitionState[], faultAtMs: number, resumedAtMs: number | null, victim: number): Promise<PartitionFailover> {
  const former = before[partition]!;
  const detected = context.watch.firstNewLeader(partition, victim, former.leaderEpoch, faultAtMs);
  if (!detected && resumedAtMs === null) throw new Error(`partition ${partition}: no new leader after broker ${victim} stopped`);
  const gateMs = detected?.atMs ?? resumedAtMs!;
  const produced = await until(`a write acknowledged on partition ${partition} after its failover`, SETTLE_WAIT_MS, () => firstAckSince(context.producers, partition, gateMs));
  return {
    partition,
    elected: detected !== undefined,
    faultToDetectionMs: detected ? detected.atMs - faultAtMs : null,
    detectionToProduceMs: detected ? produced.ackAtMs - detected.atMs : null,
    faultToProduceMs: produced.ackAtMs - faultAtMs,
  };
}

export async function runCycle(context: CycleContext, index: number): Promise<CycleResult> {
  const kind = FAULT_KINDS[Math.floor(context.random() * FAULT_KINDS.length)]!;
  const pauseLeases = PAUSE_LEASES_MIN + context.random() * (PAUSE_LEASES_MAX - PAUSE_LEASES_MIN);
  const quietMs = QUIET_MS_MIN + context.random() * (QUIET_MS_MAX - QUIET_MS_MIN);
  const victim = pickVictim(context);
  const pauseMs = kind === 'pause' ? Math.round(pauseLeases * context.leaseTtlSeconds * 1000) : null;
  const before = [...context.watch.current];
  const led = before.flatMap((state, partition) => (state.leader === victim ? [partition] : []));
  const wasController = (await context.cluster.controllerId()) === victim;
  const faultAtMs = performance.now();
  const cycle: CycleResult = { index, kind, victim, wasController, pauseMs, failovers: [], error: null, tookMs: 0 };
  try {
    const resumedAtMs = await inject(context, kind, context.cluster.brokers.get(victim)!, pauseMs);
    await whole(context, faultAtMs);
    cycle.failovers = await measure(context, led, before, faultAtMs, resumedAtMs, victim);
    await sleep(quietMs);
  } catch (error) {
    cycle.error = (error as Error).message;
  }
  cycle.tookMs = performance.now() - faultAtMs;
  return cycle;
}
