/**
 * CRC32C for the storage engine, implementation chosen once at load time:
 * the native addon's SSE4.2 path, else the WASM core, else the pure-TS
 * reference. All three share one signature and are tested against the
 * reference; `crc32cImplementation` says which one this process uses.
 */

import { crc32cReference } from './crc32c-reference.js';
import { native } from './native.js';
import { wasmCore } from './wasm-core.js';

export type Crc32c = (bytes: Uint8Array, start?: number, end?: number, crc?: number) => number;

function choose(): { name: 'native' | 'wasm' | 'reference'; crc32c: Crc32c } {
  if (native) return { name: 'native', crc32c: native.crc32c.bind(native) };
  if (wasmCore) return { name: 'wasm', crc32c: wasmCore.crc32c.bind(wasmCore) };
  return { name: 'reference', crc32c: crc32cReference };
}

const chosen = choose();

export const crc32cImplementation = chosen.name;
export const crc32c: Crc32c = chosen.crc32c;
