/**
 * `npm run bench`: runs the benchmark suites of a profile, prints a markdown
 * table of the figures (with the peers comparison's ratio tables) and how
 * they compare with the previous saved run of the same profile, and saves
 * the run.
 *
 *   --profile <name>   quick | default | full | compare (bench/report/results-file.ts):
 *                        npm run bench            default: every suite, under 5 minutes
 *                        npm run bench:full       full: every suite at full size and the long runs
 *                        npm run bench:compare    compare: the peers comparison and the physical
 *                                                 reference, at full size
 *   --quick            --profile quick: the smoke run of a few seconds (npm test)
 *   --filter <text>    only suites or figures whose name contains <text>
 *   --no-save          print only; write nothing under bench/results/
 *
 * Saved, unless --no-save: bench/results/<ISO date-time>.json (profile,
 * machine, every figure with its unit) on every run; bench/results/latest.md
 * (the committed table) by unfiltered full runs only, so it is always
 * complete and `npm run bench:full` reproduces it; and the chart
 * bench/results/latency-throughput.svg by unfiltered full and compare runs
 * (both measure every latency rate; the chart's caption names its run).
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crc32cImplementation } from '../src/storage/crc32c.js';
import { native } from '../src/storage/native.js';
import { closeSharedStoragePool } from '../src/storage/storage-pool.js';
import { DOOR_SUITES } from './doors.bench.js';
import { KAFKA_SUITES } from './kafka.bench.js';
import { MICRO_SUITES } from './micro.bench.js';
import { REFERENCE_SUITES } from './reference.bench.js';
import { PEERS_SUITES } from './peers.bench.js';
import { SCALE_SUITES } from './scale.bench.js';
import { comparisonTable, previousRuns } from './report/history.js';
import { latestMarkdown } from './report/latest-markdown.js';
import { figuresTable, machineLine } from './report/markdown.js';
import { peersChart } from './report/peers-chart.js';
import { peersReport } from './report/ratio-table.js';
import { RUN_PROFILES, suiteProfileOf, type MachineInfo, type ResultsFile, type RunProfile } from './report/results-file.js';
import { SUITES as STORAGE_SUITES, type Figure, type Suite, type SuiteContext } from './storage.bench.js';

const SUITES = [...STORAGE_SUITES, ...DOOR_SUITES, ...KAFKA_SUITES, ...MICRO_SUITES, ...REFERENCE_SUITES, ...PEERS_SUITES, ...SCALE_SUITES];
/** The suites of `npm run bench:compare`: the peers and the physical reference their ratio table divides by. */
const COMPARE_SUITES: readonly string[] = ['peers', 'physical-reference'];

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const LATEST_MD = path.join(RESULTS_DIR, 'latest.md');
const CHART_SVG = path.join(RESULTS_DIR, 'latency-throughput.svg');

interface Options {
  profile: RunProfile;
  filter: string | null;
  save: boolean;
}

const USAGE = 'usage: npm run bench -- [--profile quick|default|full|compare] [--quick] [--filter <text>] [--no-save]\n';

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string' },
      quick: { type: 'boolean', default: false },
      filter: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const profile = values.quick ? 'quick' : (values.profile ?? 'default');
  if (!(RUN_PROFILES as readonly string[]).includes(profile)) throw new Error(`--profile ${profile}: not one of ${RUN_PROFILES.join(', ')}\n${USAGE}`);
  if (values.quick && values.profile !== undefined && values.profile !== 'quick') throw new Error(`--quick and --profile ${values.profile} disagree`);
  return { profile: profile as RunProfile, filter: values.filter ?? null, save: !values['no-save'] };
}

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    platform: os.platform(),
    arch: os.arch(),
    kernel: os.release(),
    nodeVersion: process.version,
    crc32cImplementation,
    hardwareCrc32c: native?.hasHardwareCrc32c ?? false,
  };
}

/** The checked-out commit, read-only; null outside a git work tree. */
function currentCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: BENCH_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

// --- running -------------------------------------------------------------------

function matches(filter: string | null, ...names: string[]): boolean {
  if (filter === null) return true;
  const wanted = filter.toLowerCase();
  return names.some((name) => name.toLowerCase().includes(wanted));
}

