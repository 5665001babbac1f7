/**
 * Where a cluster keeps its coordination state in etcd, and the records it
 * keeps there so far. Every key of a cluster lives under `/ferry/<cluster>/`:
 *
 *   /ferry/<cluster>/cluster-id                  the cluster's id (Kafka's form, 22 base64url characters),
 *                                                created once by the first broker to join, never changed
 *   /ferry/<cluster>/brokers/<id>                a live broker: JSON BrokerRegistration, under that broker's lease
 *   /ferry/<cluster>/controller                  the controller's broker id, under its lease (created if absent)
 *   /ferry/<cluster>/topics/<name>               a topic: JSON TopicRecord, created once (create-if-absent) by the
 *                                                broker a client asked
 *   /ferry/<cluster>/partitions/<topic>/<n>      a partition's state: JSON PartitionState, written by the controller,
 *                                                only by compare-and-swap on the key's mod revision
 *   /ferry/<cluster>/isr-changes/<topic>/<n>     a leader's request to change a partition's ISR: JSON IsrChangeRequest
 *                                                (Kafka's AlterPartition), applied and deleted by the controller
 *   /ferry/<cluster>/reassignments/<topic>/<n>   an operator's request to move a partition's replicas: JSON
 *                                                ReassignmentRequest (Kafka's AlterPartitionReassignments), started,
 *                                                completed and deleted by the controller
 *
 * Values read from etcd are outside input: parsed and checked here, once.
 */

import type { PartitionPlacement } from '../broker/topic-placements.js';

export const DEFAULT_CLUSTER_NAME = 'default';
/** etcd refuses shorter leases with its default timing (1.5 x its 1 s election timeout, rounded up). */
export const LEASE_TTL_SECONDS_MIN = 2;
/** Kafka's broker.id range. */
export const BROKER_ID_MAX = 2 ** 31 - 1;
/** A cluster name is one path segment of the keys. */
const CLUSTER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export interface BrokerRegistration {
  id: number;
  /** The host clients are told to connect to (--advertised-host). */
  host: string;
  kafkaPort: number;
  /** HTTP and WebSocket share this port (one uWebSockets.js app). */
  httpPort: number;
  rack: string | null;
}

export interface ClusterKeys {
  /** `/ferry/<cluster>/`, with its trailing slash. */
  readonly root: string;
  readonly clusterId: string;
  readonly brokersPrefix: string;
  brokerKey(id: number): string;
  /** The controller's key: its broker id, under the controller's own lease (Kafka's /controller znode). */
  readonly controller: string;
  readonly topicsPrefix: string;
  topicKey(name: string): string;
  readonly partitionsPrefix: string;
  partitionKey(topic: string, partition: number): string;
  readonly isrChangesPrefix: string;
  isrChangeKey(topic: string, partition: number): string;
  readonly reassignmentsPrefix: string;
  reassignmentKey(topic: string, partition: number): string;
}

export function clusterKeys(clusterName: string): ClusterKeys {
  if (!CLUSTER_NAME.test(clusterName)) throw new Error(`a cluster name is 1 to 64 of A-Z a-z 0-9 . _ -, got "${clusterName}"`);
  const root = `/ferry/${clusterName}/`;
  const brokersPrefix = `${root}brokers/`;
  const topicsPrefix = `${root}topics/`;
  const partitionsPrefix = `${root}partitions/`;
  const isrChangesPrefix = `${root}isr-changes/`;
  const reassignmentsPrefix = `${root}reassignments/`;
  return {
    root,
    clusterId: `${root}cluster-id`,
    brokersPrefix,
    brokerKey: (id) => `${brokersPrefix}${id}`,
    controller: `${root}controller`,
    topicsPrefix,
    topicKey: (name) => `${topicsPrefix}${name}`,
    partitionsPrefix,
    // Topic names hold no '/' (validateTopicName), so the last segment is the partition.
    partitionKey: (topic, partition) => `${partitionsPrefix}${topic}/${partition}`,
    isrChangesPrefix,
    isrChangeKey: (topic, partition) => `${isrChangesPrefix}${topic}/${partition}`,
    reassignmentsPrefix,
    reassignmentKey: (topic, partition) => `${reassignmentsPrefix}${topic}/${partition}`,
  };
}

/** A topic as the cluster knows it; its partitions' placement is in their PartitionStates. */
export interface TopicRecord {
  /** The topic id, Kafka's 22 base64url characters, made by the creating broker. */
  id: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
  /** Replicas per partition given at creation (Kafka's replica assignment), written once; absent: the controller places them. */
  assignment?: number[][];
}

