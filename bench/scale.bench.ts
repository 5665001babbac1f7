/**
 * The scale runs, run by bench/run.ts:
 *
 *   fan-out     one topic of one partition, N WebSocket subscribers (binary
 *               encoding) spread over child processes (bench/scale-fanout-load.ts,
 *               raw `ws` clients), a producer child (FerryClient, one 100 B
 *               record per produce, acks=1) at a fixed rate on the open-loop
 *               schedule; delivery latency from each record's due time to its
 *               arrival at each subscriber, broker CPU, peak RSS, event-loop
 *               lag, and RSS per subscriber (after subscribing, before producing)
 *   partitions  P partitions as topics of 100 partitions (one of P in quick):
 *               creation time, RSS and descriptors per partition, then a raw
 *               Kafka client (bench/scale-partitions-load.ts) times Metadata v12
 *               for all topics, produces one record to every partition and
 *               fetches every partition back (each must return its record)
 *
 * Sizes by profile (quick / default / full): subscribers 50 / 1,000 / 10,000;
 * partitions 50 / 2,000 / 10,000. The broker and its doors run in this
 * process, the clients in children. Figure names carry the size, so runs of
 * different profiles never compare with each other. Nothing asserts on timing.
 */

import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import { startKafkaServer } from '../src/protocol/kafka/server.js';
import { loadUws } from '../src/protocol/uws.js';
import { registerWebSocketDoor } from '../src/protocol/ws/index.js';
import { WS_LIMITS } from '../src/protocol/ws/limits.js';
import { runLoadScript } from './load-child.js';
import { brokerUsageFigures, brokerUsageNames, probeBroker } from './probe.js';
import { startReadyChild, type ReadyChild } from './scale-child.js';
import { ensureOpenFiles, openDescriptorCount, TooFewDescriptors } from './scale-descriptors.js';
import type { FanoutJob, FanoutResult } from './scale-fanout-load.js';
import type { PartitionsJob, PartitionsResult } from './scale-partitions-load.js';
import type { Figure, Profile, Suite, SuiteContext } from './storage.bench.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const FANOUT_SCRIPT = path.join(BENCH_DIR, 'scale-fanout-load.ts');
const PARTITIONS_SCRIPT = path.join(BENCH_DIR, 'scale-partitions-load.ts');
const KiB = 1024;
const MiB = 1024 * KiB;

// --- sizes ---------------------------------------------------------------------------------

const FANOUT_SUBSCRIBERS: Record<Profile, number> = { quick: 50, default: 1_000, full: 10_000 };
/** Subscriber child processes: enough that one child's JS is not the bottleneck, few enough for 2 cores. */
const FANOUT_CHILDREN: Record<Profile, number> = { quick: 1, default: 2, full: 5 };
const FANOUT_RATE_PER_SECOND = 1_000;
const FANOUT_VALUE_BYTES = 100;
const FANOUT_WARMUP_SECONDS: Record<Profile, number> = { quick: 0.2, default: 2, full: 2 };
const FANOUT_SECONDS: Record<Profile, number> = { quick: 0.5, default: 5, full: 10 };
/** Each subscriber's credit window (the protocol's default). */
const FANOUT_CREDIT_BYTES = 1 * MiB;

const PARTITIONS_PER_TOPIC = 100;
const PARTITIONS: Record<Profile, number> = { quick: 50, default: 2_000, full: 10_000 };
const METADATA_REQUESTS: Record<Profile, number> = { quick: 5, default: 50, full: 50 };
/** Topics per Fetch request: 2,000 partitions per request. */
const FETCH_TOPICS_PER_REQUEST = 20;

/** Descriptors a broker needs beyond its sockets and partitions: logs, pool workers, node itself. */
const DESCRIPTORS_SPARE = 500;
/** What one partition holds open: its active segment's .log (index files are opened only to write or sync them). */
const DESCRIPTORS_PER_PARTITION_EXPECTED = 1;
const CHILD_TIMEOUT_MS = 600_000;

const sizeLabel = (count: number): string => (count >= 1000 && count % 1000 === 0 ? `${count / 1000}k` : String(count));
const LATENCY_STATS = ['p50', 'p99', 'p99.9', 'max'] as const;

// --- figure names ----------------------------------------------------------------------------

const fanoutRun = (subscribers: number): string => `scale fan-out ${sizeLabel(subscribers)} ws subscribers`;
const fanoutNames = (subscribers: number): { latency: Record<(typeof LATENCY_STATS)[number], string>; perSubscriber: string; deliveries: string; usage: string[] } => {
  const run = fanoutRun(subscribers);
  return {
    latency: { p50: `${run} latency p50`, p99: `${run} latency p99`, 'p99.9': `${run} latency p99.9`, max: `${run} latency max` },
    perSubscriber: `${run} broker rss per subscriber`,
    deliveries: `${run} deliveries`,
    usage: brokerUsageNames(run),
  };
};

