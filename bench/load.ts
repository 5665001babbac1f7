/**
 * `npm run load -- [options]`: an end-to-end load generator for one door of
 * Ferry (issue 5). Producers and consumers run as child processes of their
 * own (bench/load-worker.ts, one door driver each in bench/load-doors.ts),
 * apart from the broker, which is a child of this process too unless
 * --broker names a running one (bench/load-broker.ts).
 *
 *   1. broker: started (temp data dir, free ports) or reached; the topic created
 *      with --partitions and the flush policy unless it exists
 *   2. children: the consumers' group offsets committed at the log end (kafka,
 *      ws); producers and consumers started and connected; then every consumer
 *      told to join at once, and the group awaited until settled with every
 *      partition assigned once (the http door's consumers read from the log end
 *      they were given)
 *   3. go: every child gets one start time; producers send for --warmup +
 *      --duration (open loop at --rate, or closed loop with --inflight requests)
 *   4. end: once every producer is answered, the consumers read to the log end,
 *      and the parent merges their HDR histograms and record bitmaps: a record
 *      acknowledged and never read, or read twice, is an error (exit 1)
 *
 * Options: load-options.ts; figures and output: load-report.ts. Nothing
 * here asserts on timing.
 */

import {
  clusterId,
  commitGroupOffsets,
  ensureTopic,
  groupSettled,
  logEndOffsets,
  sampleMetrics,
  settledLogEndOffsets,
  startOwnBroker,
  usageFromMetrics,
  usageFromProc,
  type BrokerUsageReport,
  type OwnBroker,
} from './load-broker.js';
import { CHILD_TIMEOUT_MS } from './load-child.js';
import type { DoorAddresses, DoorJob } from './load-doors.js';
import { LoadSetupError, parseOptions, usage, type LoadOptions } from './load-options.js';
import { report, table, type LoadReport, type Measured } from './load-report.js';
import type { ConsumerJob, ConsumerResult, ProducerJob, ProducerResult } from './load-worker.js';
import { epochNowMs } from './open-loop.js';
import { probeServerProcess } from './probe.js';
import { startReadyChild, type ReadyChild } from './scale-child.js';

const WORKER_SCRIPT = 'bench/load-worker.ts';
/** The go line's start time is this far ahead, so every child has it before it comes. */
const GO_LEAD_MS = 100;
const READY_WAIT_MS = 60_000;

interface Children {
  producers: Array<ReadyChild<ProducerResult>>;
  consumers: Array<ReadyChild<ConsumerResult>>;
  /** Each consumer's result line, printed once it read to the log end (before it leaves its group). */
  drained: Array<Promise<ConsumerResult>>;
  /** Rejects as soon as any child fails; never resolves. */
  failed: Promise<never>;
}

function progress(options: LoadOptions, line: string): void {
  if (!options.json) process.stderr.write(`[${(performance.now() / 1000).toFixed(1)} s] ${line}\n`);
}

async function withinWait<T>(promise: Promise<T>, waitMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new LoadSetupError(`${what}: not within ${waitMs} ms`)), waitMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

function startChildren(options: LoadOptions, door: Omit<DoorJob, 'index'>, group: string, startOffsets: number[]): Children {
  const timeoutMs = (options.warmupSeconds + options.durationSeconds) * 1000 + CHILD_TIMEOUT_MS;
  const warmupMs = options.warmupSeconds * 1000;
  const consumers: Children['consumers'] = [];
  const drained: Children['drained'] = [];
  for (let index = 0; index < options.consumers; index++) {
    const job: ConsumerJob = { ...door, index, role: 'consumer', producers: options.producers, consumers: options.consumers, group, startOffsets, warmupMs };
    let resolveDrained: (result: ConsumerResult) => void = () => {};
    const consumerDrained = new Promise<ConsumerResult>((resolve) => (resolveDrained = resolve));
    const child = startReadyChild<ConsumerResult>(WORKER_SCRIPT, job, timeoutMs, {
      onLine: (line) => {
        if (line.startsWith('{"role":"consumer"')) resolveDrained(JSON.parse(line) as ConsumerResult);
      },
    });
    consumers.push(child);
    const consumerDone = Promise.race([consumerDrained, child.result]);
    consumerDone.catch(() => undefined); // awaited once the producers are done; a failure before then is `failed`'s
    drained.push(consumerDone);
  }
  const producers = Array.from({ length: options.producers }, (_, index) => {
    const job: ProducerJob = {
      ...door,
      index,
      role: 'producer',
      producers: options.producers,
      recordBytes: options.recordBytes,
      batchRecords: options.batch,
      acks: options.acks,
      ratePerSecond: options.rate / options.producers,
      inflight: options.inflight,
      warmupMs,
      durationMs: options.durationSeconds * 1000,
    };
    return startReadyChild<ProducerResult>(WORKER_SCRIPT, job, timeoutMs);
  });
  const failed = new Promise<never>((_, reject) => {
    for (const child of [...consumers, ...producers]) child.result.catch(reject);
  });
  failed.catch(() => undefined); // raced where it matters; unobserved once the run is over
  return { producers, consumers, drained, failed };
}

