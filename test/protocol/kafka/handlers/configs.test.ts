import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../../src/errors.js';
import type { KafkaStruct } from '../../../../src/protocol/kafka/codec/message-codec.js';
import { alterConfigsHandler, incrementalAlterConfigsHandler } from '../../../../src/protocol/kafka/handlers/alter-configs.js';
import { CONFIG_SOURCE, CONFIG_TYPE, RESOURCE_TYPE } from '../../../../src/protocol/kafka/handlers/config-entries.js';
import { describeConfigsHandler } from '../../../../src/protocol/kafka/handlers/describe-configs.js';
import { SUPPORTED_LOG_CONFIG_NAMES } from '../../../../src/storage/log-config.js';
import { useHarnesses, versionsOf, type Harness } from './admin-harness.js';

const open = useHarnesses();

const code = (name: keyof typeof ERROR_CODES) => ERROR_CODES[name].code;
const list = (response: KafkaStruct, key: string) => response[key] as KafkaStruct[];
const TOPIC = RESOURCE_TYPE.TOPIC;
const BROKER = RESOURCE_TYPE.BROKER;

async function describeTopic(h: Harness, name: string, version = 4, extra: Record<string, unknown> = {}): Promise<KafkaStruct> {
  const response = await h.call(describeConfigsHandler, version, { resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: null }], ...extra });
  return list(response, 'results')[0]!;
}

function configsOf(result: KafkaStruct): Map<string, KafkaStruct> {
  return new Map((result['configs'] as KafkaStruct[]).map((entry) => [entry['name'] as string, entry]));
}

function valuesOf(result: KafkaStruct): Record<string, unknown> {
  return Object.fromEntries([...configsOf(result)].map(([name, entry]) => [name, entry['value']]));
}

