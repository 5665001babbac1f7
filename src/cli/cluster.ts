/**
 * `ferry cluster describe`: the live brokers of a cluster and its controller,
 * read straight from etcd (so it works with no broker reachable):
 *
 *   BROKER-ID  KAFKA-ENDPOINT       HTTP-ENDPOINT        RACK       CONTROLLER
 *   1          10.0.0.1:9092        10.0.0.1:8080        rack-a     yes
 *   2          10.0.0.2:9092        10.0.0.2:8080        -          no
 *
 * A controller id that no live broker carries (its registration expired
 * first) is still printed, on a line of its own.
 */

import { Command, InvalidArgumentError, Option } from 'commander';
import { clusterKeys, DEFAULT_CLUSTER_NAME, parseEtcdEndpoints, type BrokerRegistration } from '../cluster/keys.js';
import { alignedTable } from './columns.js';
import { CliError } from './http-api.js';

type Write = (line: string) => void;

const MISSING = '-';
const COLUMNS = [
  { header: 'BROKER-ID', widthMin: 10 },
  { header: 'KAFKA-ENDPOINT', widthMin: 20 },
  { header: 'HTTP-ENDPOINT', widthMin: 20 },
  { header: 'RACK', widthMin: 10 },
  { header: 'CONTROLLER', widthMin: 10 },
];

export function clusterTable(brokers: readonly BrokerRegistration[], controllerId: number | null): string[] {
  const rows = brokers.map((broker) => [String(broker.id), `${broker.host}:${broker.kafkaPort}`, `${broker.host}:${broker.httpPort}`, broker.rack ?? MISSING, broker.id === controllerId ? 'yes' : 'no']);
  const lines = alignedTable(COLUMNS, rows);
  if (controllerId === null) lines.push('(no controller elected)');
  else if (!brokers.some((broker) => broker.id === controllerId)) lines.push(`(controller ${controllerId} is not registered)`);
  return lines;
}

export function etcdEndpointsArgument(value: string): string[] {
  try {
    return parseEtcdEndpoints(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function clusterNameArgument(value: string): string {
  try {
    clusterKeys(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

export function clusterCommand(write: Write): Command {
  const cluster = new Command('cluster').description('the brokers of a cluster and its controller, from etcd');
  cluster
    .command('describe')
    .description('live brokers (id, endpoints, rack) and which one is the controller')
    .addOption(new Option('--etcd <url[,url]>', 'etcd client URLs').argParser(etcdEndpointsArgument).makeOptionMandatory().env('FERRY_ETCD'))
    .addOption(new Option('--cluster-name <name>', "the cluster's name (its etcd key prefix /ferry/<name>/)").default(DEFAULT_CLUSTER_NAME).argParser(clusterNameArgument).env('FERRY_CLUSTER_NAME'))
    .action(async (options: { etcd: string[]; clusterName: string }) => {
      // Loaded here, not at the top: the other commands never load etcd3 and its gRPC stack.
      const [{ connectEtcd }, { listBrokers }, { currentControllerId }] = await Promise.all([import('../cluster/etcd-client.js'), import('../cluster/broker-directory.js'), import('../cluster/controller.js')]);
      const keys = clusterKeys(options.clusterName);
      const client = connectEtcd(options.etcd);
      try {
        const [brokers, controllerId] = await Promise.all([listBrokers(client, keys), currentControllerId(client, keys)]);
        for (const line of clusterTable(brokers, controllerId)) write(line);
      } catch (error) {
        throw new CliError(`cannot read the cluster from etcd ${options.etcd.join(',')}: ${(error as Error).message}`);
      } finally {
        client.close();
      }
    });
  return cluster;
}
