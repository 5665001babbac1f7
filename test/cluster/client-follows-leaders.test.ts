/**
 * Clients sent to the wrong broker reach the leader (issue 6): three real
 * brokers (the built CLI as child processes, 3 s leases) on a real etcd, a
 * topic of one partition replicated three times with min.insync.replicas=2.
 * The HTTP door redirects (307) and fetch() follows; FerryClient connected
 * to a broker that does not lead produces and subscribes through the
 * leader; and through a SIGKILL of the leader, FerryClient producers (acks
 * all) and subscriptions, on a surviving broker and on the killed leader
 * itself (with bootstrap brokers), and an HTTP producer that retries 503s
 * carry on, every acknowledged record read back exactly once, in order.
 * Leaders are read through the WebSocket door's metadata request. Every
 * wait is bounded; nothing asserts on timing.
 */

import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryClient, type ConsumedRecord, type WebSocketConstructor } from '../../src/client/index.js';
import type { ServerMessage } from '../../src/protocol/ws/protocol.js';
import { TestSocket } from '../protocol/ws/door-harness.js';
import { BUILT_CLI, killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { startEtcd, type RunningEtcd } from './etcd.js';

const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor;
const run = promisify(execFile);
const CLUSTER = 'follow';
// Preferred-leader elections off: the leader moves only because of the kill.
const BROKER_FLAGS = ['--lease-ttl-seconds', '3', '--replica-lag-time-max-ms', '3000', '--leader-imbalance-check-interval-seconds', '0'];
const TEST_TIMEOUT_MS = 120_000;
/** Records acknowledged on each side of the kill before the loops stop. */
const ACKED_PER_PHASE = 20;

let etcd: RunningEtcd;
let brokers: BrokerProcess[] = [];
const clients: FerryClient[] = [];
let clusterId: string;

beforeAll(async () => {
  etcd = await startEtcd();
  brokers = await Promise.all([41, 42, 43].map((id) => startBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, extra: BROKER_FLAGS })));
  const answer = (await (await fetch(`http://127.0.0.1:${brokers[0]!.httpPort}/v3/clusters`)).json()) as { data: Array<{ cluster_id: string }> };
  clusterId = answer.data[0]!.cluster_id;
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await killAll(brokers);
  await etcd?.stop();
});

function live(): BrokerProcess[] {
  return brokers.filter((broker) => broker.child.exitCode === null && broker.child.signalCode === null);
}

async function connect(broker: BrokerProcess, bootstrap: readonly string[] = []): Promise<FerryClient> {
  const client = await FerryClient.connect(`ws://127.0.0.1:${broker.httpPort}`, { WebSocket, bootstrap });
  clients.push(client);
  return client;
}

async function createTopic(topic: string): Promise<void> {
  await run(process.execPath, [BUILT_CLI, '--http', `http://127.0.0.1:${live()[0]!.httpPort}`, 'topics', 'create', topic, '--partitions', '1', '--replication-factor', '3', '--config', 'min.insync.replicas=2']);
}

/** Partition 0's leader as a live broker's metadata answer names it, once it has one that is not `not`. */
async function leaderOf(topic: string, not?: BrokerProcess): Promise<BrokerProcess> {
  const asker = await FerryClient.connect(`ws://127.0.0.1:${live()[0]!.httpPort}`, { WebSocket, followLeaders: false });
  try {
    return await waitFor(`a leader of ${topic}`, async () => {
      const metadata = await asker.metadata([topic]);
      const leaderId = metadata.topics[0]?.partitions[0]?.leader;
      return live().find((broker) => broker.id === leaderId && broker !== not);
    });
  } finally {
    await asker.close();
  }
}

function recordsUrl(broker: BrokerProcess, topic: string): string {
  return `http://127.0.0.1:${broker.httpPort}/v3/clusters/${clusterId}/topics/${topic}/records`;
}

function postRecord(broker: BrokerProcess, topic: string, value: string, redirect: 'follow' | 'manual'): Promise<Response> {
  return fetch(recordsUrl(broker, topic), { method: 'POST', redirect, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: { type: 'STRING', data: value } }) });
}

