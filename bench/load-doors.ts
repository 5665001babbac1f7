/**
 * One small producer and one small consumer per door for bench/load.ts, each
 * driven the way its client is meant to be used for throughput:
 *
 *   kafka  producer  @platformatic/kafka (the faster encoder of the two here): one
 *                    send() of a batch's records to one partition, acks as asked
 *          consumer  kafkajs (the faster decoder): one consumer group over every
 *                    partition, eachBatch, offsets committed every 5 s as Kafka's
 *                    Java consumer does; fetches wait at most 100 ms, so a rebalance
 *                    while idle is seen within about a heartbeat (500 ms)
 *   ws     producer  FerryClient, one produce() of a batch's records to one partition
 *                    (binary encoding: a binary produce frame the broker appends as
 *                    sent; json: a JSON request)
 *          consumer  FerryClient join(): a member of one consumer group, the broker's
 *                    own, with its pushes in the same encoding
 *   http   producer  one POST of a batch's records (a JSON array, STRING values) to
 *                    the v3 records endpoint; the door answers after the append, so
 *                    acks is 1 (all is the same on one broker)
 *          consumer  long-poll reads (timeout_ms) of the v3 partition records
 *                    endpoint, one loop per partition, partition p read by consumer
 *                    p % consumers (the HTTP door has no consumer groups)
 *
 * A group's consumers start from the group's committed offsets, which the
 * parent set to the log end before any of them joined (load.ts). They join
 * when the parent says so, all at once, so that the group's first
 * generation has every member (a member joining later costs a rebalance:
 * up to a WebSocket member's heartbeat interval, 3 s, for the door to see it).
 */

import { createRequire } from 'node:module';
import { FerryClient, type Encoding, type GroupMembership, type WebSocketConstructor } from '../src/client/index.js';
import { epochNowMs } from './open-loop.js';

export type Door = 'kafka' | 'ws' | 'http';
export type Acks = '0' | '1' | 'all';

/** Where the broker's doors are. */
export interface DoorAddresses {
  /** host:port of the Kafka listener. */
  kafka: string;
  /** http://host:port */
  httpUrl: string;
  /** ws://host:port/ws */
  wsUrl: string;
  clusterId: string;
}

/** What a producer or consumer needs to know of the run, whatever its door. */
export interface DoorJob {
  door: Door;
  /** ws only. */
  encoding: Encoding;
  addresses: DoorAddresses;
  topic: string;
  partitions: number;
  /** Number of this producer or consumer, from 0. */
  index: number;
}

