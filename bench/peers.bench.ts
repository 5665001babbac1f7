/**
 * Ferry side by side with its peers, in the same run, on the same workload
 * (issue 5, "Peers"): 1 KiB values, no key, one partition / stream; produce
 * `records` with each system's best batching, then consume them all from
 * the start.
 *
 *   ferry-kafka  Ferry's Kafka door, @platformatic/kafka producer, kafkajs consumer
 *                (each the faster of the two at its side: encoding, decoding)
 *   ferry-ws     Ferry's WebSocket door, FerryClient, binary encoding (of pushes:
 *                produce requests are JSON with base64 values whatever the encoding)
 *   redis        Redis Streams (bench/peers/redis.ts), ioredis
 *   nats         NATS JetStream (bench/peers/nats.ts), nats.js
 *
 * Ferry runs in this process on a fresh broker per system (as the other door
 * suites); Redis and NATS run as their own servers on loopback, each on a
 * free port with its own data directory under the run's temporary root, and
 * are stopped after (also on failure). Every client runs in one Node child
 * process (bench/peers-load.ts), one system after the other, so the client
 * language is not the difference.
 * Besides records/s and MB/s (value bytes, 1 MB = 10^6 bytes) per system,
 * the suite reports Ferry / peer ratios of records/s. Nothing asserts on
 * timing.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import { startKafkaServer } from '../src/protocol/kafka/server.js';
import { startServer } from '../src/protocol/server.js';
import type { PeerSystem, PeersLoadJob, PeersLoadResult, Phase } from './peers-load.js';
import { NATS_SETTINGS, startNats } from './peers/nats.js';
import { REDIS_SETTINGS, startRedis } from './peers/redis.js';
import { runLoadScript } from './load-child.js';
import type { Figure, Suite, SuiteContext } from './storage.bench.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const LOAD_SCRIPT = path.join(BENCH_DIR, 'peers-load.ts');
const MB = 1e6;
/** Four systems' produce and consume in one child: longer than one door's run. */
const PEERS_CHILD_TIMEOUT_MS = 300_000;

const VALUE_BYTES = 1024;
const BATCH_RECORDS = 1000;
const INFLIGHT = 4;
const RECORDS = { full: 200_000, quick: 5_000 };

const SYSTEMS: readonly PeerSystem[] = ['ferry-kafka', 'ferry-ws', 'redis', 'nats'];
const FERRY_SYSTEMS = ['ferry-kafka', 'ferry-ws'] as const;
const PEER_SYSTEMS = ['redis', 'nats'] as const;
const PHASES = ['produce', 'consume'] as const;
type PhaseName = (typeof PHASES)[number];

const throughputName = (phase: PhaseName, system: PeerSystem): string => `peers ${phase} ${system} 1KiB`;
const rateName = (phase: PhaseName, system: PeerSystem): string => `${throughputName(phase, system)} (MB/s)`;
const ratioName = (phase: PhaseName, ferry: PeerSystem, peer: PeerSystem): string => `peers ${phase} ${ferry}/${peer}`;

const FERRY_SETTINGS = 'Ferry broker in the bench process, defaults (no fsync: page cache, as Kafka), 1 partition';
const CLIENT_SETTINGS: Record<PeerSystem, string> = {
  'ferry-kafka': `@platformatic/kafka 1.35.0 producer, send() of ${BATCH_RECORDS} records, ${INFLIGHT} in flight, acks=1, no compression; kafkajs 2.2.4 consumer (2x @platformatic/kafka's reading rate here), eachBatch from the beginning, maxBytes 50 MiB, no commits`,
  'ferry-ws': `FerryClient over ws, encoding=binary (pushes as binary frames; produce requests stay JSON with base64 values: the door has no binary produce), produce() of ${BATCH_RECORDS} records, ${INFLIGHT} in flight, acks=1; subscribe from earliest, 1 MiB credit window`,
  redis: `ioredis 6.0.0, pipelines of ${BATCH_RECORDS} XADD (one field), ${INFLIGHT} pipelines in flight; XREADGROUP COUNT ${BATCH_RECORDS} NOACK, one at a time`,
  nats: `nats.js 2.29.3, async js.publish, acks awaited per window of ${BATCH_RECORDS}; pull consumer consume() max_messages ${BATCH_RECORDS}, AckPolicy.None`,
};
const SERVER_SETTINGS: Record<PeerSystem, string> = { 'ferry-kafka': FERRY_SETTINGS, 'ferry-ws': FERRY_SETTINGS, redis: REDIS_SETTINGS, nats: NATS_SETTINGS };

interface Endpoint {
  address: string;
  stop(): Promise<void>;
}

async function ferryBroker(context: SuiteContext, system: PeerSystem): Promise<Broker> {
  const broker = await Broker.open({ dataDir: context.tempDir(system), autoCreateTopics: false, groups: { initialRebalanceDelayMs: 0 } });
  await broker.createTopic('peers', { partitions: 1 });
  return broker;
}

