/**
 * Keeps `npm run bench` from rotting: runs the whole suite in --quick mode as
 * a child process, exactly as a developer would, and checks that it exits 0
 * and prints a table row for every figure. No timing is asserted (timings
 * belong in bench/results/, never in tests). --no-save: nothing is written.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const RUN_TIMEOUT_MS = 90_000;

/** Every figure the suite reports; renaming one breaks comparison with earlier runs, so it is a deliberate change here too. */
const EXPECTED_ROWS = [
  'crc32c native-hw 1MiB',
  'crc32c native-hw 4KiB',
  'crc32c native-sw 1MiB',
  'crc32c native-sw 4KiB',
  'crc32c wasm+copy 1MiB',
  'crc32c wasm+copy 4KiB',
  'crc32c wasm-staged 1MiB',
  'crc32c wasm-staged 4KiB',
  'crc32c reference 1MiB',
  'crc32c reference 4KiB',
  'validate 1MiB batch',
  'validate 16KiB batch',
  'baseline pwrite 16KiB',
  'baseline pwrite 1MiB',
  'append 16KiB batches',
  'append 16KiB batches (rate)',
  'append 1MiB batches',
  'append 1MiB batches (rate)',
  'append fsync 16KiB x64 in flight',
  'append fsync 16KiB x64 in flight (rate)',
  'append fsync 16KiB x64 in flight p99 latency',
  'append fsync 16KiB x64 in flight max latency',
  'append fsync batches per fdatasync',
  'baseline pread 1MiB',
  'read sequential 1MiB',
  'read random 64KiB',
  'read sendfile 1MiB to a socket',
  'read+write 1MiB to a socket',
  'index lookup OffsetIndex',
  'index lookup wasm indexFloor',
  'compaction',
  'compaction (rate)',
  'compaction event-loop lag p99',
  'compaction event-loop lag max',
  'ws produce json 100B x500',
  'ws produce json 100B x500 (MB/s)',
  'ws consume json 100B',
  'ws consume json 100B (MB/s)',
  'ws consume binary 100B',
  'ws consume binary 100B (MB/s)',
  'ws e2e latency json p50',
  'ws e2e latency json p99',
  'ws e2e latency json p99.9',
  'ws e2e latency json max',
  'ws e2e latency binary p50',
  'ws e2e latency binary p99',
  'ws e2e latency binary p99.9',
  'ws e2e latency binary max',
  'http produce STRING 100B x500',
  'kafka produce kcat 1KiB',
  'kafka produce kcat 1KiB (MB/s)',
  'kafka consume kcat 1KiB',
  'kafka consume kcat 1KiB (MB/s)',
  'kafka produce kafkajs 1KiB x1000',
  'kafka produce kafkajs 1KiB x1000 (MB/s)',
  'kafka consume kafkajs 1KiB',
  'kafka consume kafkajs 1KiB (MB/s)',
  'kafka e2e latency 2k/s p50',
  'kafka e2e latency 2k/s p99',
  'kafka e2e latency 2k/s p99.9',
  'kafka e2e latency 2k/s max',
  'kafka e2e latency 10k/s p50',
  'kafka e2e latency 10k/s p99',
  'kafka e2e latency 10k/s p99.9',
  'kafka e2e latency 10k/s max',
  'murmur2 16B key',
  'murmur2 1KiB key',
  'murmur2 1KiB key (MB/s)',
  'kafka decode Produce v9 1MiB',
  'kafka decode Metadata v12',
  'kafka encode Fetch v12 10 partitions',
  'kafka JoinGroup v9 round trip',
  'ws json push 500x100B',
  'ws json push 500x100B (ns/record)',
  'ws json push 500x100B (MB/s)',
  'ws json push 500x100B decode only (ns/record)',
  'reference page-cache write 1MiB',
  'reference tcp to file 1MiB',
  'kafka produce raw 1MiB batches',
  'kafka produce raw 1MiB batches (records/s)',
  'kafka produce raw 1MiB batches / reference',
  'peers produce ferry-kafka 1KiB',
  'peers produce ferry-kafka 1KiB (MB/s)',
  'peers produce ferry-ws 1KiB',
  'peers produce ferry-ws 1KiB (MB/s)',
  'peers produce redis 1KiB',
  'peers produce redis 1KiB (MB/s)',
  'peers produce nats 1KiB',
  'peers produce nats 1KiB (MB/s)',
  'peers consume ferry-kafka 1KiB',
  'peers consume ferry-kafka 1KiB (MB/s)',
  'peers consume ferry-ws 1KiB',
  'peers consume ferry-ws 1KiB (MB/s)',
  'peers consume redis 1KiB',
  'peers consume redis 1KiB (MB/s)',
  'peers consume nats 1KiB',
  'peers consume nats 1KiB (MB/s)',
  'peers produce ferry-kafka/redis',
  'peers produce ferry-kafka/nats',
  'peers produce ferry-ws/redis',
  'peers produce ferry-ws/nats',
  'peers consume ferry-kafka/redis',
  'peers consume ferry-kafka/nats',
  'peers consume ferry-ws/redis',
  'peers consume ferry-ws/nats',
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', ...args],
      { cwd: ROOT, timeout: RUN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function resultFiles(): string[] {
  return fs.existsSync(RESULTS_DIR) ? fs.readdirSync(RESULTS_DIR).sort() : [];
}

describe('bench smoke run (--quick --no-save)', () => {
  it('exits 0, prints a row for every figure, and writes nothing', async () => {
    const before = resultFiles();
    const run = await runBench(['--quick', '--no-save']);
    expect(run.code, `bench failed:\n${run.stderr}`).toBe(0);

    const rows = new Map<string, string[]>();
    for (const line of run.stdout.split('\n')) {
      const cells = line.split('|').map((cell) => cell.trim());
      if (cells.length > 3 && cells[0] === '') rows.set(cells[1]!, cells.slice(2));
    }
    expect(rows.has('benchmark'), `no table header in:\n${run.stdout}`).toBe(true);
    const missing = EXPECTED_ROWS.filter((name) => !rows.has(name));
    expect(missing, `rows missing from:\n${run.stdout}`).toEqual([]);
    for (const name of EXPECTED_ROWS) {
      const value = rows.get(name)![0]!;
      expect(value === 'n/a' || Number.isFinite(Number(value.replaceAll(',', ''))), `${name}: value ${value}`).toBe(true);
    }
    expect(resultFiles()).toEqual(before);
  }, RUN_TIMEOUT_MS + 5_000);
});
