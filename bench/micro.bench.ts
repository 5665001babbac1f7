/**
 * Micro-benchmarks of the doors' CPU work, run by bench/run.ts:
 *
 *   murmur2  Kafka's partitioner hash on a 16-byte and a 1 KiB key
 *   codec    the generic Kafka codec (codec/message-codec.ts) as the door
 *            runs it: decode a framed Produce v9 request carrying 1 MiB of
 *            records and a Metadata v12 request; encode a Fetch v12 response
 *            of 10 partitions of record sets (connection.ts's encodeResponse,
 *            record sets by reference); a JoinGroup v9 round trip
 *   ws-json  the WebSocket door's JSON push: stored batches decoded to
 *            records (frames.ts recordsAfter), the records message
 *            (recordsMessage) and JSON.stringify, as connection.ts sends it
 *
 * Inputs are built once, untimed. Each figure is ops/s of one whole
 * operation; MB/s (decimal, 10^6 bytes/s) and ns per record where the size
 * or count is the point. Figure names are stable identifiers
 * (test/bench/smoke.test.ts lists them). Nothing asserts on timing.
 */

import { randomBytes } from 'node:crypto';
import { murmur2 } from '../src/broker/murmur2.js';
import type { FetchResult } from '../src/broker/broker.js';
import { API_KEY, findApi } from '../src/protocol/kafka/apis.js';
import { decode, decodeRequestHeader, decodeResponseHeader, encode, encodeRequestHeader, encodeResponseHeader, type KafkaStruct } from '../src/protocol/kafka/codec/message-codec.js';
import { KafkaReader } from '../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../src/protocol/kafka/codec/writer.js';
import { encodeResponse } from '../src/protocol/kafka/connection.js';
import type { ApiSpec } from '../src/protocol/kafka/message-spec.js';
import { recordsAfter, recordsMessage } from '../src/protocol/ws/frames.js';
import { buildBatch } from '../src/storage/batch-builder.js';
import { measure, type Figure, type Suite, type SuiteContext, type Timing } from './storage.bench.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MB = 1e6;
const SIZE_PREFIX_BYTES = 4;

/** Results land here so no call is dead code to the JIT. */
let blackhole = 0;

function opsPerSecond(timing: Timing, opsPerIteration = 1): number {
  return (opsPerIteration * 1000) / timing.meanMs;
}

function api(apiKey: number): ApiSpec {
  const found = findApi(apiKey);
  if (found === undefined) throw new Error(`API key ${apiKey} is not in the generated table`);
  return found;
}

const JOIN_GROUP_KEY = 11;

// --- murmur2 ----------------------------------------------------------------------------

const MURMUR2_FIGURES = { short: 'murmur2 16B key', long: 'murmur2 1KiB key', longRate: 'murmur2 1KiB key (MB/s)' } as const;
/** Hashes per timed iteration: one 16-byte hash is tens of ns, below the timer's resolution alone. */
const MURMUR2_HASHES_PER_ITERATION = 1024;

async function runMurmur2(context: SuiteContext): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const [name, keyBytes] of [[MURMUR2_FIGURES.short, 16], [MURMUR2_FIGURES.long, KiB]] as const) {
    if (!context.wants(name) && !(keyBytes === KiB && context.wants(MURMUR2_FIGURES.longRate))) continue;
    const keys = Array.from({ length: 16 }, () => randomBytes(keyBytes));
    const timing = await measure(context, name, () => {
      let sum = 0;
      for (let i = 0; i < MURMUR2_HASHES_PER_ITERATION; i++) sum ^= murmur2(keys[i & 15]!);
      blackhole ^= sum;
    });
    const hashesPerSecond = opsPerSecond(timing, MURMUR2_HASHES_PER_ITERATION);
    const note = `src/broker/murmur2.ts on random ${keyBytes}-byte keys; ${((timing.meanMs * 1e6) / MURMUR2_HASHES_PER_ITERATION).toFixed(0)} ns per hash`;
    figures.push({ name, value: hashesPerSecond, unit: 'ops/s', better: 'higher', rmePercent: timing.rmePercent, note });
    if (keyBytes === KiB) figures.push({ name: MURMUR2_FIGURES.longRate, value: (hashesPerSecond * keyBytes) / MB, unit: 'MB/s', better: 'higher', rmePercent: timing.rmePercent, note: 'same run; key bytes hashed' });
  }
  return figures.filter((figure) => context.wants(figure.name));
}