/** Every record of partition 0 from `offset` on, read from the leader over HTTP (following a redirect if the leader moved). */
async function readAll(broker: BrokerProcess, topic: string): Promise<Array<{ offset: number; value: string }>> {
  const records: Array<{ offset: number; value: string }> = [];
  for (let offset = 0; ; ) {
    const response = await fetch(`http://127.0.0.1:${broker.httpPort}/v3/clusters/${clusterId}/topics/${topic}/partitions/0/records?offset=${offset}&max_bytes=1048576`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { records: Array<{ offset: number; value: string }>; next_offset: number; high_watermark: number };
    records.push(...page.records.map(({ offset: at, value }) => ({ offset: at, value })));
    if (page.next_offset >= page.high_watermark) return records;
    offset = page.next_offset;
  }
}

describe('HTTP', () => {
  it('a produce to a broker that does not lead is redirected (307, Location on the leader); fetch() follows it and the record lands', async () => {
    await createTopic('http-follow');
    const leader = await leaderOf('http-follow');
    const other = live().find((broker) => broker !== leader)!;

    const manual = await postRecord(other, 'http-follow', 'not followed', 'manual');
    expect(manual.status).toBe(307);
    expect(manual.headers.get('location')).toBe(recordsUrl(leader, 'http-follow'));
    expect(await manual.json()).toMatchObject({ error_code: 307, kafka_error: 'NOT_LEADER_OR_FOLLOWER', leader: { id: leader.id, host: '127.0.0.1', http_port: leader.httpPort } });

    const followed = await postRecord(other, 'http-follow', 'followed', 'follow');
    expect(followed.status).toBe(200);
    const report = (await followed.json()) as { partition_id: number; offset: number };
    expect(report.partition_id).toBe(0);
    // A read at the wrong broker is redirected too.
    expect((await readAll(other, 'http-follow')).map((record) => record.value)).toEqual(['followed']);
  }, TEST_TIMEOUT_MS);
});

describe('WebSocket door', () => {
  it('names the leader in NOT_LEADER_OR_FOLLOWER, and metadata lists the brokers and the leader from any broker', async () => {
    await createTopic('ws-door');
    const leader = await leaderOf('ws-door');
    const other = live().find((broker) => broker !== leader)!;
    const socket = await TestSocket.open(other.httpPort);
    try {
      socket.send({ type: 'produce', id: 1, topic: 'ws-door', records: [{ value: 'stray' }] });
      const error = await socket.take((message) => !Buffer.isBuffer(message) && message.type === 'error', 'the error');
      expect(error).toMatchObject({ id: 1, error_name: 'NOT_LEADER_OR_FOLLOWER', leader: { id: leader.id, host: '127.0.0.1', http_port: leader.httpPort, url: `ws://127.0.0.1:${leader.httpPort}/ws` } });
      socket.send({ type: 'metadata', id: 2, topics: ['ws-door'] });
      const metadata = (await socket.take((message) => !Buffer.isBuffer(message) && message.type === 'metadata', 'metadata')) as Extract<ServerMessage, { type: 'metadata' }>;
      expect(metadata.brokers.map((broker) => broker.id).sort()).toEqual(live().map((broker) => broker.id).sort());
      expect(metadata.brokers).toContainEqual({ id: leader.id, host: '127.0.0.1', http_port: leader.httpPort });
      expect(metadata.brokers).toContainEqual({ id: other.id, host: '127.0.0.1', http_port: other.httpPort });
      expect(metadata.topics).toEqual([{ topic: 'ws-door', partitions: [{ partition: 0, leader: leader.id, leader_epoch: expect.any(Number) }] }]);
    } finally {
      socket.close();
    }
  }, TEST_TIMEOUT_MS);
});

describe('FerryClient', () => {
  it('connected to a broker that does not lead, produces and subscribes through the leader', async () => {
    await createTopic('ws-follow');
    const leader = await leaderOf('ws-follow');
    const other = live().find((broker) => broker !== leader)!;
    const client = await connect(other);
    const produced = await client.produce('ws-follow', [{ value: 'one' }, { value: 'two' }]);
    expect(produced.map((result) => result.offset)).toEqual([0, 1]);
    const subscription = client.subscribe('ws-follow', { from: 'earliest' });
    const values: string[] = [];
    for await (const record of subscription) {
      values.push(record.valueText!);
      if (values.length === 2) break;
    }
    expect(values).toEqual(['one', 'two']);
  }, TEST_TIMEOUT_MS);

  it('refuses a subscription whose partitions are led apart (PARTITIONS_LED_APART) and follows each partition subscribed on its own', async () => {
    const topic = 'led-apart';
    await run(process.execPath, [BUILT_CLI, '--http', `http://127.0.0.1:${live()[0]!.httpPort}`, 'topics', 'create', topic, '--partitions', '3', '--replication-factor', '3']);
    const client = await connect(live()[0]!);
    const metadata = await waitFor('leaders of every partition', async () => {
      const answer = await client.metadata([topic]);
      return answer.topics[0]!.partitions.every((partition) => partition.leader !== -1) ? answer : undefined;
    });
    // The controller places partitions round robin, as Kafka does: three partitions, three leaders.
    expect(new Set(metadata.topics[0]!.partitions.map((partition) => partition.leader)).size).toBe(3);
    await expect(client.subscribe(topic, { from: 'earliest' }).ready).rejects.toMatchObject({ errorName: 'PARTITIONS_LED_APART', retriable: false });
    for (const partition of [0, 1, 2]) {
      await client.produce(topic, { value: `p${partition}`, partition });
      const subscription = client.subscribe(topic, { partitions: [partition], from: 'earliest' });
      const first = await subscription.next();
      expect(first.done ? null : first.value.valueText).toBe(`p${partition}`);
      subscription.close();
    }
  }, TEST_TIMEOUT_MS);
});

describe('through a leader change', () => {
  it('FerryClient produce and subscribe, and HTTP produce retrying 503s, lose and repeat no acknowledged record when the leader is SIGKILLed', async () => {
    const topic = 'failover';
    await createTopic(topic);
    const leader = await leaderOf(topic);
    // The clients' own brokers survive: they are where the clients ask who leads next.
    const home = live().find((broker) => broker !== leader)!;
    const producer = await connect(home);
    const consumer = await connect(home);
    // And a client connected straight to the leader: its own broker dies, so it asks the bootstrap brokers who leads next.
    const others = live().filter((broker) => broker !== leader).map((broker) => `ws://127.0.0.1:${broker.httpPort}`);
    const direct = await connect(leader, others);

    const consumed: ConsumedRecord[] = [];
    const subscription = consumer.subscribe(topic, { from: 'earliest' });
    const consuming = (async () => {
      for await (const record of subscription) consumed.push(record);
    })();
    const consumedDirect: ConsumedRecord[] = [];
    const directSubscription = direct.subscribe(topic, { from: 'earliest' });
    const consumingDirect = (async () => {
      for await (const record of directSubscription) consumedDirect.push(record);
    })();

    let stop = false;
    const wsAcked: Array<{ value: string; offset: number }> = [];
    const directAcked: Array<{ value: string; offset: number }> = [];
    const httpAcked: Array<{ value: string; offset: number }> = [];
    const produceLoop = async (client: FerryClient, prefix: string, acked: Array<{ value: string; offset: number }>): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const value = `${prefix}-${i}`;
        try {
          const result = await client.produce(topic, { value }, { acks: 'all' });
          acked.push({ value, offset: result.offset });
        } catch {
          // Not acknowledged (sent when the leader died, or out of attempts): it may or may not be in the log.
        }
      }
    };
    const wsLoop = produceLoop(producer, 'ws', wsAcked);
    const directLoop = produceLoop(direct, 'direct', directAcked);
    const httpLoop = (async () => {
      for (let i = 0; !stop; i++) {
        // Each attempt its own value: a 503 after the append (NOT_ENOUGH_REPLICAS_AFTER_APPEND) may have written it.
        for (let attempt = 0; !stop; attempt++) {
          const value = `http-${i}-${attempt}`;
          const response = await postRecord(home, topic, value, 'follow').catch(() => null);
          if (response?.status === 200) {
            httpAcked.push({ value, offset: ((await response.json()) as { offset: number }).offset });
            break;
          }
          await response?.body?.cancel();
          await sleep(Number(response?.headers.get('retry-after') ?? 0) * 1000 || 100);
        }
      }
    })();

    const producers = [wsAcked, directAcked, httpAcked];
    await waitFor('records acknowledged before the kill', () => (producers.every((acked) => acked.length >= ACKED_PER_PHASE) ? true : undefined));
    leader.child.kill('SIGKILL');
    await leader.exited;
    const before = producers.map((acked) => acked.length);
    const successor = await leaderOf(topic, leader);
    expect(successor).not.toBe(leader);
    await waitFor('records acknowledged after the kill', () => (producers.every((acked, i) => acked.length >= before[i]! + ACKED_PER_PHASE) ? true : undefined));
    stop = true;
    await Promise.all([wsLoop, directLoop, httpLoop]);

    const acked = producers.flat();
    const log = await readAll(home, topic);
    const offsetsByValue = new Map<string, number[]>();
    for (const record of log) offsetsByValue.set(record.value, [...(offsetsByValue.get(record.value) ?? []), record.offset]);
    for (const { value, offset } of acked) expect(offsetsByValue.get(value), value).toEqual([offset]);
    // In order: each producer's acknowledged records sit at increasing offsets.
    for (const list of producers) expect(list.map((record) => record.offset)).toEqual([...list.map((record) => record.offset)].sort((a, b) => a - b));

    // The subscriptions moved to the new leader and delivered the whole log once, in offset order.
    for (const [received, stream, done] of [[consumed, subscription, consuming], [consumedDirect, directSubscription, consumingDirect]] as const) {
      await waitFor('the subscription to reach the log end', () => (received.length >= log.length ? true : undefined));
      stream.close();
      await done;
      expect(received.map((record) => record.offset)).toEqual(log.map((record) => record.offset));
      expect(received.map((record) => record.valueText)).toEqual(log.map((record) => record.value));
    }
  }, TEST_TIMEOUT_MS);
});