async function serve(context: SuiteContext, system: PeerSystem): Promise<Endpoint> {
  switch (system) {
    case 'ferry-kafka': {
      const broker = await ferryBroker(context, system);
      const server = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger: pino({ level: 'silent' }) });
      return { address: `127.0.0.1:${server.port}`, stop: async () => (await server.close(), await broker.close()) };
    }
    case 'ferry-ws': {
      const broker = await ferryBroker(context, system);
      const server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
      return { address: `ws://127.0.0.1:${server.port}`, stop: async () => (server.close(), await broker.close()) };
    }
    case 'redis': {
      const redis = await startRedis(context.tempDir(system));
      return { address: `127.0.0.1:${redis.port}`, stop: redis.stop };
    }
    case 'nats': {
      const nats = await startNats(context.tempDir(system));
      return { address: `127.0.0.1:${nats.port}`, stop: nats.stop };
    }
  }
}

/** Runs bench/peers-load.ts with `jobs` in a child process; resolves with one result per job. */
async function runLoad(jobs: readonly PeersLoadJob[]): Promise<PeersLoadResult[]> {
  const results = await runLoadScript<PeersLoadResult[]>(LOAD_SCRIPT, jobs, PEERS_CHILD_TIMEOUT_MS);
  const answered = results.map((result) => result.system).join(',');
  if (answered !== jobs.map((job) => job.system).join(',')) throw new Error(`peers-load answered for ${answered}`);
  return results;
}

/** Starts every system's server, runs one child over all of them, stops every server (also on failure). */
async function measure(context: SuiteContext, systems: readonly PeerSystem[]): Promise<PeersLoadResult[]> {
  const records = context.quick ? RECORDS.quick : RECORDS.full;
  context.progress(`  ${systems.join(', ')}: each produces ${records.toLocaleString('en-US')} x 1 KiB, then consumes them`);
  const endpoints: Endpoint[] = [];
  try {
    for (const system of systems) endpoints.push(await serve(context, system));
    return await runLoad(systems.map((system, i) => ({ system, address: endpoints[i]!.address, records, valueBytes: VALUE_BYTES, batchRecords: BATCH_RECORDS, inflight: INFLIGHT })));
  } finally {
    for (const endpoint of endpoints) await endpoint.stop();
  }
}

const recordsPerSecond = (phase: Phase): number => phase.records / (phase.elapsedMs / 1000);

function systemFigures(result: PeersLoadResult): Figure[] {
  return PHASES.flatMap((phaseName) => {
    const phase = result[phaseName];
    const note = `${phase.records.toLocaleString('en-US')} x ${VALUE_BYTES} B, ${(phase.elapsedMs / 1000).toFixed(2)} s${phaseName === 'consume' ? ' (first record to last)' : ''}; ${SERVER_SETTINGS[result.system]}; ${CLIENT_SETTINGS[result.system]}; client in a child process`;
    return [
      { name: throughputName(phaseName, result.system), value: recordsPerSecond(phase), unit: 'records/s', better: 'higher', note } satisfies Figure,
      { name: rateName(phaseName, result.system), value: phase.valueBytes / MB / (phase.elapsedMs / 1000), unit: 'MB/s', better: 'higher', note: `value bytes only; as ${throughputName(phaseName, result.system)}` } satisfies Figure,
    ];
  });
}

/** Ferry / peer records/s, for every pair measured in this run. The target: >= 1.5. */
function ratioFigures(results: ReadonlyMap<PeerSystem, PeersLoadResult>): Figure[] {
  const figures: Figure[] = [];
  for (const phase of PHASES) {
    for (const ferry of FERRY_SYSTEMS) {
      for (const peer of PEER_SYSTEMS) {
        const mine = results.get(ferry);
        const theirs = results.get(peer);
        if (mine === undefined || theirs === undefined) continue;
        const value = recordsPerSecond(mine[phase]) / recordsPerSecond(theirs[phase]);
        figures.push({ name: ratioName(phase, ferry, peer), value, unit: 'x', better: 'higher', target: 1.5, note: `${phase} records/s, ${ferry} over ${peer}, same run, same workload` });
      }
    }
  }
  return figures;
}

const figureNames = (system: PeerSystem): string[] => PHASES.flatMap((phase) => [throughputName(phase, system), rateName(phase, system)]);
const RATIO_FIGURES = PHASES.flatMap((phase) => FERRY_SYSTEMS.flatMap((ferry) => PEER_SYSTEMS.map((peer) => ratioName(phase, ferry, peer))));

export const PEERS_SUITES: readonly Suite[] = [
  {
    name: 'peers',
    figureNames: [...SYSTEMS.flatMap(figureNames), ...RATIO_FIGURES],
    async run(context) {
      // A ratio needs both of its systems, so a selected ratio selects them.
      const wanted = SYSTEMS.filter((system) => figureNames(system).some((name) => context.wants(name)) || RATIO_FIGURES.some((name) => name.includes(system) && context.wants(name)));
      const results = new Map((await measure(context, wanted)).map((result) => [result.system, result]));
      return [...[...results.values()].flatMap(systemFigures), ...ratioFigures(results)];
    },
  },
];