const partitionsRun = (partitions: number): string => `scale ${sizeLabel(partitions)} partitions`;
const partitionNames = (partitions: number) => {
  const run = partitionsRun(partitions);
  return {
    create: `${run} create`,
    memory: `${run} broker rss per partition`,
    descriptors: `${run} descriptors per partition`,
    metadataP50: `${run} metadata p50`,
    metadataP99: `${run} metadata p99`,
    produce: `${run} produce one each`,
    fetch: `${run} fetch all`,
    createLagMax: `${run} create loop lag max`,
  };
};

const partitionFigureNames = (partitions: number): string[] => Object.values(partitionNames(partitions));

const PROFILES: readonly Profile[] = ['quick', 'default', 'full'];
const FIGURE_NAMES = PROFILES.flatMap((profile) => {
  const fanout = fanoutNames(FANOUT_SUBSCRIBERS[profile]);
  return [...Object.values(fanout.latency), fanout.perSubscriber, fanout.deliveries, ...fanout.usage, ...partitionFigureNames(PARTITIONS[profile])];
});

// --- fan-out ---------------------------------------------------------------------------------

interface WsServer {
  url: string;
  close(): void;
}

/** The WebSocket door alone, as startServer mounts it, with room for every subscriber (WS_LIMITS.socketsMax is 10,000) and the producer. */
async function serveWebSocket(broker: Broker, socketsMax: number): Promise<WsServer> {
  const loaded = loadUws({ allowFallback: false });
  const app = loaded.uws.App();
  const closeSockets = registerWebSocketDoor(app, { broker, uws: loaded.uws, logger: pino({ level: 'silent' }) }, { ...WS_LIMITS, socketsMax: Math.max(WS_LIMITS.socketsMax, socketsMax) });
  const listenSocket = await new Promise<Exclude<Parameters<Parameters<typeof app.listen>[2]>[0], false>>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => (socket ? resolve(socket) : reject(new Error('cannot listen on 127.0.0.1'))));
  });
  return {
    url: `ws://127.0.0.1:${loaded.uws.us_socket_local_port(listenSocket)}`,
    close: () => {
      loaded.uws.us_listen_socket_close(listenSocket);
      closeSockets();
    },
  };
}

function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0)).filter((count) => count > 0);
}

