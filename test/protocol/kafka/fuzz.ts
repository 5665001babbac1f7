/**
 * A seeded fuzzer for the Kafka door: frames built from the request specs
 * of every API the door advertises with random field values, sent in bursts
 * over many connections, each burst ending in a mutated frame (bit flips,
 * truncation, a lying size prefix, spliced garbage, pure noise, edge
 * values) — the broker closes a connection at its first undecodable frame,
 * so the well-formed ones go first to reach the handlers. Used by
 * fuzz.test.ts (100,000 frames in `npm test`) and by `npm run fuzz` for
 * longer runs. Same seed, same frames: a failure is replayable.
 *
 * APIs that create resources on disk (CreateTopics, CreatePartitions) are
 * left out: random partition counts would fill the disk rather than find
 * bugs, and their bad input is tested by their own handler tests.
 */

import net from 'node:net';
import { findApi } from '../../../src/protocol/kafka/apis.js';
import { KafkaWriter } from '../../../src/protocol/kafka/codec/writer.js';
import { encode, encodeRequestHeader } from '../../../src/protocol/kafka/codec/message-codec.js';
import type { SupportedApi } from '../../../src/protocol/kafka/handler.js';
import { inRange, type FieldSpec } from '../../../src/protocol/kafka/message-spec.js';
import { prng, valuesBatch } from '../../storage/helpers.js';

const RESOURCE_CREATING_APIS = new Set([19, 37]);
const TOPICS = ['fuzz', 'fuzz-other', '__consumer_offsets', '', 'x'.repeat(300), 'bad/name'];
const GROUPS = ['fuzz-group', '', 'g2'];
const QUIET_MS = 20;

export interface FuzzOptions {
  port: number;
  seed: number;
  /** Keep going until the broker has received this many frames... */
  frames: number;
  /** ...as this counter says (the server's framesReceived): frames after the one that closed a connection never reach it. */
  framesReceived: () => number;
  apis: readonly SupportedApi[];
  /** Frames sent per connection before it is dropped. */
  framesPerConnection?: number;
  /** Connections open at once. */
  parallel?: number;
}

export interface FuzzReport {
  /** Frames sent. */
  frames: number;
  connections: number;
}

type Random = () => number;

function pick<T>(random: Random, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

function randomBytes(random: Random, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

function randomInt(random: Random, bits: 8 | 16 | 32): number {
  const edges = [0, 1, -1, 2 ** (bits - 1) - 1, -(2 ** (bits - 1)), 100, 1000].filter((edge) => edge < 2 ** (bits - 1) && edge >= -(2 ** (bits - 1)));
  if (random() < 0.5) return pick(random, edges);
  return Math.floor(random() * 2 ** bits) - 2 ** (bits - 1);
}

function randomValue(field: FieldSpec, version: number, random: Random, depth: number): unknown {
  if (inRange(field.nullableVersions, version) && random() < 0.1) return null;
  if (field.isArray) {
    const count = depth > 3 ? 0 : Math.floor(random() * 3);
    return Array.from({ length: count }, () => randomElement(field, version, random, depth + 1));
  }
  return randomElement(field, version, random, depth);
}

function randomElement(field: FieldSpec, version: number, random: Random, depth: number): unknown {
  switch (field.elementType) {
    case 'bool':
      return random() < 0.5;
    case 'int8':
      return randomInt(random, 8);
    case 'int16':
      return randomInt(random, 16);
    case 'uint16':
      return Math.floor(random() * 65536);
    case 'int32':
      return randomInt(random, 32);
    case 'int64':
      return BigInt(randomInt(random, 32)) * (random() < 0.1 ? 2n ** 31n : 1n);
    case 'float64':
      return random() * 1e6;
    case 'uuid':
      return randomBytes(random, 16);
    case 'string':
      if (/topic|name/i.test(field.name)) return pick(random, TOPICS);
      if (/group/i.test(field.name)) return pick(random, GROUPS);
      return random() < 0.7 ? '' : randomBytes(random, Math.floor(random() * 20)).toString('latin1');
    case 'bytes':
      return randomBytes(random, Math.floor(random() * 40));
    case 'records':
      return random() < 0.5 ? valuesBatch('fz', 1 + Math.floor(random() * 3)) : randomBytes(random, Math.floor(random() * 200));
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const child of field.fields ?? []) if (inRange(child.versions, version)) out[child.key] = randomValue(child, version, random, depth + 1);
      return out;
    }
  }
}

