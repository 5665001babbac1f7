/**
 * InitProducerId (key 22), versions 0-5: a producer id and epoch for an
 * idempotent producer. v3+ may carry the producer's current id and epoch to
 * have the epoch bumped (KIP-360); v4+ knows PRODUCER_FENCED, which older
 * versions hear as INVALID_PRODUCER_EPOCH, as Kafka answers them. A
 * transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 * until transactions exist (why that error: broker/producer-ids.ts).
 */

import { FerryError } from '../../../errors.js';
import type { ApiHandler } from '../handler.js';
import { errorCodeOf, errorFields } from './error-fields.js';

/** The first version whose clients understand PRODUCER_FENCED. */
const PRODUCER_FENCED_VERSION_MIN = 4;

interface InitProducerIdRequest {
  transactionalId: string | null;
  transactionTimeoutMs: number;
  producerId: bigint;
  producerEpoch: number;
}

export const initProducerIdHandler: ApiHandler = {
  apiKey: 22,
  versions: { min: 0, max: 5 },
  handle(body, context) {
    const request = body as unknown as InitProducerIdRequest;
    try {
      const granted = context.broker.initProducerId(request.transactionalId, request.producerId, request.producerEpoch);
      return { throttleTimeMs: 0, errorCode: 0, producerId: granted.producerId, producerEpoch: granted.producerEpoch };
    } catch (error) {
      let { errorCode } = errorFields(error, context.logger, 'init producer id');
      if (error instanceof FerryError && error.errorName === 'PRODUCER_FENCED' && context.apiVersion < PRODUCER_FENCED_VERSION_MIN) {
        errorCode = errorCodeOf('INVALID_PRODUCER_EPOCH');
      }
      return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
    }
  },
};
