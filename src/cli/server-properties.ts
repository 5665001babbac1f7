/**
 * `ferry start --config FILE`: a Kafka-style `server.properties` file.
 *
 *   # comments and blank lines are ignored
 *   log.dirs=/var/lib/ferry          the data directory (also data.dir)
 *   listeners.http.port=8080         HTTP and WebSocket port (also http.port)
 *   listeners.kafka.port=9092        Kafka protocol port (also kafka.port)
 *   advertised.host.name=localhost   host Kafka clients are told to connect to
 *   sasl.plain.users=alice:secret    require SASL PLAIN with these user:password pairs (comma-separated)
 *   group.initial.rebalance.delay.ms=3000, offsets.topic.num.partitions=50, offsets.retention.minutes=10080,
 *   group.min.session.timeout.ms, group.max.session.timeout.ms, group.max.size, offset.metadata.max.bytes,
 *   offsets.retention.check.interval.ms   the group coordinator, by Kafka's names
 *   host=0.0.0.0
 *   num.partitions=3
 *   auto.create.topics.enable=false
 *   producer.id.expiration.ms=86400000   idempotent producers silent this long are forgotten
 *   log.retention.ms=86400000        broker-wide topic defaults, by Kafka's broker names
 *   broker.id=1                      this broker's id (Kafka's name)
 *   etcd.endpoints=http://127.0.0.1:2379   cluster mode: etcd client URLs (comma-separated)
 *   cluster.name=default             cluster mode: the etcd key prefix /ferry/<name>/
 *   broker.rack=rack-a               cluster mode: this broker's rack (Kafka's name)
 *   etcd.lease.ttl.seconds=10        cluster mode: a silent broker leaves the cluster after this long
 *   default.replication.factor=3     cluster mode: replicas of a topic created without a count (default min(3, live brokers))
 *   replica.lag.time.max.ms=30000    cluster mode: a follower not caught up for this long leaves the ISR
 *   auto.leader.rebalance.enable=true, leader.imbalance.check.interval.seconds=300
 *                                    cluster mode: how often leaders move back to their preferred replicas
 *   min.insync.replicas=1, unclean.leader.election.enable=false   broker-wide topic defaults, as Kafka's
 *
 * Command-line flags and environment variables win over the file.
 */

import fs from 'node:fs';
import type { GroupCoordinatorSettings } from '../broker/groups/limits.js';
import { BROKER_ID_MAX, clusterKeys, LEASE_TTL_SECONDS_MIN, parseEtcdEndpoints } from '../cluster/keys.js';
import { BROKER_NAME_OF_TOPIC_CONFIG } from '../storage/log-config.js';
import { CliError } from './http-api.js';

/** Kafka's broker-level names for the topic defaults they set, as Ferry's topic config names. */
const TOPIC_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(BROKER_NAME_OF_TOPIC_CONFIG).map(([topicName, brokerName]) => [brokerName, topicName]));

/** Kafka's broker names for the group coordinator's settings, and the unit factor to its milliseconds. */
const GROUP_SETTINGS: Readonly<Record<string, { key: keyof GroupCoordinatorSettings; factor: number }>> = {
  'group.initial.rebalance.delay.ms': { key: 'initialRebalanceDelayMs', factor: 1 },
  'group.min.session.timeout.ms': { key: 'sessionTimeoutMinMs', factor: 1 },
  'group.max.session.timeout.ms': { key: 'sessionTimeoutMaxMs', factor: 1 },
  'group.max.size': { key: 'groupSizeMax', factor: 1 },
  'offset.metadata.max.bytes': { key: 'offsetMetadataBytesMax', factor: 1 },
  'offsets.topic.num.partitions': { key: 'offsetsTopicPartitions', factor: 1 },
  'offsets.retention.minutes': { key: 'offsetsRetentionMs', factor: 60_000 },
  'offsets.retention.check.interval.ms': { key: 'offsetsRetentionCheckIntervalMs', factor: 1 },
};

export interface ServerProperties {
  dataDir?: string;
  host?: string;
  httpPort?: number;
  kafkaPort?: number;
  advertisedHost?: string;
  saslPlainUsers?: Map<string, string>;
  numPartitions?: number;
  /** default.replication.factor (cluster mode). */
  defaultReplicationFactor?: number;
  autoCreateTopics?: boolean;
  producerIdExpirationMs?: number;
  brokerId?: number;
  etcd?: string[];
  clusterName?: string;
  rack?: string;
  leaseTtlSeconds?: number;
  replicaLagTimeMaxMs?: number;
  /** Preferred-leader elections every this many seconds; 0 when auto.leader.rebalance.enable=false. */
  leaderImbalanceCheckSeconds?: number;
  autoLeaderRebalance?: boolean;
  /** The group coordinator's settings given in the file (Kafka's group.* and offsets.* names). */
  groups: Partial<GroupCoordinatorSettings>;
  topicDefaults: Record<string, string>;
}

