/**
 * The latency-against-throughput chart (bench/report/chart.ts and its peers
 * wiring): one series per system measured, each with its points in rate
 * order, read back from the SVG's data attributes.
 */

import { describe, expect, it } from 'vitest';
import { logDomain, latencyThroughputSvg } from '../../bench/report/chart.js';
import { peersChart } from '../../bench/report/peers-chart.js';
import type { ResultsFile } from '../../bench/report/results-file.js';
import type { Figure } from '../../bench/storage.bench.js';
import { figure, latencyFigures, throughputFigures } from './peers-figures.js';

interface Plotted {
  rate: number;
  achieved: number;
  p99: number;
}

/** system -> its points, from the <g class="series"> groups and their circles. */
function readSeries(svg: string): Map<string, Plotted[]> {
  const series = new Map<string, Plotted[]>();
  for (const group of svg.matchAll(/<g class="series" data-system="([^"]+)">([\s\S]*?)<\/g>/g)) {
    const points = [...group[2]!.matchAll(/data-rate="(\d+)" data-achieved="(\d+)" data-p99="([\d.]+)"/g)].map((match) => ({ rate: Number(match[1]), achieved: Number(match[2]), p99: Number(match[3]) }));
    series.set(group[1]!, points);
  }
  return series;
}

function results(figures: Figure[]): ResultsFile {
  return {
    startedAt: '2026-11-22T08:00:00.000Z',
    durationMs: 1000,
    commit: '0123456789abcdef',
    options: { profile: 'full', quick: false, filter: null },
    machine: { cpuModel: 'Test CPU', cores: 2, availableParallelism: 2, totalMemoryBytes: 2 ** 30, platform: 'linux', arch: 'x64', kernel: '6', nodeVersion: 'v20', crc32cImplementation: 'native', hardwareCrc32c: true },
    figures,
  };
}

describe('latency-throughput chart', () => {
  it('draws one series per system with its points in rate order', () => {
    const figures = [
      ...latencyFigures('ferry-kafka', 10_000, 3.5, 9_990),
      ...latencyFigures('ferry-kafka', 1_000, 1.25, 999),
      ...latencyFigures('redis', 1_000, 2, 998),
      ...latencyFigures('redis', 10_000, 6, 9_970),
      ...latencyFigures('nats', 1_000, 1.5, 997),
      ...throughputFigures('ferry-ws', 60_000, 400_000), // no latency run: no series
    ];
    const svg = peersChart(results(figures))!;
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const series = readSeries(svg);
    expect([...series.keys()]).toEqual(['ferry-kafka', 'redis', 'nats']);
    expect(series.get('ferry-kafka')).toEqual([
      { rate: 1_000, achieved: 999, p99: 1.25 },
      { rate: 10_000, achieved: 9_990, p99: 3.5 },
    ]);
    expect(series.get('redis')).toEqual([
      { rate: 1_000, achieved: 998, p99: 2 },
      { rate: 10_000, achieved: 9_970, p99: 6 },
    ]);
    expect(series.get('nats')).toEqual([{ rate: 1_000, achieved: 997, p99: 1.5 }]);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toContain('profile full, commit 0123456789ab');
  });

  it('is not drawn for a run without latency figures', () => {
    expect(peersChart(results([figure('peers produce redis 1KiB', 50_000, 'records/s')]))).toBeNull();
  });

  it('plots a slower system higher and a faster one further right', () => {
    const svg = latencyThroughputSvg(
      [
        { name: 'fast', points: [{ ratePerSecond: 10_000, achievedPerSecond: 10_000, p99Ms: 1 }] },
        { name: 'slow', points: [{ ratePerSecond: 10_000, achievedPerSecond: 1_000, p99Ms: 100 }] },
      ],
      { title: 't', caption: ['c'] },
    );
    const circle = (name: string): { x: number; y: number } => {
      const match = new RegExp(`data-system="${name}">[\\s\\S]*?<circle cx="([\\d.]+)" cy="([\\d.]+)"`).exec(svg)!;
      return { x: Number(match[1]), y: Number(match[2]) };
    };
    expect(circle('fast').x).toBeGreaterThan(circle('slow').x);
    expect(circle('fast').y).toBeGreaterThan(circle('slow').y); // SVG y grows downwards
  });

  it('escapes text', () => {
    const svg = latencyThroughputSvg([{ name: 'a<b>&"c"', points: [{ ratePerSecond: 1, achievedPerSecond: 1, p99Ms: 1 }] }], { title: 'x < y', caption: ['p & q'] });
    expect(svg).toContain('data-system="a&lt;b&gt;&amp;&quot;c&quot;"');
    expect(svg).toContain('x &lt; y');
    expect(svg).not.toContain('p & q');
  });
});

describe('log domain', () => {
  it('covers the values with 1-2-5 bounds, at least a factor of 10 wide', () => {
    expect(logDomain([1.5, 42])).toEqual([1, 50]);
    expect(logDomain([985, 9_921])).toEqual([500, 10_000]);
    expect(logDomain([20.4, 2_392])).toEqual([20, 5_000]);
    expect(logDomain([10])).toEqual([10, 100]);
    expect(logDomain([3, 4])).toEqual([2, 20]);
    expect(logDomain([])).toEqual([1, 10]);
  });
});