/**
 * Who holds a partition, as etcd keeps it: the broker core's PartitionPlacement (Kafka's LeaderAndIsr).
 * The leader is replicas[0] when the controller assigns it. While a reassignment runs (KIP-455),
 * replicas = target followed by `removing`, and the optional fields are set; absent, there is none.
 * The target is always replicas minus removing.
 */
export type PartitionState = PartitionPlacement;

export function encodeTopicRecord(record: TopicRecord): string {
  return JSON.stringify({ id: record.id, partitions: record.partitions, replicationFactor: record.replicationFactor, configs: record.configs, ...(record.assignment ? { assignment: record.assignment } : {}) });
}

export function decodeTopicRecord(key: string, value: string): TopicRecord {
  const record = parseJson(key, value) as Partial<Record<keyof TopicRecord, unknown>> | null;
  if (
    typeof record !== 'object' || record === null ||
    typeof record.id !== 'string' || !CLUSTER_ID.test(record.id) ||
    !isCount(record.partitions) || !isCount(record.replicationFactor) ||
    typeof record.configs !== 'object' || record.configs === null ||
    !Object.values(record.configs).every((config) => typeof config === 'string') ||
    !(record.assignment === undefined || isAssignment(record.assignment, record.partitions))
  ) {
    throw new Error(`${key}: not a topic record: ${value.slice(0, 200)}`);
  }
  const assignment = record.assignment === undefined ? {} : { assignment: (record.assignment as number[][]).map((replicas) => [...replicas]) };
  return { id: record.id, partitions: record.partitions, replicationFactor: record.replicationFactor, configs: { ...(record.configs as Record<string, string>) }, ...assignment };
}

export function encodePartitionState(state: PartitionState): string {
  const reassigning = state.adding !== undefined || state.removing !== undefined;
  const reassignment = reassigning ? { adding: state.adding ?? [], removing: state.removing ?? [], throttleBytesPerSecond: state.throttleBytesPerSecond ?? null } : {};
  return JSON.stringify({ leader: state.leader, leaderEpoch: state.leaderEpoch, replicas: state.replicas, isr: state.isr, ...reassignment });
}

export function decodePartitionState(key: string, value: string): PartitionState {
  const state = parseJson(key, value) as Partial<Record<keyof PartitionState, unknown>> | null;
  const isIds = (ids: unknown): ids is number[] => Array.isArray(ids) && ids.every((id) => typeof id === 'number' && isBrokerId(id));
  if (
    typeof state !== 'object' || state === null ||
    typeof state.leader !== 'number' || !(state.leader === -1 || isBrokerId(state.leader)) ||
    typeof state.leaderEpoch !== 'number' || !Number.isInteger(state.leaderEpoch) || state.leaderEpoch < 0 ||
    !isIds(state.replicas) || state.replicas.length === 0 || !isIds(state.isr) ||
    !(state.adding === undefined || isIds(state.adding)) || !(state.removing === undefined || isIds(state.removing)) ||
    !(state.throttleBytesPerSecond === undefined || state.throttleBytesPerSecond === null || isThrottle(state.throttleBytesPerSecond))
  ) {
    throw new Error(`${key}: not a partition state: ${value.slice(0, 200)}`);
  }
  const decoded: PartitionState = { leader: state.leader, leaderEpoch: state.leaderEpoch, replicas: [...state.replicas], isr: [...state.isr] };
  if (state.adding === undefined && state.removing === undefined) return decoded;
  return { ...decoded, adding: [...(state.adding ?? [])], removing: [...(state.removing ?? [])], throttleBytesPerSecond: state.throttleBytesPerSecond ?? null };
}

/** An operator's request to move a partition to `replicas` (the first is the preferred leader), at most `throttleBytesPerSecond` while copying. */
export interface ReassignmentRequest {
  replicas: number[];
  throttleBytesPerSecond: number | null;
}

export function encodeReassignmentRequest(request: ReassignmentRequest): string {
  return JSON.stringify({ replicas: request.replicas, throttleBytesPerSecond: request.throttleBytesPerSecond });
}

export function decodeReassignmentRequest(key: string, value: string): ReassignmentRequest {
  const request = parseJson(key, value) as Partial<Record<keyof ReassignmentRequest, unknown>> | null;
  if (
    typeof request !== 'object' || request === null ||
    !Array.isArray(request.replicas) || request.replicas.length === 0 || !request.replicas.every((id) => typeof id === 'number' && isBrokerId(id)) ||
    new Set(request.replicas).size !== request.replicas.length ||
    !(request.throttleBytesPerSecond === null || isThrottle(request.throttleBytesPerSecond))
  ) {
    throw new Error(`${key}: not a reassignment request: ${value.slice(0, 200)}`);
  }
  return { replicas: [...(request.replicas as number[])], throttleBytesPerSecond: request.throttleBytesPerSecond };
}

