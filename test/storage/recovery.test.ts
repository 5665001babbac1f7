import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { crc32cReference } from '../../src/storage/crc32c-reference.js';
import { ATTRIBUTES_OFFSET, CRC_OFFSET, LENGTH_OFFSET, LOG_OVERHEAD } from '../../src/storage/record-batch.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { config, prng, readAll, tempDir, valuesBatch } from './helpers.js';

afterAll(closeSharedStoragePool);

const SEGMENT_BYTES = 6000;

/** Every batch in `bytes` has a valid CRC32C. */
function expectAllBatchesValid(bytes: Buffer): void {
  let at = 0;
  while (at < bytes.length) {
    const size = bytes.readInt32BE(at + LENGTH_OFFSET) + LOG_OVERHEAD;
    expect(bytes.readUInt32BE(at + CRC_OFFSET)).toBe(crc32cReference(bytes, at + ATTRIBUTES_OFFSET, at + size));
    at += size;
  }
}

describe('recovery after an unclean stop', () => {
  it('never loses a flushed batch and never serves a torn one: 100 random cuts and garbage tails', async () => {
    // The crashed state: flushed batches, then unflushed ones in the active segment, no clean shutdown.
    const template = tempDir();
    const crashed = await PartitionLog.open({ dir: template, config: config({ segmentBytes: SEGMENT_BYTES }) });
    for (let i = 0; i < 60; i++) {
      if (i === 50) crashed.roll(); // earlier segments wholly flushed; the active one holds flushed and unflushed batches
      await crashed.append(valuesBatch(`flushed${i}`, 1 + (i % 4), { valueBytes: 20 + i }));
    }
    await crashed.flush();
    const flushedOffset = crashed.logEndOffset;
    const activeBase = crashed.segmentBaseOffsets().at(-1)!;
    const activeFile = path.join(template, `${String(activeBase).padStart(20, '0')}.log`);
    const flushedBytes = fs.statSync(activeFile).size;
    for (let i = 0; i < 12; i++) await crashed.append(valuesBatch(`unflushed${i}`, 1 + (i % 3), { valueBytes: 30 }));
    const fullBytes = fs.statSync(activeFile).size;
    expect(crashed.segmentBaseOffsets().at(-1)).toBe(activeBase); // the unflushed tail is in the same segment
    const original = readAll(crashed).map((r) => [Number(r.offset), r.value!.toString()] as const);
    const originalByOffset = new Map(original);
    expect(fs.readFileSync(path.join(template, 'checkpoint'), 'utf8')).toContain('cleanShutdown 0');

    const random = prng(20261122);
    let roundsThatCut = 0;
    let roundsThatLostUnflushed = 0;
    for (let round = 0; round < 100; round++) {
      const dir = tempDir('ferry-recovery-');
      fs.cpSync(template, dir, { recursive: true });
      const active = path.join(dir, path.basename(activeFile));
      const cut = flushedBytes + Math.floor(random() * (fullBytes - flushedBytes + 1));
      fs.truncateSync(active, cut);
      const garbageBytes = round % 3 === 0 ? 0 : Math.floor(random() * 3000);
      const garbage = Buffer.from(Array.from({ length: garbageBytes }, () => Math.floor(random() * 256)));
      if (round % 5 === 1 && garbageBytes >= 12) garbage.writeInt32BE(0x7ffffff0, 8); // a huge length prefix
      fs.appendFileSync(active, garbage);
      if (round % 7 === 0) fs.rmSync(active.replace(/\.log$/, '.index'));

      const log = await PartitionLog.open({ dir, config: config({ segmentBytes: SEGMENT_BYTES }) });
      expect(log.logEndOffset, `round ${round}`).toBeGreaterThanOrEqual(flushedOffset);
      expect(log.recovery.segmentsScanned).toBeGreaterThan(0);
      if (log.recovery.truncatedBytes > 0) roundsThatCut++;
      if (log.logEndOffset < original.length) roundsThatLostUnflushed++;
      const records = readAll(log);
      expect(records.map((r) => Number(r.offset))).toEqual(Array.from({ length: log.logEndOffset }, (_, i) => i));
      for (const record of records) expect(record.value!.toString()).toBe(originalByOffset.get(Number(record.offset)));
      expectAllBatchesValid(log.read(0, 1 << 24).bytes);
      const appended = await log.append(valuesBatch('after', 1));
      expect(appended.firstOffset).toBe(records.length);
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // The damage really reached recovery: most rounds cut a torn or garbage tail.
    expect(roundsThatCut).toBeGreaterThan(50);
    expect(roundsThatLostUnflushed).toBeGreaterThan(50);
  });

  it('keeps every acknowledged record of a process killed with SIGKILL while appending with flush.messages=1', async () => {
    const dir = tempDir('ferry-kill-');
    const fixture = path.join(import.meta.dirname, 'fixtures', 'append-until-killed.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Map<number, string>();
    const lines = readline.createInterface({ input: child.stdout });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    for await (const line of lines) {
      const [word, offset, value] = line.split(' ');
      if (word === 'acked') acked.set(Number(offset), value!);
      if (acked.size >= 600) {
        child.kill('SIGKILL');
        break;
      }
    }
    await exited;
    const log = await PartitionLog.open({ dir, config: config({ segmentBytes: 64 * 1024 }) });
    const stored = new Map(readAll(log).map((r) => [Number(r.offset), r.value!.toString()]));
    for (const [offset, value] of acked) expect(stored.get(offset), `offset ${offset}`).toBe(value);
    expect(log.segmentCount).toBeGreaterThan(1);
    await log.close();
  });
});
