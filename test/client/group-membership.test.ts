/**
 * FerryClient.join in Node (the `ws` package's WebSocket) against a broker
 * served as `ferry start` serves it: members share a group's partitions
 * across encodings, consumed positions are committed when a rebalance starts
 * so the next owner resumes there, leave() hands the partitions back, and
 * after the broker restarts the member joins again and resumes from its
 * commits.
 * Short sessions, no initial rebalance delay; every wait is bounded and
 * nothing asserts on timing.
 */

import { createRequire } from 'node:module';
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FerryClient, type AssignedPartitions, type ConsumedRecord, type GroupMembership, type WebSocketConstructor } from '../../src/client/index.js';
import { startServer, type RunningServer } from '../../src/protocol/server.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;
const WAIT_MS = 15_000;
const PARTITIONS = 4;
const MEMBER_OPTIONS = { sessionTimeoutMs: 1_500, rebalanceTimeoutMs: 6_000 };
const GROUP_SETTINGS = { initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 1_000, offsetsTopicPartitions: 3 };

let broker: Broker;
let server: RunningServer;
let url: string;
const clients: FerryClient[] = [];

beforeAll(async () => {
  broker = await Broker.open({ dataDir: tempDir('ferry-client-groups-'), groups: GROUP_SETTINGS });
  server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  url = `ws://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  for (const client of clients) await client.close();
  server?.close();
  await broker?.close();
  await closeSharedStoragePool();
});

async function connect(encoding: 'json' | 'binary'): Promise<FerryClient> {
  const client = await FerryClient.connect(url, { WebSocket, encoding });
  clients.push(client);
  return client;
}

/** Iterates `membership` in the background; `records` grows as they come. */
function drain(membership: GroupMembership): { records: ConsumedRecord[]; ended: Promise<void> } {
  const records: ConsumedRecord[] = [];
  const ended = (async () => {
    for await (const record of membership) records.push(record);
  })();
  return { records, ended };
}

/** The next record of `membership`, within WAIT_MS. */
async function nextRecord(membership: GroupMembership): Promise<ConsumedRecord> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no record within ${WAIT_MS} ms`)), WAIT_MS).unref());
  const next = await Promise.race([membership.next(), timeout]);
  if (next.done) throw new Error('the membership ended');
  return next.value;
}

function partitions(assignment: readonly AssignedPartitions[]): number[] {
  return assignment.flatMap((entry) => entry.partitions).sort();
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function produceRound(topic: string, prefix: string): Promise<void> {
  await broker.produce(
    topic,
    Array.from({ length: PARTITIONS }, (_, partition) => ({ value: Buffer.from(`${prefix}-${partition}`), partition })),
  );
}

describe('FerryClient.join', () => {
  it('shares a group between a JSON and a binary member, commits on rebalance so the next owner resumes there, and leave() hands everything back', async () => {
    const topic = 'client-group';
    const group = 'client-group';
    await broker.createTopic(topic, { partitions: PARTITIONS });
    const first = await connect('json');
    const assignments: number[][] = [];
    const a = first.join(group, topic, { ...MEMBER_OPTIONS, from: 'earliest', onAssignment: (assignment) => assignments.push(partitions(assignment)) });
    expect(partitions(await a.ready)).toEqual([0, 1, 2, 3]);
    const drainedA = drain(a);
    await produceRound(topic, 'before');
    await waitFor(() => drainedA.records.length === PARTITIONS, 'the first member reading every partition');

    // b joins: a's client commits what it consumed before the broker rejoins for it, so b starts after those records.
    const second = await connect('binary');
    const b = second.join(group, [topic], MEMBER_OPTIONS);
    const assignedB = partitions(await b.ready);
    await waitFor(() => partitions(a.assignment).length === 2, 'the first member rebalanced');
    expect([...assignedB, ...partitions(a.assignment)].sort()).toEqual([0, 1, 2, 3]);
    expect(assignments).toEqual([[0, 1, 2, 3], partitions(a.assignment)]);
    const committed = broker.groups.fetchOffsets(group, null).map((entry) => [entry.partition, Number(entry.offset)]);
    expect(committed).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
    ]);

    const drainedB = drain(b);
    await produceRound(topic, 'after');
    await waitFor(() => drainedB.records.length === 2 && drainedA.records.length === PARTITIONS + 2, 'each member reading its half');
    expect(drainedB.records.map((r) => r.valueText).sort()).toEqual(assignedB.map((p) => `after-${p}`));
    expect(drainedA.records.slice(PARTITIONS).map((r) => r.valueText).sort()).toEqual(partitions(a.assignment).map((p) => `after-${p}`));

    // An explicit commit of b's positions, seen by the coordinator.
    await b.commit();
    for (const partition of assignedB) expect(broker.groups.fetchOffsets(group, [{ topic, partition }])[0]!.offset).toBe(2n);

    // b leaves: its iteration ends, and a gets every partition back.
    await b.leave();
    await drainedB.ended;
    await waitFor(() => partitions(a.assignment).length === PARTITIONS, 'the first member taking every partition');
    await produceRound(topic, 'alone');
    await waitFor(() => drainedA.records.filter((r) => r.valueText?.startsWith('alone-')).length === PARTITIONS, 'the first member reading every partition again');
    await first.close();
    await drainedA.ended;
  });

  it('fails the membership with the broker error when the join is refused', async () => {
    const client = await connect('json');
    const membership = client.join('refused', 'no-such-topic', MEMBER_OPTIONS);
    await expect(membership.ready).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
    await expect(membership.next()).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(await client.committedOffsets('refused')).toEqual([]);
  });

  it('joins again after the broker restarts (same data dir and port) and resumes from the committed offsets', async () => {
    const dataDir = tempDir('ferry-client-groups-restart-');
    const port = await freePort();
    const open = async (): Promise<{ broker: Broker; server: RunningServer }> => {
      const restartable = await Broker.open({ dataDir, groups: GROUP_SETTINGS });
      return { broker: restartable, server: await startServer({ broker: restartable, host: '127.0.0.1', port, logger: pino({ level: 'silent' }) }) };
    };
    let running = await open();
    const client = await FerryClient.connect(`ws://127.0.0.1:${port}`, { WebSocket, reconnectDelayMinMs: 20, reconnectDelayMaxMs: 200 });
    try {
      await running.broker.createTopic('restart', { partitions: 2 });
      let assignments = 0;
      const membership = client.join('restarts', 'restart', { ...MEMBER_OPTIONS, from: 'earliest', onAssignment: () => assignments++ });
      await membership.ready;
      await running.broker.produce('restart', [{ value: Buffer.from('before-0'), partition: 0 }, { value: Buffer.from('before-1'), partition: 1 }]);
      const before = [await nextRecord(membership), await nextRecord(membership)].map((record) => record.valueText);
      expect(before.sort()).toEqual(['before-0', 'before-1']);
      await membership.commit();

      running.server.close();
      await running.broker.close();
      running = await open();
      await running.broker.produce('restart', [{ value: Buffer.from('after-0'), partition: 0 }]);
      // Joined again on the new socket: only what was not committed comes.
      const next = await nextRecord(membership);
      expect([next.partition, next.offset, next.valueText]).toEqual([0, 1, 'after-0']);
      expect(assignments).toBe(2);
      expect(membership.assignment).toEqual([{ topic: 'restart', partitions: [0, 1] }]);
    } finally {
      await client.close();
      running.server.close();
      await running.broker.close();
    }
  });
});

/** A free port (bind port 0, let it go): a restarted server must come back on the same one. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
