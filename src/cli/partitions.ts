/**
 * `ferry partitions reassign`, modelled on kafka-reassign-partitions, talking
 * to etcd directly (as `ferry cluster describe` does), since the controller
 * takes its work from there:
 *
 *   --execute  checks the file against the cluster, prints the current
 *              assignment (to roll back with), and writes one request per
 *              partition at reassignments/<topic>/<n>; a partition already
 *              moving gets the new target (Kafka's replace).
 *   --verify   prints each partition's status; exit 1 while any is not done.
 */

import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Etcd3 } from 'etcd3';
import {
  clusterKeys,
  decodePartitionState,
  decodeReassignmentRequest,
  decodeTopicRecord,
  DEFAULT_CLUSTER_NAME,
  encodeReassignmentRequest,
  isThrottle,
  type ClusterKeys,
  type PartitionState,
} from '../cluster/keys.js';
import { clusterNameArgument, etcdEndpointsArgument } from './cluster.js';
import { CliError } from './http-api.js';
import { checkPlan, parseReassignmentFile, REASSIGNMENT_FILE_VERSION, verifyLine, type PlannedReassignment } from './reassignment-plan.js';

type Write = (line: string) => void;

interface ReassignOptions {
  etcd: string[];
  clusterName: string;
  reassignmentJsonFile: string;
  throttle?: number;
  execute: boolean;
  verify: boolean;
}

function throttle(value: string): number {
  const parsed = Number(value);
  if (!isThrottle(parsed)) throw new InvalidArgumentError('bytes per second, a positive integer');
  return parsed;
}

export function partitionsCommand(write: Write): Command {
  const partitions = new Command('partitions').description("move partitions' replicas between brokers (like kafka-reassign-partitions), through etcd");
  partitions
    .command('reassign')
    .description('start (--execute) or check (--verify) the moves a reassignment JSON file describes')
    .addOption(new Option('--etcd <url[,url]>', 'etcd client URLs').argParser(etcdEndpointsArgument).makeOptionMandatory().env('FERRY_ETCD'))
    .addOption(new Option('--cluster-name <name>', "the cluster's name (its etcd key prefix /ferry/<name>/)").default(DEFAULT_CLUSTER_NAME).argParser(clusterNameArgument).env('FERRY_CLUSTER_NAME'))
    .requiredOption('--reassignment-json-file <file>', `{"version":${REASSIGNMENT_FILE_VERSION},"partitions":[{"topic":"t","partition":0,"replicas":[2,3,4]}]}`)
    .addOption(new Option('--throttle <bytes/s>', 'with --execute: most bytes per second each new replica copies').argParser(throttle))
    .option('--execute', 'start the reassignment', false)
    .option('--verify', 'print the status of each partition; exit 1 while any is still moving', false)
    .action(async (options: ReassignOptions) => {
      if (options.execute === options.verify) throw new CliError('give exactly one of --execute and --verify');
      if (options.verify && options.throttle !== undefined) throw new CliError('--throttle goes with --execute');
      let text: string;
      try {
        text = fs.readFileSync(options.reassignmentJsonFile, 'utf8');
      } catch (error) {
        throw new CliError(`cannot read ${options.reassignmentJsonFile}: ${(error as Error).message}`);
      }
      const plan = parseReassignmentFile(options.reassignmentJsonFile, text);
      // Loaded here, not at the top: the other commands never load etcd3 and its gRPC stack.
      const [{ connectEtcd }, { listBrokers }] = await Promise.all([import('../cluster/etcd-client.js'), import('../cluster/broker-directory.js')]);
      const keys = clusterKeys(options.clusterName);
      const client = connectEtcd(options.etcd);
      try {
        if (options.verify) {
          process.exitCode = (await verify(client, keys, plan, write)) ? 0 : 1;
          return;
        }
        const [partitionCounts, brokers] = await Promise.all([readPartitionCounts(client, keys), listBrokers(client, keys)]);
        checkPlan(plan, { partitionCounts, liveBrokers: new Set(brokers.map((broker) => broker.id)) });
        await execute(client, keys, plan, options.throttle ?? null, write);
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError(`cannot reach the cluster through etcd ${options.etcd.join(',')}: ${(error as Error).message}`);
      } finally {
        client.close();
      }
    });
  return partitions;
}

async function execute(client: Etcd3, keys: ClusterKeys, plan: readonly PlannedReassignment[], throttleBytesPerSecond: number | null, write: Write): Promise<void> {
  const states = await Promise.all(plan.map((planned) => readState(client, keys, planned)));
  const current = plan.map((planned, index) => ({ topic: planned.topic, partition: planned.partition, replicas: states[index]?.replicas ?? [] }));
  write('Current partition replica assignment');
  write('');
  write(JSON.stringify({ version: REASSIGNMENT_FILE_VERSION, partitions: current }));
  write('');
  write('Save this to use as the --reassignment-json-file option during rollback');
  for (const { topic, partition, replicas } of plan) {
    await client.put(keys.reassignmentKey(topic, partition)).value(encodeReassignmentRequest({ replicas, throttleBytesPerSecond }));
  }
  write(`Successfully started partition reassignments for ${plan.map((planned) => `${planned.topic}-${planned.partition}`).join(',')}`);
}

/** Prints a line per partition; true when every one is complete. */
async function verify(client: Etcd3, keys: ClusterKeys, plan: readonly PlannedReassignment[], write: Write): Promise<boolean> {
  write('Status of partition reassignment:');
  let complete = true;
  for (const planned of plan) {
    const [state, requested] = await Promise.all([readState(client, keys, planned), client.get(keys.reassignmentKey(planned.topic, planned.partition)).string()]);
    const key = keys.reassignmentKey(planned.topic, planned.partition);
    const status = verifyLine(planned, state, requested === null ? undefined : decodeReassignmentRequest(key, requested));
    write(status.line);
    complete &&= status.complete;
  }
  return complete;
}

async function readPartitionCounts(client: Etcd3, keys: ClusterKeys): Promise<Map<string, number>> {
  const topics = await client.getAll().prefix(keys.topicsPrefix).exec();
  const counts = new Map<string, number>();
  for (const kv of topics.kvs) counts.set(kv.key.toString().slice(keys.topicsPrefix.length), decodeTopicRecord(kv.key.toString(), kv.value.toString()).partitions);
  return counts;
}

async function readState(client: Etcd3, keys: ClusterKeys, planned: PlannedReassignment): Promise<PartitionState | undefined> {
  const key = keys.partitionKey(planned.topic, planned.partition);
  const value = await client.get(key).string();
  return value === null ? undefined : decodePartitionState(key, value);
}