export function readServerProperties(file: string): ServerProperties {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --config ${file}: ${(error as Error).message}`);
  }
  const properties: ServerProperties = { groups: {}, topicDefaults: {} };
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) return;
    const at = line.search(/[=:]/);
    if (at <= 0) throw new CliError(`${file}:${index + 1}: expected name=value`);
    const name = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    apply(properties, name, value, `${file}:${index + 1}`);
  });
  return properties;
}

function apply(properties: ServerProperties, name: string, value: string, where: string): void {
  const integer = (min: number, max: number): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new CliError(`${where}: ${name}=${value} must be an integer from ${min} to ${max}`);
    return parsed;
  };
  switch (name) {
    case 'log.dirs':
    case 'log.dir':
    case 'data.dir':
      properties.dataDir = value;
      return;
    case 'host':
      properties.host = value;
      return;
    case 'http.port':
    case 'listeners.http.port':
      properties.httpPort = integer(0, 65535);
      return;
    case 'kafka.port':
    case 'listeners.kafka.port':
      properties.kafkaPort = integer(0, 65535);
      return;
    case 'advertised.host.name':
      properties.advertisedHost = value;
      return;
    case 'sasl.plain.users':
      try {
        properties.saslPlainUsers = parseSaslPlainUsers(value);
      } catch (error) {
        throw new CliError(`${where}: ${(error as Error).message}`);
      }
      return;
    case 'num.partitions':
      properties.numPartitions = integer(1, Number.MAX_SAFE_INTEGER);
      return;
    case 'default.replication.factor':
      properties.defaultReplicationFactor = integer(1, BROKER_ID_MAX);
      return;
    case 'auto.create.topics.enable':
      if (value !== 'true' && value !== 'false') throw new CliError(`${where}: ${name} must be true or false`);
      properties.autoCreateTopics = value === 'true';
      return;
    case 'producer.id.expiration.ms':
      properties.producerIdExpirationMs = integer(1, Number.MAX_SAFE_INTEGER);
      return;
    case 'broker.id':
      properties.brokerId = integer(0, BROKER_ID_MAX);
      return;
    case 'broker.rack':
      properties.rack = value;
      return;
    case 'etcd.lease.ttl.seconds':
      properties.leaseTtlSeconds = integer(LEASE_TTL_SECONDS_MIN, Number.MAX_SAFE_INTEGER);
      return;
    case 'replica.lag.time.max.ms':
      properties.replicaLagTimeMaxMs = integer(1, Number.MAX_SAFE_INTEGER);
      return;
    case 'leader.imbalance.check.interval.seconds':
      properties.leaderImbalanceCheckSeconds = integer(1, Number.MAX_SAFE_INTEGER);
      return;
    case 'auto.leader.rebalance.enable':
      if (value !== 'true' && value !== 'false') throw new CliError(`${where}: ${name} must be true or false`);
      properties.autoLeaderRebalance = value === 'true';
      return;
    case 'etcd.endpoints':
      properties.etcd = checked(where, () => parseEtcdEndpoints(value));
      return;
    case 'cluster.name':
      checked(where, () => clusterKeys(value));
      properties.clusterName = value;
      return;
  }
  const groupSetting = Object.hasOwn(GROUP_SETTINGS, name) ? GROUP_SETTINGS[name] : undefined;
  if (groupSetting) {
    properties.groups[groupSetting.key] = integer(name === 'group.initial.rebalance.delay.ms' ? 0 : 1, Number.MAX_SAFE_INTEGER) * groupSetting.factor;
    return;
  }
  const topicName = Object.hasOwn(TOPIC_DEFAULTS, name) ? TOPIC_DEFAULTS[name] : undefined;
  if (!topicName) throw new CliError(`${where}: unknown setting ${name}`);
  properties.topicDefaults[topicName] = value;
}

/** The value `parse` makes of a setting, or its error as a CliError naming the line. */
function checked<T>(where: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new CliError(`${where}: ${(error as Error).message}`);
  }
}

/** `alice:secret,bob:pw` as a user -> password map; a password may contain ':' but not ','. */
export function parseSaslPlainUsers(value: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const pair of value.split(',')) {
    const at = pair.indexOf(':');
    if (at <= 0) throw new Error(`SASL PLAIN users are user:password pairs separated by commas, got "${pair}"`);
    users.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return users;
}
