/**
 * Tests for the native addon (native/, loaded by src/storage/native.ts): CRC32C
 * against the pure-TypeScript reference, hardware against software, the file
 * syscalls on a temp file, sendfile to a real TCP socket, and argument and
 * errno errors. The addon is a required build product: these tests fail, with
 * the loader's reason, when it is missing.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { crc32cReference } from '../../src/storage/crc32c-reference.js';
import { native, nativeLoadError, type NativeIo } from '../../src/storage/native.js';

/** A descriptor number no process has open: far above any RLIMIT_NOFILE. */
const CLOSED_FD = 0x3fff_ffff;

function io(): NativeIo {
  if (native === null) throw new Error(`native addon not loaded: ${nativeLoadError?.message ?? 'unknown reason'}`);
  return native;
}

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Sizes around every loop boundary of both paths: words, 3 x 256 B and 3 x 8 KiB blocks. */
const SIZES = [
  ...Array.from({ length: 80 }, (_, i) => i),
  255, 256, 257, 767, 768, 769, 1000, 1536, 4095, 4096, 4097,
  8191, 8192, 8193, 24_575, 24_576, 24_577, 24_576 + 768 + 13, 49_152 + 7, 100_000, (1 << 20) + 13,
];

/** The native socket descriptor of a node:net socket (undocumented `_handle.fd`, stable on Unix). */
function socketFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  if (typeof handle?.fd !== 'number' || handle.fd < 0) throw new Error('socket has no fd');
  return handle.fd;
}

describe('native addon', () => {
  it('loads', () => {
    expect(nativeLoadError?.message ?? null).toBeNull();
    expect(native).not.toBeNull();
  });
});

