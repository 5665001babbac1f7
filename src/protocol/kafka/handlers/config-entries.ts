/**
 * Config entries as DescribeConfigs and CreateTopics (v5+) describe them:
 * each supported topic config with its effective value, where that value
 * comes from, and Kafka's type for it; and the read-only broker configs
 * Ferry has.
 *
 * Where a topic config's value comes from, highest precedence first (these
 * are also its synonyms, as Kafka lists them):
 *
 *   DYNAMIC_TOPIC_CONFIG (1)   set on the topic (CreateTopics, AlterConfigs)
 *   STATIC_BROKER_CONFIG (4)   a broker-wide default from server.properties,
 *                              under Kafka's broker name (log.retention.ms)
 *   DEFAULT_CONFIG (5)         Kafka's default, under the broker name too
 *
 * Ferry has no dynamic broker configs (AlterConfigs on a broker is refused),
 * so sources 2 and 3 never occur.
 */

import type { Broker } from '../../../broker/broker.js';
import { assert } from '../../../errors.js';
import { BROKER_NAME_OF_TOPIC_CONFIG, DEFAULT_LOG_CONFIG, SUPPORTED_LOG_CONFIG_NAMES, topicConfigValues } from '../../../storage/log-config.js';

/** Kafka's ConfigResource types. */
export const RESOURCE_TYPE = { TOPIC: 2, BROKER: 4 } as const;

/** Kafka's DescribeConfigsResponse.ConfigSource. */
export const CONFIG_SOURCE = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;

/** Kafka's DescribeConfigsResponse.ConfigType (the ones Ferry's configs use). */
export const CONFIG_TYPE = { BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5, LIST: 7 } as const;

type ConfigSource = (typeof CONFIG_SOURCE)[keyof typeof CONFIG_SOURCE];
type ConfigType = (typeof CONFIG_TYPE)[keyof typeof CONFIG_TYPE];

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: ConfigSource;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  /** Only in DescribeConfigs v0: whether the value is the default. */
  isDefault: boolean;
  configSource: ConfigSource;
  isSensitive: boolean;
  synonyms: ConfigSynonym[];
  configType: ConfigType;
  documentation: string | null;
}

interface TopicConfigInfo {
  type: ConfigType;
  /** The broker-wide setting that gives the topic config its default. */
  brokerName: string;
}

/** Kafka's type for each topic config Ferry supports. */
const TOPIC_CONFIG_TYPES: Readonly<Record<string, ConfigType>> = {
  'segment.bytes': CONFIG_TYPE.INT,
  'segment.ms': CONFIG_TYPE.LONG,
  'segment.index.bytes': CONFIG_TYPE.INT,
  'index.interval.bytes': CONFIG_TYPE.INT,
  'retention.ms': CONFIG_TYPE.LONG,
  'retention.bytes': CONFIG_TYPE.LONG,
  'cleanup.policy': CONFIG_TYPE.LIST,
  'delete.retention.ms': CONFIG_TYPE.LONG,
  'max.message.bytes': CONFIG_TYPE.INT,
  'message.timestamp.type': CONFIG_TYPE.STRING,
  'flush.messages': CONFIG_TYPE.LONG,
  'flush.ms': CONFIG_TYPE.LONG,
  preallocate: CONFIG_TYPE.BOOLEAN,
  'min.insync.replicas': CONFIG_TYPE.INT,
  'unclean.leader.election.enable': CONFIG_TYPE.BOOLEAN,
};

/** Kafka's type and broker-level synonym for each topic config Ferry supports. */
const TOPIC_CONFIG_INFO: Readonly<Record<string, TopicConfigInfo>> = Object.fromEntries(
  SUPPORTED_LOG_CONFIG_NAMES.map((name) => {
    const type = TOPIC_CONFIG_TYPES[name];
    const brokerName = BROKER_NAME_OF_TOPIC_CONFIG[name];
    assert(type !== undefined && brokerName !== undefined, `topic config ${name} has no DescribeConfigs type or broker name`);
    return [name, { type, brokerName }];
  }),
);