// --- the Kafka codec ---------------------------------------------------------------------

const CODEC_FIGURES = {
  produceDecode: 'kafka decode Produce v9 1MiB',
  metadataDecode: 'kafka decode Metadata v12',
  fetchEncode: 'kafka encode Fetch v12 10 partitions',
  joinGroupRoundTrip: 'kafka JoinGroup v9 round trip',
} as const;

const FETCH_PARTITIONS = 10;
const FETCH_PARTITION_RECORD_BYTES = 100 * KiB;
const JOIN_GROUP_MEMBERS = 3;

/** A framed request as a client sends it: size prefix, header v1/v2, body. */
function encodeRequestFrame(apiSpec: ApiSpec, apiVersion: number, body: Record<string, unknown>): Buffer {
  const writer = new KafkaWriter(1024);
  writer.writeInt32(0);
  encodeRequestHeader(apiSpec, { requestApiKey: apiSpec.apiKey, requestApiVersion: apiVersion, correlationId: 7, clientId: 'ferry-bench' }, writer);
  encode(apiSpec.request, apiVersion, body, writer);
  writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
  return Buffer.from(writer.finish());
}

/** What connection.ts does with a frame (size prefix already stripped by the frame reader): header, then body. */
function decodeRequestFrame(frame: Buffer): KafkaStruct {
  const reader = new KafkaReader(frame, SIZE_PREFIX_BYTES);
  const { header, api: apiSpec } = decodeRequestHeader(reader);
  if (apiSpec === undefined) throw new Error(`API key ${header.requestApiKey} unknown`);
  return decode(apiSpec.request, header.requestApiVersion, reader);
}

/** A record batch of 1 KiB records (16-byte key, 1000-byte value) of at most `bytesMax`. */
function recordSet(bytesMax: number): Buffer {
  const value = randomBytes(1000);
  const timestamp = BigInt(Date.now());
  let count = Math.floor(bytesMax / 1030);
  for (;;) {
    const batch = buildBatch(Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`key-${String(i).padStart(12, '0')}`), value, timestamp })));
    if (batch.length <= bytesMax) return batch;
    count--;
  }
}

function produceRequest(records: Buffer): Record<string, unknown> {
  return { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: 'bench', partitionData: [{ index: 0, records }] }] };
}

function metadataRequest(): Record<string, unknown> {
  const topics = ['orders', 'payments', 'shipments'].map((name) => ({ topicId: Buffer.alloc(16), name }));
  return { topics, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false };
}

function fetchResponse(recordSets: readonly Buffer[]): Record<string, unknown> {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 'bench',
        topicId: Buffer.alloc(16),
        partitions: recordSets.map((records, partitionIndex) => ({
          partitionIndex,
          errorCode: 0,
          highWatermark: 1_000_000n,
          lastStableOffset: 1_000_000n,
          logStartOffset: 0n,
          abortedTransactions: null,
          preferredReadReplica: -1,
          records,
        })),
      },
    ],
  };
}

function joinGroupRequest(): Record<string, unknown> {
  return {
    groupId: 'bench-group',
    sessionTimeoutMs: 45_000,
    rebalanceTimeoutMs: 300_000,
    memberId: 'bench-client-1-5d1c7a7e-0f3a-4f5e-9b1e-1b2c3d4e5f60',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: randomBytes(40) }, { name: 'cooperative-sticky', metadata: randomBytes(48) }],
    reason: null,
  };
}

function joinGroupResponse(): Record<string, unknown> {
  const members = Array.from({ length: JOIN_GROUP_MEMBERS }, (_, i) => ({ memberId: `bench-client-${i}-5d1c7a7e-0f3a-4f5e-9b1e-1b2c3d4e5f60`, groupInstanceId: null, metadata: randomBytes(40) }));
  return { throttleTimeMs: 0, errorCode: 0, generationId: 3, protocolType: 'consumer', protocolName: 'range', leader: members[0]!.memberId, skipAssignment: false, memberId: members[0]!.memberId, members };
}

function encodeResponseFrame(apiSpec: ApiSpec, version: number, body: Record<string, unknown>): Buffer {
  const writer = new KafkaWriter(1024);
  writer.writeInt32(0);
  encodeResponseHeader(apiSpec, version, 7, writer);
  encode(apiSpec.response, version, body, writer);
  writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
  return writer.finish();
}