describe('crc32c', () => {
  it('matches the standard check value of "123456789"', () => {
    const check = new TextEncoder().encode('123456789');
    expect(io().crc32c(check)).toBe(0xe3069283);
    expect(io().crc32cSoftware(check)).toBe(0xe3069283);
    expect(crc32cReference(check)).toBe(0xe3069283);
  });

  it('is 0 for no bytes, and returns the running crc unchanged', () => {
    expect(io().crc32c(new Uint8Array(0))).toBe(0);
    expect(io().crc32c(new Uint8Array(8), 3, 3, 0xdeadbeef)).toBe(0xdeadbeef);
  });

  it('equals the reference on many sizes, hardware and software alike', () => {
    for (const size of SIZES) {
      const bytes = pseudoRandomBytes(size, size + 1);
      const expected = crc32cReference(bytes);
      expect(io().crc32c(bytes), `size ${size}`).toBe(expected);
      expect(io().crc32cSoftware(bytes), `software, size ${size}`).toBe(expected);
    }
  });

  it('equals the reference on misaligned start and end', () => {
    const bytes = pseudoRandomBytes(70_000, 7);
    for (const start of [0, 1, 3, 5, 7, 8, 9, 13]) {
      for (const length of [0, 1, 7, 8, 9, 63, 777, 24_576 + 5, 60_000]) {
        const end = start + length;
        const expected = crc32cReference(bytes, start, end);
        expect(io().crc32c(bytes, start, end), `[${start}, ${end})`).toBe(expected);
        expect(io().crc32cSoftware(bytes, start, end), `software [${start}, ${end})`).toBe(expected);
      }
    }
  });

  it('reads a Buffer or subarray at its own byteOffset', () => {
    const backing = pseudoRandomBytes(4099, 11);
    const view = backing.subarray(3, 4000);
    const buffer = Buffer.from(backing.buffer, 5, 3000);
    expect(io().crc32c(view)).toBe(crc32cReference(backing, 3, 4000));
    expect(io().crc32c(buffer)).toBe(crc32cReference(backing, 5, 3005));
  });

  it('continues: crc(a + b) == crc(b, crc(a))', () => {
    const bytes = pseudoRandomBytes(100_003, 3);
    const whole = crc32cReference(bytes);
    for (const split of [0, 1, 7, 8, 4096, 24_577, 50_000, 100_003]) {
      for (const crc32c of [io().crc32c, io().crc32cSoftware]) {
        const first = crc32c(bytes, 0, split);
        expect(crc32c(bytes, split, bytes.length, first), `split ${split}`).toBe(whole);
        expect(crc32cReference(bytes, split, bytes.length, first)).toBe(whole);
      }
    }
  });

  it('accepts a running crc in signed form', () => {
    const bytes = pseudoRandomBytes(1000, 5);
    const first = io().crc32c(bytes, 0, 400);
    expect(io().crc32c(bytes, 400, 1000, first | 0)).toBe(crc32cReference(bytes));
  });

  it('reports whether the hardware path is in use', () => {
    expect(typeof io().hasHardwareCrc32c).toBe('boolean');
  });

  it('rejects bad arguments without reading outside the buffer', () => {
    const bytes = new Uint8Array(16);
    const crc32c = io().crc32c as (...args: unknown[]) => number;
    expect(() => crc32c('123456789')).toThrow(TypeError);
    expect(() => crc32c(new Int8Array(4))).toThrow(TypeError);
    expect(() => crc32c(new DataView(new ArrayBuffer(4)))).toThrow(TypeError);
    expect(() => crc32c(new ArrayBuffer(4))).toThrow(TypeError);
    expect(() => crc32c(bytes, '1')).toThrow(TypeError);
    expect(() => crc32c(bytes, -1)).toThrow(RangeError);
    expect(() => crc32c(bytes, 1.5)).toThrow(RangeError);
    expect(() => crc32c(bytes, Number.NaN)).toThrow(RangeError);
    expect(() => crc32c(bytes, 0, 17)).toThrow(/end \(17\) must be <= the buffer's length \(16\)/);
    expect(() => crc32c(bytes, 0, Infinity)).toThrow(RangeError);
    expect(() => crc32c(bytes, 9, 8)).toThrow(RangeError);
    expect(() => crc32c(bytes, 0, 16, 2 ** 32)).toThrow(RangeError);
    expect(() => crc32c(bytes, 0, 16, -(2 ** 31) - 1)).toThrow(RangeError);
    expect(() => crc32c(bytes, 0, 16, 0.5)).toThrow(RangeError);
    expect(crc32c(bytes, undefined, undefined, undefined)).toBe(crc32cReference(bytes));
  });
});

describe('file syscalls', () => {
  let directory = '';
  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-native-'));
  });
  afterAll(() => {
    fs.rmSync(directory, { recursive: true, force: true });
  });

  function openTemp(name: string): number {
    return fs.openSync(path.join(directory, name), 'w+');
  }

  it('pwrite, pwritev and pread round-trip at positions', () => {
    const fd = openTemp('round-trip');
    try {
      const first = pseudoRandomBytes(5000, 21);
      const parts = [pseudoRandomBytes(10, 22), new Uint8Array(0), pseudoRandomBytes(4093, 23), pseudoRandomBytes(1, 24)];
      expect(io().pwrite(fd, first, 4096)).toBe(5000);
      expect(io().pwritev(fd, parts, 100_000)).toBe(4104);
      expect(fs.fstatSync(fd).size).toBe(104_104);

      const readBack = new Uint8Array(5000 + 20);
      expect(io().pread(fd, readBack, 10, 5000, 4096)).toBe(5000);
      expect(readBack.subarray(10, 5010)).toEqual(first);
      expect(readBack.subarray(0, 10)).toEqual(new Uint8Array(10));
      expect(readBack.subarray(5010)).toEqual(new Uint8Array(10));

      const joined = Buffer.concat(parts);
      const readParts = new Uint8Array(joined.length);
      expect(io().pread(fd, readParts, 0, readParts.length, 100_000)).toBe(joined.length);
      expect(Buffer.from(readParts).equals(joined)).toBe(true);
      // The hole between the writes reads as zeros.
      const hole = new Uint8Array(64);
      expect(io().pread(fd, hole, 0, 64, 50_000)).toBe(64);
      expect(hole).toEqual(new Uint8Array(64));
    } finally {
      fs.closeSync(fd);
    }
  });

  it('pwritev takes more buffers than IOV_MAX', () => {
    const fd = openTemp('many-buffers');
    try {
      const parts = Array.from({ length: 3000 }, (_, i) => pseudoRandomBytes(1 + (i % 17), i));
      const joined = Buffer.concat(parts);
      expect(io().pwritev(fd, parts, 7)).toBe(joined.length);
      expect(fs.readFileSync(path.join(directory, 'many-buffers')).subarray(7).equals(joined)).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('pread returns short at the end of the file, and 0 past it', () => {
    const fd = openTemp('short-read');
    try {
      io().pwrite(fd, pseudoRandomBytes(100, 31), 0);
      const bytes = new Uint8Array(64);
      expect(io().pread(fd, bytes, 0, 64, 80)).toBe(20);
      expect(io().pread(fd, bytes, 0, 64, 100)).toBe(0);
      expect(io().pread(fd, bytes, 0, 64, 1_000_000)).toBe(0);
      expect(io().pread(fd, bytes, 64, 0, 0)).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('fdatasync resolves', async () => {
    const fd = openTemp('sync');
    try {
      io().pwrite(fd, pseudoRandomBytes(4096, 41), 0);
      await expect(io().fdatasync(fd)).resolves.toBeUndefined();
    } finally {
      fs.closeSync(fd);
    }
  });

  it('preallocate keeps the file size', () => {
    const fd = openTemp('preallocate');
    try {
      io().pwrite(fd, pseudoRandomBytes(1000, 51), 0);
      io().preallocate(fd, 0, 1 << 20);
      io().preallocate(fd, 1 << 20, 0);
      expect(fs.fstatSync(fd).size).toBe(1000);
      const bytes = new Uint8Array(100);
      expect(io().pread(fd, bytes, 0, 100, 950)).toBe(50);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('rejects bad arguments', async () => {
    const fd = openTemp('bad-arguments');
    const loose = io() as unknown as Record<string, (...args: unknown[]) => unknown>;
    try {
      const bytes = new Uint8Array(16);
      expect(() => loose.pwrite!(fd, 'text', 0)).toThrow(TypeError);
      expect(() => loose.pwrite!('1', bytes, 0)).toThrow(TypeError);
      expect(() => loose.pwrite!(-1, bytes, 0)).toThrow(RangeError);
      expect(() => loose.pwrite!(fd, bytes, -1)).toThrow(RangeError);
      expect(() => loose.pwrite!(fd, bytes, 2 ** 53)).toThrow(RangeError);
      expect(() => loose.pwrite!(fd, bytes, 0.5)).toThrow(RangeError);
      expect(() => loose.pwrite!(fd, bytes)).toThrow(TypeError);
      expect(() => loose.pwritev!(fd, bytes, 0)).toThrow(TypeError);
      expect(() => loose.pwritev!(fd, [bytes, 'text'], 0)).toThrow(/buffers\[1\] must be a Uint8Array/);
      expect(() => loose.pread!(fd, bytes, 10, 7, 0)).toThrow(RangeError);
      expect(() => loose.pread!(fd, bytes, 17, 0, 0)).toThrow(RangeError);
      expect(() => loose.pread!(fd, bytes, 0, 2 ** 53 - 1, 0)).toThrow(RangeError);
      expect(() => loose.pread!(fd, bytes, 0, 16, -5)).toThrow(RangeError);
      expect(() => loose.preallocate!(fd, 0, -1)).toThrow(RangeError);
      await expect(loose.fdatasync!('1')).rejects.toThrow(TypeError);
      await expect(loose.fdatasync!(2 ** 31)).rejects.toThrow(RangeError);
      await expect(loose.sendfile!(fd, fd, -1, 10)).rejects.toThrow(RangeError);
      await expect(loose.sendfile!(fd, fd, 0)).rejects.toThrow(TypeError);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('fails on an invalid fd with code EBADF and a message naming the call', async () => {
    const bytes = new Uint8Array(16);
    const expectEbadf = (call: () => unknown, syscall: string): void => {
      try {
        call();
      } catch (error) {
        expect(error).toMatchObject({ code: 'EBADF', errno: -9, syscall });
        expect((error as Error).message).toContain(`${syscall}(fd=${CLOSED_FD}`);
        return;
      }
      throw new Error(`${syscall} did not throw`);
    };
    expectEbadf(() => io().pwrite(CLOSED_FD, bytes, 0), 'pwrite');
    expectEbadf(() => io().pwritev(CLOSED_FD, [bytes], 0), 'pwritev');
    expectEbadf(() => io().pread(CLOSED_FD, bytes, 0, 16, 0), 'pread');
    expectEbadf(() => io().preallocate(CLOSED_FD, 0, 4096), 'fallocate');
    await expect(io().fdatasync(CLOSED_FD)).rejects.toMatchObject({ code: 'EBADF', syscall: 'fdatasync' });
    await expect(io().sendfile(CLOSED_FD, CLOSED_FD, 0, 10)).rejects.toMatchObject({
      code: 'EBADF',
      syscall: 'sendfile',
    });
  });
});

describe('sendfile', () => {
  let directory = '';
  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-sendfile-'));
  });
  afterAll(() => {
    fs.rmSync(directory, { recursive: true, force: true });
  });

  /**
   * Sends file bytes [position, position + length) to a TCP client socket and
   * returns what the server received. The server holds off reading for
   * `pauseMs`, so the socket's send buffer fills and sendfile meets EAGAIN.
   */
  async function sendOverTcp(
    fileFd: number,
    position: number,
    length: number,
    pauseMs: number,
  ): Promise<{ sent: number; received: Buffer }> {
    const chunks: Buffer[] = [];
    let serverSide: net.Socket | undefined;
    const ended = new Promise<void>((resolveEnded) => {
      server.once('connection', (socket) => {
        serverSide = socket;
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('end', () => resolveEnded());
      });
    });
    const address = server.address() as net.AddressInfo;
    const client = net.connect(address.port, '127.0.0.1');
    await new Promise<void>((resolveConnected, reject) => {
      client.once('connect', resolveConnected);
      client.once('error', reject);
    });
    try {
      const sent = await io().sendfile(socketFd(client), fileFd, position, length);
      client.end();
      await ended;
      return { sent, received: Buffer.concat(chunks) };
    } finally {
      client.destroy();
      serverSide?.destroy();
    }
  }

  let server: net.Server;
  beforeAll(async () => {
    server = net.createServer();
    await new Promise<void>((resolveListening) => server.listen(0, '127.0.0.1', resolveListening));
  });
  afterAll(async () => {
    await new Promise<void>((resolveClosed) => server.close(() => resolveClosed()));
  });

  it('sends exactly the file bytes to a TCP socket, through EAGAIN', async () => {
    const content = pseudoRandomBytes(16 << 20, 61);
    const filePath = path.join(directory, 'segment.log');
    fs.writeFileSync(filePath, content);
    const fd = fs.openSync(filePath, 'r');
    try {
      const { sent, received } = await sendOverTcp(fd, 0, content.length, 200);
      expect(sent).toBe(content.length);
      expect(received.length).toBe(content.length);
      expect(received.equals(content)).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('sends a range, and stops short at the end of the file', async () => {
    const content = pseudoRandomBytes(100_000, 62);
    const filePath = path.join(directory, 'range.log');
    fs.writeFileSync(filePath, content);
    const fd = fs.openSync(filePath, 'r');
    try {
      const range = await sendOverTcp(fd, 12_345, 50_000, 0);
      expect(range.sent).toBe(50_000);
      expect(range.received.equals(content.subarray(12_345, 62_345))).toBe(true);

      const tail = await sendOverTcp(fd, 90_000, 50_000, 0);
      expect(tail.sent).toBe(10_000);
      expect(tail.received.equals(content.subarray(90_000))).toBe(true);

      const none = await sendOverTcp(fd, 0, 0, 0);
      expect(none.sent).toBe(0);
      expect(none.received.length).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });
});
