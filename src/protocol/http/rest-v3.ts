/**
 * Confluent REST Proxy v3 admin routes: clusters, topics, partitions, topic
 * configs. Each translates one request into one broker call and the answer
 * into the v3 shapes of v3-resources.ts.
 *
 *   GET    /v3/clusters                                              200 KafkaClusterList
 *   GET    /v3/clusters/{cluster_id}                                 200 KafkaCluster
 *   GET    /v3/clusters/{cluster_id}/topics                          200 KafkaTopicList (internal topics included, flagged)
 *   POST   /v3/clusters/{cluster_id}/topics                          201 KafkaTopic
 *            { "topic_name": "orders", "partitions_count": 3, "replication_factor": 1,
 *              "configs": [ { "name": "retention.ms", "value": "60000" } ] }
 *            partitions_count and replication_factor omitted or -1: the broker's defaults; the broker core
 *            checks the replication factor (1 on one node, at most the live brokers in a cluster)
 *   GET    /v3/clusters/{cluster_id}/topics/{topic_name}             200 KafkaTopic
 *   PATCH  /v3/clusters/{cluster_id}/topics/{topic_name}             200 KafkaTopic; { "partitions_count": 6 } grows the topic
 *   DELETE /v3/clusters/{cluster_id}/topics/{topic_name}             204
 *   GET    /v3/clusters/{cluster_id}/topics/{topic_name}/partitions  200 KafkaPartitionList
 *   GET    /v3/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}   200 KafkaPartition
 *   GET    /v3/clusters/{cluster_id}/topics/{topic_name}/configs     200 KafkaTopicConfigList (configs set on the topic)
 *   POST   /v3/clusters/{cluster_id}/topics/{topic_name}/configs:alter             204
 *            { "data": [ { "name": "retention.ms", "value": "1000" }, { "name": "cleanup.policy", "operation": "DELETE" } ] }
 *   PUT    /v3/clusters/{cluster_id}/topics/{topic_name}/configs/{name}  204; { "value": "1000" }
 *   DELETE /v3/clusters/{cluster_id}/topics/{topic_name}/configs/{name}  204; back to the default
 */

import type { Broker } from '../../broker/broker.js';
import { FerryError } from '../../errors.js';
import { SUPPORTED_LOG_CONFIG_NAMES } from '../../storage/log-config.js';
import { clusterBase, requestOrigin } from './cluster.js';
import { badRequest } from './errors.js';
import { configValue, expectObject, expectString, isObject, optionalInteger, parseJsonBody, pathInteger } from './request-json.js';
import type { Router } from './router.js';
import { configListUrl, kafkaCluster, kafkaPartition, kafkaTopic, kafkaTopicConfig, list, partitionListUrl, topicListUrl } from './v3-resources.js';

export const CLUSTERS = '/v3/clusters';
export const CLUSTER = `${CLUSTERS}/:cluster_id`;
export const TOPICS = `${CLUSTER}/topics`;
export const TOPIC = `${TOPICS}/:topic_name`;
export const PARTITIONS = `${TOPIC}/partitions`;
export const PARTITION = `${PARTITIONS}/:partition_id`;
const CONFIGS = `${TOPIC}/configs`;
const CONFIGS_ALTER = `${TOPIC}/configs:alter`;
const CONFIG = `${CONFIGS}/:name`;

/** Kafka's CreateTopics uses -1 for "the broker's default". */
const DEFAULT_REQUESTED = -1;
const INT32_MAX = 2 ** 31 - 1;

