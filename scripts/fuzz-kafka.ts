/**
 * `npm run fuzz -- [--frames N] [--seed S]`: the Kafka door fuzzer of the
 * test suite (test/protocol/kafka/fuzz.ts), run longer against a broker in a
 * temp dir in this process. Prints progress; exits 1 if the broker stops
 * answering a well-behaved client afterwards. A crash ends the process.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import { SUPPORTED_APIS } from '../src/protocol/kafka/handlers/index.js';
import { startKafkaServer } from '../src/protocol/kafka/server.js';
import { closeSharedStoragePool } from '../src/storage/storage-pool.js';
import { fuzzKafkaDoor } from '../test/protocol/kafka/fuzz.js';
import { RawKafkaClient } from '../test/protocol/kafka/helpers.js';

const { values } = parseArgs({ options: { frames: { type: 'string', default: '1000000' }, seed: { type: 'string', default: String(Date.now() % 2 ** 31) } } });
const frames = Number(values.frames);
const seed = Number(values.seed);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-fuzz-'));
const broker = await Broker.open({ dataDir, autoCreateTopics: false });
await broker.createTopic('fuzz', { partitions: 2 });
const server = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
const startedMs = Date.now();
const progress = setInterval(() => {
  const heapMiB = (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0);
  console.log(`${server.framesReceived} frames, ${server.connectionCount} connections open, heap ${heapMiB} MiB, ${((Date.now() - startedMs) / 1000).toFixed(0)} s`);
}, 5000);
console.log(`fuzzing the Kafka door with ${frames} frames, seed ${seed}`);
const report = await fuzzKafkaDoor({ port: server.port, seed, frames, framesReceived: () => server.framesReceived, apis: SUPPORTED_APIS });
clearInterval(progress);
const client = await RawKafkaClient.connect(server.port);
const healthy = (await client.request(18, 3, {}))['errorCode'] === 0;
client.close();
console.log(`${server.framesReceived} frames received over ${report.connections} connections in ${((Date.now() - startedMs) / 1000).toFixed(1)} s; broker ${healthy ? 'healthy' : 'NOT answering'}`);
await server.close();
await broker.close();
await closeSharedStoragePool();
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(healthy ? 0 : 1);