async function fanoutFigures(context: SuiteContext): Promise<Figure[]> {
  const subscribers = FANOUT_SUBSCRIBERS[context.profile];
  const names = fanoutNames(subscribers);
  const run = fanoutRun(subscribers);
  const perChild = split(subscribers, FANOUT_CHILDREN[context.profile]);
  // The broker holds one socket per subscriber; each child one per subscriber it runs.
  ensureOpenFiles(subscribers + DESCRIPTORS_SPARE, `${run} (broker side)`);
  const warmupRecords = Math.round(FANOUT_RATE_PER_SECOND * FANOUT_WARMUP_SECONDS[context.profile]);
  const records = warmupRecords + Math.round(FANOUT_RATE_PER_SECOND * FANOUT_SECONDS[context.profile]);
  context.progress(`  ${run}: ${perChild.join(' + ')} subscribers, ${FANOUT_RATE_PER_SECOND.toLocaleString('en-US')} records/s for ${records.toLocaleString('en-US')} records`);

  const broker = await Broker.open({ dataDir: context.tempDir('fanout'), autoCreateTopics: false });
  const server = await serveWebSocket(broker, subscribers + 1);
  const children: Array<ReadyChild<FanoutResult>> = [];
  try {
    await broker.createTopic('fanout', { partitions: 1 });
    const rssBeforeBytes = process.memoryUsage.rss();
    const subscribed = performance.now();
    const producerJob: FanoutJob = { mode: 'producer', url: server.url, topic: 'fanout', ratePerSecond: FANOUT_RATE_PER_SECOND, records, valueBytes: FANOUT_VALUE_BYTES };
    const producer = startReadyChild<FanoutResult>(FANOUT_SCRIPT, producerJob, CHILD_TIMEOUT_MS);
    children.push(producer);
    const subscriberChildren: Array<ReadyChild<FanoutResult>> = [];
    for (const count of perChild) {
      const job: FanoutJob = { mode: 'subscribers', url: server.url, topic: 'fanout', subscribers: count, records, warmupRecords, creditBytes: FANOUT_CREDIT_BYTES, ratePerSecond: FANOUT_RATE_PER_SECOND };
      subscriberChildren.push(startReadyChild<FanoutResult>(FANOUT_SCRIPT, job, CHILD_TIMEOUT_MS));
    }
    children.push(...subscriberChildren);
    await Promise.all(subscriberChildren.map((child) => child.ready));
    const subscribeMs = performance.now() - subscribed;
    const rssPerSubscriberBytes = (process.memoryUsage.rss() - rssBeforeBytes) / subscribers;

    await producer.ready;

    const { result, usage } = await probeBroker(async () => {
      producer.go();
      const [produced, ...received] = await Promise.all([producer.result, ...subscriberChildren.map((child) => child.result)]);
      if (produced!.mode !== 'producer') throw new Error(`the producer child answered ${produced!.mode}`);
      return { produced: produced!, received };
    });

    const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    let delivered = 0;
    let recorded = 0;
    let pushes = 0;
    for (const child of result.received) {
      if (child.mode !== 'subscribers') throw new Error(`a subscriber child answered ${child.mode}`);
      merged.add(hdr.decodeFromCompressedBase64(child.histogram));
      delivered += child.delivered;
      recorded += child.recorded;
      pushes += child.pushes;
    }
    if (delivered !== records * subscribers) throw new Error(`${run}: ${delivered} records delivered, ${records} x ${subscribers} expected`);
    const elapsedMs = result.produced.elapsedMs;
    const note = `${subscribers.toLocaleString('en-US')} subscribers (binary, raw ws, ${perChild.length} child processes, credit ${FANOUT_CREDIT_BYTES / MiB} MiB) on 1 partition; producer FerryClient, ${FANOUT_RATE_PER_SECOND.toLocaleString('en-US')} records/s of ${FANOUT_VALUE_BYTES} B, 1 per produce, acks=1, open loop, ${FANOUT_SECONDS[context.profile]} s after ${FANOUT_WARMUP_SECONDS[context.profile]} s unrecorded warm-up; due time to push arrival, ${recorded.toLocaleString('en-US')} samples, ${(delivered / pushes).toFixed(1)} records per push`;
    const ms = (micros: number): number => micros / 1000;
    const latency = { p50: ms(merged.getValueAtPercentile(50)), p99: ms(merged.getValueAtPercentile(99)), 'p99.9': ms(merged.getValueAtPercentile(99.9)), max: ms(merged.maxValue) };
    return [
      ...LATENCY_STATS.map((stat): Figure => ({ name: names.latency[stat], value: latency[stat], unit: 'ms', better: 'lower', note })),
      { name: names.deliveries, value: delivered / (elapsedMs / 1000), unit: 'records/s', better: 'higher', note: `records delivered to all subscribers / the producer's run time (${(elapsedMs / 1000).toFixed(1)} s)` },
      { name: names.perSubscriber, value: rssPerSubscriberBytes / KiB, unit: 'KiB', better: 'lower', note: `broker RSS after every subscriber subscribed, minus before, / ${subscribers.toLocaleString('en-US')} (subscribing took ${(subscribeMs / 1000).toFixed(1)} s)` },
      ...brokerUsageFigures(run, usage),
    ];
  } finally {
    for (const child of children) child.kill();
    server.close();
    await broker.close();
  }
}

