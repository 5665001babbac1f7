import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../../src/errors.js';
import type { KafkaStruct } from '../../../../src/protocol/kafka/codec/message-codec.js';
import { ZERO_UUID } from '../../../../src/protocol/kafka/handlers/cluster-view.js';
import { CONFIG_SOURCE } from '../../../../src/protocol/kafka/handlers/config-entries.js';
import { createPartitionsHandler } from '../../../../src/protocol/kafka/handlers/create-partitions.js';
import { createTopicsHandler } from '../../../../src/protocol/kafka/handlers/create-topics.js';
import { deleteRecordsHandler } from '../../../../src/protocol/kafka/handlers/delete-records.js';
import { deleteTopicsHandler } from '../../../../src/protocol/kafka/handlers/delete-topics.js';
import { useHarnesses, versionsOf } from './admin-harness.js';

const open = useHarnesses();

const code = (name: keyof typeof ERROR_CODES) => ERROR_CODES[name].code;
const list = (response: KafkaStruct, key: string) => response[key] as KafkaStruct[];
const topic = (name: string, fields: Record<string, unknown> = {}) => ({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [], ...fields });

describe('CreateTopics', () => {
  it('creates topics at every version, with the broker default for -1, and answers v5+ details and the v7 topic id', async () => {
    const h = await open({ defaultPartitions: 2 });
    for (const version of versionsOf(createTopicsHandler)) {
      const response = await h.call(createTopicsHandler, version, {
        topics: [topic(`t${version}`), topic(`u${version}`, { numPartitions: 3, replicationFactor: 1, configs: [{ name: 'retention.ms', value: '1000' }] })],
        timeoutMs: 1000,
      });
      const [defaulted, explicit] = list(response, 'topics');
      expect(defaulted).toMatchObject({ name: `t${version}`, errorCode: 0 });
      expect(explicit).toMatchObject({ name: `u${version}`, errorCode: 0 });
      expect(h.broker.describeTopic(`t${version}`).partitions).toHaveLength(2);
      expect(h.broker.describeTopic(`u${version}`).partitions).toHaveLength(3);
      expect(h.broker.describeTopic(`u${version}`).configs).toEqual({ 'retention.ms': '1000' });
      if (version >= 1) expect(explicit!['errorMessage']).toBeNull();
      if (version >= 5) {
        expect(explicit).toMatchObject({ numPartitions: 3, replicationFactor: 1 });
        const configs = explicit!['configs'] as KafkaStruct[];
        expect(configs.find((c) => c['name'] === 'retention.ms')).toMatchObject({ value: '1000', configSource: CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG, readOnly: false, isSensitive: false });
        expect(configs.find((c) => c['name'] === 'cleanup.policy')).toMatchObject({ value: 'delete', configSource: CONFIG_SOURCE.DEFAULT_CONFIG });
      }
      if (version >= 7) expect(explicit!['topicId']).toEqual(Buffer.from(h.broker.describeTopic(`u${version}`).topicId, 'base64url'));
    }
  });

  it('answers each error per topic, leaving the other topics alone', async () => {
    const h = await open();
    await h.broker.createTopic('exists');
    const response = await h.call(createTopicsHandler, 7, {
      topics: [
        topic('exists'),
        topic('bad/name'),
        topic('rf3', { replicationFactor: 3 }),
        topic('rf0', { replicationFactor: 0 }),
        topic('zero', { numPartitions: 0 }),
        topic('unknown-config', { configs: [{ name: 'no.such.config', value: '1' }] }),
        topic('bad-value', { configs: [{ name: 'retention.ms', value: 'soon' }] }),
        topic('null-value', { configs: [{ name: 'retention.ms', value: null }] }),
        topic('twice-config', { configs: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] }),
        topic('proto', { configs: [{ name: '__proto__', value: '1' }] }),
        topic('dup'),
        topic('dup'),
        topic('ok'),
      ],
    });
    const byName = list(response, 'topics').map((t) => [t['name'], t['errorCode']]);
    expect(byName).toEqual([
      ['exists', code('TOPIC_ALREADY_EXISTS')],
      ['bad/name', code('INVALID_TOPIC_EXCEPTION')],
      ['rf3', code('INVALID_REPLICATION_FACTOR')],
      ['rf0', code('INVALID_REPLICATION_FACTOR')],
      ['zero', code('INVALID_PARTITIONS')],
      ['unknown-config', code('INVALID_CONFIG')],
      ['bad-value', code('INVALID_CONFIG')],
      ['null-value', code('INVALID_REQUEST')],
      ['twice-config', code('INVALID_REQUEST')],
      ['proto', code('INVALID_CONFIG')],
      ['dup', code('INVALID_REQUEST')],
      ['dup', code('INVALID_REQUEST')],
      ['ok', 0],
    ]);
    const failed = list(response, 'topics')[6]!;
    expect(failed['errorMessage']).toMatch(/retention\.ms=soon/);
    expect(failed).toMatchObject({ numPartitions: -1, replicationFactor: -1, configs: null, topicId: ZERO_UUID });
    expect(h.broker.listTopics().map((t) => t.name).sort()).toEqual(['exists', 'ok']);
  });

  it('accepts manual assignments only onto this broker, partitions 0..n-1, with both counts -1', async () => {
    const h = await open();
    const assignments = (ids: number[][]) => ids.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds }));
    const response = await h.call(createTopicsHandler, 4, {
      topics: [
        topic('manual', { assignments: assignments([[1], [1]]) }),
        topic('elsewhere', { assignments: assignments([[2]]) }),
        topic('two-replicas', { assignments: assignments([[1, 2]]) }),
        topic('gap', { assignments: [{ partitionIndex: 1, brokerIds: [1] }] }),
        topic('both', { numPartitions: 1, assignments: assignments([[1]]) }),
      ],
    });
    expect(list(response, 'topics').map((t) => t['errorCode'])).toEqual([
      0,
      code('INVALID_REPLICA_ASSIGNMENT'),
      code('INVALID_REPLICA_ASSIGNMENT'),
      code('INVALID_REPLICA_ASSIGNMENT'),
      code('INVALID_REQUEST'),
    ]);
    expect(h.broker.describeTopic('manual').partitions).toHaveLength(2);
  });

  it('validateOnly checks everything and creates nothing', async () => {
    const h = await open({ defaultPartitions: 4 });
    await h.broker.createTopic('exists');
    const response = await h.call(createTopicsHandler, 7, {
      topics: [topic('would-be', { configs: [{ name: 'cleanup.policy', value: 'compact' }] }), topic('exists'), topic('bad', { configs: [{ name: 'retention.ms', value: 'x' }] })],
      validateOnly: true,
    });
    const [ok, exists, bad] = list(response, 'topics');
    expect(ok).toMatchObject({ errorCode: 0, numPartitions: 4, replicationFactor: 1, topicId: ZERO_UUID });
    expect((ok!['configs'] as KafkaStruct[]).find((c) => c['name'] === 'cleanup.policy')).toMatchObject({ value: 'compact', configSource: CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG });
    expect(exists!['errorCode']).toBe(code('TOPIC_ALREADY_EXISTS'));
    expect(bad!['errorCode']).toBe(code('INVALID_CONFIG'));
    expect(h.broker.listTopics().map((t) => t.name)).toEqual(['exists']);
  });
});

