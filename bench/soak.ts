/**
 * `npm run soak -- [--duration 10m] [--seed n] [--lease-ttl-seconds 3]`: a
 * fault soak of a three-broker cluster (not part of npm test or CI).
 *
 *   1. cluster: an etcd and three brokers from dist/ on loopback (soak-cluster.ts),
 *      a topic with replication factor 3, min.insync.replicas=2, --partitions
 *   2. clients: kafkajs idempotent acks=all producers writing all along, and a
 *      consumer reading all along (soak-clients.ts)
 *   3. faults: for --duration, cycles of kill -9 / SIGSTOP+SIGCONT / SIGTERM on
 *      one broker at a time, each waited out until the cluster is whole again,
 *      and its failover times measured (soak-faults.ts)
 *   4. end: producers stopped, the topic read back from offset 0 and checked
 *      (soak-check.ts), the report printed (soak-report.ts), every process
 *      stopped and every temporary directory removed
 *
 * Exits 1 on any violated invariant, failed cycle or broker exiting by itself;
 * then the brokers' logs are kept and their directory printed.
 */

import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkInvariants, type InvariantResult } from './soak-check.js';
import { LiveConsumer, readBack, SoakProducer } from './soak-clients.js';
import { SoakCluster } from './soak-cluster.js';
import { runCycle, whole, type CycleContext, type CycleResult } from './soak-faults.js';
import { parseOptions, seededRandom, SoakSetupError, USAGE, type SoakOptions } from './soak-options.js';
import { PartitionWatch } from './soak-partitions.js';
import { cycleLine, printReport } from './soak-report.js';

const TOPIC = 'soak';
const LIVE_CONSUMER_WAIT_MS = 60_000;

function progress(line: string): void {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1)} s] ${line}\n`);
}

/** Ctrl-C ends the fault cycles early; the check and the clean-up still run. */
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  progress('interrupted: finishing the current cycle, then checking');
});

async function soak(options: SoakOptions, cluster: SoakCluster): Promise<boolean> {
  await cluster.createTopic(TOPIC, options.partitions);
  const watch = await PartitionWatch.start(cluster.client, cluster.keys, TOPIC);
  const producers = await Promise.all(Array.from({ length: options.producers }, (_, index) => SoakProducer.start(index, cluster.kafkaAddresses(), TOPIC, options.partitions)));
  const live = await LiveConsumer.start(cluster.kafkaAddresses(), TOPIC);
  const context: CycleContext = { cluster, watch, producers, partitions: options.partitions, leaseTtlSeconds: options.leaseTtlSeconds, random: seededRandom(options.seed) };
  await whole(context, performance.now());
  progress(`cluster whole, producing; fault cycles for ${options.durationSeconds} s`);

  const cycles: CycleResult[] = [];
  const endAtMs = performance.now() + options.durationSeconds * 1000;
  while (performance.now() < endAtMs && !interrupted) {
    const cycle = await runCycle(context, cycles.length + 1);
    cycles.push(cycle);
    progress(cycleLine(cycle));
    if (cycle.error || cluster.unexpectedExits.length > 0) break;
  }

  await Promise.all(producers.map((producer) => producer.stop()));
  const acked = producers.flatMap((producer) => producer.acked);
  progress(`producers stopped with ${acked.length} records acknowledged; reading back`);
  const liveCaughtUp = await live.caughtUp(acked, LIVE_CONSUMER_WAIT_MS);
  await live.stop();
  await watch.close();
  let invariants: InvariantResult[];
  let recordsInLog = 0;
  try {
    const read = await readBack(cluster.kafkaAddresses(), TOPIC);
    recordsInLog = [...read.values()].reduce((sum, records) => sum + records.length, 0);
    invariants = checkInvariants(acked, read, live.served, liveCaughtUp);
  } catch (error) {
    invariants = [{ name: 'full read-back', violations: 1, examples: [(error as Error).message] }];
  }
  if (live.conflicts.length > 0) invariants.push({ name: 'live consumer never served two values at one offset', violations: live.conflicts.length, examples: live.conflicts.slice(0, 10) });

  const passed = invariants.every((invariant) => invariant.violations === 0) && cycles.every((cycle) => !cycle.error) && cluster.unexpectedExits.length === 0;
  const logsDir = passed ? null : path.join(os.tmpdir(), `ferry-soak-logs-${Date.now()}`);
  if (logsDir) cluster.writeLogs(logsDir);
  const failureMessages = new Map<string, number>();
  for (const producer of producers) for (const [message, count] of producer.failureMessages) failureMessages.set(message, (failureMessages.get(message) ?? 0) + count);
  printReport({
    seed: options.seed,
    durationSeconds: options.durationSeconds,
    leaseTtlSeconds: options.leaseTtlSeconds,
    partitions: options.partitions,
    cycles,
    acked: acked.length,
    failedSends: producers.reduce((sum, producer) => sum + producer.failedSends, 0),
    failureMessages,
    recordsInLog,
    liveConsumerRecords: live.records,
    liveConsumerCrashes: live.crashes,
    unexpectedExits: cluster.unexpectedExits,
    invariants,
    logsDir,
  });
  return passed;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  progress(`seed ${options.seed}; starting etcd and three brokers`);
  const cluster = await SoakCluster.start(options.leaseTtlSeconds);
  try {
    return (await soak(options, cluster)) ? 0 : 1;
  } catch (error) {
    const logsDir = path.join(os.tmpdir(), `ferry-soak-logs-${Date.now()}`);
    cluster.writeLogs(logsDir);
    process.stderr.write(`soak failed: ${(error as Error).stack}\nBroker logs kept in ${logsDir}\n`);
    return 1;
  } finally {
    await cluster.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(error instanceof SoakSetupError ? `${error.message}\n${USAGE}\n` : `${(error as Error).stack}\n`);
    process.exit(1);
  },
);
