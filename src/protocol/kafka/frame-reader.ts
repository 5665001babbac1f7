/**
 * Splits a TCP byte stream into Kafka request frames: an int32 size, then
 * that many bytes. Chunks are kept as they arrive and joined only once a
 * whole frame is there, so a hostile size prefix costs nothing: a size
 * outside [0, REQUEST_BYTES_MAX] is rejected as soon as its 4 bytes are in,
 * before any buffer is allocated for it (socket.request.max.bytes).
 */

import { FerryError } from '../../errors.js';
import { REQUEST_BYTES_MAX, SIZE_PREFIX_BYTES } from './limits.js';

export class FrameReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Size of the frame being collected, or -1 while its prefix is incomplete. */
  private frameBytes = -1;

  /** The largest frame accepted from now on (raised after SASL authentication). */
  constructor(public requestBytesMax = REQUEST_BYTES_MAX) {}

  /** Adds bytes from the socket; returns the frames (without size prefix) completed by them. Throws INVALID_REQUEST on a bad size. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.frameBytes < 0) {
        if (this.bufferedBytes < SIZE_PREFIX_BYTES) break;
        const size = this.take(SIZE_PREFIX_BYTES).readInt32BE(0);
        if (size < 0 || size > this.requestBytesMax) {
          throw new FerryError('INVALID_REQUEST', `request size ${size} is outside [0, ${this.requestBytesMax}] (socket.request.max.bytes)`);
        }
        this.frameBytes = size;
      }
      if (this.bufferedBytes < this.frameBytes) break;
      frames.push(this.take(this.frameBytes));
      this.frameBytes = -1;
    }
    return frames;
  }

  /** Bytes received and not yet returned as a frame. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** Removes the first `byteCount` buffered bytes, copying only when they span chunks. */
  private take(byteCount: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= byteCount) {
      const out = first.subarray(0, byteCount);
      if (first.length === byteCount) this.chunks.shift();
      else this.chunks[0] = first.subarray(byteCount);
      this.bufferedBytes -= byteCount;
      return out;
    }
    const out = Buffer.allocUnsafe(byteCount);
    let filled = 0;
    while (filled < byteCount) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length, byteCount - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    this.bufferedBytes -= byteCount;
    return out;
  }
}
