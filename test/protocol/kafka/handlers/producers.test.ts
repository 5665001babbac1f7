import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../../src/errors.js';
import { describeProducersHandler } from '../../../../src/protocol/kafka/handlers/describe-producers.js';
import { SUPPORTED_APIS } from '../../../../src/protocol/kafka/handlers/index.js';
import { initProducerIdHandler } from '../../../../src/protocol/kafka/handlers/init-producer-id.js';
import { closeSharedStoragePool } from '../../../../src/storage/storage-pool.js';
import { valuesBatch } from '../../../storage/helpers.js';
import { openHarness, versionsOf } from './admin-harness.js';

afterAll(closeSharedStoragePool);

describe('InitProducerId', () => {
  it('is advertised at versions 0-5, DescribeProducers at 0', () => {
    expect(SUPPORTED_APIS).toContainEqual({ apiKey: 22, minVersion: 0, maxVersion: 5 });
    expect(SUPPORTED_APIS).toContainEqual({ apiKey: 61, minVersion: 0, maxVersion: 0 });
  });

  it('hands out a distinct producer id with epoch 0 at every version', async () => {
    const harness = await openHarness();
    const seen = new Set<bigint>();
    for (const version of versionsOf(initProducerIdHandler)) {
      const response = await harness.call(initProducerIdHandler, version, { transactionalId: null, transactionTimeoutMs: 60_000 });
      expect(response).toMatchObject({ errorCode: 0, producerEpoch: 0, throttleTimeMs: 0 });
      seen.add(response.producerId as bigint);
    }
    expect(seen.size).toBe(6);
    await harness.close();
  });

  it('bumps the epoch when given the current id and epoch (v3+), fencing an older one as each version understands', async () => {
    const harness = await openHarness();
    const granted = await harness.call(initProducerIdHandler, 3, { transactionalId: null, transactionTimeoutMs: 0 });
    const producerId = granted.producerId as bigint;
    expect(await harness.call(initProducerIdHandler, 4, { transactionalId: null, producerId, producerEpoch: 0 })).toMatchObject({ errorCode: 0, producerId, producerEpoch: 1 });
    expect(await harness.call(initProducerIdHandler, 5, { transactionalId: null, producerId, producerEpoch: 0 })).toMatchObject({
      errorCode: ERROR_CODES.PRODUCER_FENCED.code,
      producerId: -1n,
      producerEpoch: -1,
    });
    expect(await harness.call(initProducerIdHandler, 3, { transactionalId: null, producerId, producerEpoch: 0 })).toMatchObject({ errorCode: ERROR_CODES.INVALID_PRODUCER_EPOCH.code });
    await harness.close();
  });

  it('refuses a transactional id with TRANSACTIONAL_ID_AUTHORIZATION_FAILED', async () => {
    const harness = await openHarness();
    for (const version of versionsOf(initProducerIdHandler)) {
      const response = await harness.call(initProducerIdHandler, version, { transactionalId: 'txn-1', transactionTimeoutMs: 60_000 });
      expect(response).toMatchObject({ errorCode: ERROR_CODES.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code, producerId: -1n, producerEpoch: -1 });
    }
    await harness.close();
  });
});

describe('DescribeProducers', () => {
  it('lists each partition\'s producers with last sequence and timestamp, and errors per partition', async () => {
    const harness = await openHarness();
    await harness.broker.createTopic('events', { partitions: 2 });
    const { producerId } = harness.broker.initProducerId(null);
    await harness.broker.produceBatches('events', 0, valuesBatch('a', 4, { producerId, producerEpoch: 0, baseSequence: 0, timestamp: 1_700_000_000_000n }));
    const response = await harness.call(describeProducersHandler, 0, {
      topics: [
        { name: 'events', partitionIndexes: [0, 1, 7] },
        { name: 'missing', partitionIndexes: [0] },
      ],
    });
    expect(response).toEqual({
      throttleTimeMs: 0,
      topics: [
        {
          name: 'events',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              errorMessage: null,
              activeProducers: [{ producerId, producerEpoch: 0, lastSequence: 3, lastTimestamp: 1_700_000_000_000n, coordinatorEpoch: -1, currentTxnStartOffset: -1n }],
            },
            { partitionIndex: 1, errorCode: 0, errorMessage: null, activeProducers: [] },
            { partitionIndex: 7, errorCode: ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code, errorMessage: expect.any(String), activeProducers: [] },
          ],
        },
        { name: 'missing', partitions: [{ partitionIndex: 0, errorCode: ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code, errorMessage: expect.any(String), activeProducers: [] }] },
      ],
    });
    await harness.close();
  });
});