export interface ProducerDriver {
  /** Sends `values` to `partition` in one request; resolves once acknowledged (with acks 0, once sent). */
  send(partition: number, values: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** One record read: its partition and offset, its value as bytes or text, when it arrived (epoch ms). */
export type OnRecord = (partition: number, offset: number, value: Uint8Array | string | null, deliveredAtMs: number) => void;

export interface ConsumerDriver {
  /** Starts reading: joins the group (kafka, ws; resolves with the first assignment) or starts the reads (http). */
  join(): Promise<void>;
  /** The partitions this consumer reads now. */
  partitions(): number[];
  close(): Promise<void>;
}

/** How long a consumer's read waits at the broker for records (Kafka fetch, HTTP long poll). */
const READ_WAIT_MS = 100;
const HTTP_READ_WAIT_MS = 1_000;
const KAFKA_HEARTBEAT_MS = 500;
const KAFKA_COMMIT_INTERVAL_MS = 5_000;
const MiB = 1024 * 1024;
/** Fetch sizes: enough that a fetch is never the limit of a consumer here. */
const KAFKA_FETCH_BYTES_MAX = 50 * MiB;
const KAFKA_PARTITION_FETCH_BYTES_MAX = 10 * MiB;
const HTTP_READ_BYTES_MAX = 4 * MiB;
/** Kafka produce requests one producer connection may have unanswered (the client's default, 5, caps small sends). */
export const PRODUCE_REQUESTS_INFLIGHT_MAX = 1024;

const KAFKA_ACKS: Record<Acks, number> = { '0': 0, '1': 1, all: -1 };
const WS_ACKS: Record<Acks, 0 | 1 | 'all'> = { '0': 0, '1': 1, all: 'all' };

function nodeWebSocket(): WebSocketConstructor {
  return createRequire(import.meta.url)('ws') as WebSocketConstructor;
}

function topicUrl(job: DoorJob): string {
  return `${job.addresses.httpUrl}/v3/clusters/${encodeURIComponent(job.addresses.clusterId)}/topics/${encodeURIComponent(job.topic)}`;
}

// --- producers ---------------------------------------------------------------------------

async function kafkaProducer(job: DoorJob, acks: Acks, inflight: number): Promise<ProducerDriver> {
  // Imported here only: @platformatic/kafka alone takes most of a second to load.
  const { Producer } = await import('@platformatic/kafka');
  const producer = new Producer({ clientId: `ferry-load-producer-${job.index}`, bootstrapBrokers: [job.addresses.kafka], acks: KAFKA_ACKS[acks], maxInflights: inflight });
  await producer.metadata({ topics: [job.topic] }); // connected, and the partitions' leader known, before the go
  return {
    send: async (partition, values) => {
      await producer.send({ messages: values.map((value) => ({ topic: job.topic, value: Buffer.from(value, 'latin1'), partition })) });
    },
    close: () => producer.close(),
  };
}

async function wsProducer(job: DoorJob, acks: Acks): Promise<ProducerDriver> {
  const client = await FerryClient.connect(job.addresses.wsUrl, { WebSocket: nodeWebSocket(), encoding: job.encoding });
  return {
    send: async (partition, values) => {
      await client.produce(job.topic, values.map((value) => ({ value, partition })), { acks: WS_ACKS[acks] });
    },
    close: () => client.close(),
  };
}

interface HttpReport {
  error_code: number;
  message?: string;
}

async function httpProducer(job: DoorJob): Promise<ProducerDriver> {
  const url = `${topicUrl(job)}/records`;
  return {
    send: async (partition, values) => {
      const body = JSON.stringify(values.map((value) => ({ partition_id: partition, value: { type: 'STRING', data: value } })));
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`POST ${url}: ${response.status} ${text.slice(0, 200)}`);
      const failed = (JSON.parse(text) as HttpReport[]).find((report) => report.error_code !== 200);
      if (failed !== undefined) throw new Error(`POST ${url}: a record failed: ${failed.error_code} ${failed.message ?? ''}`);
    },
    close: async () => undefined,
  };
}

/** A connected producer of `job.door`; `inflight` is the most requests it will have unanswered. */
export function openProducer(job: DoorJob, acks: Acks, inflight: number): Promise<ProducerDriver> {
  switch (job.door) {
    case 'kafka':
      return kafkaProducer(job, acks, inflight);
    case 'ws':
      return wsProducer(job, acks);
    case 'http':
      return httpProducer(job);
  }
}

// --- consumers ---------------------------------------------------------------------------

async function kafkaConsumer(job: DoorJob, group: string, onRecord: OnRecord, onError: (error: Error) => void): Promise<ConsumerDriver> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: `ferry-load-consumer-${job.index}`, brokers: [job.addresses.kafka], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: group,
    maxBytes: KAFKA_FETCH_BYTES_MAX,
    maxBytesPerPartition: KAFKA_PARTITION_FETCH_BYTES_MAX,
    maxWaitTimeInMs: READ_WAIT_MS,
    heartbeatInterval: KAFKA_HEARTBEAT_MS,
  });
  let assigned: number[] = [];
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      assigned = [...(event.payload.memberAssignment[job.topic] ?? [])].sort((a, b) => a - b);
      resolve();
    });
  });
  consumer.on(consumer.events.CRASH, (event) => onError(new Error(`kafkajs consumer crashed: ${event.payload.error.message}`)));
  await consumer.connect();
  await consumer.subscribe({ topic: job.topic, fromBeginning: false });
  return {
    join: async () => {
      await consumer.run({
        autoCommitInterval: KAFKA_COMMIT_INTERVAL_MS,
        eachBatch: async ({ batch }) => {
          const deliveredAtMs = epochNowMs();
          for (const message of batch.messages) onRecord(batch.partition, Number(message.offset), message.value, deliveredAtMs);
        },
      });
      await joined;
    },
    partitions: () => assigned,
    close: () => consumer.disconnect(),
  };
}

