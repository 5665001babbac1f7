import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogManager } from '../../src/storage/log-manager.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { config, keyedBatch, readAll, tempDir, valuesBatch } from './helpers.js';

afterAll(closeSharedStoragePool);

describe('log manager', () => {
  it('keeps one log per topic-partition directory and finds them again on restart', async () => {
    const dataDir = tempDir('ferry-data-');
    const manager = await LogManager.open({ dataDir, configFor: () => config() });
    const a0 = await manager.getOrCreate('orders', 0);
    const [again, other] = await Promise.all([manager.getOrCreate('orders', 0), manager.getOrCreate('orders-eu', 3)]);
    expect(again).toBe(a0);
    await a0.append(valuesBatch('o', 3));
    await other.append(valuesBatch('e', 2));
    expect(fs.readdirSync(dataDir).filter((name) => !name.startsWith('.')).sort()).toEqual(['orders-0', 'orders-eu-3']);
    await manager.close();

    const reopened = await LogManager.open({ dataDir, configFor: () => config() });
    expect(reopened.partitions).toEqual(expect.arrayContaining([{ topic: 'orders', partition: 0 }, { topic: 'orders-eu', partition: 3 }]));
    expect(reopened.get('orders', 0)!.logEndOffset).toBe(3);
    expect(readAll(reopened.get('orders-eu', 3)!).map((r) => r.value!.toString())).toEqual(['e-0', 'e-1']);
    await reopened.delete('orders', 0);
    expect(fs.existsSync(path.join(dataDir, 'orders-0'))).toBe(false);
    await reopened.close();
  });

  it('rejects topic names Kafka rejects', async () => {
    const manager = await LogManager.open({ dataDir: tempDir(), configFor: () => config() });
    for (const bad of ['', '..', 'a/b', 'x'.repeat(250), 'spaces here']) {
      await expect(manager.getOrCreate(bad, 0)).rejects.toMatchObject({ errorName: 'INVALID_TOPIC_EXCEPTION' });
    }
    await manager.close();
  });

  it('runs retention and compaction over every log, each by its topic config', async () => {
    let now = 50_000_000;
    const configs: Record<string, ReturnType<typeof config>> = {
      events: config({ segmentBytes: 300, retentionMs: 1000 }),
      state: config({ segmentBytes: 300, cleanupCompact: true, cleanupDelete: false }),
    };
    const manager = await LogManager.open({ dataDir: tempDir(), configFor: (topic) => configs[topic]!, clock: () => now });
    const events = await manager.getOrCreate('events', 0);
    const state = await manager.getOrCreate('state', 0);
    for (let i = 0; i < 10; i++) {
      await events.append(valuesBatch(`ev${i}`, 2, { timestamp: BigInt(now) }));
      await state.append(keyedBatch([{ key: 'only-key', value: `s${i}`, timestamp: BigInt(now) }]));
    }
    now += 5000;
    await events.append(valuesBatch('fresh', 1, { timestamp: BigInt(now) }));
    expect(manager.enforceRetention()).toBeGreaterThan(0);
    // Old segments are gone; the active one also holds the last old batch, and stays while it has fresh data.
    const remaining = readAll(events).map((r) => r.value!.toString());
    expect(remaining).not.toContain('ev0-0');
    expect(remaining.at(-1)).toBe('fresh-0');
    expect(events.logStartOffset).toBeGreaterThan(0);
    await manager.compactAll();
    const values = readAll(state).map((r) => r.value!.toString());
    expect(values.length).toBeLessThan(10);
    expect(values.at(-1)).toBe('s9');
    await manager.close();
  });

  it('closes a broker holding nearly as many partitions as it may open descriptors', async () => {
    // 300 partitions hold 300 .log descriptors; closing them all at once also opened both index files of each (900 in all).
    const dataDir = tempDir('ferry-data-');
    const fixture = path.join(import.meta.dirname, 'fixtures', 'close-many-logs.ts');
    const command = `ulimit -n 480 && exec "${process.execPath}" --import tsx "${fixture}" "${dataDir}" 300`;
    const { stdout, stderr, failed } = await new Promise<{ stdout: string; stderr: string; failed: boolean }>((resolve) =>
      execFile('bash', ['-c', command], { cwd: path.resolve(import.meta.dirname, '../..') }, (error, out, err) => resolve({ stdout: out, stderr: err, failed: error !== null })),
    );
    expect(failed, stderr).toBe(false);
    expect(stdout.trim()).toBe('closed');

    const reopened = await LogManager.open({ dataDir, configFor: () => config() });
    for (let partition = 0; partition < 300; partition++) {
      expect(readAll(reopened.get('many', partition)!).map((record) => record.value!.toString())).toEqual([`record of ${partition}`]);
    }
    await reopened.close();
  }, 60_000);
});
