/**
 * `ferry topics create|list|describe|delete|alter`, modelled on Kafka's
 * kafka-topics.sh, with its output layout for --describe:
 *
 *   Topic: orders	TopicId: …	PartitionCount: 3	ReplicationFactor: 1	Configs: retention.ms=1000
 *   	Topic: orders	Partition: 0	Leader: 1	LeaderEpoch: 0	Replicas: 1	Isr: 1
 *
 * plus, Ferry's additions, each partition's leader epoch and its log start and
 * end offsets (-1 from a broker that holds no replica of the partition). While
 * a reassignment moves a partition, `Adding Replicas:` and `Removing Replicas:`
 * follow its Isr, as kafka-topics prints them. In a
 * cluster the leader, epoch, replicas and ISR are the etcd partition state, the
 * same from whichever broker --http names.
 */

import { Command, InvalidArgumentError, Option } from 'commander';
import { BrokerHttpApi, type V3Config, type V3Partition } from './http-api.js';

type Write = (line: string) => void;

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('a positive integer');
  return parsed;
}

function configPair(value: string, previous: V3Config[] = []): V3Config[] {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected name=value, got ${value}`);
  return [...previous, { name: value.slice(0, at), value: value.slice(at + 1) }];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export async function describeTopics(api: BrokerHttpApi, names: readonly string[], write: Write): Promise<void> {
  for (const name of names) {
    const [topic, partitions, configs] = await Promise.all([api.topic(name), api.partitions(name), api.configs(name)]);
    const configText = configs.map((config) => `${config.name}=${config.value ?? ''}`).join(',');
    write(`Topic: ${topic.topic_name}\tTopicId: ${topic.topic_id}\tPartitionCount: ${topic.partitions_count}\tReplicationFactor: ${topic.replication_factor}\tConfigs: ${configText}`);
    for (const partition of partitions) {
      write(
        `\tTopic: ${topic.topic_name}\tPartition: ${partition.partition_id}\tLeader: ${partition.leader_id}\tLeaderEpoch: ${partition.leader_epoch}\tReplicas: ${partition.replica_ids.join(',')}\tIsr: ${partition.isr_ids.join(',')}` +
          reassigningText(partition) +
          `\tLogStartOffset: ${partition.log_start_offset}\tLogEndOffset: ${partition.log_end_offset}`,
      );
    }
  }
}

/** kafka-topics' reassignment columns, only while a reassignment moves the partition (so other output stays as it was). */
function reassigningText(partition: V3Partition): string {
  const adding = partition.adding_replica_ids ?? [];
  const removing = partition.removing_replica_ids ?? [];
  return (adding.length > 0 ? `\tAdding Replicas: ${adding.join(',')}` : '') + (removing.length > 0 ? `\tRemoving Replicas: ${removing.join(',')}` : '');
}

/** The `topics` command group; `api()` makes the HTTP client from the global --http option. */
export function topicsCommand(api: () => BrokerHttpApi, write: Write): Command {
  const topics = new Command('topics').description('create, list, describe, alter and delete topics (like kafka-topics)');

  topics
    .command('list')
    .description('topic names, one per line')
    .option('--include-internal', 'also list internal topics (names starting with __)', false)
    .action(async (options: { includeInternal: boolean }) => {
      for (const topic of await api().listTopics()) if (options.includeInternal || !topic.is_internal) write(topic.topic_name);
    });

  topics
    .command('create')
    .argument('<topic>')
    .description('create a topic')
    .addOption(new Option('--partitions <n>', 'number of partitions (the broker default otherwise)').argParser(positive))
    .addOption(new Option('--replication-factor <n>', 'replicas of each partition (the broker default otherwise)').argParser(positive))
    .option('--config <name=value>', 'a topic config; repeat for several', configPair)
    .action(async (topic: string, options: { partitions?: number; replicationFactor?: number; config?: V3Config[] }) => {
      await api().createTopic(topic, options.partitions, options.config ?? [], options.replicationFactor);
      write(`Created topic ${topic}.`);
    });

  topics
    .command('describe')
    .argument('[topics...]', 'topics to describe (all when none is named)')
    .description('partitions, leaders, leader epochs, replicas, ISR, offsets and configs')
    .action(async (names: string[]) => {
      const client = api();
      const all = names.length > 0 ? names : (await client.listTopics()).map((topic) => topic.topic_name);
      await describeTopics(client, all, write);
    });

  topics
    .command('alter')
    .argument('<topic>')
    .description('add partitions or change configs')
    .addOption(new Option('--partitions <n>', 'new partition count (only grows)').argParser(positive))
    .option('--config <name=value>', 'set a topic config; repeat for several', configPair)
    .option('--delete-config <name>', 'reset a topic config to the default; repeat for several', collect)
    .action(async (topic: string, options: { partitions?: number; config?: V3Config[]; deleteConfig?: string[] }) => {
      const client = api();
      if (options.partitions !== undefined) await client.setPartitionCount(topic, options.partitions);
      if (options.config || options.deleteConfig) await client.alterConfigs(topic, options.config ?? [], options.deleteConfig ?? []);
      write(`Altered topic ${topic}.`);
    });

  topics
    .command('delete')
    .argument('<topic>')
    .description('delete a topic and its data')
    .action(async (topic: string) => {
      await api().deleteTopic(topic);
      write(`Deleted topic ${topic}.`);
    });

  return topics;
}
