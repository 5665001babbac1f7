/**
 * `ferry partitions reassign`'s input and report, as kafka-reassign-partitions
 * has them. The file:
 *
 *   {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3,4]}]}
 *
 * is checked against the cluster as etcd holds it (topics, partition counts,
 * live brokers) before anything is written; every mistake is one line
 * naming the entry. Pure: the cluster's view is passed in.
 */

import { isBrokerId, type PartitionState, type ReassignmentRequest } from '../cluster/keys.js';
import { isReassigning, reassignmentTarget } from '../cluster/reassignment.js';
import { CliError } from './http-api.js';

/** The format version kafka-reassign-partitions writes and reads. */
export const REASSIGNMENT_FILE_VERSION = 1;

export interface PlannedReassignment {
  topic: string;
  partition: number;
  replicas: number[];
}

/** What the plan is checked against: each topic's partition count, and the live broker ids. */
export interface ClusterOutline {
  partitionCounts: ReadonlyMap<string, number>;
  liveBrokers: ReadonlySet<number>;
}

/** The file's entries; throws a CliError for a file that is not one. */
export function parseReassignmentFile(file: string, text: string): PlannedReassignment[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file}: not JSON: ${(error as Error).message}`);
  }
  const body = parsed as { version?: unknown; partitions?: unknown } | null;
  if (typeof body !== 'object' || body === null || body.version !== REASSIGNMENT_FILE_VERSION || !Array.isArray(body.partitions)) {
    throw new CliError(`${file}: expected {"version":${REASSIGNMENT_FILE_VERSION},"partitions":[{"topic":…,"partition":…,"replicas":[…]}]}`);
  }
  if (body.partitions.length === 0) throw new CliError(`${file}: no partitions to reassign`);
  return body.partitions.map((entry: unknown, index: number) => parseEntry(file, index, entry));
}

function parseEntry(file: string, index: number, entry: unknown): PlannedReassignment {
  const fields = entry as { topic?: unknown; partition?: unknown; replicas?: unknown } | null;
  if (typeof fields !== 'object' || fields === null || typeof fields.topic !== 'string' || typeof fields.partition !== 'number' || !Number.isSafeInteger(fields.partition) || fields.partition < 0 || !Array.isArray(fields.replicas)) {
    throw new CliError(`${file}: partitions[${index}] needs "topic" (a name), "partition" (0 or more) and "replicas" (broker ids)`);
  }
  if (!fields.replicas.every((id) => typeof id === 'number' && isBrokerId(id))) throw new CliError(`${file}: partitions[${index}] (${fields.topic}-${fields.partition}): replicas must be broker ids, got ${JSON.stringify(fields.replicas)}`);
  return { topic: fields.topic, partition: fields.partition, replicas: [...(fields.replicas as number[])] };
}

/** Throws a CliError naming the first entry the cluster cannot take. */
export function checkPlan(plan: readonly PlannedReassignment[], cluster: ClusterOutline): void {
  const seen = new Set<string>();
  for (const { topic, partition, replicas } of plan) {
    const name = `${topic}-${partition}`;
    if (seen.has(name)) throw new CliError(`partition ${name} is listed more than once`);
    seen.add(name);
    const count = cluster.partitionCounts.get(topic);
    if (count === undefined) throw new CliError(`unknown topic ${topic}`);
    if (partition >= count) throw new CliError(`unknown partition ${name} (topic ${topic} has ${count})`);
    if (replicas.length === 0) throw new CliError(`partition ${name}: the replica list is empty`);
    const duplicate = replicas.find((id, at) => replicas.indexOf(id) !== at);
    if (duplicate !== undefined) throw new CliError(`partition ${name}: broker ${duplicate} is listed twice in its replicas`);
    const notLive = replicas.filter((id) => !cluster.liveBrokers.has(id));
    if (notLive.length > 0) throw new CliError(`partition ${name}: brokers ${notLive.join(',')} are not live (live: ${[...cluster.liveBrokers].sort((a, b) => a - b).join(',')})`);
  }
}

/** One --verify line per partition, and whether its move is done (replicas are the target, nothing running). */
export function verifyLine(planned: PlannedReassignment, state: PartitionState | undefined, request: ReassignmentRequest | undefined): { line: string; complete: boolean } {
  const name = `${planned.topic}-${planned.partition}`;
  if (!state) return { line: `Partition ${name} does not exist.`, complete: false };
  if (isReassigning(state)) {
    return { line: `Reassignment of partition ${name} is still in progress: target ${reassignmentTarget(state).join(',')}, adding ${list(state.adding)}, removing ${list(state.removing)}.`, complete: false };
  }
  if (request) return { line: `Reassignment of partition ${name} is still in progress: not started yet.`, complete: false };
  if (state.replicas.join(',') === planned.replicas.join(',')) return { line: `Reassignment of partition ${name} is complete.`, complete: true };
  return { line: `There is no active reassignment of partition ${name}, but its replica set is ${state.replicas.join(',')} rather than ${planned.replicas.join(',')}.`, complete: false };
}

function list(ids: readonly number[] | undefined): string {
  return ids && ids.length > 0 ? ids.join(',') : '-';
}