describe('DescribeConfigs', () => {
  it('lists every supported topic config with its effective value and source, at every version', async () => {
    const h = await open({ defaultTopicConfigs: { 'retention.ms': '3600000' } });
    await h.broker.createTopic('orders', { configs: { 'cleanup.policy': 'compact' } });
    for (const version of versionsOf(describeConfigsHandler)) {
      const result = await describeTopic(h, 'orders', version);
      expect(result).toMatchObject({ errorCode: 0, errorMessage: null, resourceType: TOPIC, resourceName: 'orders' });
      const configs = configsOf(result);
      expect([...configs.keys()].sort()).toEqual([...SUPPORTED_LOG_CONFIG_NAMES].sort());
      const policy = configs.get('cleanup.policy')!;
      const retention = configs.get('retention.ms')!;
      const segment = configs.get('segment.bytes')!;
      expect([policy['value'], retention['value'], segment['value']]).toEqual(['compact', '3600000', '1073741824']);
      for (const entry of configs.values()) expect(entry).toMatchObject({ readOnly: false, isSensitive: false });
      if (version === 0) {
        expect([policy['isDefault'], retention['isDefault'], segment['isDefault']]).toEqual([false, true, true]);
      } else {
        expect([policy['configSource'], retention['configSource'], segment['configSource']]).toEqual([
          CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG,
          CONFIG_SOURCE.STATIC_BROKER_CONFIG,
          CONFIG_SOURCE.DEFAULT_CONFIG,
        ]);
        expect(policy['synonyms']).toEqual([]); // only when asked
      }
      if (version >= 3) {
        expect([policy['configType'], retention['configType'], segment['configType'], configs.get('preallocate')!['configType']]).toEqual([
          CONFIG_TYPE.LIST,
          CONFIG_TYPE.LONG,
          CONFIG_TYPE.INT,
          CONFIG_TYPE.BOOLEAN,
        ]);
        expect(policy['documentation']).toBeNull();
      }
    }
  });

  it('writes Kafka\'s Long.MAX_VALUE for "never" and lists synonyms in precedence order when asked', async () => {
    const h = await open({ defaultTopicConfigs: { 'retention.ms': '3600000' } });
    await h.broker.createTopic('orders', { configs: { 'retention.ms': '1000' } });
    const configs = configsOf(await describeTopic(h, 'orders', 1, { includeSynonyms: true }));
    expect(configs.get('flush.messages')!['value']).toBe('9223372036854775807');
    expect(configs.get('retention.ms')!['synonyms']).toEqual([
      { name: 'retention.ms', value: '1000', source: CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG },
      { name: 'log.retention.ms', value: '3600000', source: CONFIG_SOURCE.STATIC_BROKER_CONFIG },
      { name: 'log.retention.ms', value: '604800000', source: CONFIG_SOURCE.DEFAULT_CONFIG },
    ]);
    expect(configs.get('segment.bytes')!['synonyms']).toEqual([{ name: 'log.segment.bytes', value: '1073741824', source: CONFIG_SOURCE.DEFAULT_CONFIG }]);
  });

  it('narrows to ConfigurationKeys, leaving out names Ferry does not have', async () => {
    const h = await open();
    await h.broker.createTopic('orders');
    const response = await h.call(describeConfigsHandler, 2, { resources: [{ resourceType: TOPIC, resourceName: 'orders', configurationKeys: ['retention.ms', 'no.such.config'] }] });
    expect([...configsOf(list(response, 'results')[0]!).keys()]).toEqual(['retention.ms']);
  });

  it('describes this broker read-only, "" as no dynamic defaults, and answers errors per resource', async () => {
    const h = await open({ defaultPartitions: 3, autoCreateTopics: false, defaultTopicConfigs: { 'retention.ms': '1000' } });
    const response = await h.call(describeConfigsHandler, 4, {
      resources: [
        { resourceType: BROKER, resourceName: '1', configurationKeys: null },
        { resourceType: BROKER, resourceName: '', configurationKeys: null },
        { resourceType: BROKER, resourceName: '2', configurationKeys: null },
        { resourceType: TOPIC, resourceName: 'missing', configurationKeys: null },
        { resourceType: 3, resourceName: 'group', configurationKeys: null },
        { resourceType: TOPIC, resourceName: 'bad/name', configurationKeys: null },
      ],
    });
    const [self, defaults, other, missing, group, invalid] = list(response, 'results');
    expect(invalid!['errorCode']).toBe(code('INVALID_TOPIC_EXCEPTION'));
    const broker = configsOf(self!);
    expect(self!['errorCode']).toBe(0);
    expect(valuesOf(self!)).toMatchObject({ 'broker.id': '1', 'num.partitions': '3', 'auto.create.topics.enable': 'false', 'log.retention.ms': '1000', 'log.segment.bytes': '1073741824' });
    for (const entry of broker.values()) expect(entry['readOnly']).toBe(true);
    expect(broker.get('log.retention.ms')!['configSource']).toBe(CONFIG_SOURCE.STATIC_BROKER_CONFIG);
    expect(broker.get('log.segment.bytes')!['configSource']).toBe(CONFIG_SOURCE.DEFAULT_CONFIG);
    expect(defaults).toMatchObject({ errorCode: 0, configs: [] });
    expect(other!['errorCode']).toBe(code('INVALID_REQUEST'));
    expect(missing).toMatchObject({ errorCode: code('UNKNOWN_TOPIC_OR_PARTITION'), resourceName: 'missing', configs: [] });
    expect(missing!['errorMessage']).toMatch(/missing/);
    expect(group!['errorCode']).toBe(code('INVALID_REQUEST'));
  });
});

