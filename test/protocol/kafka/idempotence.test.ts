/**
 * The idempotent producer end to end over the Kafka door: a resent Produce
 * request by hand (same producer id, epoch and sequence) acknowledged with
 * the first delivery's offsets and stored once; kafkajs 2.2.4 with
 * `idempotent: true`; librdkafka through Debian's python3-confluent-kafka
 * with enable.idempotence and acks=all; both clients again behind a proxy
 * that loses the answer to their first Produce, so they must resend it; a
 * transactional id refused on the wire, and by both clients as a fatal error
 * at once.
 */

import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/errors.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { readAll, valuesBatch } from '../../storage/helpers.js';
import { RawKafkaClient, openKafkaServer, type KafkaTestServer } from './helpers.js';

afterAll(closeSharedStoragePool);

const run = promisify(execFile);
const PRODUCE = 0;
const INIT_PRODUCER_ID = 22;
const DESCRIBE_PRODUCERS = 61;

let server: KafkaTestServer | undefined;
let proxy: LossyProxy | undefined;
afterEach(async () => {
  proxy?.close();
  proxy = undefined;
  await server?.close();
  server = undefined;
});

/**
 * A TCP proxy in front of the Kafka listener that loses the answer to the
 * first Produce request: the request reaches the broker (and is written),
 * then the connection drops before the client hears back. The client must
 * resend the same batch, same sequence, on a new connection.
 */
class LossyProxy {
  targetPort = 0;
  producesLost = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly listener: net.Server) {
    listener.on('connection', (client) => this.relay(client));
  }

  static async listen(): Promise<LossyProxy> {
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    return new LossyProxy(listener);
  }

  get port(): number {
    return (this.listener.address() as net.AddressInfo).port;
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const produceCorrelationIds = new Set<number>();
    frames(client, (frame) => {
      if (frame.readInt16BE(4) === PRODUCE) produceCorrelationIds.add(frame.readInt32BE(8));
      upstream.write(frame);
    });
    frames(upstream, (frame) => {
      if (this.producesLost === 0 && produceCorrelationIds.has(frame.readInt32BE(4))) {
        this.producesLost++;
        client.destroy();
        return;
      }
      client.write(frame);
    });
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.listener.close();
  }
}

/** Calls `onFrame` with each whole size-prefixed frame (prefix included) read from `socket`. */
function frames(socket: net.Socket, onFrame: (frame: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const size = 4 + buffered.readInt32BE(0);
      onFrame(buffered.subarray(0, size));
      buffered = buffered.subarray(size);
    }
  });
}

/** A broker whose advertised address is a lossy proxy in front of it; `duplicates` counts the resends it recognised. */
async function openBehindLossyProxy(): Promise<{ target: KafkaTestServer; lossy: LossyProxy; duplicates: () => number }> {
  const lossy = await LossyProxy.listen();
  const target = await openKafkaServer({}, { advertisedPort: lossy.port });
  lossy.targetPort = target.port;
  let duplicates = 0;
  const produceBatches = target.broker.produceBatches.bind(target.broker);
  target.broker.produceBatches = async (topic, partition, bytes) => {
    const result = await produceBatches(topic, partition, bytes);
    if (result.duplicate) duplicates++;
    return result;
  };
  return { target, lossy, duplicates: () => duplicates };
}

function kafkaFor(target: KafkaTestServer): Kafka {
  return new Kafka({ clientId: 'ferry-idempotence-test', brokers: [target.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 }, connectionTimeout: 5_000 });
}

interface ProducePartition {
  index: number;
  errorCode: number;
  baseOffset: bigint;
}

