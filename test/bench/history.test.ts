/**
 * Comparison with earlier runs (bench/report/history.ts): a run compares only
 * with earlier runs of its own profile; runs saved before profiles existed
 * count as quick or default by their `quick` flag.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { comparisonTable, previousRuns } from '../../bench/report/history.js';
import type { ResultsFile, RunProfile } from '../../bench/report/results-file.js';
import type { Figure } from '../../bench/storage.bench.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function saved(dir: string, file: string, options: ResultsFile['options'], figures: Figure[]): void {
  const results = { startedAt: file, durationMs: 1, commit: null, options, machine: {}, figures };
  fs.writeFileSync(path.join(dir, file), JSON.stringify(results));
}

const throughput = (value: number): Figure => ({ name: 'peers produce redis 1KiB', value, unit: 'records/s', better: 'higher' });

describe('previous runs', () => {
  it('are those of the same profile, newest first; old runs without a profile by their quick flag', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-history-'));
    dirs.push(dir);
    saved(dir, '2026-01-01T00-00-00Z.json', { quick: false, filter: null }, [throughput(1)]);
    saved(dir, '2026-01-02T00-00-00Z.json', { quick: true, filter: null }, [throughput(2)]);
    saved(dir, '2026-01-03T00-00-00Z.json', { profile: 'full', quick: false, filter: null }, [throughput(3)]);
    saved(dir, '2026-01-04T00-00-00Z.json', { profile: 'default', quick: false, filter: null }, [throughput(4)]);
    saved(dir, '2026-01-05T00-00-00Z.json', { profile: 'compare', quick: false, filter: null }, [throughput(5)]);
    fs.writeFileSync(path.join(dir, '2026-01-06T00-00-00Z.json'), '{ not json');
    const warnings: string[] = [];
    const files = (profile: RunProfile): string[] => previousRuns(dir, profile, (message) => warnings.push(message)).map((run) => run.file);
    expect(files('default')).toEqual(['2026-01-04T00-00-00Z.json', '2026-01-01T00-00-00Z.json']);
    expect(files('quick')).toEqual(['2026-01-02T00-00-00Z.json']);
    expect(files('full')).toEqual(['2026-01-03T00-00-00Z.json']);
    expect(files('compare')).toEqual(['2026-01-05T00-00-00Z.json']);
    expect(warnings[0]).toContain('2026-01-06T00-00-00Z.json');
  });
});

describe('comparison table', () => {
  it('compares each figure with the newest earlier run that has it', () => {
    const previous = [
      { file: 'newer.json', results: { figures: [] as Figure[] } as unknown as ResultsFile },
      { file: 'older.json', results: { figures: [throughput(50_000)] } as unknown as ResultsFile },
    ];
    const table = comparisonTable([throughput(60_000)], previous)!;
    expect(table).toContain('| peers produce redis 1KiB | 50,000 | 60,000 | records/s | 1.20 | better | older.json |');
    expect(comparisonTable([{ ...throughput(1), name: 'never measured' }], previous)).toBeNull();
  });
});
