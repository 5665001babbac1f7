/**
 * 100,000 fuzzed frames (fuzz.ts, fixed seeds) against a live broker: it must
 * not crash, must let go of every connection, and must keep serving a
 * well-behaved client exactly as before. `npm run fuzz` runs longer.
 */

import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_APIS } from '../../../src/protocol/kafka/handlers/index.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { decodeAll, valuesBatch } from '../../storage/helpers.js';
import { fuzzKafkaDoor } from './fuzz.js';
import { openKafkaServer, RawKafkaClient, type KafkaTestServer } from './helpers.js';

let door: KafkaTestServer;
/** Far below what a per-frame leak would add over 100,000 frames, far above GC noise. */
const HEAP_GROWTH_BYTES_MAX = 32 * 1024 * 1024;

beforeAll(async () => {
  door = await openKafkaServer({ autoCreateTopics: false });
  await door.broker.createTopic('fuzz', { partitions: 2 });
  // The fuzzer's frames name 'fuzz' (and may delete it); this one they never name.
  await door.broker.createTopic('survivor');
});

afterAll(async () => {
  await door.close();
  await closeSharedStoragePool();
});

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/** Heap in use after a full collection: what the broker really holds on to. */
function heapUsedAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** Lets go of what a burst of fuzzing left in flight (connections, their long polls). */
async function waitForNoConnections(): Promise<number> {
  for (let i = 0; i < 500 && door.server.connectionCount > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return door.server.connectionCount;
}

describe('Kafka door fuzzing', () => {
  it('survives 100,000 random and mutated frames and keeps serving', { timeout: 300_000 }, async () => {
    const framesReceived = (): number => door.server.framesReceived;
    // A first round warms up what is allowed to stay (groups and fetch sessions the frames name, JIT code)...
    await fuzzKafkaDoor({ port: door.port, seed: 1122, frames: 20_000, framesReceived, apis: SUPPORTED_APIS });
    expect(await waitForNoConnections()).toBe(0);
    const heapBefore = heapUsedAfterGc();
    // ...then 100,000 more frames must not grow what the broker holds by more than a bounded amount.
    const report = await fuzzKafkaDoor({ port: door.port, seed: 20261122, frames: 120_000, framesReceived, apis: SUPPORTED_APIS });
    expect(door.server.framesReceived).toBeGreaterThanOrEqual(120_000);
    expect(report.connections).toBeGreaterThan(1000);
    expect(await waitForNoConnections()).toBe(0);
    const heapGrowthBytes = heapUsedAfterGc() - heapBefore;
    expect(heapGrowthBytes).toBeLessThan(HEAP_GROWTH_BYTES_MAX);

    const client = await RawKafkaClient.connect(door.port);
    const versions = await client.request(18, 3, {});
    expect(versions['errorCode']).toBe(0);
    const produced = await client.request(0, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'survivor', partitionData: [{ index: 0, records: valuesBatch('after', 2) }] }] });
    const partition = ((produced['responses'] as Array<Record<string, unknown>>)[0]!['partitionResponses'] as Array<Record<string, unknown>>)[0]!;
    expect(partition['errorCode']).toBe(0);
    const read = door.broker.log('survivor', 0).read(Number(partition['baseOffset']), 1 << 20);
    expect(decodeAll(read.bytes).filter((r) => r.offset >= (partition['baseOffset'] as bigint)).map((r) => r.value?.toString())).toEqual(['after-0', 'after-1']);
    client.close();
  });
});