async function produce(client: RawKafkaClient, topic: string, records: Buffer): Promise<ProducePartition> {
  const response = await client.request(PRODUCE, 9, { transactionalId: null, acks: -1, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  const [topicResponse] = response.responses as unknown as Array<{ partitionResponses: ProducePartition[] }>;
  return topicResponse!.partitionResponses[0]!;
}

describe('idempotent producer over the Kafka door', () => {
  it('acknowledges a resent Produce request with the first offsets and stores it once; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER', async () => {
    server = await openKafkaServer();
    await server.broker.createTopic('orders', { partitions: 1 });
    const client = await RawKafkaClient.connect(server.port);
    try {
      const granted = await client.request(INIT_PRODUCER_ID, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
      expect(granted.errorCode).toBe(0);
      const ids = { producerId: granted.producerId as bigint, producerEpoch: granted.producerEpoch as number };
      await produce(client, 'orders', valuesBatch('warmup', 2)); // a plain producer's records first: offsets 0-1
      const batch = (prefix: string, baseSequence: number): Buffer => valuesBatch(prefix, 3, { ...ids, baseSequence });
      const first = await produce(client, 'orders', batch('a', 0));
      const resent = await produce(client, 'orders', batch('a', 0));
      expect(first).toMatchObject({ errorCode: 0, baseOffset: 2n });
      expect(resent).toMatchObject({ errorCode: 0, baseOffset: 2n });
      const gap = await produce(client, 'orders', batch('c', 6));
      expect(gap.errorCode).toBe(ERROR_CODES.OUT_OF_ORDER_SEQUENCE_NUMBER.code);
      const next = await produce(client, 'orders', valuesBatch('b', 1, { ...ids, baseSequence: 3 }));
      expect(next).toMatchObject({ errorCode: 0, baseOffset: 5n });
      const values = readAll(server.broker.log('orders', 0)).map((record) => record.value!.toString());
      expect(values).toEqual(['warmup-0', 'warmup-1', 'a-0', 'a-1', 'a-2', 'b-0']);

      // The producer's epoch bumped (KIP-360): the new epoch starts at sequence 0; once it has written, the old one is fenced.
      const bumped = await client.request(INIT_PRODUCER_ID, 4, { transactionalId: null, transactionTimeoutMs: 60_000, ...ids });
      expect(bumped).toMatchObject({ errorCode: 0, producerId: ids.producerId, producerEpoch: 1 });
      expect(await produce(client, 'orders', valuesBatch('c', 1, { producerId: ids.producerId, producerEpoch: 1, baseSequence: 0 }))).toMatchObject({ errorCode: 0, baseOffset: 6n });
      expect((await produce(client, 'orders', valuesBatch('z', 1, { ...ids, baseSequence: 4 }))).errorCode).toBe(ERROR_CODES.INVALID_PRODUCER_EPOCH.code);

      const described = await client.request(DESCRIBE_PRODUCERS, 0, { topics: [{ name: 'orders', partitionIndexes: [0] }] });
      expect(described).toMatchObject({
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0, activeProducers: [{ producerId: ids.producerId, producerEpoch: 1, lastSequence: 0, coordinatorEpoch: -1, currentTxnStartOffset: -1n }] }] }],
      });
    } finally {
      client.close();
    }
  });

  it('kafkajs with idempotent: true: every message once, in order, the producer visible to DescribeProducers', async () => {
    server = await openKafkaServer();
    await server.broker.createTopic('kjs', { partitions: 1 });
    const producer = kafkaFor(server).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < 5; i++) {
        const [meta] = await producer.send({ topic: 'kjs', acks: -1, messages: [{ value: `m${i}-0` }, { value: `m${i}-1` }] });
        expect(meta).toMatchObject({ errorCode: 0, baseOffset: String(2 * i) });
      }
    } finally {
      await producer.disconnect();
    }
    expect(readAll(server.broker.log('kjs', 0)).map((record) => record.value!.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i >> 1}-${i % 2}`));
    const [entry] = server.broker.describeProducers('kjs', 0);
    expect(entry).toMatchObject({ epoch: 0, batches: expect.any(Array) });
    expect(entry!.batches.at(-1)!.lastSeq).toBe(9);
  });

  it('kafkajs resends a Produce whose answer was lost, and the broker stores it once', async () => {
    const opened = await openBehindLossyProxy();
    ({ target: server, lossy: proxy } = opened);
    await server.broker.createTopic('lossy', { partitions: 1 });
    const kafka = new Kafka({ clientId: 'ferry-lossy', brokers: [`127.0.0.1:${proxy.port}`], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 }, connectionTimeout: 5_000 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const [meta] = await producer.send({ topic: 'lossy', acks: -1, messages: [{ value: 'once-0' }, { value: 'once-1' }] });
      expect(meta).toMatchObject({ errorCode: 0, baseOffset: '0' });
      await producer.send({ topic: 'lossy', acks: -1, messages: [{ value: 'after' }] });
    } finally {
      await producer.disconnect();
    }
    expect(proxy.producesLost).toBe(1);
    expect(opened.duplicates()).toBe(1);
    expect(readAll(server.broker.log('lossy', 0)).map((record) => record.value!.toString())).toEqual(['once-0', 'once-1', 'after']);
  });

  it('librdkafka resends a Produce whose answer was lost, and the broker stores it once', async () => {
    const opened = await openBehindLossyProxy();
    ({ target: server, lossy: proxy } = opened);
    await server.broker.createTopic('rdk-lossy', { partitions: 1 });
    const script = `
import json, sys
from confluent_kafka import Producer
p = Producer({'bootstrap.servers': sys.argv[1], 'enable.idempotence': True, 'acks': 'all', 'linger.ms': 0, 'message.timeout.ms': 20000})
offsets, errors = [], []
def done(err, msg):
    if err: errors.append(str(err))
    else: offsets.append(msg.offset())
for i in range(5):
    p.produce('rdk-lossy', value=('x%d' % i).encode(), partition=0, on_delivery=done)
    p.flush(20)
print(json.dumps({'offsets': offsets, 'errors': errors}))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, `127.0.0.1:${proxy.port}`], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ offsets: [0, 1, 2, 3, 4], errors: [] });
    expect(proxy.producesLost).toBe(1);
    expect(opened.duplicates()).toBe(1);
    expect(readAll(server.broker.log('rdk-lossy', 0)).map((record) => record.value!.toString())).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
  }, 60_000);

  it('refuses a transactional id over the wire with TRANSACTIONAL_ID_AUTHORIZATION_FAILED', async () => {
    // kafkajs and librdkafka ask FindCoordinator (key type TRANSACTION) first; this is the request that follows.
    server = await openKafkaServer();
    const client = await RawKafkaClient.connect(server.port);
    try {
      const refused = await client.request(INIT_PRODUCER_ID, 5, { transactionalId: 'txn-1', transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
      expect(refused).toMatchObject({ errorCode: ERROR_CODES.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code, producerId: -1n, producerEpoch: -1 });
    } finally {
      client.close();
    }
  });

  it('a transactional producer fails at once, not after its retries: kafkajs and librdkafka', async () => {
    server = await openKafkaServer();
    const producer = kafkaFor(server).producer({ transactionalId: 'txn-1', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const started = Date.now();
      await expect(producer.transaction()).rejects.toMatchObject({ type: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED' });
      expect(Date.now() - started).toBeLessThan(10_000); // a bound on a hang, not a timing measurement
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    const script = `
import sys
from confluent_kafka import Producer, KafkaException
p = Producer({'bootstrap.servers': sys.argv[1], 'transactional.id': 'txn-2'})
try:
    p.init_transactions(20)
    print('initialised')
except KafkaException as e:
    err = e.args[0]
    print('%s fatal=%s' % (err.name(), err.fatal()))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, server.bootstrap], { timeout: 60_000 });
    expect(stdout.trim()).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED fatal=True');
  }, 60_000);

  it('librdkafka (confluent_kafka) with enable.idempotence and acks=all', async () => {
    server = await openKafkaServer();
    await server.broker.createTopic('rdk', { partitions: 1 });
    const script = `
import json, sys
from confluent_kafka import Producer
p = Producer({'bootstrap.servers': sys.argv[1], 'enable.idempotence': True, 'acks': 'all', 'linger.ms': 5, 'message.timeout.ms': 15000})
offsets, errors = [], []
def done(err, msg):
    if err: errors.append(str(err))
    else: offsets.append(msg.offset())
for i in range(50):
    p.produce('rdk', value=('r%d' % i).encode(), partition=0, on_delivery=done)
    p.poll(0)
left = p.flush(20)
print(json.dumps({'offsets': sorted(offsets), 'errors': errors, 'left': left}))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, server.bootstrap], { timeout: 60_000 });
    const answer = JSON.parse(stdout) as { offsets: number[]; errors: string[]; left: number };
    expect(answer).toEqual({ offsets: Array.from({ length: 50 }, (_, i) => i), errors: [], left: 0 });
    expect(readAll(server.broker.log('rdk', 0)).map((record) => record.value!.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));
    const [entry] = server.broker.describeProducers('rdk', 0);
    expect(entry!.batches.at(-1)!.lastSeq).toBe(49);
  }, 60_000);
});
