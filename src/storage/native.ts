/**
 * Typed loader for Ferry's native addon, build/Release/ferry_native.node
 * (sources in native/, built by scripts/build-native.mjs on `npm install`).
 *
 * The addon supplies what the storage engine needs and Node lacks or routes
 * through the libuv pool: hardware CRC32C, positioned reads and writes on the
 * calling thread, fdatasync and sendfile on a pool thread, and fallocate with
 * FALLOC_FL_KEEP_SIZE.
 *
 * Importing this module never throws: when the addon is missing, fails to load
 * or lacks a function (a stale build), `native` is null and `nativeLoadError`
 * says why, so callers choose a fallback once, at startup.
 *
 * Errors: bad arguments throw TypeError (wrong type) or RangeError (a
 * non-integer, a negative number, a range outside the buffer), synchronously
 * for the synchronous functions and as a rejection for the Promise-returning
 * ones. Failed syscalls throw or reject with a {@link NativeSyscallError}.
 */
import { createRequire } from 'node:module';

export interface NativeIo {
  /**
   * CRC32C (Castagnoli) of bytes[start, end) continuing from `crc` (0 = fresh):
   * crc32c(b, 0, b.length, crc32c(a)) equals the CRC of a followed by b.
   * Hardware SSE4.2 when available, else slicing-by-8 in C++. `crc` may be
   * given signed (`| 0`) or unsigned (`>>> 0`); the result is unsigned.
   */
  crc32c(bytes: Uint8Array, start?: number, end?: number, crc?: number): number;
  /** As crc32c, always on the software path: for tests and benchmarks. */
  crc32cSoftware(bytes: Uint8Array, start?: number, end?: number, crc?: number): number;
  /** True when crc32c runs on the CPU's SSE4.2 instruction. */
  readonly hasHardwareCrc32c: boolean;
  /** pwrite(2), looping until every byte is written; returns bytes written. Synchronous (page-cache writes are memcpy speed). */
  pwrite(fd: number, bytes: Uint8Array, position: number): number;
  /** pwritev(2) of several buffers at position, looping on short writes; returns the total. Synchronous. */
  pwritev(fd: number, buffers: readonly Uint8Array[], position: number): number;
  /** pread(2) into bytes[offset, offset + length) from position; returns bytes read (short only at end of file). Synchronous. */
  pread(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number;
  /** fdatasync(2) on a libuv pool thread; resolves when the file's data is durable. */
  fdatasync(fd: number): Promise<void>;
  /**
   * fallocate(2) with FALLOC_FL_KEEP_SIZE: reserves blocks for [position,
   * position + length) without changing the file's size, so recovery never
   * sees a zero-filled tail. A successful no-op where the filesystem does not
   * support it (EOPNOTSUPP), and for length 0.
   */
  preallocate(fd: number, position: number, length: number): void;
  /**
   * flock(2) LOCK_EX|LOCK_NB: true when this process now holds the file's
   * exclusive lock, false when another process does. Released with the
   * descriptor, so also when the process dies.
   */
  lockExclusive(fd: number): boolean;
  /**
   * sendfile(2) of file bytes [position, position + length) to a socket, on a
   * libuv pool thread; resolves with bytes sent, fewer than `length` only when
   * the file ends first.
   *
   * Sockets from node:net are non-blocking: on EAGAIN the worker poll()s the
   * socket for POLLOUT and continues, and rejects with code 'ETIMEDOUT' when the
   * peer accepts nothing for 30 s (holding one pool thread meanwhile). While a
   * call is in flight, do not write to the socket from JavaScript (bytes would
   * interleave; wait until `socket.writableLength === 0` before calling) and do
   * not close the file's fd. The socket is sent to through a duplicate of its
   * fd, so the socket closing meanwhile only fails the send. The socket's fd
   * is `(socket as any)._handle.fd`, an undocumented but long-stable property
   * of node:net on Unix.
   */
  sendfile(socketFd: number, fileFd: number, position: number, length: number): Promise<number>;
}

/**
 * A failed syscall, shaped like Node's fs errors. The message names the syscall
 * and its arguments, e.g.
 * "pwrite(fd=7, position=4096, length=512) failed: ENOSPC (No space left on device)".
 */
export interface NativeSyscallError extends Error {
  /** The errno name: 'ENOSPC', 'EBADF', ... */
  code: string;
  /** The negated errno value, as in Node. */
  errno: number;
  syscall: string;
}

/** Relative to this file: works from src/storage (vitest, tsx) and dist/storage (tsc output). */
const ADDON_PATH = '../../build/Release/ferry_native.node';

const FUNCTION_NAMES = [
  'crc32c',
  'crc32cSoftware',
  'pwrite',
  'pwritev',
  'pread',
  'fdatasync',
  'preallocate',
  'lockExclusive',
  'sendfile',
] as const satisfies readonly (keyof NativeIo)[];

interface Loaded {
  native: NativeIo | null;
  nativeLoadError: Error | null;
}

function loadNative(): Loaded {
  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      native: null,
      nativeLoadError: new Error(`native addon did not load (run \`npm run build:native\`): ${reason}`, {
        cause: error,
      }),
    };
  }
  const record = addon as Record<string, unknown>;
  const missing: string[] = FUNCTION_NAMES.filter((name) => typeof record[name] !== 'function');
  if (typeof record.hasHardwareCrc32c !== 'boolean') missing.push('hasHardwareCrc32c');
  if (missing.length > 0) {
    return {
      native: null,
      nativeLoadError: new Error(
        `native addon is stale, it lacks ${missing.join(', ')} (run \`npm run build:native\`)`,
      ),
    };
  }
  return { native: addon as NativeIo, nativeLoadError: null };
}

const loaded = loadNative();

/** The addon, or null when it is not built or does not load. */
export const native: NativeIo | null = loaded.native;
/** Why `native` is null; null when it loaded. */
export const nativeLoadError: Error | null = loaded.nativeLoadError;