function decodeResponseFrame(apiSpec: ApiSpec, version: number, frame: Buffer): KafkaStruct {
  const reader = new KafkaReader(frame, SIZE_PREFIX_BYTES);
  decodeResponseHeader(apiSpec, version, reader);
  return decode(apiSpec.response, version, reader);
}

async function runCodec(context: SuiteContext): Promise<Figure[]> {
  const figures: Figure[] = [];
  const wants = (...names: string[]): boolean => names.some((name) => context.wants(name));

  if (wants(CODEC_FIGURES.produceDecode)) {
    const records = recordSet(MiB);
    const frame = encodeRequestFrame(api(API_KEY.Produce), 9, produceRequest(records));
    const decoded = decodeRequestFrame(frame) as unknown as { topicData: Array<{ partitionData: Array<{ records: Buffer }> }> };
    if (!decoded.topicData[0]!.partitionData[0]!.records.equals(records)) throw new Error('Produce v9 decode does not give back the records');
    const timing = await measure(context, CODEC_FIGURES.produceDecode, () => {
      blackhole ^= (decodeRequestFrame(frame).topicData as unknown[]).length;
    });
    const ops = opsPerSecond(timing);
    // No MB/s figure: the records are a subarray, so the cost does not grow with them.
    const note = `request header + body of a ${(frame.length / KiB).toFixed(0)} KiB frame, 1 topic, 1 partition; records come back as a subarray (not copied, not validated: that is produce's job), so the size does not matter (${((ops * frame.length) / 1e9).toFixed(0)} GB/s of frame)`;
    figures.push({ name: CODEC_FIGURES.produceDecode, value: ops, unit: 'ops/s', better: 'higher', rmePercent: timing.rmePercent, note });
  }

  if (wants(CODEC_FIGURES.metadataDecode)) {
    const frame = encodeRequestFrame(api(API_KEY.Metadata), 12, metadataRequest());
    const timing = await measure(context, CODEC_FIGURES.metadataDecode, () => {
      blackhole ^= (decodeRequestFrame(frame).topics as unknown[]).length;
    });
    figures.push({ name: CODEC_FIGURES.metadataDecode, value: opsPerSecond(timing), unit: 'ops/s', better: 'higher', rmePercent: timing.rmePercent, note: `request header + body, 3 topics by name (${frame.length} B frame)` });
  }

  if (wants(CODEC_FIGURES.fetchEncode)) {
    const recordSets = Array.from({ length: FETCH_PARTITIONS }, () => recordSet(FETCH_PARTITION_RECORD_BYTES));
    const body = fetchResponse(recordSets);
    const fetchApi = api(API_KEY.Fetch);
    const chunks = encodeResponse(fetchApi, 12, 7, body);
    const responseBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const decoded = decodeResponseFrame(fetchApi, 12, Buffer.concat(chunks)) as unknown as { responses: Array<{ partitions: Array<{ records: Buffer }> }> };
    if (!decoded.responses[0]!.partitions.every((partition, i) => partition.records.equals(recordSets[i]!))) throw new Error('Fetch v12 response does not carry the record sets');
    const timing = await measure(context, CODEC_FIGURES.fetchEncode, () => {
      blackhole ^= encodeResponse(fetchApi, 12, 7, body).length;
    });
    // No MB/s figure: the record sets are written by reference, so the cost is per partition, not per byte.
    const note = `connection.ts encodeResponse (size prefix, header v1, body) of ${FETCH_PARTITIONS} partitions x ${FETCH_PARTITION_RECORD_BYTES / KiB} KiB record sets, written by reference: ${chunks.length} chunks, ${(responseBytes / KiB).toFixed(0)} KiB; ${((timing.meanMs * 1e6) / FETCH_PARTITIONS).toFixed(0)} ns per partition`;
    figures.push({ name: CODEC_FIGURES.fetchEncode, value: opsPerSecond(timing), unit: 'ops/s', better: 'higher', rmePercent: timing.rmePercent, note });
  }

  if (wants(CODEC_FIGURES.joinGroupRoundTrip)) {
    const joinApi = api(JOIN_GROUP_KEY);
    const request = joinGroupRequest();
    const response = joinGroupResponse();
    const timing = await measure(context, CODEC_FIGURES.joinGroupRoundTrip, () => {
      const requestFrame = encodeRequestFrame(joinApi, 9, request);
      const decodedRequest = decodeRequestFrame(requestFrame);
      const responseFrame = encodeResponseFrame(joinApi, 9, response);
      const decodedResponse = decodeResponseFrame(joinApi, 9, responseFrame);
      blackhole ^= (decodedRequest.protocols as unknown[]).length + (decodedResponse.members as unknown[]).length;
    });
    figures.push({ name: CODEC_FIGURES.joinGroupRoundTrip, value: opsPerSecond(timing), unit: 'ops/s', better: 'higher', rmePercent: timing.rmePercent, note: `client encodes the request, door decodes it, door encodes the response (leader: ${JOIN_GROUP_MEMBERS} members), client decodes it` });
  }
  return figures.filter((figure) => context.wants(figure.name));
}

