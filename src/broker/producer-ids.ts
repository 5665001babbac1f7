/**
 * Producer ids for idempotent producers (InitProducerId): unique across
 * restarts, handed out from blocks reserved durably in the metadata store, so
 * only one call in PRODUCER_ID_BLOCK_SIZE writes a file.
 *
 *   no id given                    a new id, epoch 0
 *   an id this broker handed out,
 *   with its current epoch         the same id, epoch + 1 (KIP-360: a producer
 *                                  resets its sequences without losing its id)
 *   an epoch older than one this
 *   broker already bumped to       PRODUCER_FENCED: another instance holds it
 *   an id never handed out here,
 *   or an epoch that cannot grow   a new id, epoch 0 (as Kafka answers every
 *                                  producer without a transactional id)
 *   a transactional id             TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 *
 * Transactions are not implemented. The refusal for a transactional id is
 * the error kafkajs, librdkafka and the Java client all treat as fatal at
 * once: kafkajs retries InitProducerId only on coordinator-loading errors,
 * librdkafka raises a fatal error for it, and the Java client throws
 * TransactionalIdAuthorizationException. COORDINATOR_NOT_AVAILABLE, the
 * other candidate, is retried by all three until their timeouts, leaving an
 * application waiting for something that will never come.
 *
 * Bumped epochs are remembered in memory only (at most BUMPED_EPOCHS_MAX
 * producers, oldest forgotten first): after a restart a stale epoch is bumped
 * rather than fenced, and the partitions still fence its writes by epoch.
 */

import { FerryError } from '../errors.js';
import type { MetadataStore } from './metadata-store.js';

/** Producer ids reserved per metadata write (Kafka's block size). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
/** Highest epoch a bump hands out; beyond it the producer gets a new id (Kafka: Short.MAX_VALUE - 1). */
export const PRODUCER_EPOCH_MAX = 0x7ffe;
/** Producers whose bumped epoch is remembered for fencing. */
export const BUMPED_EPOCHS_MAX = 10_000;
export const NO_PRODUCER_ID = -1n;

export interface ProducerIdAndEpoch {
  producerId: bigint;
  producerEpoch: number;
}

export class ProducerIdAllocator {
  private next = 0;
  private blockEnd = 0;
  private readonly bumpedEpochs = new Map<bigint, number>();

  constructor(private readonly store: MetadataStore) {}

  /** The answer to InitProducerId (see the header for the rules). */
  initProducerId(transactionalId: string | null, producerId = NO_PRODUCER_ID, producerEpoch = -1): ProducerIdAndEpoch {
    if (transactionalId !== null) {
      throw new FerryError(
        'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
        `transactional.id ${JSON.stringify(transactionalId)}: this broker does not support transactions yet; use an idempotent producer without a transactional.id`,
      );
    }
    if ((producerId === NO_PRODUCER_ID) !== (producerEpoch === -1)) {
      throw new FerryError('INVALID_REQUEST', `producer id ${producerId} and epoch ${producerEpoch}: give both or neither`);
    }
    if (producerId === NO_PRODUCER_ID) return this.fresh();
    if (!this.handedOut(producerId) || producerEpoch >= PRODUCER_EPOCH_MAX) return this.fresh();
    const bumped = this.bumpedEpochs.get(producerId);
    if (bumped !== undefined && producerEpoch < bumped) {
      throw new FerryError('PRODUCER_FENCED', `producer ${producerId} epoch ${producerEpoch} is fenced: epoch ${bumped} was handed out since`);
    }
    return this.bump(producerId, producerEpoch + 1);
  }

  private handedOut(producerId: bigint): boolean {
    return producerId <= BigInt(Number.MAX_SAFE_INTEGER) && this.store.producerIdReserved(Number(producerId));
  }

  private fresh(): ProducerIdAndEpoch {
    if (this.next === this.blockEnd) {
      const block = this.store.reserveProducerIds(PRODUCER_ID_BLOCK_SIZE);
      this.next = block.start;
      this.blockEnd = block.end;
    }
    return { producerId: BigInt(this.next++), producerEpoch: 0 };
  }

  private bump(producerId: bigint, producerEpoch: number): ProducerIdAndEpoch {
    this.bumpedEpochs.delete(producerId); // re-inserted last: the map's order is least recently bumped first
    this.bumpedEpochs.set(producerId, producerEpoch);
    if (this.bumpedEpochs.size > BUMPED_EPOCHS_MAX) this.bumpedEpochs.delete(this.bumpedEpochs.keys().next().value!);
    return { producerId, producerEpoch };
  }
}
