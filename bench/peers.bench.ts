/**
 * Ferry side by side with its peers, in the same run, on the same workload
 * (issue 5, "Peers"): 1 KiB values, no key, one partition / stream.
 *
 *   ferry-kafka  Ferry's Kafka door
 *   ferry-ws     Ferry's WebSocket door, FerryClient, binary encoding and binary produce
 *   redis        Redis Streams (bench/peers/redis.ts), ioredis
 *   nats         NATS JetStream (bench/peers/nats.ts), nats.js
 *
 * Two runs per system, each in its own child process (the clients' settings
 * in bench/peers/settings.ts):
 *
 *   throughput  produce N records with the system's best batching, then
 *               consume them all from the start (bench/peers-load.ts)
 *   latency     open loop at fixed rates, one record per send, due time to
 *               delivery p50/p99/p99.9/max and the rate achieved
 *               (bench/peers-latency-load.ts)
 *
 * Ferry runs in this process on a fresh broker per system (as the other door
 * suites); Redis and NATS run as their own servers on loopback, each on a
 * free port with its own data directory under the run's temporary root, and
 * are stopped after (also on failure). Systems run one after the other, so
 * each gets the machine to itself. While each child runs, the broker is
 * measured (bench/probe.ts): Ferry's in this process (CPU, RSS, event-loop
 * lag), a peer's server process from /proc (CPU, RSS).
 *
 * Besides each system's figures, the suite reports Ferry / peer ratios:
 * records/s (target >= 1.5) and p99 at each rate (target <= 1). The report
 * (bench/report/) tabulates and charts them. Nothing asserts on timing.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import { startKafkaServer } from '../src/protocol/kafka/server.js';
import { startServer } from '../src/protocol/server.js';
import { runLoadScript } from './load-child.js';
import type { LatencyRun, PeersLatencyJob, PeersLatencyResult } from './peers-latency-load.js';
import type { PeersLoadJob, PeersLoadResult, Phase } from './peers-load.js';
import {
  achievedRateName,
  FERRY_SYSTEMS,
  LATENCY_RATES,
  LATENCY_RATIO_TARGET,
  LATENCY_STATS,
  latencyName,
  latencyRatioName,
  latencyUsageRun,
  PEER_SYSTEMS,
  PHASES,
  SYSTEMS,
  THROUGHPUT_RATIO_TARGET,
  throughputName,
  throughputRateName,
  throughputRatioName,
  throughputUsageRun,
  ALL_LATENCY_RATES,
  type PeerSystem,
} from './peers/names.js';
import { startNats } from './peers/nats.js';
import { startRedis } from './peers/redis.js';
import { BATCH_RECORDS, INFLIGHT, LATENCY_CLIENT_SETTINGS, SERVER_SETTINGS, THROUGHPUT_CLIENT_SETTINGS, THROUGHPUT_RECORDS, VALUE_BYTES } from './peers/settings.js';
import { brokerUsageFigures, brokerUsageNames, probeBroker, probeServerProcess, serverUsageFigures, serverUsageNames } from './probe.js';
import type { Figure, Profile, Suite, SuiteContext } from './storage.bench.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const THROUGHPUT_SCRIPT = path.join(BENCH_DIR, 'peers-load.ts');
const LATENCY_SCRIPT = path.join(BENCH_DIR, 'peers-latency-load.ts');
const MB = 1e6;
/** One system's produce and consume of 200,000 records, or its latency rates, in one child. */
const PEERS_CHILD_TIMEOUT_MS = 180_000;

/** Per rate: recorded seconds, after the unrecorded warm-up. */
const LATENCY_SECONDS: Record<Profile, number> = { quick: 0.25, default: 2, full: 5 };
const LATENCY_WARMUP_SECONDS: Record<Profile, number> = { quick: 0.1, default: 0.5, full: 1 };

const isFerry = (system: PeerSystem): boolean => (FERRY_SYSTEMS as readonly PeerSystem[]).includes(system);

// --- serving -------------------------------------------------------------------------------