describe('AlterConfigs', () => {
  it('replaces the topic\'s whole set of configs at every version; validateOnly changes nothing', async () => {
    const h = await open();
    await h.broker.createTopic('orders', { configs: { 'retention.ms': '1000', 'cleanup.policy': 'compact' } });
    for (const version of versionsOf(alterConfigsHandler)) {
      const resources = [{ resourceType: TOPIC, resourceName: 'orders', configs: [{ name: 'segment.ms', value: String(1000 + version) }] }];
      const dry = await h.call(alterConfigsHandler, version, { resources, validateOnly: true });
      expect(list(dry, 'responses')).toEqual([{ errorCode: 0, errorMessage: null, resourceType: TOPIC, resourceName: 'orders' }]);
      const real = await h.call(alterConfigsHandler, version, { resources, validateOnly: false });
      expect(list(real, 'responses')[0]!['errorCode']).toBe(0);
      expect(h.broker.describeTopic('orders').configs).toEqual({ 'segment.ms': String(1000 + version) });
    }
    expect(h.broker.topicConfig('orders').cleanupCompact).toBe(false);
  });

  it('validates every config before changing any, and answers errors per resource', async () => {
    const h = await open();
    await h.broker.createTopic('orders', { configs: { 'retention.ms': '1000' } });
    const alter = (configs: Array<{ name: string; value: string | null }>, resourceName = 'orders', resourceType: number = TOPIC) => ({ resourceType, resourceName, configs });
    const response = await h.call(alterConfigsHandler, 2, {
      resources: [
        alter([{ name: 'segment.ms', value: '5' }, { name: 'retention.ms', value: 'never' }]),
        alter([{ name: 'no.such', value: '1' }], 'orders', TOPIC),
        alter([{ name: 'retention.ms', value: '1' }], 'missing'),
        alter([{ name: 'num.partitions', value: '3' }], '1', BROKER),
        alter([], '', BROKER),
        alter([], 'x', 9),
      ],
      validateOnly: false,
    });
    expect(list(response, 'responses').map((r) => r['errorCode'])).toEqual([
      code('INVALID_REQUEST'), // orders named twice in one request
      code('INVALID_REQUEST'),
      code('UNKNOWN_TOPIC_OR_PARTITION'),
      code('INVALID_REQUEST'),
      0,
      code('INVALID_REQUEST'),
    ]);
    const one = async (configs: Array<{ name: string; value: string | null }>) =>
      list(await h.call(alterConfigsHandler, 2, { resources: [alter(configs)], validateOnly: false }), 'responses')[0]!;
    expect(await one([{ name: 'segment.ms', value: '5' }, { name: 'retention.ms', value: 'never' }])).toMatchObject({ errorCode: code('INVALID_CONFIG') });
    expect((await one([{ name: '__proto__', value: '1' }]))['errorCode']).toBe(code('INVALID_CONFIG'));
    expect((await one([{ name: 'retention.ms', value: null }]))['errorCode']).toBe(code('INVALID_REQUEST'));
    expect((await one([{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }]))['errorCode']).toBe(code('INVALID_REQUEST'));
    expect(h.broker.describeTopic('orders').configs).toEqual({ 'retention.ms': '1000' });
  });
});

