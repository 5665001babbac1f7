/**
 * How the Kafka door gets a record set still in its segment file
 * (FileRecords) onto a socket: sendfile(2) on a libuv pool thread
 * (native.sendfile), page cache to socket without the bytes entering the
 * process; or, when the addon is missing or SENDFILE_IN_FLIGHT_MAX sends are
 * already running door-wide, a pread into memory and an ordinary write.
 *
 * The limit is there because a sendfile to a slow peer holds a pool thread
 * (up to the addon's 30 s stall timeout) and the pool is shared with
 * fdatasync: a few stuck consumers must not stall every producer's flush.
 *
 * The caller owns the ordering rules sendfile imposes (connection.ts): no
 * JavaScript write to the socket while a send is in flight, Node's write
 * queue drained before it starts, neither descriptor closed until it ends.
 */

import fs from 'node:fs';
import type net from 'node:net';
import { assert } from '../../errors.js';
import { native } from '../../storage/native.js';
import type { FileRecords } from './codec/file-records.js';
import { SENDFILE_IN_FLIGHT_MAX } from './limits.js';

export class FileSender {
  private inFlight = 0;

  constructor(private readonly inFlightMax = SENDFILE_IN_FLIGHT_MAX) {}

  /** Whether record sets should be left in their files at all: only when sendfile exists. */
  get available(): boolean {
    return native !== null;
  }

  /** Takes a sendfile slot if one is free; the caller then calls `sendfile` exactly once. */
  tryReserve(): boolean {
    if (native === null || this.inFlight >= this.inFlightMax) return false;
    this.inFlight++;
    return true;
  }

  /** Gives back a reserved slot unused, and the range with it (the socket failed before the send could start). */
  async cancel(records: FileRecords): Promise<void> {
    this.inFlight--;
    records.release();
    throw new Error('the socket failed before sendfile could start');
  }

  /**
   * Sends the whole range with a reserved slot, then frees the slot and
   * releases the range (also on failure). Rejects if the socket fails or the
   * file ends early: the response is then cut, and the connection must close.
   */
  async sendfile(socket: net.Socket, records: FileRecords): Promise<void> {
    try {
      assert(native !== null, 'sendfile without the native addon');
      const { fd, position, sizeBytes } = records.range;
      const sent = await native.sendfile(socketFd(socket), fd, position, sizeBytes);
      if (sent !== sizeBytes) throw new Error(`sendfile sent ${sent} of ${sizeBytes} bytes at ${position}: the segment file ended early`);
    } finally {
      this.inFlight--;
      records.release();
    }
  }
}

/** The range's bytes read into memory (pread), then the range released. */
export function readFileRecords(records: FileRecords): Buffer {
  try {
    const { fd, position, sizeBytes } = records.range;
    const bytes = Buffer.allocUnsafe(sizeBytes);
    let filled = 0;
    while (filled < sizeBytes) {
      const read = fs.readSync(fd, bytes, filled, sizeBytes - filled, position + filled);
      assert(read > 0, `segment file ended ${sizeBytes - filled} bytes short of a leased range at ${position}`);
      filled += read;
    }
    return bytes;
  } finally {
    records.release();
  }
}

/** The socket's descriptor: node:net keeps it on the handle (undocumented, stable on Unix for a decade). */
function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  assert(typeof fd === 'number' && fd >= 0, 'the socket has no file descriptor (closed, or not a TCP socket)');
  return fd;
}