/** A well-formed frame for `api` at a random supported version, random field values. */
function validFrame(entry: SupportedApi, random: Random, correlationId: number): Buffer {
  const api = findApi(entry.apiKey)!;
  const version = entry.minVersion + Math.floor(random() * (entry.maxVersion - entry.minVersion + 1));
  const body: Record<string, unknown> = {};
  for (const field of api.request.fields) if (inRange(field.versions, version)) body[field.key] = randomValue(field, version, random, 0);
  const writer = new KafkaWriter();
  writer.writeInt32(0);
  encodeRequestHeader(api, { requestApiKey: entry.apiKey, requestApiVersion: version, correlationId, clientId: 'fuzz' }, writer);
  encode(api.request, version, body, writer);
  writer.writeInt32At(0, writer.byteLength - 4);
  return Buffer.from(writer.finish());
}

function mutate(frame: Buffer, random: Random): Buffer {
  const out = Buffer.from(frame);
  switch (Math.floor(random() * 7)) {
    case 0: // leave it valid
      return out;
    case 1: {
      const flips = 1 + Math.floor(random() * 4);
      for (let i = 0; i < flips; i++) {
        const at = 4 + Math.floor(random() * Math.max(1, out.length - 4));
        if (at < out.length) out[at] = out[at]! ^ (1 << Math.floor(random() * 8));
      }
      return out;
    }
    case 2: {
      const cut = out.subarray(0, 4 + Math.floor(random() * Math.max(1, out.length - 4)));
      cut.writeInt32BE(cut.length - 4, 0);
      return cut;
    }
    case 3: // a size prefix that lies (the broker waits for bytes that never come, or reads into the next frame)
      out.writeInt32BE(Math.max(0, out.length - 4 + Math.floor(random() * 64) - 32), 0);
      return out;
    case 4: {
      const at = 4 + Math.floor(random() * Math.max(1, out.length - 4));
      const spliced = Buffer.concat([out.subarray(0, at), randomBytes(random, 1 + Math.floor(random() * 16)), out.subarray(at)]);
      spliced.writeInt32BE(spliced.length - 4, 0);
      return spliced;
    }
    case 5: {
      const noise = randomBytes(random, 4 + Math.floor(random() * 64));
      noise.writeInt32BE(noise.length - 4, 0);
      return noise;
    }
    default: {
      // Keep the header, replace every int32-aligned word of the body with an edge value.
      for (let at = 12; at + 4 <= out.length; at += 4) if (random() < 0.2) out.writeInt32BE(pick(random, [-1, 0x7fffffff, -0x80000000, 0]), at);
      return out;
    }
  }
}

/** Sends `frames` fuzzed frames; resolves when every connection is gone. */
export async function fuzzKafkaDoor(options: FuzzOptions): Promise<FuzzReport> {
  const random = prng(options.seed);
  const apis = options.apis.filter((api) => !RESOURCE_CREATING_APIS.has(api.apiKey));
  const perConnection = options.framesPerConnection ?? 20;
  const parallel = options.parallel ?? 8;
  const report: FuzzReport = { frames: 0, connections: 0 };
  let correlationId = 0;

  const nextBurst = (): Buffer | null => {
    if (options.framesReceived() >= options.frames) return null;
    // Well-formed frames with random values first (they reach the handlers and keep the connection),
    // then one mutated frame, which usually makes the broker close it.
    const frames: Buffer[] = [];
    for (let i = 0; i < perConnection - 1; i++) frames.push(validFrame(pick(random, apis), random, correlationId++));
    frames.push(mutate(validFrame(pick(random, apis), random, correlationId++), random));
    report.frames += frames.length;
    return Buffer.concat(frames);
  };

  const runConnection = (burst: Buffer): Promise<void> =>
    new Promise((resolve) => {
      report.connections++;
      const socket = net.connect(options.port, '127.0.0.1');
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(quiet);
        socket.destroy();
        resolve();
      };
      // Dropped once the broker has been quiet for QUIET_MS after the burst (long polls would hold it open).
      let quiet: NodeJS.Timeout | undefined;
      const waitQuiet = (): void => {
        clearTimeout(quiet);
        quiet = setTimeout(finish, QUIET_MS);
      };
      socket.on('data', () => {
        if (quiet !== undefined) waitQuiet();
      });
      socket.on('end', finish);
      socket.on('error', finish);
      socket.on('close', finish);
      socket.on('connect', () => {
        socket.write(burst, waitQuiet);
      });
    });

  const lanes = Array.from({ length: parallel }, async () => {
    for (let burst = nextBurst(); burst !== null; burst = nextBurst()) await runConnection(burst);
  });
  await Promise.all(lanes);
  return report;
}