type Probe = <T>(run: string, load: () => Promise<T>) => Promise<{ result: T; usage: Figure[] }>;

interface Endpoint {
  address: string;
  /** Runs `load` and measures the system's broker meanwhile; usage figures named after `run`. */
  probe: Probe;
  stop(): Promise<void>;
}

const probeThisProcess: Probe = async (run, load) => {
  const { result, usage } = await probeBroker(load);
  return { result, usage: brokerUsageFigures(run, usage) };
};

function probeProcess(server: string, pid: number): Probe {
  return async (run, load) => {
    const { result, usage } = await probeServerProcess(pid, load);
    return { result, usage: serverUsageFigures(run, server, usage) };
  };
}

async function ferryBroker(context: SuiteContext, system: PeerSystem): Promise<Broker> {
  const broker = await Broker.open({ dataDir: context.tempDir(system), autoCreateTopics: false, groups: { initialRebalanceDelayMs: 0 } });
  // 'peers' for the throughput run, 'latency' for the latency run: each starts on an empty log.
  await broker.createTopic('peers', { partitions: 1 });
  await broker.createTopic('latency', { partitions: 1 });
  return broker;
}

async function serve(context: SuiteContext, system: PeerSystem): Promise<Endpoint> {
  switch (system) {
    case 'ferry-kafka': {
      const broker = await ferryBroker(context, system);
      const server = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger: pino({ level: 'silent' }) });
      return { address: `127.0.0.1:${server.port}`, probe: probeThisProcess, stop: async () => (await server.close(), await broker.close()) };
    }
    case 'ferry-ws': {
      const broker = await ferryBroker(context, system);
      const server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
      return { address: `ws://127.0.0.1:${server.port}`, probe: probeThisProcess, stop: async () => (server.close(), await broker.close()) };
    }
    case 'redis': {
      const redis = await startRedis(context.tempDir(system));
      return { address: `127.0.0.1:${redis.port}`, probe: probeProcess('redis-server', redis.pid), stop: redis.stop };
    }
    case 'nats': {
      const nats = await startNats(context.tempDir(system));
      return { address: `127.0.0.1:${nats.port}`, probe: probeProcess('nats-server', nats.pid), stop: nats.stop };
    }
  }
}

// --- throughput --------------------------------------------------------------------------------

const recordsPerSecond = (phase: Phase): number => phase.records / (phase.elapsedMs / 1000);

async function runThroughput(context: SuiteContext, system: PeerSystem, endpoint: Endpoint): Promise<{ result: PeersLoadResult; figures: Figure[] }> {
  const records = THROUGHPUT_RECORDS[context.profile];
  context.progress(`  ${system} throughput: produce ${records.toLocaleString('en-US')} x 1 KiB, then consume them`);
  const job: PeersLoadJob = { system, address: endpoint.address, records, valueBytes: VALUE_BYTES, batchRecords: BATCH_RECORDS, inflight: INFLIGHT };
  const { result, usage } = await endpoint.probe(throughputUsageRun(system), () => runLoadScript<PeersLoadResult[]>(THROUGHPUT_SCRIPT, [job], PEERS_CHILD_TIMEOUT_MS));
  const answer = result[0];
  if (result.length !== 1 || answer?.system !== system) throw new Error(`peers-load answered for ${result.map((each) => each.system).join(',')}, not ${system}`);
  return { result: answer, figures: [...throughputFigures(answer), ...usage] };
}

function throughputFigures(result: PeersLoadResult): Figure[] {
  return PHASES.flatMap((phaseName) => {
    const phase = result[phaseName];
    const note = `${phase.records.toLocaleString('en-US')} x ${VALUE_BYTES} B, ${(phase.elapsedMs / 1000).toFixed(2)} s${phaseName === 'consume' ? ' (first record to last)' : ''}; ${SERVER_SETTINGS[result.system]}; ${THROUGHPUT_CLIENT_SETTINGS[result.system]}; client in a child process`;
    return [
      { name: throughputName(phaseName, result.system), value: recordsPerSecond(phase), unit: 'records/s', better: 'higher', note } satisfies Figure,
      { name: throughputRateName(phaseName, result.system), value: phase.valueBytes / MB / (phase.elapsedMs / 1000), unit: 'MB/s', better: 'higher', note: `value bytes only; as ${throughputName(phaseName, result.system)}` } satisfies Figure,
    ];
  });
}

