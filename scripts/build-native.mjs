#!/usr/bin/env node
/**
 * Builds the native addon (native/*.cc, binding.gyp) into
 * build/Release/ferry_native.node with node-gyp, then loads it once to prove it
 * works. Run by `npm install` and `npm run build:native`.
 *
 * Works offline: Node's headers come from the installed Node (npm's `nodedir`
 * setting, or <node prefix>/include/node when it holds them), never from a
 * download. Exits non-zero, naming what is missing, when the toolchain is
 * absent or the build fails: the addon is a required build product.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = join(projectRoot, 'build', 'Release', 'ferry_native.node');
const INSTALL_HINT = 'On Debian/Ubuntu: apt-get install -y python3 make g++';

function fail(message) {
  console.error(`build-native: ${message}`);
  process.exit(1);
}

/** Absolute path of an executable found on PATH, or null. */
function whichSync(command) {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return null;
}

/** True when `command --version` runs and exits 0. */
function runs(command) {
  // CXX may carry a wrapper or flags ("ccache g++"): the first word must run.
  const [program = command, ...rest] = command.trim().split(/\s+/);
  const result = spawnSync(program, [...rest, '--version'], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

function checkToolchain() {
  const python = process.env.npm_config_python ?? process.env.PYTHON ?? 'python3';
  const compiler = process.env.CXX ?? 'g++';
  const missing = [
    [python, 'python3'],
    ['make', 'make'],
    [compiler, 'g++ (a C++17 compiler)'],
  ].filter(([command]) => !runs(command));
  if (missing.length > 0) {
    fail(
      `cannot build the native addon: missing ${missing.map(([, what]) => what).join(', ')}.\n` +
        `  ${INSTALL_HINT}`,
    );
  }
}

/**
 * node-gyp as [command, ...leading args]: the copy npm names in its scripts'
 * environment, a local one, the one bundled with npm, then any on PATH.
 */
function findNodeGyp() {
  const scripts = [];
  if (process.env.npm_config_node_gyp) scripts.push(process.env.npm_config_node_gyp);
  try {
    scripts.push(createRequire(join(projectRoot, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // Not a local dependency.
  }
  const npmClis = [process.env.npm_execpath, whichSync('npm')].filter(Boolean);
  for (const npmCli of npmClis) {
    try {
      // <npm>/bin/npm-cli.js -> <npm>/node_modules/node-gyp/bin/node-gyp.js
      scripts.push(join(dirname(realpathSync(npmCli)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    } catch {
      // A dangling link; try the next.
    }
  }
  scripts.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const script = scripts.find((path) => path.endsWith('.js') && existsSync(path));
  if (script) return [process.execPath, script];
  const onPath = whichSync('node-gyp');
  if (onPath) return [onPath];
  return fail(
    'cannot find node-gyp (it ships with npm). Reinstall npm, or `npm install -g node-gyp`.',
  );
}

/** --nodedir for offline builds, unless npm already passes one. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = resolve(dirname(process.execPath), '..');
  const headers = join(prefix, 'include', 'node');
  if (existsSync(join(headers, 'node_api.h')) && existsSync(join(headers, 'common.gypi'))) {
    return [`--nodedir=${prefix}`];
  }
  return [];
}

function build() {
  const [command, ...leading] = findNodeGyp();
  const args = [...leading, 'rebuild', '--jobs=max', ...nodedirArgs()];
  console.log(`build-native: ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: projectRoot, stdio: 'inherit' });
  if (result.error !== undefined) fail(`could not run node-gyp: ${result.error.message}`);
  if (result.status !== 0) {
    fail(
      `node-gyp rebuild failed (exit ${result.status ?? result.signal}); the compiler output is above.\n` +
        `  If a tool or header is missing: ${INSTALL_HINT}`,
    );
  }
}

function verify() {
  let addon;
  try {
    addon = createRequire(import.meta.url)(addonPath);
  } catch (error) {
    fail(`built ${addonPath} but it does not load: ${error.message}`);
  }
  const check = addon.crc32c(new TextEncoder().encode('123456789'));
  if (check !== 0xe3069283) fail(`CRC32C self-check failed: got 0x${check.toString(16)}`);
  const crcPath = addon.hasHardwareCrc32c ? 'SSE4.2 hardware' : 'software (no SSE4.2)';
  console.log(`build-native: built ${addonPath} (CRC32C: ${crcPath})`);
}

checkToolchain();
build();
verify();
