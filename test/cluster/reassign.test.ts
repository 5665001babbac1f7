/**
 * `ferry partitions reassign` end to end (issue 6, KIP-455): four real
 * brokers (the built CLI) on a real etcd. A replication-factor-3 topic on
 * brokers 1, 2, 3 holding a few MB is moved, throttled, off its leader and
 * onto broker 4 while a producer keeps writing. Afterwards: the replicas are
 * the target, the new broker leads, the removed broker's partition
 * directory is gone, the added replica's log holds exactly what the other
 * replicas hold, every acknowledged record is read back, and --verify says
 * complete. Speed is not asserted.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpLog } from '../../src/cli/dump-log.js';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { clusterKeys, type PartitionState } from '../../src/cluster/keys.js';
import { tempDir } from '../storage/helpers.js';
import { BUILT_CLI, killAll, startBroker, waitFor, type BrokerProcess } from './brokers.js';
import { partitionStates, startEtcd, type RunningEtcd } from './etcd.js';

const CLUSTER = 'reassign';
const keys = clusterKeys(CLUSTER);
const TOPIC = 'moving';
const BROKER_FLAGS = ['--lease-ttl-seconds', '3', '--replica-lag-time-max-ms', '3000', '--leader-imbalance-check-interval-seconds', '0'];
/** 30 sends of 100 records of 1 KiB: about 3 MB to copy. */
const SENDS = 30;
const RECORDS_PER_SEND = 100;
const VALUE_PADDING = 'x'.repeat(1000);
const THROTTLE_BYTES_PER_SECOND = 1_000_000;
const run = promisify(execFile);

let etcd: RunningEtcd;
let client: Etcd3;
const brokers = new Map<number, BrokerProcess>();

beforeAll(async () => {
  etcd = await startEtcd();
  client = connectEtcd([etcd.endpoint]);
  // Brokers 1-3 first, so that the topic is placed on them; broker 4 joins as the new home.
  for (const id of [1, 2, 3]) brokers.set(id, await startBroker({ id, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, extra: BROKER_FLAGS }));
});

afterAll(async () => {
  await killAll([...brokers.values()]);
  client?.close();
  await etcd?.stop();
});

async function ferry(...args: string[]): Promise<{ stdout: string; exitCode: number }> {
  try {
    return { stdout: (await run(process.execPath, [BUILT_CLI, ...args])).stdout, exitCode: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout + failed.stderr, exitCode: failed.code };
  }
}

async function state(): Promise<PartitionState> {
  return (await partitionStates(client, keys, TOPIC))[0]!;
}

function producerOf(): Producer {
  const kafka = new Kafka({
    clientId: 'ferry-reassign-test',
    brokers: [...brokers.values()].map((broker) => `127.0.0.1:${broker.kafkaPort}`),
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
}

/** The partition's log end offset as a broker's own local log has it (-1: it holds no replica). */
async function logEndOffset(broker: BrokerProcess): Promise<number> {
  const clusters = (await (await fetch(`http://127.0.0.1:${broker.httpPort}/v3/clusters`)).json()) as { data: Array<{ cluster_id: string }> };
  const url = `http://127.0.0.1:${broker.httpPort}/v3/clusters/${clusters.data[0]!.cluster_id}/topics/${TOPIC}/partitions/0`;
  return ((await (await fetch(url)).json()) as { log_end_offset: number }).log_end_offset;
}

/** Every batch (file positions left out: segments may roll at other offsets) and record of a broker's replica, via dump-log. */
function dumpedReplica(broker: BrokerProcess): string[] {
  const dir = path.join(broker.dataDir, `${TOPIC}-0`);
  const lines: string[] = [];
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith('.log')).sort()) {
    dumpLog(path.join(dir, file), { records: true, write: (line) => lines.push(line.replace(/ position: \d+/, '')) });
  }
  return lines.filter((line) => !line.startsWith('Dumping '));
}

/** Every value of the partition, read from the beginning by a fresh kafkajs consumer until `atLeast` have come. */
async function readAll(atLeast: number): Promise<Set<string>> {
  const kafka = new Kafka({ clientId: 'ferry-reassign-reader', brokers: [...brokers.values()].map((broker) => `127.0.0.1:${broker.kafkaPort}`), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `reader-${Date.now()}` });
  const values = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.add(message.value!.toString()) });
    await waitFor(`${atLeast} records read back`, () => (values.size >= atLeast ? true : undefined));
  } finally {
    await consumer.disconnect();
  }
  return values;
}

