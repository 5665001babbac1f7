import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { config, tempDir, valuesBatch } from '../storage/helpers.js';
import { RawKafkaClient } from '../protocol/kafka/helpers.js';

afterAll(closeSharedStoragePool);

const root = path.resolve(import.meta.dirname, '../..');
const builtCli = path.join(root, 'dist/cli/ferry.js');

describe('ferry CLI (the built dist/, as npm start runs it)', () => {
  it('start recovers a data dir left by an unclean stop, serves on its port, then shuts down cleanly on SIGTERM', async () => {
    const dataDir = tempDir('ferry-start-');
    const crashed = await PartitionLog.open({ dir: path.join(dataDir, 'payments-0'), config: config() });
    await crashed.append(valuesBatch('p', 5));
    await crashed.flush();
    fs.appendFileSync(path.join(dataDir, 'payments-0', '00000000000000000000.log'), Buffer.alloc(100, 7)); // a torn tail
    // No close: the checkpoint still says the shutdown was not clean.

    const child = spawn(process.execPath, [builtCli, 'start', '--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', '0', '--kafka-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const lines: Array<Record<string, unknown>> = [];
    for await (const line of readline.createInterface({ input: child.stdout })) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === 'ferry ready') {
        const port = Number(new URL(String(entry.http)).port);
        await new Promise<void>((resolve, reject) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(); }).once('error', reject));
        const kafka = await RawKafkaClient.connect(Number(String(entry.kafka).split(':').at(-1)));
        expect((await kafka.request(18, 3, {}))['errorCode']).toBe(0);
        kafka.close();
        child.kill('SIGTERM');
      }
    }
    expect(await exited).toBe(0);
    expect(lines.find((l) => l.msg === 'ferry ready')).toMatchObject({ uwsNative: true, crc32c: 'native' });
    expect(lines.at(-1)!.msg).toBe('clean shutdown');
    expect(fs.readFileSync(path.join(dataDir, 'payments-0', 'checkpoint'), 'utf8')).toContain('cleanShutdown 1');
    expect(fs.statSync(path.join(dataDir, 'payments-0', '00000000000000000000.log')).size).toBe(crashed.sizeBytes);
  });

  it('start --help lists every option with its environment variable', () => {
    const help = spawnSync(process.execPath, [builtCli, 'start', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const option of ['--data-dir', '--host', '--http-port', '--kafka-port', '--advertised-host', '--sasl-plain-users', '--num-partitions', '--no-auto-create-topics', '--allow-uws-fallback']) expect(help.stdout).toContain(option);
    for (const variable of ['FERRY_DATA_DIR', 'FERRY_HTTP_PORT', 'FERRY_KAFKA_PORT', 'FERRY_ALLOW_UWS_FALLBACK']) expect(help.stdout).toContain(variable);
  });

  it('dump-log prints batches and records, and fails on a corrupt batch', async () => {
    const dir = tempDir();
    const log = await PartitionLog.open({ dir, config: config() });
    await log.append(valuesBatch('d', 2));
    await log.append(valuesBatch('e', 1));
    await log.close();
    const segment = path.join(dir, '00000000000000000000.log');
    const ok = spawnSync(process.execPath, [builtCli, 'dump-log', segment, '--records'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/baseOffset: 0 lastOffset: 1 count: 2 position: 0 .* crcValid: true/);
    expect(ok.stdout).toMatch(/baseOffset: 0 .* producerId: -1 producerEpoch: -1 baseSequence: -1 isTransactional: false isControl: false compression: none crcValid: true/);
    expect(ok.stdout).toMatch(/baseOffset: 2 lastOffset: 2 count: 1 .* crcValid: true/);
    expect(ok.stdout).toContain('| offset: 1 ');
    expect(ok.stdout).toContain('value: "d-1"');

    // A reader that stops early (| head) closes the pipe: dump-log stops quietly, exit 0, no stack.
    const many = await PartitionLog.open({ dir: tempDir(), config: config() });
    for (let i = 0; i < 20; i++) await many.append(valuesBatch(`m${i}`, 500));
    await many.close();
    const early = spawn(process.execPath, [builtCli, 'dump-log', '--records', path.join(many.dir, '00000000000000000000.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    early.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    early.stdout.once('data', () => early.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => early.on('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    const bytes = fs.readFileSync(segment);
    bytes[bytes.length - 3]! ^= 0xff;
    fs.writeFileSync(segment, bytes);
    const bad = spawnSync(process.execPath, [builtCli, 'dump-log', segment], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/baseOffset: 2 .* crcValid: false/);
  });
});

describe('ferry start --config', () => {
  it('reads a server.properties file, and flags win over it', async () => {
    const dataDir = tempDir('ferry-config-');
    const properties = path.join(tempDir(), 'server.properties');
    fs.writeFileSync(properties, `# a Kafka-style file\nlog.dirs=${dataDir}\nhost=127.0.0.1\nhttp.port=0\nkafka.port=0\nnum.partitions=3\nlog.retention.ms=123456\n`);
    const child = spawn(process.execPath, [builtCli, 'start', '--config', properties, '--num-partitions', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let port = 0;
    for await (const line of readline.createInterface({ input: child.stdout })) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg !== 'ferry ready') continue;
      expect(entry.dataDir).toBe(dataDir);
      port = Number(new URL(String(entry.http)).port);
      const cid = ((await (await fetch(`http://127.0.0.1:${port}/v3/clusters`)).json()) as { data: Array<{ cluster_id: string }> }).data[0]!.cluster_id;
      const created = await fetch(`http://127.0.0.1:${port}/v3/clusters/${cid}/topics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic_name: 'configured' }) });
      expect(((await created.json()) as { partitions_count: number }).partitions_count).toBe(2); // the flag, not the file's 3
      child.kill('SIGTERM');
    }
    expect(port).toBeGreaterThan(0);
    expect(await exited).toBe(0);
  });

  it('names the line of a bad setting and exits 1', () => {
    const properties = path.join(tempDir(), 'bad.properties');
    fs.writeFileSync(properties, 'num.partitions=3\nno.such.setting=1\n');
    const result = spawnSync(process.execPath, [builtCli, 'start', '--config', properties], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`ferry: ${properties}:2: unknown setting no.such.setting\n`);
  });
});
