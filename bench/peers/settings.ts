/**
 * Each system's settings in the peers comparison, quoted in the figures'
 * notes and in the settings table next to the ratio table (issue 5:
 * "document each system's settings next to the table"). Keep in step with
 * bench/peers-load.ts, bench/peers-latency-load.ts and the servers' start-up
 * (bench/peers/redis.ts, nats.ts).
 */

import type { Profile } from '../storage.bench.js';
import type { PeerSystem } from './names.js';
import { NATS_SETTINGS } from './nats.js';
import { REDIS_SETTINGS } from './redis.js';

export const VALUE_BYTES = 1024;
/** Records each system produces, then consumes, in the throughput run. */
export const THROUGHPUT_RECORDS: Record<Profile, number> = { quick: 5_000, default: 200_000, full: 200_000 };
export const BATCH_RECORDS = 1000;
export const INFLIGHT = 4;

const FERRY_SETTINGS = 'Ferry broker in the bench process, defaults (no fsync: page cache, as Kafka), 1 partition';

export const SERVER_SETTINGS: Record<PeerSystem, string> = { 'ferry-kafka': FERRY_SETTINGS, 'ferry-ws': FERRY_SETTINGS, redis: REDIS_SETTINGS, nats: NATS_SETTINGS };

/** Throughput: produce N with the best batching, then consume them all from the start (bench/peers-load.ts). */
export const THROUGHPUT_CLIENT_SETTINGS: Record<PeerSystem, string> = {
  'ferry-kafka': `@platformatic/kafka 1.35.0 producer, send() of ${BATCH_RECORDS} records, ${INFLIGHT} in flight, acks=1, no compression; kafkajs 2.2.4 consumer (2x @platformatic/kafka's reading rate here), eachBatch from the beginning, maxBytes 50 MiB, no commits`,
  'ferry-ws': `FerryClient over ws, encoding=binary, produceEncoding=binary (each produce() a binary frame of one record batch the client builds, appended as sent; pushes as binary frames), produce() of ${BATCH_RECORDS} records, ${INFLIGHT} in flight, acks=1; subscribe from earliest, 1 MiB credit window`,
  redis: `ioredis 6.0.0, pipelines of ${BATCH_RECORDS} XADD (one field), ${INFLIGHT} pipelines in flight; XREADGROUP COUNT ${BATCH_RECORDS} NOACK, one at a time`,
  nats: `nats.js 2.29.3, async js.publish, acks awaited per window of ${BATCH_RECORDS}; pull consumer consume() max_messages ${BATCH_RECORDS}, AckPolicy.None`,
};

/** Latency: one record per send at a fixed rate, the consumer waiting on the server (bench/peers-latency-load.ts). */
export const LATENCY_CLIENT_SETTINGS: Record<PeerSystem, string> = {
  'ferry-kafka': '@platformatic/kafka 1.35.0 Producer, acks=1, maxInflights 1000, the records of one event-loop turn in one send() (as Kafka producers batch with linger.ms=0); Consumer stream from the log end, maxWaitTime 500 ms, minBytes 1',
  'ferry-ws': 'FerryClient over ws, encoding=binary, produceEncoding=binary, produce() of 1 record per call, acks=1 (the client sends the calls of one event-loop turn as one request); subscribe from latest on a second connection',
  redis: 'ioredis 6.0.0, XADD per record with enableAutoPipelining (the commands of one event-loop turn in one write); XREAD COUNT 1000 BLOCK 500 from the last id, on a second connection',
  nats: 'nats.js 2.29.3, js.publish per record (acks awaited, not before the next send); pull consumer consume() max_messages 1000, DeliverPolicy.New, AckPolicy.None',
};
