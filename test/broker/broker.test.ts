import { afterAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { partitionForKey } from '../../src/broker/murmur2.js';
import { FerryError } from '../../src/errors.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

afterAll(closeSharedStoragePool);

const text = (value: string): Buffer => Buffer.from(value);

async function expectError(promise: Promise<unknown> | (() => unknown), errorName: string): Promise<void> {
  const run = typeof promise === 'function' ? Promise.resolve().then(promise) : promise;
  await expect(run).rejects.toSatisfy((error: unknown) => error instanceof FerryError && error.errorName === errorName);
}

describe('topics', () => {
  it('creates, lists, describes, grows, alters and deletes topics, and keeps them across a restart', async () => {
    const dataDir = tempDir('ferry-broker-');
    const broker = await Broker.open({ dataDir });
    const created = await broker.createTopic('orders', { partitions: 3, configs: { 'retention.ms': '60000' } });
    expect(created.partitions.map((p) => [p.partition, p.leader, p.replicas, p.isr, p.logEndOffset])).toEqual([
      [0, 1, [1], [1], 0],
      [1, 1, [1], [1], 0],
      [2, 1, [1], [1], 0],
    ]);
    expect(created.topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await broker.createTopic('__internal');
    expect(broker.listTopics().map((t) => t.name)).toEqual(['orders']);
    expect(broker.listTopics({ includeInternal: true }).map((t) => [t.name, t.internal])).toEqual([['__internal', true], ['orders', false]]);

    await broker.createPartitions('orders', 5);
    await broker.alterTopicConfigs('orders', { 'cleanup.policy': 'compact', 'retention.ms': null });
    expect(broker.describeTopic('orders').configs).toEqual({ 'cleanup.policy': 'compact' });
    expect(broker.topicConfig('orders').cleanupCompact).toBe(true);
    await broker.produce('orders', [{ key: text('k'), value: text('v') }]);
    await broker.deleteTopic('__internal');
    const clusterId = broker.clusterId;
    await broker.close();

    const reopened = await Broker.open({ dataDir });
    expect(reopened.clusterId).toBe(clusterId);
    expect(reopened.listTopics({ includeInternal: true }).map((t) => t.name)).toEqual(['orders']);
    const orders = reopened.describeTopic('orders');
    expect(orders.partitions).toHaveLength(5);
    expect(orders.topicId).toBe(created.topicId);
    expect(orders.configs).toEqual({ 'cleanup.policy': 'compact' });
    expect(orders.partitions.reduce((sum, p) => sum + p.logEndOffset, 0)).toBe(1);
    await reopened.close();
  });

  it('refuses what Kafka refuses, with its error names', async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    await broker.createTopic('t', { partitions: 2 });
    await expectError(broker.createTopic('t'), 'TOPIC_ALREADY_EXISTS');
    await expectError(broker.createTopic('bad name'), 'INVALID_TOPIC_EXCEPTION');
    await expectError(broker.createTopic('x'.repeat(250)), 'INVALID_TOPIC_EXCEPTION');
    await expectError(broker.createTopic('zero', { partitions: 0 }), 'INVALID_PARTITIONS');
    await expectError(broker.createTopic('cfg', { configs: { 'no.such.config': '1' } }), 'INVALID_CONFIG');
    await expectError(broker.createTopic('cfg', { configs: { 'retention.ms': 'soon' } }), 'INVALID_CONFIG');
    expect(broker.listTopics().map((t) => t.name)).toEqual(['t']);
    await expectError(broker.createPartitions('t', 2), 'INVALID_PARTITIONS');
    await expectError(() => broker.describeTopic('missing'), 'UNKNOWN_TOPIC_OR_PARTITION');
    await expectError(broker.deleteTopic('missing'), 'UNKNOWN_TOPIC_OR_PARTITION');
    await expectError(broker.produce('t', [{ value: text('v'), partition: 2 }]), 'UNKNOWN_TOPIC_OR_PARTITION');
    await expectError(broker.fetch('t', 5, 0, { maxBytes: 100 }), 'UNKNOWN_TOPIC_OR_PARTITION');
    await broker.close();
  });
});

describe('produce', () => {
  it("puts keyed records where Kafka's default partitioner does, and an unkeyed call's records in one partition", async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    await broker.createTopic('keys', { partitions: 7 });
    const keys = Array.from({ length: 50 }, (_, i) => `user-${i}`);
    const produced = await broker.produce('keys', keys.map((key) => ({ key: text(key), value: text(`v-${key}`) })));
    produced.forEach((record, i) => expect(record.partition).toBe(partitionForKey(text(keys[i]!), 7)));
    const unkeyed = await broker.produce('keys', Array.from({ length: 20 }, (_, i) => ({ value: text(`u${i}`) })));
    expect(new Set(unkeyed.map((r) => r.partition)).size).toBe(1);
    expect(unkeyed.map((r) => r.offset)).toEqual(unkeyed.map((_, i) => unkeyed[0]!.offset + i));
    const explicit = await broker.produce('keys', [{ key: text('user-1'), value: text('x'), partition: 6 }]);
    expect(explicit[0]!.partition).toBe(6);

    // Every record reads back at the partition and offset produce reported.
    for (const [i, record] of produced.entries()) {
      const fetched = await broker.fetchRecords('keys', record.partition, record.offset, { maxBytes: 1 << 20 });
      expect(fetched.records[0]!.value!.toString()).toBe(`v-${keys[i]}`);
    }
    await broker.close();
  });

  it('auto-creates a topic on first produce unless told not to', async () => {
    const broker = await Broker.open({ dataDir: tempDir(), defaultPartitions: 2 });
    const [record] = await broker.produce('auto', [{ key: text('a'), value: text('b') }]);
    expect(record!.offset).toBe(0);
    expect(broker.describeTopic('auto').partitions).toHaveLength(2);
    await broker.close();
    const strict = await Broker.open({ dataDir: tempDir(), autoCreateTopics: false });
    await expectError(strict.produce('nope', [{ value: text('v') }]), 'UNKNOWN_TOPIC_OR_PARTITION');
    await strict.close();
  });

  it('answers acks=0 before the write, with offsets unknown, and the records still land', async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    await broker.createTopic('fire', { partitions: 1 });
    const answer = await broker.produce('fire', [{ value: text('and forget') }], { acks: 0 });
    expect(answer[0]!.offset).toBe(-1);
    const fetched = await broker.fetchRecords('fire', 0, 0, { maxBytes: 1 << 20, maxWaitMs: 5000 });
    expect(fetched.records.map((r) => r.value!.toString())).toEqual(['and forget']);
    await broker.close();
  });

  it('applies altered topic configs to the partitions at once', async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    await broker.createTopic('small', { partitions: 1 });
    await broker.produce('small', [{ value: Buffer.alloc(2000) }]);
    await broker.alterTopicConfigs('small', { 'max.message.bytes': '1000' });
    await expectError(broker.produce('small', [{ value: Buffer.alloc(2000) }]), 'MESSAGE_TOO_LARGE');
    await broker.close();
  });
});