describe('IncrementalAlterConfigs', () => {
  const SET = 0;
  const DELETE = 1;
  const APPEND = 2;
  const SUBTRACT = 3;
  const change = (name: string, configOperation: number, value: string | null = null) => ({ name, configOperation, value });

  it('sets and deletes single configs, keeping the others, at every version', async () => {
    const h = await open();
    await h.broker.createTopic('orders', { configs: { 'retention.ms': '1000', 'segment.ms': '2000' } });
    for (const version of versionsOf(incrementalAlterConfigsHandler)) {
      const resources = [{ resourceType: TOPIC, resourceName: 'orders', configs: [change('retention.ms', SET, `${5000 + version}`), change('segment.ms', DELETE)] }];
      const before = h.broker.describeTopic('orders').configs;
      const dry = await h.call(incrementalAlterConfigsHandler, version, { resources, validateOnly: true });
      expect(list(dry, 'responses')[0]!['errorCode']).toBe(0);
      expect(h.broker.describeTopic('orders').configs).toEqual(before);
      const real = await h.call(incrementalAlterConfigsHandler, version, { resources, validateOnly: false });
      expect(list(real, 'responses')[0]!['errorCode']).toBe(0);
      expect(h.broker.describeTopic('orders').configs).toEqual({ 'retention.ms': `${5000 + version}` });
    }
  });

  it('APPENDs to and SUBTRACTs from cleanup.policy against its effective value', async () => {
    const h = await open();
    await h.broker.createTopic('orders');
    const run = async (configs: unknown[]) => list(await h.call(incrementalAlterConfigsHandler, 1, { resources: [{ resourceType: TOPIC, resourceName: 'orders', configs }], validateOnly: false }), 'responses')[0]!;
    expect((await run([change('cleanup.policy', APPEND, 'compact')]))['errorCode']).toBe(0);
    expect(h.broker.describeTopic('orders').configs).toEqual({ 'cleanup.policy': 'delete,compact' });
    expect((await run([change('cleanup.policy', APPEND, 'compact')]))['errorCode']).toBe(0); // already there: unchanged
    expect(h.broker.describeTopic('orders').configs).toEqual({ 'cleanup.policy': 'delete,compact' });
    expect((await run([change('cleanup.policy', SUBTRACT, 'delete')]))['errorCode']).toBe(0);
    expect(h.broker.describeTopic('orders').configs).toEqual({ 'cleanup.policy': 'compact' });
    expect(h.broker.topicConfig('orders')).toMatchObject({ cleanupCompact: true, cleanupDelete: false });
    // Subtracting the last policy leaves an invalid empty list.
    expect((await run([change('cleanup.policy', SUBTRACT, 'compact')]))['errorCode']).toBe(code('INVALID_CONFIG'));
    expect((await run([change('retention.ms', APPEND, '5')]))['errorCode']).toBe(code('INVALID_CONFIG'));
    expect((await run([change('cleanup.policy', APPEND, null)]))['errorCode']).toBe(code('INVALID_REQUEST'));
    expect(h.broker.describeTopic('orders').configs).toEqual({ 'cleanup.policy': 'compact' });
  });

  it('answers errors per resource and changes nothing of a failed one', async () => {
    const h = await open();
    await h.broker.createTopic('orders', { configs: { 'retention.ms': '1000' } });
    const resource = (configs: unknown[], resourceName = 'orders') => ({ resources: [{ resourceType: TOPIC, resourceName, configs }], validateOnly: false });
    const errorOf = async (body: Record<string, unknown>) => list(await h.call(incrementalAlterConfigsHandler, 1, body), 'responses')[0]!['errorCode'];
    expect(await errorOf(resource([change('retention.ms', SET, '5'), change('segment.ms', SET, 'x')]))).toBe(code('INVALID_CONFIG'));
    expect(await errorOf(resource([change('retention.ms', SET, null)]))).toBe(code('INVALID_REQUEST'));
    expect(await errorOf(resource([change('retention.ms', 7, '1')]))).toBe(code('INVALID_REQUEST'));
    expect(await errorOf(resource([change('retention.ms', SET, '1'), change('retention.ms', DELETE)]))).toBe(code('INVALID_REQUEST'));
    expect(await errorOf(resource([change('no.such', DELETE)]))).toBe(code('INVALID_CONFIG'));
    expect(await errorOf(resource([change('retention.ms', SET, '1')], 'missing'))).toBe(code('UNKNOWN_TOPIC_OR_PARTITION'));
    expect(await errorOf(resource([change('retention.ms', SET, '1')], '..'))).toBe(code('INVALID_TOPIC_EXCEPTION'));
    expect(await errorOf({ resources: [{ resourceType: BROKER, resourceName: '1', configs: [change('log.retention.ms', SET, '1')] }], validateOnly: false })).toBe(code('INVALID_REQUEST'));
    expect(h.broker.describeTopic('orders').configs).toEqual({ 'retention.ms': '1000' });
  });
});
