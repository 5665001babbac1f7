/**
 * `npm run bench`: runs every benchmark suite, prints a markdown table of the
 * figures and how they compare with the previous saved run, and saves the run.
 *
 *   --quick            short timings and small data: a smoke run of a few seconds
 *   --filter <text>    only suites or figures whose name contains <text>
 *   --no-save          print only; write nothing under bench/results/
 *
 * Saved: bench/results/<ISO date-time>.json (machine, options, every figure
 * with its unit) on every run without --no-save, and bench/results/latest.md
 * (the table) on full runs without --filter, so the committed table is always
 * complete. A quick run compares only with earlier quick runs, a full run with
 * earlier full runs; each figure with the newest earlier run that has it.
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
import { SUITES as STORAGE_SUITES, type Figure, type Suite, type SuiteContext } from './storage.bench.js';

const SUITES = [...STORAGE_SUITES, ...DOOR_SUITES, ...KAFKA_SUITES, ...MICRO_SUITES, ...REFERENCE_SUITES, ...PEERS_SUITES];

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const LATEST_MD = path.join(RESULTS_DIR, 'latest.md');
/** A change within this ratio either way is reported as noise. */
const NOISE_RATIO = 0.05;

interface Options {
  quick: boolean;
  filter: string | null;
  save: boolean;
}

interface MachineInfo {
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  totalMemoryBytes: number;
  platform: string;
  arch: string;
  kernel: string;
  nodeVersion: string;
  /** What src/storage/crc32c.ts chose at load: native, wasm or reference. */
  crc32cImplementation: string;
  hardwareCrc32c: boolean;
}

interface ResultsFile {
  startedAt: string;
  durationMs: number;
  commit: string | null;
  options: { quick: boolean; filter: string | null };
  machine: MachineInfo;
  figures: Figure[];
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      filter: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench -- [--quick] [--filter <text>] [--no-save]\n');
    process.exit(0);
  }
  return { quick: values.quick, filter: values.filter ?? null, save: !values['no-save'] };
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

function selectedSuites(filter: string | null): Suite[] {
  return SUITES.filter((suite) => matches(filter, suite.name, ...suite.figureNames));
}

async function runSuites(suites: readonly Suite[], options: Options): Promise<Figure[]> {
  const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-'));
  let dirs = 0;
  const figures: Figure[] = [];
  try {
    for (const suite of suites) {
      const context: SuiteContext = {
        quick: options.quick,
        profile: options.quick ? 'quick' : 'default',
        wants: (name) => matches(options.filter, suite.name, name),
        tempDir: (label) => {
          const dir = path.join(tempRoot, `${suite.name}-${label}-${dirs++}`);
          fs.mkdirSync(dir);
          return dir;
        },
        progress: (message) => process.stderr.write(`${message}\n`),
      };
      context.progress(`${suite.name}`);
      figures.push(...(await suite.run(context)));
    }
  } finally {
    fs.rmSync(tempRoot, { recursive: true, force: true });
  }
  return figures;
}

// --- rendering -------------------------------------------------------------------

function formatValue(value: number | null): string {
  if (value === null) return 'n/a';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

function meetsTarget(figure: Figure): boolean | null {
  if (figure.target === undefined || figure.value === null) return null;
  return figure.better === 'higher' ? figure.value >= figure.target : figure.value <= figure.target;
}

function targetCell(figure: Figure): string {
  if (figure.target === undefined) return '';
  const bound = `${figure.better === 'higher' ? '≥' : '≤'} ${figure.target.toLocaleString('en-US')}`;
  const met = meetsTarget(figure);
  return met === null ? bound : `${bound} ${met ? 'met' : '**missed**'}`;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function figuresTable(figures: readonly Figure[]): string {
  const lines = ['| benchmark | value | unit | ±% | target | notes |', '|---|--:|---|--:|---|---|'];
  for (const figure of figures) {
    const rme = figure.rmePercent === undefined ? '' : figure.rmePercent.toFixed(1);
    lines.push(`| ${figure.name} | ${formatValue(figure.value)} | ${figure.unit} | ${rme} | ${targetCell(figure)} | ${escapeCell(figure.note ?? '')} |`);
  }
  return lines.join('\n');
}

function machineLine(machine: MachineInfo, commit: string | null): string {
  const memoryGiB = (machine.totalMemoryBytes / 2 ** 30).toFixed(0);
  return `${machine.cpuModel}, ${machine.cores} cores, ${memoryGiB} GiB, ${machine.platform} ${machine.kernel} ${machine.arch}; Node ${machine.nodeVersion}; crc32c: ${machine.crc32cImplementation}${machine.hardwareCrc32c ? ' (SSE4.2)' : ''}; commit ${commit?.slice(0, 12) ?? 'unknown'}`;
}

// --- comparison with earlier runs --------------------------------------------------

interface Previous {
  file: string;
  results: ResultsFile;
}

/** Earlier saved runs of the same kind (quick or full), newest first. */
function previousRuns(quick: boolean): Previous[] {
  if (!fs.existsSync(RESULTS_DIR)) return [];
  const runs: Previous[] = [];
  for (const file of fs.readdirSync(RESULTS_DIR).filter((name) => name.endsWith('.json')).sort().reverse()) {
    try {
      const results = JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, file), 'utf8')) as ResultsFile;
      if (results.options?.quick === quick && Array.isArray(results.figures)) runs.push({ file, results });
    } catch {
      process.stderr.write(`skipping unreadable results file ${file}\n`);
    }
  }
  return runs;
}