export function registerRestV3(router: Router, broker: Broker): void {
  router.get(CLUSTERS, (exchange, request) => {
    const base = { origin: requestOrigin(request), clusterId: broker.cluster.clusterId() };
    exchange.json(200, list('KafkaClusterList', `${base.origin}${CLUSTERS}`, [kafkaCluster(base, broker.cluster.controllerId())]));
  });

  router.get(CLUSTER, (exchange, request) => {
    exchange.json(200, kafkaCluster(clusterBase(broker, request), broker.cluster.controllerId()));
  });

  router.get(TOPICS, (exchange, request) => {
    const base = clusterBase(broker, request);
    const topics = broker.listTopics({ includeInternal: true }).map((topic) => kafkaTopic(base, topic));
    exchange.json(200, list('KafkaTopicList', topicListUrl(base), topics));
  });

  router.post(TOPICS, async (exchange, request) => {
    const base = clusterBase(broker, request);
    const create = parseCreateTopic(parseJsonBody(request.body));
    const topic = await broker.createTopic(create.name, create.options);
    exchange.json(201, kafkaTopic(base, topic));
  });

  router.get(TOPIC, (exchange, request) => {
    const base = clusterBase(broker, request);
    exchange.json(200, kafkaTopic(base, broker.describeTopic(topicParam(request.params))));
  });

  router.patch(TOPIC, async (exchange, request) => {
    const base = clusterBase(broker, request);
    const body = expectObject(parseJsonBody(request.body), 'request body');
    const partitions = optionalInteger(body['partitions_count'], 'partitions_count', 1, INT32_MAX);
    if (partitions === undefined) throw badRequest('partitions_count is required: the only topic update is growing its partition count');
    exchange.json(200, kafkaTopic(base, await broker.createPartitions(topicParam(request.params), partitions)));
  });

  router.del(TOPIC, async (exchange, request) => {
    clusterBase(broker, request);
    await broker.deleteTopic(topicParam(request.params));
    exchange.noContent();
  });

  router.get(PARTITIONS, (exchange, request) => {
    const base = clusterBase(broker, request);
    const topic = broker.describeTopic(topicParam(request.params));
    exchange.json(200, list('KafkaPartitionList', partitionListUrl(base, topic.name), topic.partitions.map((partition) => kafkaPartition(base, topic.name, partition))));
  });

  router.get(PARTITION, (exchange, request) => {
    const base = clusterBase(broker, request);
    const topic = broker.describeTopic(topicParam(request.params));
    const id = pathInteger(request.params[2] ?? '', 'partition_id');
    const partition = topic.partitions[id];
    if (!partition) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic.name} has no partition ${id} (it has ${topic.partitions.length})`);
    exchange.json(200, kafkaPartition(base, topic.name, partition));
  });

  router.get(CONFIGS, (exchange, request) => {
    const base = clusterBase(broker, request);
    const topic = broker.describeTopic(topicParam(request.params));
    const configs = Object.entries(topic.configs).map(([name, value]) => kafkaTopicConfig(base, topic.name, name, value));
    exchange.json(200, list('KafkaTopicConfigList', configListUrl(base, topic.name), configs));
  });

  router.post(CONFIGS_ALTER, async (exchange, request) => {
    clusterBase(broker, request);
    await broker.alterTopicConfigs(topicParam(request.params), parseConfigAlterations(parseJsonBody(request.body)));
    exchange.noContent();
  });

  router.put(CONFIG, async (exchange, request) => {
    clusterBase(broker, request);
    const body = expectObject(parseJsonBody(request.body), 'request body');
    await broker.alterTopicConfigs(topicParam(request.params), { [configName(request.params[2])]: configValue(body['value'], 'value') });
    exchange.noContent();
  });

  router.del(CONFIG, async (exchange, request) => {
    clusterBase(broker, request);
    await broker.alterTopicConfigs(topicParam(request.params), { [configName(request.params[2])]: null });
    exchange.noContent();
  });
}

/** `params[1]` of every topic route. */
export function topicParam(params: readonly string[]): string {
  return params[1] ?? '';
}

/**
 * A supported topic config name, checked here as well as in the broker so that
 * names like `__proto__` or `constructor` never become keys of a plain object.
 */
function configName(name: string | undefined): string {
  if (name === undefined || !SUPPORTED_LOG_CONFIG_NAMES.includes(name)) {
    throw new FerryError('INVALID_CONFIG', `unknown topic config ${name}; supported: ${SUPPORTED_LOG_CONFIG_NAMES.join(', ')}`);
  }
  return name;
}

interface CreateTopic {
  name: string;
  options: { partitions?: number; replicationFactor?: number; configs: Record<string, string> };
}

function parseCreateTopic(input: unknown): CreateTopic {
  const body = expectObject(input, 'request body');
  const name = expectString(body['topic_name'], 'topic_name');
  const partitions = optionalInteger(body['partitions_count'], 'partitions_count', DEFAULT_REQUESTED, INT32_MAX);
  const replicationFactor = optionalInteger(body['replication_factor'], 'replication_factor', DEFAULT_REQUESTED, INT32_MAX);
  const configs: Record<string, string> = {};
  for (const [configName, value] of Object.entries(parseConfigList(body['configs'], 'configs'))) {
    if (value !== null) configs[configName] = value;
  }
  const options: CreateTopic['options'] = { configs };
  if (partitions !== undefined && partitions !== DEFAULT_REQUESTED) options.partitions = partitions;
  if (replicationFactor !== undefined && replicationFactor !== DEFAULT_REQUESTED) options.replicationFactor = replicationFactor;
  return { name, options };
}

function parseConfigAlterations(input: unknown): Record<string, string | null> {
  const body = expectObject(input, 'request body');
  if (!Array.isArray(body['data'])) throw badRequest('data must be an array of { "name", "value" } or { "name", "operation": "DELETE" }');
  return parseConfigList(body['data'], 'data');
}

/** `[{ name, value, operation? }]` into Kafka config changes; `"operation": "DELETE"` or a null value resets to the default. */
function parseConfigList(input: unknown, where: string): Record<string, string | null> {
  if (input === undefined || input === null) return {};
  if (!Array.isArray(input)) throw badRequest(`${where} must be an array of { "name", "value" }`);
  const changes: Record<string, string | null> = {};
  input.forEach((item: unknown, i) => {
    if (!isObject(item)) throw badRequest(`${where}[${i}] must be an object { "name", "value" }`);
    const name = configName(expectString(item['name'], `${where}[${i}].name`));
    const operation = item['operation'] ?? 'SET';
    if (operation !== 'SET' && operation !== 'DELETE') throw badRequest(`${where}[${i}].operation must be SET or DELETE`);
    changes[name] = operation === 'DELETE' ? null : configValue(item['value'] ?? null, `${where}[${i}].value`);
  });
  return changes;
}
