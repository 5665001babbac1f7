#!/usr/bin/env node
/**
 * The `ferry` command line. Every option of `start` can also be given as an
 * environment variable (shown in `ferry start --help`).
 *
 *   ferry start                  run the broker: Kafka protocol on --kafka-port, HTTP + WebSocket on --http-port, data in --data-dir
 *   ferry topics …               create, list, describe, alter, delete topics through a running broker (like kafka-topics)
 *   ferry groups …               list, describe, delete consumer groups, reset their offsets, over the Kafka protocol (like kafka-consumer-groups)
 *   ferry produce <topic>        send stdin lines (or --file) as records (like kafka-console-producer)
 *   ferry consume <topic>        print records, one per line (like kafka-console-consumer)
 *   ferry dump-log <file.log>    print a segment's batches (and --records), like kafka-dump-log
 *   ferry cluster describe       the brokers of a cluster and its controller, from etcd (--etcd)
 *   ferry partitions reassign    move partitions' replicas between brokers, through etcd (like kafka-reassign-partitions)
 */

import { Command, InvalidArgumentError, Option } from 'commander';
import { BROKER_ID_MAX, LEASE_TTL_SECONDS_MIN } from '../cluster/keys.js';
import { FerryError } from '../errors.js';
import { dumpLog } from './dump-log.js';
import { BrokerHttpApi, CliError } from './http-api.js';
import { clusterCommand, clusterNameArgument, etcdEndpointsArgument } from './cluster.js';
import { consumeCommand } from './consume.js';
import { groupsCommand } from './groups.js';
import { partitionsCommand } from './partitions.js';
import { produceCommand } from './produce.js';
import { topicsCommand } from './topics.js';
import { parseSaslPlainUsers, readServerProperties } from './server-properties.js';
import { start, type StartOptions } from './start.js';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError('a port is an integer from 0 to 65535');
  return parsed;
}

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('a positive integer');
  return parsed;
}

function nonNegative(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('an integer, 0 or more');
  return parsed;
}

function brokerId(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > BROKER_ID_MAX) throw new InvalidArgumentError('a broker id is an integer from 0 to 2147483647');
  return parsed;
}

function leaseTtlSeconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < LEASE_TTL_SECONDS_MIN) throw new InvalidArgumentError(`whole seconds, at least ${LEASE_TTL_SECONDS_MIN}`);
  return parsed;
}

