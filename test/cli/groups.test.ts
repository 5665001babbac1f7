/**
 * `ferry groups` (the built dist/cli/ferry.js) against a real broker's Kafka
 * door, with group state made by a real kafkajs consumer: it reads a topic,
 * commits part of it, leaves. Every reset mode is checked by where a kafkajs
 * consumer of the group then resumes. Run `npm run build:ts` first.
 */

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clampOffset, parseDatetime, saslPlainCredentials, topicSelection } from '../../src/cli/groups.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { openKafkaServer, WAIT_MS, type KafkaTestServer } from '../protocol/kafka/helpers.js';

const run = promisify(execFile);
const builtCli = path.resolve(import.meta.dirname, '../../dist/cli/ferry.js');

const TOPIC = 'orders';
const PARTITIONS = 2;
const RECORDS_PER_PARTITION = 10;
/** Record i of each partition has CreateTime BASE_TIME_MS + i seconds. */
const BASE_TIME_MS = Date.parse('2026-01-01T00:00:00.000Z');
const GROUP_SETTINGS = { initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 1000, offsetsTopicPartitions: 3 };

let server: KafkaTestServer;
let kafka: Kafka;

beforeAll(async () => {
  server = await openKafkaServer({ groups: GROUP_SETTINGS });
  kafka = new Kafka({ clientId: 'app-client', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });
  await server.broker.createTopic(TOPIC, { partitions: PARTITIONS });
  for (let partition = 0; partition < PARTITIONS; partition++) {
    await server.broker.produce(
      TOPIC,
      Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({ value: Buffer.from(`p${partition}-${i}`), partition, timestamp: BASE_TIME_MS + i * 1000 })),
    );
  }
});

afterAll(async () => {
  await server.close();
  await closeSharedStoragePool();
});

interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

async function ferry(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [builtCli, 'groups', '--bootstrap-server', server.bootstrap, ...args]);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as CliResult;
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

/** Data rows of a table, split on runs of spaces (the header dropped). */
function rows(stdout: string): string[][] {
  return stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(/ +/));
}

function consumerOf(groupId: string): Consumer {
  return kafka.consumer({ groupId, sessionTimeout: 6_000, heartbeatInterval: 100, rebalanceTimeout: 10_000, maxWaitTimeInMs: 100 });
}

/** A consumer of the group that reads everything, commits offsets 4 and 7 of TOPIC by hand (nothing of `alsoSubscribed`), and stays connected. */
async function consumeAndCommit(groupId: string, alsoSubscribed: string[] = []): Promise<Consumer> {
  const consumer = consumerOf(groupId);
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC, ...alsoSubscribed], fromBeginning: true });
  let read = 0;
  await consumer.run({
    autoCommit: false,
    eachMessage: async () => {
      read++;
    },
  });
  // Later tests produce more: at least the first RECORDS_PER_PARTITION of each partition.
  await vi.waitFor(() => expect(read).toBeGreaterThanOrEqual(PARTITIONS * RECORDS_PER_PARTITION), { timeout: WAIT_MS, interval: 50 });
  await consumer.commitOffsets([
    { topic: TOPIC, partition: 0, offset: '4' },
    { topic: TOPIC, partition: 1, offset: '7' },
  ]);
  return consumer;
}

/** Where a fresh kafkajs consumer of the group starts reading, per partition (it commits nothing). */
async function resumeOffsets(groupId: string): Promise<Record<number, string>> {
  const consumer = consumerOf(groupId);
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  const first: Record<number, string> = {};
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      first[partition] ??= message.offset;
    },
  });
  try {
    await vi.waitFor(() => expect(Object.keys(first)).toHaveLength(PARTITIONS), { timeout: WAIT_MS, interval: 50 });
  } finally {
    await consumer.disconnect();
  }
  return first;
}

