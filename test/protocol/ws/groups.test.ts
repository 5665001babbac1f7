/**
 * Consumer groups over the WebSocket door (protocol.ts: join, commit,
 * offsets, leave; rebalancing and rebalance pushes), on the same coordinator
 * as the Kafka door: one broker behind both doors, raw JSON sockets on one
 * side and kafkajs 2.2.4 on the other. Short session timeouts and no initial
 * rebalance delay; every wait is bounded and nothing asserts on timing.
 */

import { createRequire } from 'node:module';
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../../src/broker/broker.js';
import { startKafkaServer, type RunningKafkaServer } from '../../../src/protocol/kafka/server.js';
import { startServer, type RunningServer } from '../../../src/protocol/server.js';
import type { GroupAssignment, ServerMessage } from '../../../src/protocol/ws/protocol.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { tempDir } from '../../storage/helpers.js';

const WAIT_MS = 15_000;
/** The door heartbeats every third of it: a rebalance is noticed within ~0.5 s. */
const SESSION_TIMEOUT_MS = 1_500;
const GROUP_SETTINGS = { initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 1_000, offsetsTopicPartitions: 3 };
const PARTITIONS = 4;

interface NodeWebSocket {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(data: string): void;
  close(): void;
}
const NodeWebSocket = createRequire(import.meta.url)('ws') as new (url: string) => NodeWebSocket;

type Joined = Extract<ServerMessage, { type: 'joined' }>;
type Rebalance = Extract<ServerMessage, { type: 'rebalance' }>;
type Records = Extract<ServerMessage, { type: 'records' }>;

/** A JSON socket: frames queued, taken by predicate with a bounded wait. */
class GroupSocket {
  private readonly received: ServerMessage[] = [];
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  closed = false;