function selectedSuites(options: Options): Suite[] {
  const inProfile = options.profile === 'compare' ? SUITES.filter((suite) => COMPARE_SUITES.includes(suite.name)) : SUITES;
  return inProfile.filter((suite) => matches(options.filter, suite.name, ...suite.figureNames));
}

async function runSuites(suites: readonly Suite[], options: Options): Promise<Figure[]> {
  const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-'));
  const profile = suiteProfileOf(options.profile);
  let dirs = 0;
  const figures: Figure[] = [];
  try {
    for (const suite of suites) {
      const context: SuiteContext = {
        quick: profile === 'quick',
        profile,
        wants: (name) => matches(options.filter, suite.name, name),
        tempDir: (label) => {
          const dir = path.join(tempRoot, `${suite.name}-${label}-${dirs++}`);
          fs.mkdirSync(dir);
          return dir;
        },
        progress: (message) => process.stderr.write(`${message}\n`),
      };
      context.progress(`${suite.name}`);
      const suiteStartedAt = performance.now();
      figures.push(...(await suite.run(context)));
      context.progress(`  (${suite.name}: ${((performance.now() - suiteStartedAt) / 1000).toFixed(1)} s)`);
    }
  } finally {
    fs.rmSync(tempRoot, { recursive: true, force: true });
  }
  return figures;
}

// --- saving --------------------------------------------------------------------------

function resultsFileName(startedAt: Date): string {
  // ISO 8601 with ':' swapped for '-' (portable file names; still sorts by time).
  return `${startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-')}.json`;
}

/** Whether this run draws the committed chart: every latency rate measured, nothing filtered out. */
const writesChart = (options: Options): boolean => (options.profile === 'full' || options.profile === 'compare') && options.filter === null;
/** Whether this run writes latest.md: only a run with every figure. */
const writesLatest = (options: Options): boolean => options.profile === 'full' && options.filter === null;

function save(results: ResultsFile, startedAt: Date, options: Options): void {
  const relative = (file: string): string => path.relative(process.cwd(), file);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, resultsFileName(startedAt));
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`saved ${relative(file)}\n`);

  const chart = writesChart(options) ? peersChart(results) : null;
  if (chart !== null) {
    fs.writeFileSync(CHART_SVG, chart);
    process.stderr.write(`drew ${relative(CHART_SVG)}\n`);
  }
  if (writesLatest(options)) {
    fs.writeFileSync(LATEST_MD, latestMarkdown(results, path.basename(CHART_SVG)));
    process.stderr.write(`rewrote ${relative(LATEST_MD)}\n`);
  } else {
    process.stderr.write(`${relative(LATEST_MD)} left alone: unfiltered full runs (npm run bench:full) write it\n`);
  }
}

// --- main -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions();
  const suites = selectedSuites(options);
  if (suites.length === 0) {
    const names = SUITES.flatMap((suite) => [suite.name, ...suite.figureNames]);
    throw new Error(`--filter ${JSON.stringify(options.filter)} matches nothing in profile ${options.profile}; names are:\n  ${names.join('\n  ')}`);
  }
  const startedAt = new Date();
  const machine = machineInfo();
  const commit = currentCommit();
  const previous = previousRuns(RESULTS_DIR, options.profile, (message) => process.stderr.write(`${message}\n`));
  const figures = await runSuites(suites, options);
  const results: ResultsFile = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    commit,
    options: { profile: options.profile, quick: options.profile === 'quick', filter: options.filter },
    machine,
    figures,
  };

  const out: string[] = [
    '',
    `## Ferry benchmarks (profile ${options.profile})${options.filter === null ? '' : ` (filter: ${options.filter})`}`,
    '',
    `${machineLine(machine, commit)}; ${(results.durationMs / 1000).toFixed(1)} s.`,
    '',
    figuresTable(figures),
    '',
  ];
  const peers = peersReport(figures, writesChart(options) && options.save ? path.relative(process.cwd(), CHART_SVG) : null);
  if (peers !== null) out.push(peers);
  const comparison = comparisonTable(figures, previous);
  out.push(comparison === null ? `No earlier ${options.profile} run in bench/results/ to compare with.` : `### Compared with earlier ${options.profile} runs\n\n${comparison}`, '');
  process.stdout.write(`${out.join('\n')}\n`);

  if (options.save) save(results, startedAt, options);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await closeSharedStoragePool();
}