// --- partitions --------------------------------------------------------------------------------

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function partitionsFigures(context: SuiteContext): Promise<Figure[]> {
  const partitions = PARTITIONS[context.profile];
  const names = partitionNames(partitions);
  const run = partitionsRun(partitions);
  const perTopic = Math.min(PARTITIONS_PER_TOPIC, partitions);
  const topics = Array.from({ length: Math.ceil(partitions / perTopic) }, (_, i) => `scale-${String(i).padStart(3, '0')}`);
  ensureOpenFiles(partitions * DESCRIPTORS_PER_PARTITION_EXPECTED + DESCRIPTORS_SPARE, `${run} (${DESCRIPTORS_PER_PARTITION_EXPECTED} descriptors per partition)`);
  context.progress(`  ${run}: ${topics.length} topics x ${perTopic} partitions`);

  const broker = await Broker.open({ dataDir: context.tempDir('partitions'), autoCreateTopics: false });
  const server = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger: pino({ level: 'silent' }) });
  try {
    const descriptorsBefore = openDescriptorCount();
    const rssBeforeBytes = process.memoryUsage.rss();
    // A block at the very end would only be recorded by the next tick, hence the timer after the creating.
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const started = performance.now();
    for (const topic of topics) await broker.createTopic(topic, { partitions: perTopic });
    const createMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 5));
    lag.disable();
    const rssPerPartitionBytes = (process.memoryUsage.rss() - rssBeforeBytes) / partitions;
    const descriptorsPerPartition = (openDescriptorCount() - descriptorsBefore) / partitions;

    const job: PartitionsJob = { port: server.port, topics, partitionsPerTopic: perTopic, metadataRequests: METADATA_REQUESTS[context.profile], fetchTopicsPerRequest: FETCH_TOPICS_PER_REQUEST };
    const result = await runLoadScript<PartitionsResult>(PARTITIONS_SCRIPT, job, CHILD_TIMEOUT_MS);
    const metadataSorted = [...result.metadataMs].sort((a, b) => a - b);
    const layout = `${topics.length} topic${topics.length === 1 ? '' : 's'} x ${perTopic} partitions`;
    const metadataNote = `Metadata v12, all topics (${layout}, ${(result.metadataResponseBytes / KiB).toFixed(0)} KiB response), raw client, one request at a time, ${result.metadataMs.length} requests, write to response decoded`;
    return [
      { name: names.create, value: createMs / 1000, unit: 's', better: 'lower', note: `broker.createTopic for ${layout}, one topic after another (${((createMs * 1000) / partitions).toFixed(0)} µs per partition)` },
      { name: names.memory, value: rssPerPartitionBytes / KiB, unit: 'KiB', better: 'lower', note: `broker RSS after creating, minus before, / ${partitions.toLocaleString('en-US')} partitions (no GC forced)` },
      { name: names.descriptors, value: descriptorsPerPartition, unit: 'fds', better: 'lower', note: `open descriptors after creating, minus before, / ${partitions.toLocaleString('en-US')} partitions` },
      { name: names.metadataP50, value: percentile(metadataSorted, 50), unit: 'ms', better: 'lower', note: metadataNote },
      { name: names.metadataP99, value: percentile(metadataSorted, 99), unit: 'ms', better: 'lower', note: metadataNote },
      { name: names.produce, value: result.produceMs, unit: 'ms', better: 'lower', note: `one Produce v9 per topic (acks=1), one single-record batch per partition, ${partitions.toLocaleString('en-US')} partitions, each answered without error` },
      { name: names.createLagMax, value: lag.max / 1e6, unit: 'ms', better: 'lower', note: `the event loop's longest block while creating (monitorEventLoopDelay max, read 5 ms after the last topic), ${(createMs / topics.length).toFixed(0)} ms per topic of ${perTopic} partitions` },
      { name: names.fetch, value: result.fetchMs, unit: 'ms', better: 'lower', note: `Fetch v12 from offset 0 of every partition, ${FETCH_TOPICS_PER_REQUEST * perTopic} partitions per request (${result.fetchRequests} requests): each returned its one record (${result.recordsFetched.toLocaleString('en-US')} in all)` },
    ];
  } finally {
    await server.close();
    await broker.close();
  }
}

// --- the suite -----------------------------------------------------------------------------------

/**
 * A run this machine cannot hold open (ulimit -n) reports its figures as
 * n/a with the reason, rather than failing the whole bench run: the full
 * profile's 10,000 partitions need ~30,500 descriptors and this machine
 * allows 20,000.
 */
async function unlessTooFewDescriptors(context: SuiteContext, names: readonly string[], run: () => Promise<Figure[]>): Promise<Figure[]> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof TooFewDescriptors)) throw error;
    context.progress(`  skipped: ${error.message}`);
    return names.map((name) => ({ name, value: null, unit: '', better: 'lower', note: `not measured: ${error.message}` }));
  }
}

export const SCALE_SUITES: readonly Suite[] = [
  {
    name: 'scale',
    figureNames: FIGURE_NAMES,
    async run(context) {
      const fanout = fanoutNames(FANOUT_SUBSCRIBERS[context.profile]);
      const figures: Figure[] = [];
      const fanoutAll = [...Object.values(fanout.latency), fanout.perSubscriber, fanout.deliveries, ...fanout.usage];
      if (fanoutAll.some((name) => context.wants(name))) figures.push(...(await unlessTooFewDescriptors(context, fanoutAll, () => fanoutFigures(context))));
      const partitionsAll = partitionFigureNames(PARTITIONS[context.profile]);
      if (partitionsAll.some((name) => context.wants(name))) figures.push(...(await unlessTooFewDescriptors(context, partitionsAll, () => partitionsFigures(context))));
      return figures.filter((figure) => context.wants(figure.name));
    },
  },
];