function verdict(figure: Figure, ratio: number): string {
  if (Math.abs(ratio - 1) <= NOISE_RATIO) return '~ same';
  const improved = figure.better === 'higher' ? ratio > 1 : ratio < 1;
  return improved ? 'better' : '**worse**';
}

function comparisonTable(figures: readonly Figure[], previous: readonly Previous[]): string | null {
  const lines = ['| benchmark | previous | now | unit | now/previous | change | previous run |', '|---|--:|--:|---|--:|---|---|'];
  for (const figure of figures) {
    for (const run of previous) {
      const before = run.results.figures.find((candidate) => candidate.name === figure.name && candidate.unit === figure.unit);
      if (before === undefined || before.value === null) continue;
      if (figure.value === null || before.value === 0) break;
      const ratio = figure.value / before.value;
      lines.push(`| ${figure.name} | ${formatValue(before.value)} | ${formatValue(figure.value)} | ${figure.unit} | ${ratio.toFixed(2)} | ${verdict(figure, ratio)} | ${run.file} |`);
      break;
    }
  }
  return lines.length > 2 ? lines.join('\n') : null;
}

// --- saving --------------------------------------------------------------------------

function resultsFileName(startedAt: Date): string {
  // ISO 8601 with ':' swapped for '-' (portable file names; still sorts by time).
  return `${startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-')}.json`;
}

function latestMarkdown(results: ResultsFile): string {
  const missed = results.figures.filter((figure) => meetsTarget(figure) === false).map((figure) => figure.name);
  return [
    '# Storage benchmarks: latest full run',
    '',
    `${results.startedAt}, ${(results.durationMs / 1000).toFixed(0)} s. ${machineLine(results.machine, results.commit)}.`,
    '',
    'Rates in decimal units (1 MB/s = 10^6 bytes/s, 1 GB/s = 10^9 bytes/s); sizes binary (KiB, MiB). ±% is the relative margin of error of the timing.',
    '',
    figuresTable(results.figures),
    '',
    missed.length === 0 ? 'Every target met.' : `Targets missed: ${missed.join(', ')}.`,
    '',
  ].join('\n');
}

function save(results: ResultsFile, startedAt: Date, options: Options): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, resultsFileName(startedAt));
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`saved ${path.relative(process.cwd(), file)}\n`);
  if (!options.quick && options.filter === null) {
    fs.writeFileSync(LATEST_MD, latestMarkdown(results));
    process.stderr.write(`rewrote ${path.relative(process.cwd(), LATEST_MD)}\n`);
  } else {
    process.stderr.write(`${path.relative(process.cwd(), LATEST_MD)} left alone: it holds full, unfiltered runs only\n`);
  }
}

// --- main -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions();
  const suites = selectedSuites(options.filter);
  if (suites.length === 0) {
    const names = SUITES.flatMap((suite) => [suite.name, ...suite.figureNames]);
    throw new Error(`--filter ${JSON.stringify(options.filter)} matches nothing; names are:\n  ${names.join('\n  ')}`);
  }
  const startedAt = new Date();
  const machine = machineInfo();
  const commit = currentCommit();
  const previous = previousRuns(options.quick);
  const figures = await runSuites(suites, options);
  const results: ResultsFile = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    commit,
    options: { quick: options.quick, filter: options.filter },
    machine,
    figures,
  };

  const out: string[] = [
    '',
    `## Storage benchmarks${options.quick ? ' (quick)' : ''}${options.filter === null ? '' : ` (filter: ${options.filter})`}`,
    '',
    `${machineLine(machine, commit)}; ${(results.durationMs / 1000).toFixed(1)} s.`,
    '',
    figuresTable(figures),
    '',
  ];
  const comparison = comparisonTable(figures, previous);
  out.push(comparison === null ? `No earlier ${options.quick ? 'quick' : 'full'} run in bench/results/ to compare with.` : `### Compared with earlier runs\n\n${comparison}`, '');
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