/** Ferry / peer records/s, for every pair measured in this run. */
function throughputRatioFigures(results: ReadonlyMap<PeerSystem, PeersLoadResult>): Figure[] {
  const figures: Figure[] = [];
  for (const phase of PHASES) {
    for (const ferry of FERRY_SYSTEMS) {
      for (const peer of PEER_SYSTEMS) {
        const mine = results.get(ferry);
        const theirs = results.get(peer);
        if (mine === undefined || theirs === undefined) continue;
        const value = recordsPerSecond(mine[phase]) / recordsPerSecond(theirs[phase]);
        figures.push({ name: throughputRatioName(phase, ferry, peer), value, unit: 'x', better: 'higher', target: THROUGHPUT_RATIO_TARGET, note: `${phase} records/s, ${ferry} over ${peer}, same run, same workload` });
      }
    }
  }
  return figures;
}

// --- latency -------------------------------------------------------------------------------------

async function runLatency(context: SuiteContext, system: PeerSystem, endpoint: Endpoint): Promise<{ result: PeersLatencyResult; figures: Figure[] }> {
  const rates = LATENCY_RATES[context.profile];
  const job: PeersLatencyJob = { system, address: endpoint.address, valueBytes: VALUE_BYTES, rates, warmupSeconds: LATENCY_WARMUP_SECONDS[context.profile], seconds: LATENCY_SECONDS[context.profile] };
  context.progress(`  ${system} latency: ${rates.map((rate) => rate.toLocaleString('en-US')).join(', ')} records/s, ${job.seconds} s each after ${job.warmupSeconds} s warm-up`);
  const { result, usage } = await endpoint.probe(latencyUsageRun(system), () => runLoadScript<PeersLatencyResult>(LATENCY_SCRIPT, job, PEERS_CHILD_TIMEOUT_MS));
  const answered = result.runs.map((run) => run.ratePerSecond).join(',');
  if (result.system !== system || answered !== rates.join(',')) throw new Error(`peers-latency-load answered ${result.system} at ${answered}`);
  return { result, figures: [...latencyFigures(job, result), ...usage] };
}

/** Records the client refused are not in the histogram: say so where they were. */
function refusedNote(run: LatencyRun): string {
  return run.refused === 0 ? '' : `, ${run.refused.toLocaleString('en-US')} of ${run.sent.toLocaleString('en-US')} refused by the client (fell behind: ${run.firstRefusal})`;
}

function latencyFigures(job: PeersLatencyJob, result: PeersLatencyResult): Figure[] {
  return result.runs.flatMap((run) => {
    const note = `open loop ${run.ratePerSecond.toLocaleString('en-US')} records/s of ${job.valueBytes} B for ${job.seconds} s after ${job.warmupSeconds} s unrecorded warm-up, due time to delivery, hdr-histogram, ${run.recorded.toLocaleString('en-US')} samples${refusedNote(run)}; ${SERVER_SETTINGS[job.system]}; ${LATENCY_CLIENT_SETTINGS[job.system]}; producer and consumer in one child process`;
    const values = { p50: run.p50Ms, p99: run.p99Ms, 'p99.9': run.p999Ms, max: run.maxMs };
    return [
      ...LATENCY_STATS.map((stat): Figure => ({ name: latencyName(job.system, run.ratePerSecond, stat), value: values[stat], unit: 'ms', better: 'lower', note })),
      { name: achievedRateName(job.system, run.ratePerSecond), value: run.achievedPerSecond, unit: 'records/s', better: 'higher', note: `records delivered while recording over the time from the first one's due time to the last delivery${refusedNote(run)}; as ${latencyName(job.system, run.ratePerSecond, 'p99')}` },
    ];
  });
}