describe('ferry groups (kafka-consumer-groups over the Kafka protocol)', () => {
  it('describes a live group, refuses a reset while it has members, lists it, and describes it again once it left', async () => {
    await server.broker.createTopic('quiet', { partitions: 1 });
    const consumer = await consumeAndCommit('live', ['quiet']);
    try {
      const described = await ferry('describe', 'live');
      expect(described.code).toBe(0);
      expect(described.stdout.split('\n')[0]).toMatch(/^GROUP {11}TOPIC {11}PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG {13}CONSUMER-ID +HOST {12}CLIENT-ID$/);
      const [p0, p1, quiet] = rows(described.stdout);
      expect(p0).toEqual(['live', TOPIC, '0', '4', '10', '6', expect.stringMatching(/^app-client-/), '/127.0.0.1', 'app-client']);
      expect(p1).toEqual(['live', TOPIC, '1', '7', '10', '3', p0![6], '/127.0.0.1', 'app-client']);
      // Owned, never committed: no current offset, no lag.
      expect(quiet).toEqual(['live', 'quiet', '0', '-', '0', '-', p0![6], '/127.0.0.1', 'app-client']);
      expect(described.stderr).toBe('');

      const refused = await ferry('reset-offsets', 'live', '--topic', TOPIC, '--to-earliest', '--execute');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe("ferry: Assignments can only be reset if the group 'live' is inactive, but the current state is Stable (1 members).\n");
      const deleteRefused = await ferry('delete', 'live');
      expect(deleteRefused.code).toBe(1);
      expect(deleteRefused.stderr).toContain("* Group 'live' could not be deleted due to: NON_EMPTY_GROUP");

      expect(rows((await ferry('list')).stdout)).toContainEqual(['live', 'Stable']);
      const members = await ferry('describe', 'live', '--members', '--verbose');
      expect(members.stdout.split('\n')[1]).toMatch(new RegExp(`^live +${p0![6]} /127\\.0\\.0\\.1 +app-client +3 +(orders\\(0,1\\), quiet\\(0\\)|quiet\\(0\\), orders\\(0,1\\))$`));
      const state = await ferry('describe', 'live', '--state');
      expect(rows(state.stdout)).toEqual([['live', server.bootstrap, '(1)', 'RoundRobinAssigner', 'Stable', '1']]);
    } finally {
      await consumer.disconnect();
    }

    const left = await ferry('describe', 'live');
    expect(rows(left.stdout)).toEqual([
      ['live', TOPIC, '0', '4', '10', '6', '-', '-', '-'],
      ['live', TOPIC, '1', '7', '10', '3', '-', '-', '-'],
    ]);
    expect(left.stderr).toBe("Consumer group 'live' has no active members.\n");
    expect(rows((await ferry('list', '--state', 'empty')).stdout)).toContainEqual(['live', 'Empty']);
    expect(rows((await ferry('list', '--state', 'Stable')).stdout).map((row) => row[0])).not.toContain('live');
  });

  it('previews a reset without changing anything, and with --execute moves where kafkajs resumes, in every mode', async () => {
    await (await consumeAndCommit('resets')).disconnect();
    const committed = async (): Promise<string[]> => rows((await ferry('describe', 'resets')).stdout).map((row) => row[3]!);
    expect(await committed()).toEqual(['4', '7']);

    const preview = await ferry('reset-offsets', 'resets', '--topic', TOPIC, '--to-earliest');
    expect(preview.code).toBe(0);
    expect(preview.stdout).toBe(
      [
        'GROUP                          TOPIC                          PARTITION  NEW-OFFSET',
        'resets                         orders                         0          0',
        'resets                         orders                         1          0',
        '',
      ].join('\n'),
    );
    expect(preview.stderr).toContain('Preview only: nothing was committed');
    expect(await committed()).toEqual(['4', '7']);

    const reset = async (...args: string[]): Promise<string[][]> => {
      const result = await ferry('reset-offsets', 'resets', ...args, '--execute');
      expect(result.code, result.stderr).toBe(0);
      return rows(result.stdout).map((row) => [row[2]!, row[3]!]);
    };

    expect(await reset('--topic', TOPIC, '--to-earliest')).toEqual([['0', '0'], ['1', '0']]);
    expect(await resumeOffsets('resets')).toEqual({ 0: '0', 1: '0' });

    expect(await reset('--topic', `${TOPIC}:1`, '--to-offset', '8')).toEqual([['1', '8']]);
    expect(await resumeOffsets('resets')).toEqual({ 0: '0', 1: '8' });

    expect(await reset('--all-topics', '--shift-by', '3')).toEqual([['0', '3'], ['1', '10']]);
    // Partition 1 is at its end now: a record produced after the reset is the first it reads.
    await server.broker.produce(TOPIC, [{ value: Buffer.from('late'), partition: 1, timestamp: BASE_TIME_MS + 60_000 }]);
    expect(await resumeOffsets('resets')).toEqual({ 0: '3', 1: '10' });

    expect(await reset('--topic', TOPIC, '--to-datetime', '2026-01-01T00:00:06.000Z')).toEqual([['0', '6'], ['1', '6']]);
    expect(await resumeOffsets('resets')).toEqual({ 0: '6', 1: '6' });
    // The same instant written with an offset; a time past every record resets to the log end.
    expect(await reset('--topic', TOPIC, '--to-datetime', '2026-01-01T01:00:02.500+01:00')).toEqual([['0', '3'], ['1', '3']]);
    expect(await reset('--topic', `${TOPIC}:0`, '--to-datetime', '2030-01-01T00:00:00.000Z')).toEqual([['0', '10']]);

    expect(await reset('--topic', TOPIC, '--to-latest')).toEqual([['0', '10'], ['1', '11']]);
    await server.broker.produce(TOPIC, [{ value: Buffer.from('later'), partition: 0, timestamp: BASE_TIME_MS + 61_000 }]);
    await server.broker.produce(TOPIC, [{ value: Buffer.from('later'), partition: 1, timestamp: BASE_TIME_MS + 61_000 }]);
    expect(await resumeOffsets('resets')).toEqual({ 0: '10', 1: '11' });

    // Out-of-range targets are clamped into [log start, log end], with a note.
    const clamped = await ferry('reset-offsets', 'resets', '--all-topics', '--shift-by', '-100', '--execute');
    expect(rows(clamped.stdout).map((row) => row[3])).toEqual(['0', '0']);
    expect(clamped.stderr).toContain('New offset (-90) is lower than the earliest offset of orders-0: it will be set to 0.');
    const high = await ferry('reset-offsets', 'resets', '--topic', TOPIC, '--to-offset', '999', '--execute');
    expect(rows(high.stdout).map((row) => row[3])).toEqual(['11', '12']);
    expect(await committed()).toEqual(['11', '12']);
  });

  it('says what is wrong with a reset: no mode, two modes, no scope, no committed offset to shift, an unknown topic or partition', async () => {
    const expectError = async (args: string[], message: RegExp): Promise<void> => {
      const result = await ferry('reset-offsets', 'fresh', ...args);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
    };
    await expectError(['--topic', TOPIC], /exactly one of --to-earliest/);
    await expectError(['--topic', TOPIC, '--to-earliest', '--to-latest'], /exactly one of --to-earliest/);
    await expectError(['--to-earliest'], /one of --topic or --all-topics/);
    await expectError(['--topic', TOPIC, '--shift-by', '1'], /Cannot shift offset for partition orders-0 since there is no current committed offset/);
    await expectError(['--topic', 'missing', '--to-earliest'], /UNKNOWN_TOPIC_OR_PARTITION/);
    await expectError(['--topic', `${TOPIC}:5`, '--to-earliest'], /topic orders has no partition 5/);
    await expectError(['--all-topics', '--to-earliest'], /nothing to reset: group 'fresh' has no committed offsets/);
    await expectError(['--topic', TOPIC, '--to-datetime', 'yesterday'], /--to-datetime.*YYYY-MM-DDTHH:mm:SS.sss/);

    // A group that does not exist yet can be given offsets (Kafka allows it): it then exists, Empty.
    expect((await ferry('reset-offsets', 'fresh', '--topic', TOPIC, '--to-offset', '2', '--execute')).code).toBe(0);
    expect(rows((await ferry('list')).stdout)).toContainEqual(['fresh', 'Empty']);
  });

  it('deletes groups with no members, and says which could not be', async () => {
    await (await consumeAndCommit('doomed')).disconnect();
    expect(rows((await ferry('list')).stdout)).toContainEqual(['doomed', 'Empty']);
    const deleted = await ferry('delete', 'doomed');
    expect(deleted).toMatchObject({ code: 0, stdout: "Deletion of requested consumer groups ('doomed') was successful.\n" });
    expect(rows((await ferry('list')).stdout).map((row) => row[0])).not.toContain('doomed');
    const gone = await ferry('describe', 'doomed');
    expect(gone).toMatchObject({ code: 1, stderr: "ferry: Consumer group 'doomed' does not exist.\n" });
    const again = await ferry('delete', 'doomed');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("ferry: Deletion of some consumer groups failed:\n* Group 'doomed' could not be deleted due to: GROUP_ID_NOT_FOUND (no such group)\n");
  });

  it('says in one line that no broker listens at the bootstrap server', async () => {
    const result = await run(process.execPath, [builtCli, 'groups', 'list'], { env: { ...process.env, FERRY_BOOTSTRAP_SERVER: '127.0.0.1:1' } }).catch((error: CliResult) => error);
    expect((result as CliResult).code).toBe(1);
    expect(result.stderr).toBe('ferry: cannot connect to 127.0.0.1:1: ECONNREFUSED; is a broker listening there? (ferry start, or set --bootstrap-server / FERRY_BOOTSTRAP_SERVER)\n');
  });
});