// --- WebSocket JSON push ------------------------------------------------------------------

const WS_JSON_FIGURES = {
  push: 'ws json push 500x100B',
  perRecord: 'ws json push 500x100B (ns/record)',
  rate: 'ws json push 500x100B (MB/s)',
  decode: 'ws json push 500x100B decode only (ns/record)',
} as const;
const WS_JSON_RECORDS = 500;
const WS_JSON_VALUE_BYTES = 100;

async function runWsJson(context: SuiteContext): Promise<Figure[]> {
  if (!Object.values(WS_JSON_FIGURES).some((name) => context.wants(name))) return [];
  // UTF-8 text values: the door sends them as strings (binary ones go as base64).
  const value = Buffer.from('x'.repeat(WS_JSON_VALUE_BYTES));
  const timestamp = BigInt(Date.now());
  const bytes = buildBatch(Array.from({ length: WS_JSON_RECORDS }, () => ({ key: null, value, timestamp })));
  const fetched: FetchResult = { bytes, nextOffset: WS_JSON_RECORDS, highWatermark: WS_JSON_RECORDS, logStartOffset: 0 };
  let textBytes = 0;
  const push = (): number => {
    const records = recordsAfter(fetched, 0);
    return JSON.stringify(recordsMessage(1, 0, records, fetched)).length;
  };
  textBytes = push();
  const timing = await measure(context, WS_JSON_FIGURES.push, () => {
    blackhole ^= push();
  });
  const note = `frames.ts recordsAfter + recordsMessage + JSON.stringify (connection.ts send) of one stored batch of ${WS_JSON_RECORDS} records, ${WS_JSON_VALUE_BYTES} B UTF-8 values, no key: ${(bytes.length / KiB).toFixed(0)} KiB stored -> ${(textBytes / KiB).toFixed(0)} KiB of JSON`;
  // The first step alone (stored batch to DecodedRecord objects); the rest is the view and JSON.stringify.
  const decodeTiming = await measure(context, WS_JSON_FIGURES.decode, () => {
    blackhole ^= recordsAfter(fetched, 0).length;
  });
  const figures: Figure[] = [
    { name: WS_JSON_FIGURES.push, value: opsPerSecond(timing), unit: 'ops/s', better: 'higher', rmePercent: timing.rmePercent, note },
    { name: WS_JSON_FIGURES.perRecord, value: (timing.meanMs * 1e6) / WS_JSON_RECORDS, unit: 'ns/record', better: 'lower', rmePercent: timing.rmePercent, note: 'same run' },
    { name: WS_JSON_FIGURES.rate, value: (opsPerSecond(timing) * WS_JSON_RECORDS * WS_JSON_VALUE_BYTES) / MB, unit: 'MB/s', better: 'higher', rmePercent: timing.rmePercent, note: 'same run; value bytes only' },
    { name: WS_JSON_FIGURES.decode, value: (decodeTiming.meanMs * 1e6) / WS_JSON_RECORDS, unit: 'ns/record', better: 'lower', rmePercent: decodeTiming.rmePercent, note: `frames.ts recordsAfter alone (decodeBatches to DecodedRecord objects): ${((decodeTiming.meanMs / timing.meanMs) * 100).toFixed(0)}% of the push` },
  ];
  return figures.filter((figure) => context.wants(figure.name));
}

export const MICRO_SUITES: readonly Suite[] = [
  { name: 'murmur2', figureNames: Object.values(MURMUR2_FIGURES), run: runMurmur2 },
  { name: 'codec', figureNames: Object.values(CODEC_FIGURES), run: runCodec },
  { name: 'ws-json', figureNames: Object.values(WS_JSON_FIGURES), run: runWsJson },
];