async function wsConsumer(job: DoorJob, group: string, onRecord: OnRecord, onError: (error: Error) => void): Promise<ConsumerDriver> {
  const client = await FerryClient.connect(job.addresses.wsUrl, { WebSocket: nodeWebSocket(), encoding: job.encoding });
  const binary = job.encoding === 'binary';
  let membership: GroupMembership | null = null;
  return {
    join: async () => {
      const joined = client.join(group, job.topic, { from: 'latest' });
      membership = joined;
      void (async () => {
        for await (const record of joined) onRecord(record.partition, record.offset, binary ? record.value : record.valueText, epochNowMs());
      })().catch(onError);
      await joined.ready;
    },
    partitions: () => (membership?.assignment.find((each) => each.topic === job.topic)?.partitions ?? []).sort((a, b) => a - b),
    close: () => client.close(),
  };
}

interface HttpRead {
  records: Array<{ offset: number; value: string | null; value_encoding?: string }>;
  next_offset: number;
}

/** Reads partition p for p % consumers == index, each from startOffsets[p], in one long-poll loop per partition. */
function httpConsumer(job: DoorJob, consumers: number, startOffsets: readonly number[], onRecord: OnRecord, onError: (error: Error) => void): ConsumerDriver {
  const owned = Array.from({ length: job.partitions }, (_, partition) => partition).filter((partition) => partition % consumers === job.index);
  const stop = new AbortController();
  const read = async (partition: number): Promise<void> => {
    let offset = startOffsets[partition] ?? 0;
    while (!stop.signal.aborted) {
      const url = `${topicUrl(job)}/partitions/${partition}/records?offset=${offset}&max_bytes=${HTTP_READ_BYTES_MAX}&timeout_ms=${HTTP_READ_WAIT_MS}`;
      const response = await fetch(url, { signal: stop.signal });
      const text = await response.text();
      const deliveredAtMs = epochNowMs();
      if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${text.slice(0, 200)}`);
      const answer = JSON.parse(text) as HttpRead;
      for (const record of answer.records) onRecord(partition, record.offset, record.value_encoding === undefined ? record.value : null, deliveredAtMs);
      offset = answer.next_offset;
    }
  };
  return {
    join: async () => {
      for (const partition of owned) {
        read(partition).catch((error: unknown) => {
          if (!stop.signal.aborted) onError(error instanceof Error ? error : new Error(String(error)));
        });
      }
    },
    partitions: () => owned,
    close: async () => stop.abort(),
  };
}

/**
 * A consumer of `job.door`, connected; join() starts it reading: joined to
 * `group` (kafka, ws), or reading its share from `startOffsets` (http).
 * Every record goes to `onRecord`; a failure of the client to `onError`.
 */
export async function openConsumer(job: DoorJob, options: { group: string; consumers: number; startOffsets: readonly number[] }, onRecord: OnRecord, onError: (error: Error) => void): Promise<ConsumerDriver> {
  switch (job.door) {
    case 'kafka':
      return kafkaConsumer(job, options.group, onRecord, onError);
    case 'ws':
      return wsConsumer(job, options.group, onRecord, onError);
    case 'http':
      return httpConsumer(job, options.consumers, options.startOffsets, onRecord, onError);
  }
}