describe('fetch', () => {
  it('long-polls: a fetch at the log end is woken by the next produce, not by a timer', async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    await broker.createTopic('live', { partitions: 1 });
    const waiting = broker.fetchRecords('live', 0, 0, { maxBytes: 1 << 20, maxWaitMs: 60_000 });
    await new Promise((resolve) => setImmediate(resolve));
    await broker.produce('live', [{ value: text('wake up') }]);
    const fetched = await waiting; // would take 60 s if only the deadline ended the wait
    expect(fetched.records.map((r) => r.value!.toString())).toEqual(['wake up']);
    expect(fetched.nextOffset).toBe(1);
    expect(fetched.highWatermark).toBe(1);
    await broker.close();
  });

  it('keeps waiting until minBytes are there, answers at the deadline with what it has, and stops on abort', async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    await broker.createTopic('bytes', { partitions: 1 });
    const waiting = broker.fetch('bytes', 0, 0, { maxBytes: 1 << 20, minBytes: 3000, maxWaitMs: 60_000 });
    await broker.produce('bytes', [{ value: Buffer.alloc(1000) }]);
    await broker.produce('bytes', [{ value: Buffer.alloc(1000) }]);
    await broker.produce('bytes', [{ value: Buffer.alloc(1500) }]);
    expect((await waiting).bytes.length).toBeGreaterThanOrEqual(3000);

    const short = await broker.fetch('bytes', 0, 3, { maxBytes: 1 << 20, maxWaitMs: 20 });
    expect(short.bytes.length).toBe(0);
    const controller = new AbortController();
    const aborted = broker.fetch('bytes', 0, 3, { maxBytes: 1 << 20, maxWaitMs: 60_000, signal: controller.signal });
    controller.abort();
    expect((await aborted).bytes.length).toBe(0);
    await broker.close();
  });

  it('lists offsets by position and time, and deletes records before an offset', async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    await broker.createTopic('times', { partitions: 1 });
    for (let i = 0; i < 5; i++) await broker.produce('times', [{ value: text(`t${i}`), timestamp: 1000 * (i + 1) }]);
    expect(broker.listOffset('times', 0, 'earliest').offset).toBe(0);
    expect(broker.listOffset('times', 0, 'latest').offset).toBe(5);
    expect(broker.listOffset('times', 0, { timestamp: 2500 })).toEqual({ offset: 2, timestamp: 3000 });
    expect(broker.listOffset('times', 0, { timestamp: 9999 })).toEqual({ offset: -1, timestamp: -1 });
    expect(broker.deleteRecords('times', 0, 3)).toBe(3);
    expect(broker.listOffset('times', 0, 'earliest').offset).toBe(3);
    await expectError(broker.fetch('times', 0, 1, { maxBytes: 100 }), 'OFFSET_OUT_OF_RANGE');
    await broker.close();
  });
});

describe('topic configs', () => {
  it('knows only real config names, not object properties', async () => {
    const broker = await Broker.open({ dataDir: tempDir() });
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      await expectError(broker.createTopic(`t-${name.replace(/_/g, 'u')}`, { configs: { [name]: '1' } }), 'INVALID_CONFIG');
    }
    await broker.close();
  });
});

describe('one broker per data directory', () => {
  it('refuses a second broker on a data directory in use, and allows it once the first has closed', async () => {
    const dataDir = tempDir();
    const first = await Broker.open({ dataDir });
    await expect(Broker.open({ dataDir })).rejects.toThrow(/in use by another Ferry process/);
    await first.close();
    const second = await Broker.open({ dataDir });
    expect(second.clusterId).toBe(first.clusterId);
    await second.close();
  });
});