describe('DeleteTopics', () => {
  it('deletes by name at every version up to 5, answering unknown topics per topic', async () => {
    const h = await open();
    for (const version of [0, 1, 2, 3, 4, 5]) {
      await h.broker.createTopic(`gone${version}`);
      const response = await h.call(deleteTopicsHandler, version, { topicNames: [`gone${version}`, 'never'], timeoutMs: 1000 });
      expect(list(response, 'responses').map((r) => [r['name'], r['errorCode']])).toEqual([
        [`gone${version}`, 0],
        ['never', code('UNKNOWN_TOPIC_OR_PARTITION')],
      ]);
      if (version >= 5) expect(list(response, 'responses')[1]!['errorMessage']).toMatch(/never/);
    }
    expect(h.broker.listTopics()).toEqual([]);
  });

  it('v6 deletes by name or by id; unknown ids, both given, and internal topics are errors', async () => {
    const h = await open();
    const byId = await h.broker.createTopic('by-id');
    await h.broker.createTopic('by-name');
    await h.broker.createTopic('__internal');
    const id = Buffer.from(byId.topicId, 'base64url');
    const response = await h.call(deleteTopicsHandler, 6, {
      topics: [
        { name: null, topicId: id },
        { name: 'by-name', topicId: ZERO_UUID },
        { name: null, topicId: Buffer.alloc(16, 9) },
        { name: 'x', topicId: Buffer.alloc(16, 9) },
        { name: '__internal', topicId: ZERO_UUID },
      ],
      timeoutMs: 1000,
    });
    expect(list(response, 'responses').map((r) => [r['name'], r['errorCode']])).toEqual([
      ['by-id', 0],
      ['by-name', 0],
      [null, code('UNKNOWN_TOPIC_ID')],
      ['x', code('INVALID_REQUEST')],
      ['__internal', code('TOPIC_AUTHORIZATION_FAILED')],
    ]);
    expect(list(response, 'responses')[0]!['topicId']).toEqual(id);
    expect(h.broker.listTopics({ includeInternal: true }).map((t) => t.name)).toEqual(['__internal']);
  });
});