  private constructor(private readonly ws: NodeWebSocket) {
    ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString('utf8')) as ServerMessage);
      this.notify();
    });
    ws.on('close', () => {
      this.closed = true;
      this.notify();
    });
    ws.on('error', () => undefined);
  }

  static async open(port: number): Promise<GroupSocket> {
    const socket = new GroupSocket(new NodeWebSocket(`ws://127.0.0.1:${port}/ws`));
    await socket.take((m) => m.type === 'hello', 'hello');
    return socket;
  }

  /** Sends a request with a fresh id and waits for its answer (an error answer is returned, not thrown). */
  async request<T extends ServerMessage>(message: object): Promise<T> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...message, id }));
    return this.take<T>((m) => 'id' in m && m.id === id, `answer to ${JSON.stringify(message)}`);
  }

  join(group: string, extra: object = {}): Promise<Joined> {
    return this.request<Joined>({ type: 'join', group, topics: [TOPIC], session_timeout_ms: SESSION_TIMEOUT_MS, rebalance_timeout_ms: 5_000, ...extra });
  }

  /** The next `rebalance` push of `group`, skipping any earlier ones (a member may go through several generations). */
  async rebalanceWhere(group: string, done: (push: Rebalance) => boolean): Promise<Rebalance> {
    for (;;) {
      const push = await this.take<Rebalance>((m) => m.type === 'rebalance' && m.group === group, `rebalance of ${group}`);
      if (done(push)) return push;
    }
  }

  /** Record values pushed under `subscription` until `count` have come. */
  async values(subscription: number, count: number): Promise<Array<{ partition: number; offset: number; value: string }>> {
    const values: Array<{ partition: number; offset: number; value: string }> = [];
    while (values.length < count) {
      const push = await this.take<Records>((m) => m.type === 'records' && m.subscription === subscription, `records of subscription ${subscription}`);
      for (const record of push.records) values.push({ partition: push.partition, offset: record.offset, value: String(record.value) });
    }
    return values;
  }

  has(match: (message: ServerMessage) => boolean): boolean {
    return this.received.some(match);
  }

  close(): void {
    this.ws.close();
  }

  async take<T extends ServerMessage>(match: (message: ServerMessage) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const index = this.received.findIndex(match);
      if (index >= 0) return this.received.splice(index, 1)[0] as T;
      if (this.closed) throw new Error(`socket closed while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT_MS} ms; received ${this.received.map((m) => m.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, deadline - Date.now() + 1);
        this.waiters.add(wake);
      });
    }
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

const TOPIC = 'shared';

let broker: Broker;
let http: RunningServer;
let kafkaServer: RunningKafkaServer;
let kafka: Kafka;
let admin: Admin;
const sockets: GroupSocket[] = [];
const consumers: Consumer[] = [];

beforeAll(async () => {
  broker = await Broker.open({ dataDir: tempDir('ferry-ws-groups-'), groups: GROUP_SETTINGS });
  http = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  kafkaServer = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger: pino({ level: 'silent' }) });
  kafka = new Kafka({ clientId: 'ws-groups-test', brokers: [`127.0.0.1:${kafkaServer.port}`], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });
  admin = kafka.admin();
  await admin.connect();
  await broker.createTopic(TOPIC, { partitions: PARTITIONS });
});

afterEach(async () => {
  for (const consumer of consumers.splice(0)) await consumer.disconnect();
  for (const socket of sockets.splice(0)) socket.close();
});

afterAll(async () => {
  await admin?.disconnect();
  await kafkaServer?.close();
  http?.close();
  await broker?.close();
  await closeSharedStoragePool();
});

async function openSocket(): Promise<GroupSocket> {
  const socket = await GroupSocket.open(http.port);
  sockets.push(socket);
  return socket;
}

function partitionsOf(assignment: readonly GroupAssignment[]): number[] {
  return assignment.flatMap((entry) => entry.partitions.map((p) => p.partition)).sort();
}

function subscriptionOf(assignment: readonly GroupAssignment[]): number {
  expect(assignment).toHaveLength(1);
  return assignment[0]!.subscription!;
}

async function produceToEvery(prefix: string, topic = TOPIC): Promise<void> {
  await broker.produce(
    topic,
    Array.from({ length: PARTITIONS }, (_, partition) => ({ value: Buffer.from(`${prefix}-${partition}`), partition })),
  );
}

describe('WebSocket consumer groups', () => {
  it('two WebSocket members share the partitions (range), each pushed only its own, and the survivor takes all when the other closes its socket', async () => {
    const group = 'ws-pair';
    const a = await openSocket();
    const first = await a.join(group);
    expect(first).toMatchObject({ type: 'joined', group, leader: first.member_id });
    expect(first.member_id).toMatch(/^ferry-ws-/);
    expect(partitionsOf(first.assignment)).toEqual([0, 1, 2, 3]);
    // No commits yet: every partition starts at "latest", the log end.
    expect(first.assignment[0]!.partitions.every((p) => p.offset === broker.listOffset(TOPIC, p.partition, 'latest').offset)).toBe(true);

    const b = await openSocket();
    const joinedB = await b.join(group);
    const rebalancedA = await a.rebalanceWhere(group, (push) => push.generation === joinedB.generation);
    expect(a.has((m) => m.type === 'rebalancing' && m.group === group)).toBe(true); // pushed before it rejoined
    const partsA = partitionsOf(rebalancedA.assignment);
    const partsB = partitionsOf(joinedB.assignment);
    expect(partsA).toHaveLength(2);
    expect(partsB).toHaveLength(2);
    expect([...partsA, ...partsB].sort()).toEqual([0, 1, 2, 3]);
    // Range: each member a contiguous run, the lower member id the lower partitions.
    const [lower, upper] = rebalancedA.member_id < joinedB.member_id ? [partsA, partsB] : [partsB, partsA];
    expect([lower, upper]).toEqual([
      [0, 1],
      [2, 3],
    ]);

    await produceToEvery('pair');
    const valuesA = await a.values(subscriptionOf(rebalancedA.assignment), 2);
    const valuesB = await b.values(subscriptionOf(joinedB.assignment), 2);
    expect(valuesA.map((v) => v.partition).sort()).toEqual(partsA);
    expect(valuesB.map((v) => v.partition).sort()).toEqual(partsB);

    // a's socket closes: it leaves, and b is rebalanced onto every partition.
    a.close();
    const alone = await b.rebalanceWhere(group, (push) => partitionsOf(push.assignment).length === PARTITIONS);
    expect(alone.leader).toBe(alone.member_id);
    expect(broker.groups.describeGroup(group).members.map((m) => m.memberId)).toEqual([alone.member_id]);
  });

  it('a WebSocket member and a kafkajs consumer share one group (RoundRobinAssigner), whoever leads', async () => {
    const group = 'ws-and-kafkajs';
    const topic = 'mixed'; // its own topic: both sides read it from the beginning
    await broker.createTopic(topic, { partitions: PARTITIONS });
    const socket = await openSocket();
    const joined = await socket.join(group, { topics: [topic], assignor: 'RoundRobinAssigner', from: 'earliest' });
    expect(partitionsOf(joined.assignment)).toEqual([0, 1, 2, 3]);

    const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6_000, heartbeatInterval: 100, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100 });
    consumers.push(consumer);
    let kafkajsAssigned: number[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      kafkajsAssigned = [...(event.payload.memberAssignment[topic] ?? [])].sort();
    });
    const kafkajsValues: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void kafkajsValues.push(message.value!.toString()) });

    // Whoever leads (the broker's assignor for the WebSocket member, kafkajs's own otherwise), each gets half.
    const rebalanced = await socket.rebalanceWhere(group, (push) => partitionsOf(push.assignment).length === 2);
    await waitFor(() => kafkajsAssigned.length === 2, 'kafkajs assignment');
    expect([...partitionsOf(rebalanced.assignment), ...kafkajsAssigned].sort()).toEqual([0, 1, 2, 3]);
    const description = broker.groups.describeGroup(group);
    expect(description).toMatchObject({ state: 'Stable', protocolType: 'consumer', protocolName: 'RoundRobinAssigner' });
    expect(description.members).toHaveLength(2);

    // Records go to whoever owns their partition.
    await produceToEvery('shared', topic);
    const wsValues = await socket.values(subscriptionOf(rebalanced.assignment), 2);
    expect(wsValues.map((v) => v.partition).sort()).toEqual(partitionsOf(rebalanced.assignment));
    await waitFor(() => kafkajsValues.length === 2, 'kafkajs records');
    expect([...kafkajsValues].sort()).toEqual(kafkajsAssigned.map((p) => `shared-${p}`));

    // The WebSocket member leaves; kafkajs, now leader, assigns itself every partition.
    const left = await socket.request({ type: 'leave', group });
    expect(left).toMatchObject({ type: 'left', group });
    await waitFor(() => kafkajsAssigned.length === PARTITIONS, 'kafkajs taking every partition');

    // A second WebSocket member joins the group kafkajs now leads: kafkajs's assignor assigns it.
    const second = await openSocket();
    const joinedSecond = await second.join(group, { topics: [topic], assignor: 'RoundRobinAssigner' });
    expect(broker.groups.describeGroup(group).leaderId).not.toBe(joinedSecond.member_id);
    let assigned = partitionsOf(joinedSecond.assignment);
    if (assigned.length !== 2) assigned = partitionsOf((await second.rebalanceWhere(group, (push) => partitionsOf(push.assignment).length === 2)).assignment);
    await waitFor(() => kafkajsAssigned.length === 2, 'kafkajs giving up half');
    expect([...assigned, ...kafkajsAssigned].sort()).toEqual([0, 1, 2, 3]);
  });

  it("commits by WebSocket are kafkajs admin's fetchOffsets, kafkajs's commits are the WebSocket offsets answer, and a rejoin resumes from them", async () => {
    const group = 'ws-commits';
    for (const round of [1, 2, 3]) await produceToEvery(`commits-${round}`); // committed offsets must be inside the log to be resumed from
    const socket = await openSocket();
    const joined = await socket.join(group);
    const committed = await socket.request({ type: 'commit', group, offsets: [{ topic: TOPIC, partition: 0, offset: 1, metadata: 'from the browser' }, { topic: TOPIC, partition: 1, offset: 2 }] });
    expect(committed).toEqual({
      type: 'committed',
      id: expect.any(Number),
      group,
      results: [
        { topic: TOPIC, partition: 0, error_code: 0, error_name: 'NONE' },
        { topic: TOPIC, partition: 1, error_code: 0, error_name: 'NONE' },
      ],
    });
    const seenByKafkajs = await admin.fetchOffsets({ groupId: group, topics: [TOPIC] });
    expect(seenByKafkajs[0]!.partitions.sort((x, y) => x.partition - y.partition)).toEqual([
      { partition: 0, offset: '1', metadata: 'from the browser' },
      { partition: 1, offset: '2', metadata: null },
      { partition: 2, offset: '-1', metadata: null },
      { partition: 3, offset: '-1', metadata: null },
    ]);
    // A commit for a partition that does not exist fails alone.
    const mixed = await socket.request<Extract<ServerMessage, { type: 'committed' }>>({ type: 'commit', group, offsets: [{ topic: TOPIC, partition: 9, offset: 0 }] });
    expect(mixed.results).toEqual([{ topic: TOPIC, partition: 9, error_code: 3, error_name: 'UNKNOWN_TOPIC_OR_PARTITION' }]);
    expect(joined.generation).toBeGreaterThan(0);

    // Leave, then rejoin: partitions 0 and 1 resume from the commits, the others from `from`.
    await socket.request({ type: 'leave', group });
    const rejoined = await socket.join(group, { from: 'earliest' });
    const starts = Object.fromEntries(rejoined.assignment[0]!.partitions.map((p) => [p.partition, p.offset]));
    expect(starts).toEqual({ 0: 1, 1: 2, 2: 0, 3: 0 });
    await socket.request({ type: 'leave', group });

    // kafkajs commits (the group is empty now, so a commit from outside group management is accepted) ...
    await admin.setOffsets({ groupId: group, topic: TOPIC, partitions: [{ partition: 3, offset: '5' }] });
    const offsets = await socket.request<Extract<ServerMessage, { type: 'committed_offsets' }>>({ type: 'offsets', group, topics: [TOPIC] });
    expect(offsets).toMatchObject({ type: 'committed_offsets', group });
    expect(offsets.offsets.find((o) => o.partition === 3)).toEqual({ topic: TOPIC, partition: 3, offset: 5, metadata: '' });
    const all = await socket.request<Extract<ServerMessage, { type: 'committed_offsets' }>>({ type: 'offsets', group });
    expect(all.offsets.map((o) => [o.partition, o.offset])).toEqual([
      [0, 1],
      [1, 2],
      [3, 5],
    ]);
    // ... and so is a WebSocket commit from a socket that is not a member.
    const outside = await socket.request<Extract<ServerMessage, { type: 'committed' }>>({ type: 'commit', group, offsets: [{ topic: TOPIC, partition: 2, offset: 1 }] });
    expect(outside.results[0]!.error_name).toBe('NONE');
  });

  it('after rebalancing waits for the commit (revoke_timeout_ms), which the old generation still makes, heartbeating meanwhile', async () => {
    const group = 'ws-revoke';
    const a = await openSocket();
    const joinedA = await a.join(group, { revoke_timeout_ms: 2_500 });
    const b = await openSocket();
    const joiningB = b.join(group);
    const rebalancing = await a.take<Extract<ServerMessage, { type: 'rebalancing' }>>((m) => m.type === 'rebalancing', 'rebalancing');
    expect(rebalancing).toEqual({ type: 'rebalancing', group, generation: joinedA.generation });
    // The door has not rejoined: the group waits for a in PreparingRebalance, where the old generation may commit.
    const committed = await a.request<Extract<ServerMessage, { type: 'committed' }>>({ type: 'commit', group, offsets: [{ topic: TOPIC, partition: 0, offset: 0 }] });
    expect(committed.results).toEqual([{ topic: TOPIC, partition: 0, error_code: 0, error_name: 'NONE' }]);
    const joinedB = await joiningB;
    const rebalanced = await a.rebalanceWhere(group, (push) => push.generation === joinedB.generation);
    expect(rebalanced.generation).toBe(joinedA.generation + 1);
    expect([...partitionsOf(rebalanced.assignment), ...partitionsOf(joinedB.assignment)].sort()).toEqual([0, 1, 2, 3]);

    // b leaves and a does not commit: the door waits out the whole window (longer than the session timeout),
    // heartbeating meanwhile, so a rejoins as the same member rather than one the group expired.
    await b.request({ type: 'leave', group });
    await a.take((m) => m.type === 'rebalancing' && m.generation === rebalanced.generation, 'the second rebalancing');
    const alone = await a.rebalanceWhere(group, (push) => push.generation > rebalanced.generation);
    expect(alone.member_id).toBe(joinedA.member_id);
    expect(partitionsOf(alone.assignment)).toEqual([0, 1, 2, 3]);
  });

  it('keeps a static member (instance_id) whose socket closed: the same instance joining again gets its partitions back without a rebalance', async () => {
    const group = 'ws-static';
    const options = { instance_id: 'tab-1', session_timeout_ms: 30_000 }; // a session the test never waits out
    const first = await openSocket();
    const joined = await first.join(group, options);
    first.close();
    await waitFor(() => broker.groups.describeGroup(group).members.length === 1 && first.closed, 'the socket closed');
    const again = await openSocket();
    const rejoined = await again.join(group, options);
    expect(rejoined.generation).toBe(joined.generation);
    expect(partitionsOf(rejoined.assignment)).toEqual(partitionsOf(joined.assignment));
    expect(rejoined.member_id).not.toBe(joined.member_id); // the new incarnation fences the old one
    expect(broker.groups.describeGroup(group)).toMatchObject({ state: 'Stable', members: [expect.objectContaining({ memberId: rejoined.member_id, groupInstanceId: 'tab-1' })] });
    // An explicit leave does leave.
    await again.request({ type: 'leave', group });
    expect(broker.groups.describeGroup(group).members).toEqual([]);
  });

  it('tells a static member it was fenced (an error naming the group) when another socket joins with its instance_id', async () => {
    const group = 'ws-fenced';
    const options = { instance_id: 'tab-2' };
    const first = await openSocket();
    await first.join(group, options);
    const second = await openSocket();
    const joined = await second.join(group, options);
    // The first socket's next heartbeat finds its member id replaced.
    const fenced = await first.take<Extract<ServerMessage, { type: 'error' }>>((m) => m.type === 'error' && m.group === group, 'the fencing error');
    expect(fenced).toMatchObject({ group, error_name: 'FENCED_INSTANCE_ID', error_code: 82 });
    expect(fenced.id).toBeUndefined();
    expect(broker.groups.describeGroup(group).members.map((m) => m.memberId)).toEqual([joined.member_id]);
    // The door dropped the membership on the first socket: leaving is refused.
    expect(await first.request({ type: 'leave', group })).toMatchObject({ type: 'error', error_name: 'UNKNOWN_MEMBER_ID' });
  });

  it('refuses what Kafka refuses: bad joins, joining twice, an assignor the group does not use, leaving a group it is not in, a non-member commit to a live group', async () => {
    const group = 'ws-refusals';
    const socket = await openSocket();
    const errorOf = (answer: ServerMessage): string => (answer.type === 'error' ? answer.error_name : answer.type);
    expect(errorOf(await socket.request({ type: 'join', group, topics: ['no-such-topic'] }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(errorOf(await socket.request({ type: 'join', group, topics: [TOPIC], session_timeout_ms: 10 }))).toBe('INVALID_SESSION_TIMEOUT');
    expect(errorOf(await socket.request({ type: 'join', group, topics: [TOPIC], assignor: 'sticky' }))).toBe('INVALID_REQUEST');
    expect(errorOf(await socket.request({ type: 'join', group, topics: [] }))).toBe('INVALID_REQUEST');
    expect(errorOf(await socket.request({ type: 'leave', group }))).toBe('UNKNOWN_MEMBER_ID');
    expect(errorOf(await socket.request({ type: 'heartbeat', group }))).toBe('UNSUPPORTED_VERSION');

    await socket.join(group);
    expect(errorOf(await socket.join(group))).toBe('INVALID_REQUEST'); // already a member on this socket
    // A member with an assignor the group does not use cannot join it.
    const other = await openSocket();
    expect(errorOf(await other.join(group, { assignor: 'roundrobin' }))).toBe('INCONSISTENT_GROUP_PROTOCOL');
    // A non-member's commit while the group has members is refused, as Kafka's coordinator refuses it.
    expect(errorOf(await other.request({ type: 'commit', group, offsets: [{ topic: TOPIC, partition: 0, offset: 0 }] }))).toBe('UNKNOWN_MEMBER_ID');
  });
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
