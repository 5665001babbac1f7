import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { METADATA_FILE_NAME } from '../../src/broker/metadata-store.js';
import { PRODUCER_EPOCH_MAX, PRODUCER_ID_BLOCK_SIZE } from '../../src/broker/producer-ids.js';
import { FerryError } from '../../src/errors.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir, valuesBatch } from '../storage/helpers.js';

afterAll(closeSharedStoragePool);

function errorName(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof FerryError ? error.errorName : String(error);
  }
  return undefined;
}

describe('broker producer ids', () => {
  it('hands out unique ids with epoch 0, never reused after a restart, writing metadata once per block', async () => {
    const dataDir = tempDir('ferry-pid-');
    let broker = await Broker.open({ dataDir });
    const metadataFile = path.join(dataDir, METADATA_FILE_NAME);
    const first = broker.initProducerId(null);
    const writtenAt = fs.statSync(metadataFile).mtimeMs;
    const ids = [first.producerId];
    for (let i = 0; i < 10; i++) ids.push(broker.initProducerId(null).producerId);
    expect(fs.statSync(metadataFile).mtimeMs).toBe(writtenAt);
    expect(first.producerEpoch).toBe(0);
    expect(new Set(ids).size).toBe(11);
    await broker.close();
    broker = await Broker.open({ dataDir });
    const afterRestart = broker.initProducerId(null);
    expect(afterRestart.producerId).toBe(BigInt(PRODUCER_ID_BLOCK_SIZE)); // the rest of the first block is skipped
    expect(JSON.parse(fs.readFileSync(metadataFile, 'utf8')).producerIdBlockEnd).toBe(2 * PRODUCER_ID_BLOCK_SIZE);
    await broker.close();
  });

  it('bumps the epoch of an id it handed out (KIP-360) and fences the older epoch', async () => {
    const broker = await Broker.open({ dataDir: tempDir('ferry-pid-') });
    const { producerId } = broker.initProducerId(null);
    expect(broker.initProducerId(null, producerId, 0)).toEqual({ producerId, producerEpoch: 1 });
    expect(broker.initProducerId(null, producerId, 1)).toEqual({ producerId, producerEpoch: 2 });
    expect(errorName(() => broker.initProducerId(null, producerId, 0))).toBe('PRODUCER_FENCED');
    const unknown = broker.initProducerId(null, 999_999n, 3);
    expect(unknown.producerId).not.toBe(999_999n);
    expect(unknown.producerEpoch).toBe(0);
    const exhausted = broker.initProducerId(null, producerId, PRODUCER_EPOCH_MAX);
    expect(exhausted.producerId).not.toBe(producerId);
    expect(errorName(() => broker.initProducerId(null, producerId, -1))).toBe('INVALID_REQUEST');
    expect(errorName(() => broker.initProducerId(null, -1n, 2))).toBe('INVALID_REQUEST');
    await broker.close();
  });

  it('refuses transactional ids', async () => {
    const broker = await Broker.open({ dataDir: tempDir('ferry-pid-') });
    expect(errorName(() => broker.initProducerId('my-txn'))).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
    await broker.close();
  });

  it('produceBatches answers a resend with the first offsets; describeProducers shows the producer after a restart', async () => {
    const dataDir = tempDir('ferry-pid-');
    let broker = await Broker.open({ dataDir });
    await broker.createTopic('t', { partitions: 2 });
    const { producerId, producerEpoch } = broker.initProducerId(null);
    const batch = (): Buffer => valuesBatch('v', 3, { producerId, producerEpoch, baseSequence: 0 });
    const first = await broker.produceBatches('t', 1, batch());
    const again = await broker.produceBatches('t', 1, batch());
    expect(again).toMatchObject({ firstOffset: first.firstOffset, lastOffset: first.lastOffset, duplicate: true });
    expect(broker.listOffset('t', 1, 'latest').offset).toBe(3);
    await broker.close();
    broker = await Broker.open({ dataDir });
    expect(broker.describeProducers('t', 1)).toMatchObject([{ producerId, epoch: 0, batches: [{ firstSeq: 0, lastSeq: 2 }] }]);
    expect(broker.describeProducers('t', 0)).toEqual([]);
    expect(errorName(() => broker.describeProducers('t', 5))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    await broker.close();
  });
});
