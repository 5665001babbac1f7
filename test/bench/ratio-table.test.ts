/**
 * The peers ratio tables (bench/report/ratio-table.ts): each cell is Ferry's
 * own figure over the peer's, of the same run, with its verdict against the
 * issue's target; what a run did not measure stays out.
 */

import { describe, expect, it } from 'vitest';
import { REFERENCE_FIGURE } from '../../bench/peers/names.js';
import { latencyRatioRows, latencyRatioTable, peersReport, ratioCell, throughputRatioRows, throughputRatioTable } from '../../bench/report/ratio-table.js';
import { figure, latencyFigures, throughputFigures } from './peers-figures.js';

const THROUGHPUT = [
  ...throughputFigures('ferry-kafka', 150_000, 300_000),
  ...throughputFigures('ferry-ws', 60_000, 400_000),
  ...throughputFigures('redis', 50_000, 150_000),
  ...throughputFigures('nats', 25_000, 100_000),
  figure(REFERENCE_FIGURE, 300, 'MB/s'),
  figure('kafka produce raw 1MiB batches', 240, 'MB/s'),
  figure('kafka produce raw 1MiB batches (records/s)', 234_000, 'records/s'),
];

const LATENCY = [
  ...latencyFigures('ferry-kafka', 1_000, 2),
  ...latencyFigures('ferry-ws', 1_000, 8),
  ...latencyFigures('redis', 1_000, 4),
  ...latencyFigures('nats', 1_000, 2),
  ...latencyFigures('ferry-kafka', 10_000, 3),
  ...latencyFigures('ferry-ws', 10_000, 1_500, 4_000),
  ...latencyFigures('redis', 10_000, 6),
  ...latencyFigures('nats', 10_000, 30),
];

describe('throughput ratio rows', () => {
  it('divides each Ferry door by each peer and, for produce, by the physical reference', () => {
    const rows = throughputRatioRows(THROUGHPUT);
    expect(rows.map((row) => [row.workload, row.ferry])).toEqual([
      ['produce 1 KiB', 'ferry-kafka'],
      ['produce 1 KiB', 'ferry-ws'],
      ['consume 1 KiB', 'ferry-kafka'],
      ['consume 1 KiB', 'ferry-ws'],
      ['produce 1 MiB batches, raw client', 'ferry-kafka'],
    ]);
    const [kafkaProduce, wsProduce, kafkaConsume, , raw] = rows;
    expect(kafkaProduce).toMatchObject({ ferryRecordsPerSecond: 150_000, overRedis: 3, overNats: 6, overReference: 0.5 });
    expect(wsProduce).toMatchObject({ overRedis: 1.2, overNats: 2.4, overReference: 0.2 });
    // The reference is a produce path: consume rows have no reference ratio.
    expect(kafkaConsume).toMatchObject({ overRedis: 2, overNats: 3, overReference: null });
    expect(raw).toMatchObject({ ferryRecordsPerSecond: 234_000, overRedis: null, overNats: null, overReference: 0.8 });
  });

  it('leaves a ratio empty when its peer was not measured', () => {
    const rows = throughputRatioRows([...throughputFigures('ferry-kafka', 100, 100), ...throughputFigures('redis', 50, 50)]);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ overRedis: 2, overNats: null, overReference: null });
  });
});

describe('latency ratio rows', () => {
  it('divides Ferry p99 by each peer p99 at the same rate, and marks a Ferry door that fell behind', () => {
    const rows = latencyRatioRows(LATENCY);
    expect(rows.map((row) => [row.ratePerSecond, row.ferry, row.overRedis, row.overNats])).toEqual([
      [1_000, 'ferry-kafka', 0.5, 1],
      [1_000, 'ferry-ws', 2, 4],
      [10_000, 'ferry-kafka', 0.5, 0.1],
      [10_000, 'ferry-ws', 250, 50],
    ]);
    expect(rows.map((row) => row.ferryFellBehindAt)).toEqual([null, null, null, 4_000]);
  });
});

describe('ratio cells', () => {
  it('show the ratio, bold and marked when it misses the target', () => {
    expect(ratioCell(3, 1.5, 'higher')).toBe('3.00');
    expect(ratioCell(1.2, 1.5, 'higher')).toBe('**1.20** missed');
    expect(ratioCell(1, 1, 'lower')).toBe('1.00');
    expect(ratioCell(4, 1, 'lower')).toBe('**4.00** missed');
    expect(ratioCell(null, 1, 'lower')).toBe('');
  });

  it('fill the markdown tables', () => {
    const throughput = throughputRatioTable(THROUGHPUT)!;
    expect(throughput).toContain('| produce 1 KiB | ferry-kafka | 150,000 | 3.00 | 6.00 | 0.50 |');
    expect(throughput).toContain('| produce 1 KiB | ferry-ws | 60,000 | **1.20** missed | 2.40 | **0.20** missed |');
    const latency = latencyRatioTable(LATENCY)!;
    expect(latency).toContain('| 1,000 | ferry-kafka | 2.00 | 4.00 | 2.00 | 0.50 | 1.00 |');
    expect(latency).toContain('| 10,000 | ferry-ws | 1,500 (fell behind: 4,000/s) | 6.00 | 30.0 | **250.00** missed | **50.00** missed |');
  });
});

describe('peers report', () => {
  it('is absent from a run without peers figures', () => {
    expect(peersReport([figure('crc32c native-hw 1MiB', 20, 'GB/s')], null)).toBeNull();
  });

  it('puts each system’s settings next to the tables and links the chart', () => {
    const report = peersReport([...THROUGHPUT, ...LATENCY], 'latency-throughput.svg')!;
    expect(report).toContain('### Throughput ratios');
    expect(report).toContain('### p99 delivery latency at equal rates');
    expect(report).toContain('[latency-throughput.svg](latency-throughput.svg)');
    for (const server of ['appendfsync everysec', 'nats-server 2.9 -js', 'Ferry broker in the bench process']) expect(report).toContain(server);
  });
});
