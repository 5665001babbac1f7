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

/** Every figure the quick profile reports, in table order; renaming or adding one is a deliberate change here too (renaming breaks comparison with earlier runs). */
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
  'append 16KiB batches',
  'append 16KiB batches (rate)',
  'baseline pwrite 1MiB',
  'append 1MiB batches',
  'append 1MiB batches (rate)',
  'append fsync 16KiB x64 in flight',
  'append fsync 16KiB x64 in flight (rate)',
  'append fsync 16KiB x64 in flight p99 latency',
  'append fsync 16KiB x64 in flight max latency',
  'append fsync batches per fdatasync',
  'baseline pread 1MiB',
  'read sequential 1MiB',
  'read sendfile 1MiB to a socket',
  'read+write 1MiB to a socket',
  'read random 64KiB',
  'index lookup OffsetIndex',
  'index lookup wasm indexFloor',
  'compaction',
  'compaction (rate)',
  'compaction event-loop lag p99',
  'compaction event-loop lag max',
  'compaction event-loop lag p99 idle',
  'ws produce json 100B x500',
  'ws produce json 100B x500 (MB/s)',
  'ws produce json 100B x500 broker cpu',
  'ws produce json 100B x500 broker rss max',
  'ws produce json 100B x500 broker loop lag p99',
  'ws produce binary 1KiB',
  'ws produce binary 1KiB (MB/s)',
  'ws produce binary 1KiB broker cpu',
  'ws produce binary 1KiB broker rss max',
  'ws produce binary 1KiB broker loop lag p99',
  'ws produce binary 100B',
  'ws produce binary 100B (MB/s)',
  'ws produce binary 100B broker cpu',
  'ws produce binary 100B broker rss max',
  'ws produce binary 100B broker loop lag p99',
  'ws consume json 100B',
  'ws consume json 100B (MB/s)',
  'ws consume binary 100B',
  'ws consume binary 100B (MB/s)',
  'ws consume (pre-fill and every encoding) broker cpu',
  'ws consume (pre-fill and every encoding) broker rss max',
  'ws consume (pre-fill and every encoding) broker loop lag p99',
  'ws e2e latency json p50',
  'ws e2e latency json p99',
  'ws e2e latency json p99.9',
  'ws e2e latency json max',
  'ws e2e latency json 10k/s p50',
  'ws e2e latency json 10k/s p99',
  'ws e2e latency json 10k/s p99.9',
  'ws e2e latency json 10k/s max',
  'ws e2e latency json broker cpu',
  'ws e2e latency json broker rss max',
  'ws e2e latency json broker loop lag p99',
  'ws e2e latency binary p50',
  'ws e2e latency binary p99',
  'ws e2e latency binary p99.9',
  'ws e2e latency binary max',
  'ws e2e latency binary 10k/s p50',
  'ws e2e latency binary 10k/s p99',
  'ws e2e latency binary 10k/s p99.9',
  'ws e2e latency binary 10k/s max',
  'ws e2e latency binary broker cpu',
  'ws e2e latency binary broker rss max',
  'ws e2e latency binary broker loop lag p99',
  'http produce STRING 100B x500',
  'http produce STRING 100B x500 broker cpu',
  'http produce STRING 100B x500 broker rss max',
  'http produce STRING 100B x500 broker loop lag p99',
  'kafka produce kcat 1KiB',
  'kafka produce kcat 1KiB (MB/s)',
  'kafka consume kcat 1KiB',
  'kafka consume kcat 1KiB (MB/s)',
  'kafka produce kcat 1KiB broker cpu',
  'kafka produce kcat 1KiB broker rss max',
  'kafka produce kcat 1KiB broker loop lag p99',
  'kafka consume kcat 1KiB broker cpu',
  'kafka consume kcat 1KiB broker rss max',
  'kafka consume kcat 1KiB broker loop lag p99',
  'kafka produce kafkajs 1KiB x1000',
  'kafka produce kafkajs 1KiB x1000 (MB/s)',
  'kafka consume kafkajs 1KiB',
  'kafka consume kafkajs 1KiB (MB/s)',
  'kafka produce kafkajs 1KiB x1000 broker cpu',
  'kafka produce kafkajs 1KiB x1000 broker rss max',
  'kafka produce kafkajs 1KiB x1000 broker loop lag p99',
  'kafka consume kafkajs 1KiB broker cpu',
  'kafka consume kafkajs 1KiB broker rss max',
  'kafka consume kafkajs 1KiB broker loop lag p99',
  'kafka e2e latency 2k/s p50',
  'kafka e2e latency 2k/s p99',
  'kafka e2e latency 2k/s p99.9',
  'kafka e2e latency 2k/s max',
  'kafka e2e latency 2k/s broker cpu',
  'kafka e2e latency 2k/s broker rss max',
  'kafka e2e latency 2k/s broker loop lag p99',
  'kafka e2e latency 10k/s p50',
  'kafka e2e latency 10k/s p99',
  'kafka e2e latency 10k/s p99.9',
  'kafka e2e latency 10k/s max',
  'kafka e2e latency 10k/s broker cpu',
  'kafka e2e latency 10k/s broker rss max',
  'kafka e2e latency 10k/s broker loop lag p99',
  'kafka produce raw 1KiB',
  'kafka produce raw 1KiB (MB/s)',
  'kafka produce raw 1KiB broker cpu',
  'kafka produce raw 1KiB broker rss max',
  'kafka produce raw 1KiB broker loop lag p99',
  'kafka produce raw 100B',
  'kafka produce raw 100B (MB/s)',
  'kafka produce raw 100B broker cpu',
  'kafka produce raw 100B broker rss max',
  'kafka produce raw 100B broker loop lag p99',
  'kafka catch-up read',
  'kafka catch-up read broker cpu',
  'kafka catch-up read broker rss max',
  'kafka catch-up read broker loop lag p99',
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
  'kafka produce raw 1MiB batches broker cpu',
  'kafka produce raw 1MiB batches broker rss max',
  'kafka produce raw 1MiB batches broker loop lag p99',
  'peers produce ferry-kafka 1KiB',
  'peers produce ferry-kafka 1KiB (MB/s)',
  'peers consume ferry-kafka 1KiB',
  'peers consume ferry-kafka 1KiB (MB/s)',
  'peers throughput ferry-kafka broker cpu',
  'peers throughput ferry-kafka broker rss max',
  'peers throughput ferry-kafka broker loop lag p99',
  'peers latency ferry-kafka 1k/s p50',
  'peers latency ferry-kafka 1k/s p99',
  'peers latency ferry-kafka 1k/s p99.9',
  'peers latency ferry-kafka 1k/s max',
  'peers latency ferry-kafka 1k/s achieved',
  'peers latency ferry-kafka broker cpu',
  'peers latency ferry-kafka broker rss max',
  'peers latency ferry-kafka broker loop lag p99',
  'peers produce ferry-ws 1KiB',
  'peers produce ferry-ws 1KiB (MB/s)',
  'peers consume ferry-ws 1KiB',
  'peers consume ferry-ws 1KiB (MB/s)',
  'peers throughput ferry-ws broker cpu',
  'peers throughput ferry-ws broker rss max',
  'peers throughput ferry-ws broker loop lag p99',
  'peers latency ferry-ws 1k/s p50',
  'peers latency ferry-ws 1k/s p99',
  'peers latency ferry-ws 1k/s p99.9',
  'peers latency ferry-ws 1k/s max',
  'peers latency ferry-ws 1k/s achieved',
  'peers latency ferry-ws broker cpu',
  'peers latency ferry-ws broker rss max',
  'peers latency ferry-ws broker loop lag p99',
  'peers produce redis 1KiB',
  'peers produce redis 1KiB (MB/s)',
  'peers consume redis 1KiB',
  'peers consume redis 1KiB (MB/s)',
  'peers throughput redis broker cpu',
  'peers throughput redis broker rss max',
  'peers latency redis 1k/s p50',
  'peers latency redis 1k/s p99',
  'peers latency redis 1k/s p99.9',
  'peers latency redis 1k/s max',
  'peers latency redis 1k/s achieved',
  'peers latency redis broker cpu',
  'peers latency redis broker rss max',
  'peers produce nats 1KiB',
  'peers produce nats 1KiB (MB/s)',
  'peers consume nats 1KiB',
  'peers consume nats 1KiB (MB/s)',
  'peers throughput nats broker cpu',
  'peers throughput nats broker rss max',
  'peers latency nats 1k/s p50',
  'peers latency nats 1k/s p99',
  'peers latency nats 1k/s p99.9',
  'peers latency nats 1k/s max',
  'peers latency nats 1k/s achieved',
  'peers latency nats broker cpu',
  'peers latency nats broker rss max',
  'peers produce ferry-kafka/redis',
  'peers produce ferry-kafka/nats',
  'peers produce ferry-ws/redis',
  'peers produce ferry-ws/nats',
  'peers consume ferry-kafka/redis',
  'peers consume ferry-kafka/nats',
  'peers consume ferry-ws/redis',
  'peers consume ferry-ws/nats',
  'peers latency 1k/s p99 ferry-kafka/redis',
  'peers latency 1k/s p99 ferry-kafka/nats',
  'peers latency 1k/s p99 ferry-ws/redis',
  'peers latency 1k/s p99 ferry-ws/nats',
  'scale fan-out 50 ws subscribers latency p50',
  'scale fan-out 50 ws subscribers latency p99',
  'scale fan-out 50 ws subscribers latency p99.9',
  'scale fan-out 50 ws subscribers latency max',
  'scale fan-out 50 ws subscribers deliveries',
  'scale fan-out 50 ws subscribers broker rss per subscriber',
  'scale fan-out 50 ws subscribers broker cpu',
  'scale fan-out 50 ws subscribers broker rss max',
  'scale fan-out 50 ws subscribers broker loop lag p99',
  'scale 50 partitions create',
  'scale 50 partitions broker rss per partition',
  'scale 50 partitions descriptors per partition',
  'scale 50 partitions metadata p50',
  'scale 50 partitions metadata p99',
  'scale 50 partitions produce one each',
  'scale 50 partitions create loop lag max',
  'scale 50 partitions fetch all',
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