/** A throttle is a positive whole number of bytes per second. */
export function isThrottle(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/** A leader's request for a new ISR, valid only while it still leads at `leaderEpoch`. */
export interface IsrChangeRequest {
  leader: number;
  leaderEpoch: number;
  /** The ISR the leader knew when it asked: a request made on an ISR the controller has changed since is stale. */
  basedOn?: number[];
  isr: number[];
}

export function encodeIsrChangeRequest(request: IsrChangeRequest): string {
  return JSON.stringify({ leader: request.leader, leaderEpoch: request.leaderEpoch, ...(request.basedOn ? { basedOn: request.basedOn } : {}), isr: request.isr });
}

export function decodeIsrChangeRequest(key: string, value: string): IsrChangeRequest {
  const request = parseJson(key, value) as Partial<Record<keyof IsrChangeRequest, unknown>> | null;
  if (
    typeof request !== 'object' || request === null ||
    typeof request.leader !== 'number' || !isBrokerId(request.leader) ||
    typeof request.leaderEpoch !== 'number' || !Number.isInteger(request.leaderEpoch) || request.leaderEpoch < 0 ||
    !isIdList(request.isr) || !(request.basedOn === undefined || isIdList(request.basedOn))
  ) {
    throw new Error(`${key}: not an ISR change request: ${value.slice(0, 200)}`);
  }
  return { leader: request.leader, leaderEpoch: request.leaderEpoch, ...(request.basedOn ? { basedOn: [...request.basedOn] } : {}), isr: [...request.isr] };
}

/** `<prefix><topic>/<n>` (a partition's state or ISR request key) as topic and partition; null for a key of another shape. */
export function parsePartitionKey(keys: ClusterKeys, key: string, prefix = keys.partitionsPrefix): { topic: string; partition: number } | null {
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  const slash = rest.lastIndexOf('/');
  const partition = Number(rest.slice(slash + 1));
  if (slash <= 0 || !/^\d+$/.test(rest.slice(slash + 1)) || !Number.isSafeInteger(partition)) return null;
  return { topic: rest.slice(0, slash), partition };
}

/** One non-empty list of broker ids for each of the first `partitions` partitions (the record may have grown since: later ones are placed by the controller). */
function isAssignment(value: unknown, partitions: number): boolean {
  return Array.isArray(value) && value.length <= partitions && value.every((replicas) => Array.isArray(replicas) && replicas.length > 0 && replicas.every((id) => typeof id === 'number' && isBrokerId(id)));
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'number' && isBrokerId(id));
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

function parseJson(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new Error(`${key}: not JSON: ${value.slice(0, 100)}`);
  }
}

/** Kafka's cluster id form: a uuid's 16 bytes as unpadded base64url (newKafkaId). */
const CLUSTER_ID = /^[A-Za-z0-9_-]{22}$/;

/** The cluster id read from etcd; throws naming the key when the value is not one. */
export function decodeClusterId(key: string, value: string): string {
  if (!CLUSTER_ID.test(value)) throw new Error(`${key}: not a cluster id (22 base64url characters): ${value.slice(0, 100)}`);
  return value;
}

export function isBrokerId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id <= BROKER_ID_MAX;
}

function isPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port > 0 && port <= 65535;
}

/** A registration's JSON as written to etcd. */
export function encodeRegistration(registration: BrokerRegistration): string {
  return JSON.stringify({ id: registration.id, host: registration.host, kafkaPort: registration.kafkaPort, httpPort: registration.httpPort, rack: registration.rack });
}

/** A registration read from etcd; throws naming the key when the value is not one. */
export function decodeRegistration(key: string, value: string): BrokerRegistration {
  const record = parseJson(key, value) as Partial<Record<keyof BrokerRegistration, unknown>> | null;
  if (
    typeof record !== 'object' || record === null ||
    typeof record.id !== 'number' || !isBrokerId(record.id) ||
    typeof record.host !== 'string' || record.host === '' ||
    !isPort(record.kafkaPort) || !isPort(record.httpPort) ||
    !(record.rack === null || typeof record.rack === 'string')
  ) {
    throw new Error(`${key}: not a broker registration: ${value.slice(0, 200)}`);
  }
  return { id: record.id, host: record.host, kafkaPort: record.kafkaPort, httpPort: record.httpPort, rack: record.rack };
}

/** `http://a:2379,http://b:2379` as a list of etcd endpoints; throws on an entry that is not one. */
export function parseEtcdEndpoints(value: string): string[] {
  const endpoints = value.split(',').map((endpoint) => endpoint.trim());
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) throw new Error(`an etcd endpoint is http://host:port (or https://), got "${endpoint}"`);
  }
  return endpoints;
}