describe('CreatePartitions', () => {
  it('grows topics at every version; validateOnly changes nothing', async () => {
    const h = await open();
    await h.broker.createTopic('grow');
    for (const version of versionsOf(createPartitionsHandler)) {
      const before = h.broker.describeTopic('grow').partitions.length;
      const dry = await h.call(createPartitionsHandler, version, { topics: [{ name: 'grow', count: before + 1, assignments: null }], timeoutMs: 1000, validateOnly: true });
      expect(list(dry, 'results')).toEqual([{ name: 'grow', errorCode: 0, errorMessage: null }]);
      expect(h.broker.describeTopic('grow').partitions).toHaveLength(before);
      const real = await h.call(createPartitionsHandler, version, { topics: [{ name: 'grow', count: before + 1, assignments: [{ brokerIds: [1] }] }], timeoutMs: 1000, validateOnly: false });
      expect(list(real, 'results')[0]!['errorCode']).toBe(0);
      expect(h.broker.describeTopic('grow').partitions).toHaveLength(before + 1);
    }
  });

  it('answers errors per topic, for real and under validateOnly alike', async () => {
    const h = await open();
    await h.broker.createTopic('three', { partitions: 3 });
    for (const validateOnly of [false, true]) {
      const response = await h.call(createPartitionsHandler, 3, {
        topics: [
          { name: 'missing', count: 2, assignments: null },
          { name: 'three', count: 3, assignments: null },
          { name: 'three', count: 2, assignments: null },
        ],
        validateOnly,
      });
      expect(list(response, 'results').map((r) => r['errorCode'])).toEqual([code('UNKNOWN_TOPIC_OR_PARTITION'), code('INVALID_REQUEST'), code('INVALID_REQUEST')]);
      const single = async (count: number, assignments: Array<{ brokerIds: number[] }> | null) =>
        list(await h.call(createPartitionsHandler, 3, { topics: [{ name: 'three', count, assignments }], validateOnly }), 'results')[0]!;
      expect((await single(3, null))['errorCode']).toBe(code('INVALID_PARTITIONS'));
      expect((await single(2, null))['errorMessage']).toMatch(/has 3 partitions/);
      expect((await single(100_000, null))['errorCode']).toBe(code('INVALID_PARTITIONS'));
      expect((await single(5, [{ brokerIds: [1] }]))['errorCode']).toBe(code('INVALID_REPLICA_ASSIGNMENT'));
      expect((await single(4, [{ brokerIds: [2] }]))['errorCode']).toBe(code('INVALID_REPLICA_ASSIGNMENT'));
    }
    expect(h.broker.describeTopic('three').partitions).toHaveLength(3);
  });
});

describe('DeleteRecords', () => {
  it('moves the log start per partition at every version and answers the low watermark', async () => {
    const h = await open();
    await h.broker.createTopic('records', { partitions: 2 });
    const values = Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(`v${i}`), partition: 0 }));
    await h.broker.produce('records', values);
    await h.broker.produce('records', values.map((record) => ({ ...record, partition: 1 })));
    const expectLow = (response: KafkaStruct, expected: Array<[number, bigint, number]>) =>
      expect((list(response, 'topics')[0]!['partitions'] as KafkaStruct[]).map((p) => [p['partitionIndex'], p['lowWatermark'], p['errorCode']])).toEqual(expected);

    expectLow(await h.call(deleteRecordsHandler, 0, { topics: [{ name: 'records', partitions: [{ partitionIndex: 0, offset: 3n }] }], timeoutMs: 1000 }), [[0, 3n, 0]]);
    // An offset below the log start leaves it where it is.
    expectLow(await h.call(deleteRecordsHandler, 1, { topics: [{ name: 'records', partitions: [{ partitionIndex: 0, offset: 1n }] }], timeoutMs: 1000 }), [[0, 3n, 0]]);
    // -1: up to the high watermark.
    expectLow(await h.call(deleteRecordsHandler, 2, { topics: [{ name: 'records', partitions: [{ partitionIndex: 1, offset: -1n }] }], timeoutMs: 1000 }), [[1, 10n, 0]]);
    expect(h.broker.listOffset('records', 0, 'earliest').offset).toBe(3);
    expect(h.broker.listOffset('records', 1, 'earliest').offset).toBe(10);
  });

  it('answers OFFSET_OUT_OF_RANGE and UNKNOWN_TOPIC_OR_PARTITION per partition', async () => {
    const h = await open();
    await h.broker.createTopic('records');
    await h.broker.produce('records', [{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
    const response = await h.call(deleteRecordsHandler, 2, {
      topics: [
        { name: 'records', partitions: [{ partitionIndex: 0, offset: 3n }, { partitionIndex: 0, offset: -2n }, { partitionIndex: 5, offset: 0n }, { partitionIndex: 0, offset: 1n << 60n }] },
        { name: 'missing', partitions: [{ partitionIndex: 0, offset: 0n }] },
      ],
    });
    const errors = list(response, 'topics').flatMap((t) => (t['partitions'] as KafkaStruct[]).map((p) => [p['errorCode'], p['lowWatermark']]));
    expect(errors).toEqual([
      [code('OFFSET_OUT_OF_RANGE'), -1n],
      [code('OFFSET_OUT_OF_RANGE'), -1n],
      [code('UNKNOWN_TOPIC_OR_PARTITION'), -1n],
      [code('OFFSET_OUT_OF_RANGE'), -1n],
      [code('UNKNOWN_TOPIC_OR_PARTITION'), -1n],
    ]);
    expect(h.broker.listOffset('records', 0, 'earliest').offset).toBe(0);
  });
});
