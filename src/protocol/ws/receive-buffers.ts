/**
 * Reusable buffers for the batches of binary produce frames. uWS's message
 * buffer is valid only during its callback, and the log keeps the bytes it
 * appends until the append settles (it rewrites offsets in them, and an
 * append queued behind another is written later), so the batches are copied
 * out once. A fresh 1 MiB Buffer per frame cost more than the copy itself
 * (allocation, first-touch page faults, external-memory GC: 10% of the
 * broker's profile at 250 MB/s); these buffers are taken back when the append
 * settles and handed to the next frame.
 *
 * Bounded: at most `pooledBytesMax` of idle buffers are kept; a buffer larger
 * than `bufferBytesMax` (a frame beyond the usual batch size) is not kept.
 */

export interface ReceivedBytes {
  /** The copied bytes, exactly as long as the source. */
  readonly bytes: Buffer;
  /** Gives the buffer back; `bytes` must not be used after. */
  release(): void;
}

/** Sizes are rounded up to a power of two from this, so frames of similar size share buffers. */
const BUFFER_BYTES_MIN = 64 * 1024;

export class ReceiveBuffers {
  private readonly idle: Buffer[] = [];
  private idleBytes = 0;

  constructor(
    private readonly pooledBytesMax: number,
    private readonly bufferBytesMax: number,
  ) {}

  /** A copy of `source` in a pooled buffer. */
  copy(source: Uint8Array): ReceivedBytes {
    const buffer = this.take(source.byteLength);
    buffer.set(source);
    let released = false;
    return {
      bytes: buffer.subarray(0, source.byteLength),
      release: () => {
        if (released) return;
        released = true;
        this.give(buffer);
      },
    };
  }

  private take(byteLength: number): Buffer {
    for (let i = 0; i < this.idle.length; i++) {
      const buffer = this.idle[i]!;
      if (buffer.byteLength >= byteLength) {
        this.idle.splice(i, 1);
        this.idleBytes -= buffer.byteLength;
        return buffer;
      }
    }
    // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared pool (it is kept and reused).
    return Buffer.allocUnsafeSlow(Math.max(BUFFER_BYTES_MIN, 2 ** Math.ceil(Math.log2(byteLength))));
  }

  private give(buffer: Buffer): void {
    if (buffer.byteLength > this.bufferBytesMax || this.idleBytes + buffer.byteLength > this.pooledBytesMax) return;
    this.idle.push(buffer);
    this.idleBytes += buffer.byteLength;
  }
}