function saslUsers(value: string): Map<string, string> {
  try {
    return parseSaslPlainUsers(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** The entries of an object whose value is not undefined (optional properties stay absent). */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

const program = new Command('ferry')
  .description('Ferry: an event-streaming broker in the Kafka model')
  .addOption(new Option('--http <url>', "a running broker's HTTP address, for the commands that talk to one").default('http://localhost:8080').env('FERRY_HTTP'));

// A reader that stops early (`ferry dump-log ... | head`) closes the pipe: stop quietly, as Unix tools do, not with a stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

const write = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

program
  .command('start')
  .description('run the broker: open (and recover) the data directory, serve the Kafka protocol, HTTP and WebSocket')
  .addOption(new Option('--data-dir <dir>', 'where topics and partition logs live').default('./data').env('FERRY_DATA_DIR'))
  .addOption(new Option('--host <address>', 'address to listen on').default('0.0.0.0').env('FERRY_HOST'))
  .addOption(new Option('--http-port <port>', 'HTTP and WebSocket port').default(8080).argParser(port).env('FERRY_HTTP_PORT'))
  .addOption(new Option('--kafka-port <port>', 'Kafka protocol port').default(9092).argParser(port).env('FERRY_KAFKA_PORT'))
  .addOption(new Option('--advertised-host <host>', 'host name Kafka clients are told to connect to (Metadata, FindCoordinator)').default('localhost').env('FERRY_ADVERTISED_HOST'))
  .addOption(new Option('--sasl-plain-users <user:password,...>', 'require SASL PLAIN on the Kafka port with these users').argParser(saslUsers).env('FERRY_SASL_PLAIN_USERS'))
  .addOption(new Option('--num-partitions <n>', 'partitions of an auto-created topic (num.partitions)').default(1).argParser(positive).env('FERRY_NUM_PARTITIONS'))
  .addOption(new Option('--no-auto-create-topics', 'refuse produce to a topic that does not exist (auto.create.topics.enable=false)').env('FERRY_NO_AUTO_CREATE_TOPICS'))
  .addOption(new Option('--allow-uws-fallback', "serve on uWebSockets.js's slow ws-based fallback if its native binary does not load").default(false).env('FERRY_ALLOW_UWS_FALLBACK'))
  .addOption(new Option('--config <file>', 'a Kafka-style server.properties file; flags and environment variables win over it').env('FERRY_CONFIG'))
  .addOption(new Option('--broker-id <n>', "this broker's id (broker.id); required with --etcd").argParser(brokerId).env('FERRY_BROKER_ID'))
  .addOption(new Option('--etcd <url[,url]>', 'cluster mode: join the cluster coordinated by this etcd (etcd.endpoints); a single broker without it').argParser(etcdEndpointsArgument).env('FERRY_ETCD'))
  .addOption(new Option('--cluster-name <name>', "cluster mode: the cluster's name, its etcd key prefix /ferry/<name>/ (cluster.name)").argParser(clusterNameArgument).env('FERRY_CLUSTER_NAME'))
  .addOption(new Option('--rack <rack>', "cluster mode: this broker's rack (broker.rack)").env('FERRY_RACK'))
  .addOption(new Option('--lease-ttl-seconds <s>', 'cluster mode: a broker that stops answering leaves the cluster after this long (etcd.lease.ttl.seconds)').argParser(leaseTtlSeconds).env('FERRY_LEASE_TTL_SECONDS'))
  .addOption(new Option('--replica-lag-time-max-ms <ms>', 'cluster mode: a follower not caught up for this long leaves the ISR (replica.lag.time.max.ms, 30000)').argParser(positive).env('FERRY_REPLICA_LAG_TIME_MAX_MS'))
  .addOption(new Option('--leader-imbalance-check-interval-seconds <s>', 'cluster mode: how often leaders move back to their preferred replicas; 0 never (leader.imbalance.check.interval.seconds, 300)').argParser(nonNegative).env('FERRY_LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS'))
  .action(async (options: StartOptions & { config?: string }, command: Command) => {
    if (!options.config) return start(options);
    const file = readServerProperties(options.config);
    // A value from the file applies only where neither a flag nor an environment variable gave one.
    const fromFile = <K extends keyof StartOptions>(key: K, value: StartOptions[K] | undefined): StartOptions[K] =>
      value !== undefined && command.getOptionValueSource(key) === 'default' ? value : options[key];
    return start({
      ...options,
      dataDir: fromFile('dataDir', file.dataDir),
      host: fromFile('host', file.host),
      httpPort: fromFile('httpPort', file.httpPort),
      kafkaPort: fromFile('kafkaPort', file.kafkaPort),
      advertisedHost: fromFile('advertisedHost', file.advertisedHost),
      saslPlainUsers: options.saslPlainUsers ?? file.saslPlainUsers,
      numPartitions: fromFile('numPartitions', file.numPartitions),
      autoCreateTopics: fromFile('autoCreateTopics', file.autoCreateTopics),
      topicDefaults: file.topicDefaults,
      ...(file.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: file.producerIdExpirationMs } : {}),
      groups: file.groups,
      ...definedOnly({
        brokerId: options.brokerId ?? file.brokerId,
        etcd: options.etcd ?? file.etcd,
        clusterName: options.clusterName ?? file.clusterName,
        rack: options.rack ?? file.rack,
        leaseTtlSeconds: options.leaseTtlSeconds ?? file.leaseTtlSeconds,
        replicaLagTimeMaxMs: options.replicaLagTimeMaxMs ?? file.replicaLagTimeMaxMs,
        leaderImbalanceCheckIntervalSeconds: options.leaderImbalanceCheckIntervalSeconds ?? (file.autoLeaderRebalance === false ? 0 : file.leaderImbalanceCheckSeconds),
        defaultReplicationFactor: file.defaultReplicationFactor,
      }),
    });
  });

program
  .command('dump-log')
  .description('print the record batches of a segment file (exit 1 on a CRC failure or torn tail)')
  .argument('<file>', 'a segment .log file')
  .option('--records', 'print every record too', false)
  .action((file: string, options: { records: boolean }) => {
    const healthy = dumpLog(file, { records: options.records, write: (line) => process.stdout.write(`${line}\n`) });
    process.exitCode = healthy ? 0 : 1;
  });

program.addCommand(topicsCommand(() => new BrokerHttpApi(program.opts<{ http: string }>().http), write));
program.addCommand(produceCommand(() => program.opts<{ http: string }>().http));
program.addCommand(consumeCommand(() => program.opts<{ http: string }>().http, write));
program.addCommand(clusterCommand(write));
program.addCommand(partitionsCommand(write));
program.addCommand(groupsCommand({ write, warn: (line) => process.stderr.write(`${line}\n`) }));

try {
  await program.parseAsync();
} catch (error) {
  // Bad input from the user (a broker's answer, a config file, an unknown setting): one line, no stack.
  if (!(error instanceof CliError || error instanceof FerryError)) throw error;
  process.stderr.write(`ferry: ${error.message}\n`);
  process.exitCode = 1;
}