/** Ferry p99 / peer p99 at each rate both ran. */
function latencyRatioFigures(results: ReadonlyMap<PeerSystem, PeersLatencyResult>): Figure[] {
  const figures: Figure[] = [];
  for (const rate of ALL_LATENCY_RATES) {
    for (const ferry of FERRY_SYSTEMS) {
      for (const peer of PEER_SYSTEMS) {
        const mine = results.get(ferry)?.runs.find((run) => run.ratePerSecond === rate);
        const theirs = results.get(peer)?.runs.find((run) => run.ratePerSecond === rate);
        if (mine === undefined || theirs === undefined) continue;
        figures.push({ name: latencyRatioName(ferry, peer, rate), value: mine.p99Ms / theirs.p99Ms, unit: 'x', better: 'lower', target: LATENCY_RATIO_TARGET, note: `p99 delivery latency at ${rate.toLocaleString('en-US')} records/s, ${ferry} over ${peer} (${mine.p99Ms.toFixed(2)} / ${theirs.p99Ms.toFixed(2)} ms), same run` });
      }
    }
  }
  return figures;
}

// --- the suite ---------------------------------------------------------------------------------------

const usageNames = (run: string, system: PeerSystem): string[] => (isFerry(system) ? brokerUsageNames(run) : serverUsageNames(run));
const throughputNames = (system: PeerSystem): string[] => [...PHASES.flatMap((phase) => [throughputName(phase, system), throughputRateName(phase, system)]), ...usageNames(throughputUsageRun(system), system)];
const latencyNames = (system: PeerSystem): string[] => [
  ...ALL_LATENCY_RATES.flatMap((rate) => [...LATENCY_STATS.map((stat) => latencyName(system, rate, stat)), achievedRateName(system, rate)]),
  ...usageNames(latencyUsageRun(system), system),
];
const THROUGHPUT_RATIOS = PHASES.flatMap((phase) => FERRY_SYSTEMS.flatMap((ferry) => PEER_SYSTEMS.map((peer) => throughputRatioName(phase, ferry, peer))));
const LATENCY_RATIOS = ALL_LATENCY_RATES.flatMap((rate) => FERRY_SYSTEMS.flatMap((ferry) => PEER_SYSTEMS.map((peer) => latencyRatioName(ferry, peer, rate))));

/** A system is run if one of its figures is selected, or a ratio it is part of (a ratio needs both sides). */
function selected(context: SuiteContext, system: PeerSystem, names: readonly string[], ratios: readonly string[]): boolean {
  return names.some((name) => context.wants(name)) || ratios.some((name) => name.includes(system) && context.wants(name));
}

export const PEERS_SUITES: readonly Suite[] = [
  {
    name: 'peers',
    figureNames: [...SYSTEMS.flatMap((system) => [...throughputNames(system), ...latencyNames(system)]), ...THROUGHPUT_RATIOS, ...LATENCY_RATIOS],
    async run(context) {
      const figures: Figure[] = [];
      const throughput = new Map<PeerSystem, PeersLoadResult>();
      const latency = new Map<PeerSystem, PeersLatencyResult>();
      for (const system of SYSTEMS) {
        const wantsThroughput = selected(context, system, throughputNames(system), THROUGHPUT_RATIOS);
        const wantsLatency = selected(context, system, latencyNames(system), LATENCY_RATIOS);
        if (!wantsThroughput && !wantsLatency) continue;
        const endpoint = await serve(context, system);
        try {
          if (wantsThroughput) {
            const { result, figures: measured } = await runThroughput(context, system, endpoint);
            throughput.set(system, result);
            figures.push(...measured);
          }
          if (wantsLatency) {
            const { result, figures: measured } = await runLatency(context, system, endpoint);
            latency.set(system, result);
            figures.push(...measured);
          }
        } finally {
          await endpoint.stop();
        }
      }
      return [...figures, ...throughputRatioFigures(throughput), ...latencyRatioFigures(latency)];
    },
  },
];