describe('partition reassignment', () => {
  it('moves a partition off its leader onto a new broker, throttled, keeping every acknowledged record', async () => {
    const created = await ferry('--http', `http://127.0.0.1:${brokers.get(1)!.httpPort}`, 'topics', 'create', TOPIC, '--partitions', '1', '--replication-factor', '3', '--config', 'min.insync.replicas=2');
    expect(created.exitCode).toBe(0);
    brokers.set(4, await startBroker({ id: 4, etcdEndpoint: etcd.endpoint, clusterName: CLUSTER, extra: BROKER_FLAGS }));

    const producer = producerOf();
    await producer.connect();
    const acked: string[] = [];
    for (let send = 0; send < SENDS; send++) {
      const messages = Array.from({ length: RECORDS_PER_SEND }, (_, n) => ({ value: `before-${send}-${n}-${VALUE_PADDING}` }));
      await producer.send({ topic: TOPIC, acks: -1, messages });
      acked.push(...messages.map((message) => message.value));
    }

    const before = await state();
    expect([...before.replicas].sort()).toEqual([1, 2, 3]);
    const removed = before.leader;
    const target = [4, ...before.replicas.filter((id) => id !== removed)];
    const file = path.join(tempDir('ferry-reassign-'), 'reassignment.json');
    fs.writeFileSync(file, JSON.stringify({ version: 1, partitions: [{ topic: TOPIC, partition: 0, replicas: target }] }));
    const etcdArgs = ['--etcd', etcd.endpoint, '--cluster-name', CLUSTER, '--reassignment-json-file', file];

    // Bad input is refused in one line before anything is written.
    const badFile = path.join(path.dirname(file), 'bad.json');
    fs.writeFileSync(badFile, JSON.stringify({ version: 1, partitions: [{ topic: TOPIC, partition: 0, replicas: [4, 9] }] }));
    const refused = await ferry('partitions', 'reassign', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER, '--reassignment-json-file', badFile, '--execute');
    expect(refused).toEqual({ stdout: 'ferry: partition moving-0: brokers 9 are not live (live: 1,2,3,4)\n', exitCode: 1 });

    const executed = await ferry('partitions', 'reassign', ...etcdArgs, '--throttle', String(THROTTLE_BYTES_PER_SECOND), '--execute');
    expect(executed.stdout).toContain(`"replicas":[${before.replicas.join(',')}]`); // the rollback file
    expect(executed.stdout).toContain(`Successfully started partition reassignments for ${TOPIC}-0`);

    // Writes go on during the move: the leader changes under the producer at the end.
    let producing = true;
    const during = (async () => {
      for (let n = 0; producing; n++) {
        const value = `during-${n}`;
        try {
          await producer.send({ topic: TOPIC, acks: -1, messages: [{ value }] });
          acked.push(value);
        } catch {
          await sleep(100); // not acknowledged: not promised
        }
      }
    })();

    const after = await waitFor('the reassignment to complete', async () => {
      const now = await state();
      return now.adding === undefined && now.replicas.join(',') === target.join(',') ? now : undefined;
    });
    expect(after).toMatchObject({ leader: 4, replicas: target, leaderEpoch: before.leaderEpoch + 1 });
    expect(await client.get(keys.reassignmentKey(TOPIC, 0)).string()).toBeNull();
    const started = [...brokers.values()].flatMap((broker) => broker.logs).find((entry) => entry.msg === 'reassignment started') as { to: PartitionState } | undefined;
    expect(started?.to).toMatchObject({ adding: [4], removing: [removed], throttleBytesPerSecond: THROTTLE_BYTES_PER_SECOND, leader: removed });

    const verified = await ferry('partitions', 'reassign', ...etcdArgs, '--verify');
    expect(verified).toEqual({ stdout: `Status of partition reassignment:\nReassignment of partition ${TOPIC}-0 is complete.\n`, exitCode: 0 });

    await waitFor(`broker ${removed} to delete its replica`, () => (fs.existsSync(path.join(brokers.get(removed)!.dataDir, `${TOPIC}-0`)) ? undefined : true));

    await sleep(500);
    producing = false;
    await during;
    await producer.disconnect();
    const replicas = target.map((id) => brokers.get(id)!);
    const ends = await waitFor('every target replica to hold the same log end', async () => {
      const offsets = await Promise.all(replicas.map((broker) => logEndOffset(broker)));
      return offsets.every((offset) => offset === offsets[0]) ? offsets : undefined;
    });
    expect(ends[0]).toBeGreaterThanOrEqual(acked.length);
    const added = dumpedReplica(brokers.get(4)!);
    expect(added.filter((line) => line.startsWith('| offset:'))).toHaveLength(ends[0]!);
    for (const other of replicas.slice(1)) expect(dumpedReplica(other)).toEqual(added);

    const read = await readAll(acked.length);
    expect(acked.filter((value) => !read.has(value))).toEqual([]);
  });
});
