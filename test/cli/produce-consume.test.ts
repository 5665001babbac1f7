/**
 * `ferry produce` and `ferry consume` against a broker served the way
 * `ferry start` serves it, on 127.0.0.1 port 0. The CLI runs as a child
 * process (asynchronously: the server lives in this test's event loop).
 * Every wait is bounded; nothing asserts on timing.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { partitionForKey } from '../../src/broker/murmur2.js';
import { startServer, type RunningServer } from '../../src/protocol/server.js';
import type { DecodedRecord } from '../../src/storage/records.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

const cli = path.resolve(import.meta.dirname, '../../src/cli/ferry.ts');
const WAIT_MS = 20_000;

let broker: Broker;
let server: RunningServer;

beforeAll(async () => {
  broker = await Broker.open({ dataDir: tempDir('ferry-cli-produce-consume-') });
  server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  server.close();
  await broker.close();
  await closeSharedStoragePool();
});

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

interface Running {
  readonly output: { stdout: string; stderr: string };
  done: Promise<Run>;
  kill(): void;
}

function start(args: string[], options: { input?: string; http?: string } = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, '--http', options.http ?? `http://127.0.0.1:${server.port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output.stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output.stderr += text));
  child.stdin.end(options.input ?? '');
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ ...output, code })));
  const timer = setTimeout(() => child.kill(), WAIT_MS);
  void done.then(() => clearTimeout(timer));
  return { output, done, kill: () => child.kill() };
}

function ferry(args: string[], options: { input?: string; http?: string } = {}): Promise<Run> {
  return start(args, options).done;
}

async function allRecords(topic: string, partition: number): Promise<DecodedRecord[]> {
  const records: DecodedRecord[] = [];
  for (let offset = 0; ; ) {
    const fetched = await broker.fetchRecords(topic, partition, offset, { maxBytes: 4 * 1024 * 1024 });
    records.push(...fetched.records);
    if (fetched.nextOffset >= fetched.highWatermark || fetched.records.length === 0) return records;
    offset = fetched.nextOffset;
  }
}

const text = (buffer: Buffer | null): string | null => (buffer === null ? null : buffer.toString('utf8'));

describe('ferry produce (like kafka-console-producer)', () => {
  it('sends one record per stdin line, with keys, headers, and murmur2 partitioning', async () => {
    await broker.createTopic('keyed', { partitions: 3 });
    const keys = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    const input = keys.map((key, i) => `${key}::value ${i}: with a colon`).join('\n') + '\n';
    const result = await ferry(['produce', 'keyed', '--key-separator', '::', '--header', 'app=ferry', '--header', 'env=a=b'], { input });
    expect(result).toMatchObject({ code: 0, stderr: '' });

    const byPartition = await Promise.all([0, 1, 2].map((partition) => allRecords('keyed', partition)));
    expect(byPartition.flat()).toHaveLength(keys.length);
    keys.forEach((key, i) => {
      const partition = partitionForKey(Buffer.from(key), 3);
      const record = byPartition[partition]!.find((r) => text(r.key) === key);
      expect(text(record?.value ?? null)).toBe(`value ${i}: with a colon`);
      expect(record!.headers.map((h) => [h.key, text(h.value)])).toEqual([
        ['app', 'ferry'],
        ['env', 'a=b'],
      ]);
    });
  });

  it('sends to --partition with --acks, values without keys, CRLF and a last line without newline', async () => {
    await broker.createTopic('pinned', { partitions: 3 });
    const result = await ferry(['produce', 'pinned', '--partition', '2', '--acks', '1'], { input: 'one\r\n\ntwo' });
    expect(result.code).toBe(0);
    const records = await allRecords('pinned', 2);
    expect(records.map((r) => [text(r.key), text(r.value)])).toEqual([
      [null, 'one'],
      [null, ''],
      [null, 'two'],
    ]);
  });

  it('refuses a line without the key separator, and bad options, in one line', async () => {
    const noSeparator = await ferry(['produce', 'keyed', '--key-separator', '|'], { input: 'a|1\nno separator here\n' });
    expect(noSeparator.code).toBe(1);
    expect(noSeparator.stderr).toBe('ferry: line 2 has no key separator "|"\n');
    const badAcks = await ferry(['produce', 'keyed', '--acks', '2']);
    expect(badAcks.code).not.toBe(0);
    expect(badAcks.stderr).toMatch(/--acks.*0, 1 or all/);
  });

  it('--file: 10,000 lines arrive complete and in order per partition, with a summary line', async () => {
    await broker.createTopic('bulk', { partitions: 4 });
    const file = path.join(tempDir('ferry-cli-file-'), 'lines.txt');
    const count = 10_000;
    fs.writeFileSync(file, Array.from({ length: count }, (_, i) => `line ${i}`).join('\n') + '\n');
    const result = await ferry(['produce', 'bulk', '--file', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^10000 records sent in [\d.]+ s \(\d+ records\/s\)\n$/);

    const seen: number[] = [];
    for (const partition of [0, 1, 2, 3]) {
      const numbers = (await allRecords('bulk', partition)).map((r) => Number(text(r.value)!.slice('line '.length)));
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      seen.push(...numbers);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('says clearly when the file cannot be read', async () => {
    const result = await ferry(['produce', 'bulk', '--file', '/nonexistent/lines.txt']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ferry: cannot read \/nonexistent\/lines.txt: .*ENOENT/);
  });
});

describe('ferry consume (like kafka-console-consumer)', () => {
  it('--from-beginning --max-messages prints exactly those records, with the fields asked for', async () => {
    await broker.createTopic('printed', { partitions: 1 });
    const produced = await broker.produce('printed', [
      { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ key: 'h1', value: Buffer.from('x') }, { key: 'h2', value: Buffer.from('y') }] },
      { key: null, value: Buffer.from('v2') },
      { key: Buffer.from('k3'), value: null },
      { key: Buffer.from('k4'), value: Buffer.from('not printed') },
    ]);
    const stamps = (await allRecords('printed', 0)).map((r) => r.timestamp);
    expect(produced).toHaveLength(4);

    const plain = await ferry(['consume', 'printed', '--from-beginning', '--max-messages', '3']);
    expect(plain).toMatchObject({ code: 0, stdout: 'v1\nv2\nnull\n', stderr: 'Processed a total of 3 messages\n' });

    const all = await ferry(['consume', 'printed', '--from-beginning', '--max-messages', '3', '--print-timestamp', '--print-partition', '--print-offset', '--print-headers', '--print-key']);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(
      [
        `CreateTime:${stamps[0]}\tPartition:0\tOffset:0\th1:x,h2:y\tk1\tv1`,
        `CreateTime:${stamps[1]}\tPartition:0\tOffset:1\tNO_HEADERS\tnull\tv2`,
        `CreateTime:${stamps[2]}\tPartition:0\tOffset:2\tNO_HEADERS\tk3\tnull`,
      ].join('\n') + '\n',
    );

    const keyed = await ferry(['consume', 'printed', '--partition', '0', '--offset', '2', '--max-messages', '2', '--print-key', '--key-separator', ' => ']);
    expect(keyed.stdout).toBe('k3 => null\nk4 => not printed\n');
  });

  it('--timeout-ms ends when nothing more arrives', async () => {
    const result = await ferry(['consume', 'printed', '--from-beginning', '--timeout-ms', '1000']);
    expect(result).toMatchObject({ code: 0, stdout: 'v1\nv2\nnull\nnot printed\n', stderr: 'Processed a total of 4 messages\n' });
  });

  it('starts at the latest offset by default: sees only records produced after it started', async () => {
    await broker.createTopic('live', { partitions: 2 });
    await broker.produce('live', [{ value: Buffer.from('before'), partition: 0 }, { value: Buffer.from('before'), partition: 1 }]);
    const consumer = start(['consume', 'live', '--max-messages', '1']);
    // It prints nothing until it is subscribed and something new comes: keep producing (bounded) until it prints.
    const deadline = Date.now() + WAIT_MS;
    for (let i = 0; consumer.output.stdout === '' && Date.now() < deadline; i++) {
      await broker.produce('live', [{ value: Buffer.from(`after ${i}`), partition: i % 2 }]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const result = await consumer.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^after \d+\n$/);
  });

  it('--offset needs --partition', async () => {
    const result = await ferry(['consume', 'printed', '--offset', '1']);
    expect(result).toMatchObject({ code: 1, stderr: 'ferry: --offset needs --partition\n' });
  });
});

describe('an unreachable broker', () => {
  it('makes produce and consume exit 1 with a clear message', async () => {
    for (const args of [['produce', 'anything'], ['consume', 'anything']]) {
      const result = await ferry(args, { http: 'http://127.0.0.1:1', input: 'a\n' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^ferry: cannot reach the broker at http:\/\/127.0.0.1:1 \(ws:\/\/127.0.0.1:1\/ws: ECONNREFUSED\); is it running\?/);
    }
  });
});
