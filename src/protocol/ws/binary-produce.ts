/**
 * The binary produce frame (layout in protocol.ts) as a checked request: the
 * header read and checked, the record batches handed on as the client built
 * them. The batches are not looked into here: the broker validates and
 * appends them exactly as it does a Kafka producer's (broker.produceBatches),
 * so both doors share one validation and the stored bytes are the sent bytes.
 */

import type { Acks } from '../../broker/broker.js';
import { readProduceFrameHeader } from './protocol.js';
import type { ReceiveBuffers } from './receive-buffers.js';
import { InvalidRequest } from './requests.js';

export interface BinaryProduceRequest {
  id: number;
  topic: string;
  /** PARTITION_ANY (-1): the door picks one. */
  partition: number;
  acks: Acks;
  /**
   * The frame's batches, copied out of uWS's buffer (valid only during the
   * message callback) into a pooled buffer: the log rewrites offsets in them
   * and may keep them until an append queued behind another is written.
   */
  batches: Buffer;
  /** Gives `batches` back to the pool once the append has settled. */
  release(): void;
}

/** Reads a client's binary frame; InvalidRequest (with the request id once readable) when it is not a well-formed produce frame. */
export function readBinaryProduce(frame: Uint8Array, buffers: ReceiveBuffers): BinaryProduceRequest {
  const read = readProduceFrameHeader(frame);
  if ('problem' in read) throw new InvalidRequest(read.requestId, read.problem);
  const { header, batchesOffset } = read;
  if (header.acks !== 0 && header.acks !== 1 && header.acks !== -1) {
    throw new InvalidRequest(header.requestId, `acks must be 0, 1 or -1, not ${header.acks}`, 'INVALID_REQUIRED_ACKS');
  }
  if (header.partition < -1) throw new InvalidRequest(header.requestId, `partition ${header.partition}: a partition is >= 0, or -1 for any`);
  const received = buffers.copy(frame.subarray(batchesOffset));
  return { id: header.requestId, topic: header.topic, partition: header.partition, acks: header.acks, batches: received.bytes, release: received.release };
}
