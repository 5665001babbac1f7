/**
 * The many-partitions load of bench/scale.bench.ts, run as a child process:
 *
 *   node --import tsx bench/scale-partitions-load.ts '<PartitionsJob as JSON>'
 *
 * A raw Kafka client on Ferry's codec, one socket, one request at a time:
 *
 *   metadata  `metadataRequests` Metadata v12 requests for all topics (topics
 *             null), each timed from write to the whole response decoded; every
 *             answer must list every topic with all its partitions
 *   produce   one Produce v9 request per topic (acks=1), one single-record batch
 *             per partition; every partition must answer error code 0
 *   fetch     Fetch v12 requests from offset 0 of every partition, `topics`
 *             per request, until each partition returned its record
 *
 * Prints its result as one JSON line on stdout. Nothing asserts on timing.
 */

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { API_KEY, findApi } from '../src/protocol/kafka/apis.js';
import { decode, decodeResponseHeader, encode, encodeRequestHeader, type KafkaStruct } from '../src/protocol/kafka/codec/message-codec.js';
import { KafkaReader } from '../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../src/protocol/kafka/codec/writer.js';
import type { ApiSpec } from '../src/protocol/kafka/message-spec.js';
import { buildBatch } from '../src/storage/batch-builder.js';
import { decodeBatches } from '../src/storage/records.js';

export interface PartitionsJob {
  port: number;
  topics: string[];
  partitionsPerTopic: number;
  metadataRequests: number;
  /** Topics per Fetch request. */
  fetchTopicsPerRequest: number;
}

export interface PartitionsResult {
  metadataMs: number[];
  metadataResponseBytes: number;
  produceMs: number;
  fetchMs: number;
  fetchRequests: number;
  recordsFetched: number;
}

type Row = Record<string, unknown>;

const SIZE_PREFIX_BYTES = 4;
const METADATA_VERSION = 12;
const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;
const PARTITION_FETCH_BYTES_MAX = 64 * 1024;
const FETCH_BYTES_MAX = 64 * 1024 * 1024;

/** One socket, one request in flight: each call resolves with the decoded response and its size. */
class RawKafkaClient {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: ((frame: Buffer) => void) | null = null;
  private correlationId = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static connect(port: number): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawKafkaClient(socket)));
      socket.once('error', reject);
      socket.setNoDelay(true);
    });
  }

  async call(api: ApiSpec, version: number, body: Row): Promise<{ response: Row; bytes: number }> {
    const writer = new KafkaWriter(1024);
    writer.writeInt32(0);
    encodeRequestHeader(api, { requestApiKey: api.apiKey, requestApiVersion: version, correlationId: ++this.correlationId, clientId: 'ferry-bench-scale' }, writer);
    encode(api.request, version, body as KafkaStruct, writer);
    writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
    const answered = new Promise<Buffer>((resolve) => (this.waiting = resolve));
    this.socket.write(Buffer.from(writer.finish()));
    const frame = await answered;
    const reader = new KafkaReader(frame);
    decodeResponseHeader(api, version, reader);
    return { response: decode(api.response, version, reader) as unknown as Row, bytes: frame.length };
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (this.buffered.length < SIZE_PREFIX_BYTES) return;
    const size = this.buffered.readInt32BE(0);
    if (this.buffered.length < SIZE_PREFIX_BYTES + size) return;
    const frame = this.buffered.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + size);
    this.buffered = this.buffered.subarray(SIZE_PREFIX_BYTES + size);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.(frame);
  }
}

function api(key: number): ApiSpec {
  const found = findApi(key);
  if (found === undefined) throw new Error(`no spec for API key ${key}`);
  return found;
}

function checkMetadata(response: Row, job: PartitionsJob): void {
  const topics = response['topics'] as Row[];
  const wanted = new Set(job.topics);
  let seen = 0;
  for (const topic of topics) {
    if (!wanted.has(topic['name'] as string)) continue;
    if (topic['errorCode'] !== 0) throw new Error(`Metadata: topic ${String(topic['name'])} error ${String(topic['errorCode'])}`);
    const partitions = topic['partitions'] as Row[];
    if (partitions.length !== job.partitionsPerTopic) throw new Error(`Metadata: topic ${String(topic['name'])} lists ${partitions.length} of ${job.partitionsPerTopic} partitions`);
    seen++;
  }
  if (seen !== job.topics.length) throw new Error(`Metadata listed ${seen} of ${job.topics.length} topics`);
}

