/**
 * The deterministic parts of bench/probe.ts: combining rounds of one load
 * into one usage, and the figures' names (the peers report looks them up).
 */

import { describe, expect, it } from 'vitest';
import { brokerUsageFigures, brokerUsageNames, combineUsage, serverUsageFigures, serverUsageNames } from '../../bench/probe.js';

describe('combineUsage', () => {
  it('weights CPU by wall time and keeps the worst memory and loop lag', () => {
    const combined = combineUsage([
      { cpuCores: 1, rssMaxBytes: 100, eventLoopLagP99Ms: 2, eventLoopLagMaxMs: 9, wallMs: 1000 },
      { cpuCores: 0.25, rssMaxBytes: 300, eventLoopLagP99Ms: 5, eventLoopLagMaxMs: 7, wallMs: 3000 },
    ]);
    expect(combined).toEqual({ cpuCores: 0.4375, rssMaxBytes: 300, eventLoopLagP99Ms: 5, eventLoopLagMaxMs: 9, wallMs: 4000 });
  });

  it('refuses no rounds at all', () => {
    expect(() => combineUsage([])).toThrow(/no runs/);
  });
});

describe('usage figure names', () => {
  it('are the names the figures carry, a server process without the loop lag', () => {
    const usage = { cpuCores: 0.5, rssMaxBytes: 64 * 1024 * 1024, eventLoopLagP99Ms: 1, eventLoopLagMaxMs: 2, wallMs: 1000 };
    expect(brokerUsageFigures('peers latency ferry-ws', usage).map((figure) => figure.name)).toEqual(brokerUsageNames('peers latency ferry-ws'));
    const server = serverUsageFigures('peers latency redis', 'redis-server', usage);
    expect(server.map((figure) => figure.name)).toEqual(serverUsageNames('peers latency redis'));
    expect(server.map((figure) => [figure.value, figure.unit])).toEqual([
      [0.5, 'cores'],
      [64, 'MiB'],
    ]);
  });
});
