#!/usr/bin/env node
/**
 * The browser bundle of the client library: src/client/index.ts bundled by
 * esbuild into one ES module, dist/browser/ferry-client.js (+ .map), which the
 * broker serves at GET /ferry-client.js (src/protocol/http/client-bundle.ts).
 *
 * Not dist/client/: tsc compiles src/client/ferry-client.ts to
 * dist/client/ferry-client.js, and the two must not overwrite each other.
 *
 * The client must run unchanged in browsers, so the build fails if anything
 * in the bundle's import graph is a Node built-in (`node:*`, `fs`, `buffer`...):
 * a plugin rejects such imports instead of letting esbuild mark them external.
 */

import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = 'src/client/index.ts';
const outfile = 'dist/browser/ferry-client.js';

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Fails the build on any import of a Node built-in, naming the importer. */
const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.split('/')[0];
      const isBuiltin = args.path.startsWith('node:') || builtins.has(args.path) || (builtins.has(bare) && !args.path.startsWith('.'));
      if (!isBuiltin) return undefined;
      return { errors: [{ text: `Node built-in "${args.path}" imported by ${relative(root, args.importer) || args.importer}: the browser client must use no Node built-ins` }] };
    });
  },
};

try {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [noNodeBuiltins],
  });
  // Belt and braces: nothing may have been left external either.
  const output = result.metafile.outputs[outfile];
  const external = (output?.imports ?? []).filter((imported) => imported.external);
  if (external.length > 0) throw new Error(`the bundle imports ${external.map((imported) => imported.path).join(', ')} at run time; it must be self-contained`);
  const bytes = output?.bytes ?? 0;
  console.log(`built ${outfile} (${(bytes / 1024).toFixed(1)} KiB) from ${entry}, ${Object.keys(result.metafile.inputs).length} source files, esbuild ${esbuild.version}`);
} catch (error) {
  // esbuild has already printed its errors; say plainly that the build failed.
  console.error(`build-client: FAILED: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  process.exit(1);
}
