/**
 * Loads uWebSockets.js and insists on its native binary.
 *
 * The package (the `@trufflesuite/uws-js-unofficial` build, see DESIGN.md)
 * silently falls back to a slow `ws`-based shim when its binary does not load.
 * Ferry loads the binary itself, so a failure is loud: the broker refuses to
 * start unless told to accept the fallback (`--allow-uws-fallback`), and then
 * says so in a warning.
 */

import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Uws from 'uWebSockets.js';

export type UwsModule = typeof Uws;

const require = createRequire(import.meta.url);

export interface LoadedUws {
  uws: UwsModule;
  native: boolean;
  /** Why the native binary did not load, when it did not. */
  problem: string | null;
}

export function loadUws(options: { allowFallback: boolean }): LoadedUws {
  const packageDir = path.dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = path.join(packageDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  try {
    return { uws: require(binary) as UwsModule, native: true, problem: null };
  } catch (error) {
    const problem = `uWebSockets.js native binary ${binary} did not load: ${(error as Error).message}`;
    if (!options.allowFallback) {
      throw new Error(`${problem}\nFerry will not serve on the slow ws-based fallback; pass --allow-uws-fallback (FERRY_ALLOW_UWS_FALLBACK=1) to run on it anyway.`);
    }
    return { uws: require(path.join(packageDir, 'dist', 'index.js')) as UwsModule, native: false, problem };
  }
}