describe('ferry groups with SASL/PLAIN', () => {
  it('authenticates with FERRY_SASL_PLAIN, and says so when the password is wrong', async () => {
    const secured = await openKafkaServer({}, { saslPlainUsers: new Map([['ops', 's3cret']]) });
    try {
      await secured.broker.createTopic('audit'); // a group exists once it holds something: here an offset
      await secured.broker.groups.resetOffsets('audited', [{ topic: 'audit', partition: 0, offset: 0n }]);
      const list = (credentials: string): Promise<CliResult> =>
        run(process.execPath, [builtCli, 'groups', '--bootstrap-server', secured.bootstrap, 'list'], { env: { ...process.env, FERRY_SASL_PLAIN: credentials } })
          .then(({ stdout, stderr }) => ({ stdout, stderr, code: 0 }))
          .catch((error: CliResult) => error);
      expect((await list('ops:s3cret')).stdout).toBe('GROUP           STATE\naudited         Empty\n');
      const refused = await list('ops:wrong');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^ferry: SASL\/PLAIN authentication of ops at 127\.0\.0\.1:\d+ failed with SASL_AUTHENTICATION_FAILED/);
    } finally {
      await secured.close();
    }
  });
});

describe('ferry groups argument parsing', () => {
  it('reads topic selections, datetimes and clamps offsets as Kafka does', () => {
    expect(topicSelection('orders')).toEqual([{ topic: 'orders', partitions: null }]);
    expect(topicSelection('a:b:0,2', [{ topic: 'x', partitions: null }])).toEqual([
      { topic: 'x', partitions: null },
      { topic: 'a:b', partitions: [0, 2] },
    ]);
    expect(() => topicSelection('orders:')).toThrow(/expected <topic>/);
    expect(() => topicSelection('orders:1,x')).toThrow(/expected <topic>/);
    expect(parseDatetime('2026-01-01T00:00:06.000Z')).toBe(BASE_TIME_MS + 6000);
    expect(parseDatetime('2026-01-01T02:00:06+02:00')).toBe(BASE_TIME_MS + 6000);
    expect(parseDatetime('2026-01-01T00:00:06.000')).toBe(new Date(2026, 0, 1, 0, 0, 6).getTime());
    expect(() => parseDatetime('2026-01-01')).toThrow(/YYYY-MM-DDTHH:mm:SS.sss/);
    expect(() => parseDatetime('2026-13-01T00:00:00Z')).toThrow(/YYYY-MM-DDTHH:mm:SS.sss/);
    expect(clampOffset(-5n, { start: 2n, end: 9n })).toBe(2n);
    expect(clampOffset(5n, { start: 2n, end: 9n })).toBe(5n);
    expect(clampOffset(50n, { start: 2n, end: 9n })).toBe(9n);
    expect(saslPlainCredentials('ops:a:b')).toEqual({ username: 'ops', password: 'a:b' });
    expect(() => saslPlainCredentials(':pw')).toThrow(/user:password/);
  });
});
