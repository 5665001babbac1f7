/**
 * Positioned file I/O for the storage engine: the native addon where it is
 * built (pwritev, fdatasync off the libuv pool, preallocation), else Node's fs.
 * Both paths write and read caller-owned buffers with no extra copy.
 */

import fs from 'node:fs';
import { promisify } from 'node:util';
import { native } from './native.js';

const fdatasyncAsync = promisify(fs.fdatasync);

/** Write all of `bytes` at `position`; a short write throws. */
export function writeAt(fd: number, bytes: Uint8Array, position: number): void {
  if (native) {
    native.pwrite(fd, bytes, position);
    return;
  }
  let written = 0;
  while (written < bytes.length) {
    written += fs.writeSync(fd, bytes, written, bytes.length - written, position + written);
  }
}

/** Read up to `length` bytes at `position` into bytes[offset..]; returns bytes read (short at end of file). */
export function readAt(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number {
  if (native) return native.pread(fd, bytes, offset, length, position);
  let total = 0;
  while (total < length) {
    const n = fs.readSync(fd, bytes, offset + total, length - total, position + total);
    if (n === 0) break;
    total += n;
  }
  return total;
}

export function fdatasync(fd: number): Promise<void> {
  return native ? native.fdatasync(fd) : fdatasyncAsync(fd);
}

/** Reserve disk blocks without changing the file's size; best effort. */
export function preallocate(fd: number, position: number, length: number): void {
  native?.preallocate(fd, position, length);
}

/** Replace `path` atomically with `contents`, durable before returning. */
export function writeFileDurably(path: string, contents: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, contents);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  syncDirectory(path.slice(0, Math.max(0, path.lastIndexOf('/'))) || '.');
}

/** fsync a directory so that created, renamed and deleted names in it are durable. */
export function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** syncDirectory off the event loop (the sync itself waits on the disk). */
export async function syncDirectoryAsync(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