/** From the go to every consumer at the log end. */
async function measure(options: LoadOptions, httpUrl: string, children: Children): Promise<Measured> {
  const startMs = epochNowMs() + GO_LEAD_MS;
  for (const child of [...children.consumers, ...children.producers]) child.go(startMs.toFixed(3));
  progress(options, `running: ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s`);
  const produced = await Promise.all(children.producers.map((child) => child.result));
  progress(options, 'producers done; consumers reading to the log end');
  if (children.consumers.length === 0) return { startMs, produced, consumed: [], metricsAfter: await sampleMetrics(httpUrl) };
  const ends = options.acks === '0' ? await settledLogEndOffsets(httpUrl, options.topic) : await logEndOffsets(httpUrl, options.topic);
  for (const child of children.consumers) child.send(`end ${JSON.stringify(ends)}`);
  const consumed = await Promise.all(children.drained);
  return { startMs, produced, consumed, metricsAfter: await sampleMetrics(httpUrl) };
}

/** Sets up, runs and reports one load; the broker it started is stopped, and every child ended, whatever happens (Ctrl-C included). */
async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const state: RunState = { own: null, children: null };
  let onInterrupt: () => void = () => {};
  const interrupted = new Promise<never>((_, reject) => (onInterrupt = () => reject(new LoadSetupError('interrupted'))));
  process.once('SIGINT', onInterrupt);
  try {
    return await Promise.race([setUpAndRun(options, state), interrupted]);
  } finally {
    process.off('SIGINT', onInterrupt);
    for (const child of [...(state.children?.producers ?? []), ...(state.children?.consumers ?? [])]) child.kill();
    const own = await state.own?.catch(() => null); // one still starting is stopped once up
    await own?.stop();
  }
}

interface RunState {
  own: Promise<OwnBroker> | null;
  children: Children | null;
}

/** What the run goes on once set up: the broker reached, the topic there, every child ready. */
interface SetUp {
  own: OwnBroker | null;
  addresses: DoorAddresses;
  partitions: number;
  children: Children;
}

/** Broker, topic, group offsets, children; resolves once every child is ready and the group (if any) settled. */
async function setUp(options: LoadOptions, state: RunState): Promise<SetUp> {
  let own: OwnBroker | null = null;
  if (options.running === null) {
    progress(options, 'starting a broker (dist/cli/ferry.js start)');
    state.own = startOwnBroker();
    own = await state.own;
  }
  const reached = options.running ?? own!.addresses;
  const addresses: DoorAddresses = { ...reached, clusterId: await clusterId(reached.httpUrl) };
  const topicConfigs: Record<string, string> = {};
  if (options.flushMessages !== null) topicConfigs['flush.messages'] = String(options.flushMessages);
  if (options.flushMs !== null) topicConfigs['flush.ms'] = String(options.flushMs);
  const topic = await ensureTopic(addresses.httpUrl, options.topic, options.partitions, topicConfigs);
  if (!topic.created && options.topicOptionsGiven) process.stderr.write(`load: topic ${options.topic} exists (${topic.partitions} partitions): --partitions and the flush options are not applied to it\n`);
  const startOffsets = await logEndOffsets(addresses.httpUrl, options.topic);
  const group = `ferry-load-${Date.now()}`;
  const grouped = options.door !== 'http' && options.consumers > 0;
  if (grouped) await commitGroupOffsets(addresses.kafka, group, options.topic, startOffsets);

  const door: Omit<DoorJob, 'index'> = { door: options.door, encoding: options.encoding, addresses, topic: options.topic, partitions: topic.partitions };
  const children = startChildren(options, door, group, startOffsets);
  state.children = children;
  await withinWait(Promise.race([Promise.all([...children.consumers, ...children.producers].map((child) => child.ready)), children.failed]), READY_WAIT_MS, 'producers and consumers ready');
  for (const child of children.consumers) child.send('join');
  if (grouped) {
    progress(options, `producers and consumers connected; waiting for group ${group} to settle`);
    await Promise.race([groupSettled(addresses.kafka, group, options.topic, topic.partitions, options.consumers), children.failed]);
  }
  progress(options, `${options.producers} producer(s) and ${options.consumers} consumer(s) ready`);
  return { own, addresses, partitions: topic.partitions, children };
}

async function setUpAndRun(options: LoadOptions, state: RunState): Promise<LoadReport> {
  const { own, addresses, partitions, children } = await setUp(options, state);
  const metricsBefore = await sampleMetrics(addresses.httpUrl); // also restarts the broker's loop-lag histogram
  let measured: Measured;
  let usage: BrokerUsageReport;
  if (own !== null) {
    const probed = await probeServerProcess(own.pid, () => measure(options, addresses.httpUrl, children));
    measured = probed.result;
    usage = usageFromProc(own.pid, probed.usage, measured.metricsAfter);
  } else {
    const wallStartedMs = performance.now();
    measured = await measure(options, addresses.httpUrl, children);
    usage = usageFromMetrics(metricsBefore, measured.metricsAfter, performance.now() - wallStartedMs);
  }
  for (const child of children.consumers) child.send('exit');
  await Promise.all(children.consumers.map((child) => child.result));
  progress(options, own === null ? 'done' : 'done; stopping the broker');
  return report(options, partitions, measured, usage);
}

async function main(): Promise<number> {
  let options: LoadOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof LoadSetupError)) throw error;
    process.stderr.write(`load: ${error.message}\n\n${usage()}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  try {
    const result = await runLoad(options);
    process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${table(result)}\n`);
    return result.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`load failed: ${error instanceof LoadSetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

// Exit once the result is out: clients' idle sockets (fetch's keep-alive pool) would hold the process a while.
process.exit(await main());