const KAFKA_DEFAULTS: Readonly<Record<string, string>> = topicConfigValues(DEFAULT_LOG_CONFIG);

/** Whether `name` is a topic config Ferry supports (an own key: never `__proto__` or `constructor`). */
export function isTopicConfigName(name: string): boolean {
  return Object.hasOwn(TOPIC_CONFIG_INFO, name);
}

/** Kafka's type of a supported topic config. */
export function topicConfigType(name: string): ConfigType {
  const info = TOPIC_CONFIG_INFO[name];
  assert(info !== undefined, `unknown topic config ${name}`);
  return info.type;
}

/**
 * Every supported topic config of a topic whose own configs are `setOnTopic`,
 * on a broker whose broker-wide defaults are `brokerDefaults`.
 */
export function topicConfigEntries(
  setOnTopic: Readonly<Record<string, string>>,
  brokerDefaults: Readonly<Record<string, string>>,
  includeSynonyms: boolean,
): ConfigEntry[] {
  return SUPPORTED_LOG_CONFIG_NAMES.map((name) => {
    const info = TOPIC_CONFIG_INFO[name]!;
    const synonyms: ConfigSynonym[] = [];
    const onTopic = Object.hasOwn(setOnTopic, name) ? setOnTopic[name] : undefined;
    const onBroker = Object.hasOwn(brokerDefaults, name) ? brokerDefaults[name] : undefined;
    if (onTopic !== undefined) synonyms.push({ name, value: onTopic, source: CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG });
    if (onBroker !== undefined) synonyms.push({ name: info.brokerName, value: onBroker, source: CONFIG_SOURCE.STATIC_BROKER_CONFIG });
    synonyms.push({ name: info.brokerName, value: KAFKA_DEFAULTS[name] ?? null, source: CONFIG_SOURCE.DEFAULT_CONFIG });
    const effective = synonyms[0]!;
    return {
      name,
      value: effective.value,
      readOnly: false,
      isDefault: effective.source !== CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG,
      configSource: effective.source,
      isSensitive: false,
      synonyms: includeSynonyms ? synonyms : [],
      configType: info.type,
      documentation: null,
    };
  });
}

/**
 * The broker's own settings, all read-only (Ferry takes them at start only):
 * identity and topic creation, then the broker-wide topic defaults under
 * Kafka's broker names.
 */
export function brokerConfigEntries(broker: Broker): ConfigEntry[] {
  const entry = (name: string, value: string, configType: ConfigType, configSource: ConfigSource): ConfigEntry => ({
    name,
    value,
    readOnly: true,
    isDefault: configSource === CONFIG_SOURCE.DEFAULT_CONFIG,
    configSource,
    isSensitive: false,
    synonyms: [],
    configType,
    documentation: null,
  });
  const entries = [
    entry('broker.id', String(broker.brokerId), CONFIG_TYPE.INT, CONFIG_SOURCE.STATIC_BROKER_CONFIG),
    entry('num.partitions', String(broker.defaultPartitionCount), CONFIG_TYPE.INT, CONFIG_SOURCE.STATIC_BROKER_CONFIG),
    entry('auto.create.topics.enable', String(broker.autoCreateTopicsEnabled), CONFIG_TYPE.BOOLEAN, CONFIG_SOURCE.STATIC_BROKER_CONFIG),
    // One node: every topic has exactly one replica.
    entry('default.replication.factor', '1', CONFIG_TYPE.INT, CONFIG_SOURCE.DEFAULT_CONFIG),
  ];
  const brokerDefaults = broker.topicConfigDefaults;
  for (const name of SUPPORTED_LOG_CONFIG_NAMES) {
    const info = TOPIC_CONFIG_INFO[name]!;
    const onBroker = Object.hasOwn(brokerDefaults, name) ? brokerDefaults[name] : undefined;
    entries.push(
      onBroker === undefined
        ? entry(info.brokerName, KAFKA_DEFAULTS[name]!, info.type, CONFIG_SOURCE.DEFAULT_CONFIG)
        : entry(info.brokerName, onBroker, info.type, CONFIG_SOURCE.STATIC_BROKER_CONFIG),
    );
  }
  return entries;
}