/** The rows of the figure table (header `| benchmark | value | ...`, up to the first blank line), by name; the ratio and latency tables after it are left out. */
function figureRows(stdout: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  let inTable = false;
  for (const line of stdout.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (!inTable) {
      inTable = cells[1] === 'benchmark';
      continue;
    }
    if (line.trim() === '') break;
    if (cells.length > 3 && !cells[1]!.startsWith('-')) rows.set(cells[1]!, cells.slice(2));
  }
  return rows;
}

function resultFiles(): string[] {
  return fs.existsSync(RESULTS_DIR) ? fs.readdirSync(RESULTS_DIR).sort() : [];
}

describe('bench smoke run (--quick --no-save)', () => {
  it('exits 0, prints a row for every figure, and writes nothing', async () => {
    const before = resultFiles();
    const run = await runBench(['--quick', '--no-save']);
    expect(run.code, `bench failed:\n${run.stderr}`).toBe(0);

    const rows = figureRows(run.stdout);
    expect(rows.size, `no figure table in:\n${run.stdout}`).toBeGreaterThan(0);
    const missing = EXPECTED_ROWS.filter((name) => !rows.has(name));
    expect(missing, `rows missing from:\n${run.stdout}`).toEqual([]);
    const unlisted = [...rows.keys()].filter((name) => !EXPECTED_ROWS.includes(name));
    expect(unlisted, 'figures the run reports that this list does not name').toEqual([]);
    // The quick profile fits this machine: a figure it cannot measure ('n/a') is a broken benchmark here.
    for (const name of EXPECTED_ROWS) {
      const value = rows.get(name)![0]!;
      expect(Number.isFinite(Number(value.replaceAll(',', ''))), `${name}: value ${value}`).toBe(true);
    }
    expect(resultFiles()).toEqual(before);
  }, RUN_TIMEOUT_MS + 5_000);
});
