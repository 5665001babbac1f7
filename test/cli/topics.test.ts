import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { startServer, type RunningServer } from '../../src/protocol/server.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

const run = promisify(execFile);
const cli = path.resolve(import.meta.dirname, '../../src/cli/ferry.ts');

let broker: Broker;
let server: RunningServer;

beforeAll(async () => {
  broker = await Broker.open({ dataDir: tempDir('ferry-cli-topics-') });
  server = await startServer({ broker, host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  server.close();
  await broker.close();
  await closeSharedStoragePool();
});

async function ferry(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', cli, '--http', `http://127.0.0.1:${server.port}`, ...args]);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe('ferry topics (through a running broker, like kafka-topics)', () => {
  it('creates, lists, describes, alters and deletes, with kafka-topics output', async () => {
    expect((await ferry('topics', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=60000')).stdout).toBe('Created topic orders.\n');
    await broker.produce('orders', [{ value: Buffer.from('x'), partition: 1 }]);
    expect((await ferry('topics', 'list')).stdout).toBe('orders\n');

    const described = (await ferry('topics', 'describe', 'orders')).stdout.split('\n');
    expect(described[0]).toMatch(/^Topic: orders\tTopicId: [\w-]{22}\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=60000$/);
    expect(described[2]).toBe('\tTopic: orders\tPartition: 1\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1\tIsr: 1\tLogStartOffset: 0\tLogEndOffset: 1');

    await ferry('topics', 'alter', 'orders', '--partitions', '5', '--config', 'cleanup.policy=compact', '--delete-config', 'retention.ms');
    expect(broker.describeTopic('orders').partitions).toHaveLength(5);
    expect(broker.describeTopic('orders').configs).toEqual({ 'cleanup.policy': 'compact' });

    expect((await ferry('topics', 'delete', 'orders')).stdout).toBe('Deleted topic orders.\n');
    expect((await ferry('topics', 'list')).stdout).toBe('');
  });

  it("says clearly what went wrong: the broker's error, or that it cannot be reached", async () => {
    await ferry('topics', 'create', 'dup');
    const duplicate = await ferry('topics', 'create', 'dup');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/^ferry: .*already exists/);

    const unreachable = await run(process.execPath, ['--import', 'tsx', cli, '--http', 'http://127.0.0.1:1', 'topics', 'list']).catch((error: { stderr: string; code: number }) => error);
    expect((unreachable as { code: number }).code).toBe(1);
    expect((unreachable as { stderr: string }).stderr).toMatch(/cannot reach the broker at http:\/\/127.0.0.1:1 .*is it running/);
  });
});