async function metadata(client: RawKafkaClient, job: PartitionsJob): Promise<{ metadataMs: number[]; metadataResponseBytes: number }> {
  const spec = api(API_KEY.Metadata);
  const body = { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false };
  const metadataMs: number[] = [];
  let metadataResponseBytes = 0;
  for (let i = 0; i < job.metadataRequests; i++) {
    const started = performance.now();
    const { response, bytes } = await client.call(spec, METADATA_VERSION, body);
    metadataMs.push(performance.now() - started);
    checkMetadata(response, job);
    metadataResponseBytes = bytes;
  }
  return { metadataMs, metadataResponseBytes };
}

async function produceToEveryPartition(client: RawKafkaClient, job: PartitionsJob): Promise<number> {
  const spec = api(API_KEY.Produce);
  const started = performance.now();
  for (const topic of job.topics) {
    const partitionData = Array.from({ length: job.partitionsPerTopic }, (_, index) => ({ index, records: buildBatch([{ value: Buffer.from(`${topic}/${index}`) }]) }));
    const { response } = await client.call(spec, PRODUCE_VERSION, { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData }] });
    for (const answer of (response['responses'] as Row[])[0]!['partitionResponses'] as Row[]) {
      if (answer['errorCode'] !== 0) throw new Error(`Produce to ${topic}/${String(answer['index'])}: error ${String(answer['errorCode'])}`);
    }
  }
  return performance.now() - started;
}

async function fetchEveryPartition(client: RawKafkaClient, job: PartitionsJob): Promise<{ fetchMs: number; fetchRequests: number; recordsFetched: number }> {
  const spec = api(API_KEY.Fetch);
  const started = performance.now();
  let fetchRequests = 0;
  let recordsFetched = 0;
  for (let first = 0; first < job.topics.length; first += job.fetchTopicsPerRequest) {
    const topics = job.topics.slice(first, first + job.fetchTopicsPerRequest).map((topic) => ({
      topic,
      partitions: Array.from({ length: job.partitionsPerTopic }, (_, partition) => ({ partition, fetchOffset: 0n, partitionMaxBytes: PARTITION_FETCH_BYTES_MAX, logStartOffset: -1n, currentLeaderEpoch: -1 })),
    }));
    const body = { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: FETCH_BYTES_MAX, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics, forgottenTopicsData: [], rackId: '' };
    const { response } = await client.call(spec, FETCH_VERSION, body);
    fetchRequests++;
    for (const topic of response['responses'] as Row[]) {
      for (const partition of topic['partitions'] as Row[]) {
        if (partition['errorCode'] !== 0) throw new Error(`Fetch ${String(topic['topic'])}/${String(partition['partitionIndex'])}: error ${String(partition['errorCode'])}`);
        const records = partition['records'] as Buffer | null;
        const count = records === null ? 0 : decodeBatches(records).reduce((sum, batch) => sum + batch.records.length, 0);
        if (count !== 1) throw new Error(`Fetch ${String(topic['topic'])}/${String(partition['partitionIndex'])}: ${count} records, 1 produced`);
        recordsFetched += count;
      }
    }
  }
  const expected = job.topics.length * job.partitionsPerTopic;
  if (recordsFetched !== expected) throw new Error(`fetched ${recordsFetched} records of ${expected} partitions`);
  return { fetchMs: performance.now() - started, fetchRequests, recordsFetched };
}

async function run(job: PartitionsJob): Promise<PartitionsResult> {
  const client = await RawKafkaClient.connect(job.port);
  try {
    const listed = await metadata(client, job);
    const produceMs = await produceToEveryPartition(client, job);
    const fetched = await fetchEveryPartition(client, job);
    return { ...listed, produceMs, ...fetched };
  } finally {
    client.close();
  }
}

try {
  const result = await run(JSON.parse(process.argv[2] ?? '{}') as PartitionsJob);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (error) {
  process.stderr.write(`scale-partitions-load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
