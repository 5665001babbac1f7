/**
 * Metadata and SASL/PLAIN as librdkafka speaks them: kcat (Debian's) lists
 * the cluster, with and without SASL.
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeSharedStoragePool } from '../../../../src/storage/storage-pool.js';
import { openKafkaServer, WAIT_MS, type KafkaTestServer } from '../helpers.js';

const run = promisify(execFile);

afterAll(closeSharedStoragePool);

let server: KafkaTestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface KcatMetadata {
  controllerid: number;
  brokers: Array<{ id: number; name: string }>;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
}

/** `metadataWaitS`: how long kcat keeps trying (it retries a refused login until then). */
async function kcatList(bootstrap: string, extra: string[] = [], metadataWaitS = 10): Promise<KcatMetadata> {
  const { stdout } = await run('kcat', ['-L', '-J', '-b', bootstrap, '-m', String(metadataWaitS), ...extra], { timeout: WAIT_MS });
  return JSON.parse(stdout) as KcatMetadata;
}

const sasl = (user: string, password: string) => ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', `sasl.username=${user}`, '-X', `sasl.password=${password}`];

describe('kcat', () => {
  it('lists brokers and topics from Metadata', async () => {
    server = await openKafkaServer();
    await server.broker.createTopic('orders', { partitions: 2 });
    const metadata = await kcatList(server.bootstrap);
    expect(metadata.controllerid).toBe(1);
    expect(metadata.brokers).toEqual([{ id: 1, name: server.bootstrap }]);
    expect(metadata.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.leader, p.replicas, p.isrs])])).toEqual([
      ['orders', [[0, 1, [{ id: 1 }], [{ id: 1 }]], [1, 1, [{ id: 1 }], [{ id: 1 }]]]],
    ]);
  });

  it('lists after a SASL/PLAIN login, and fails with a wrong password', async () => {
    server = await openKafkaServer({}, { saslPlainUsers: new Map([['alice', 'secret']]) });
    await server.broker.createTopic('secured');
    const metadata = await kcatList(server.bootstrap, sasl('alice', 'secret'));
    expect(metadata.topics.map((t) => t.topic)).toEqual(['secured']);
    await expect(kcatList(server.bootstrap, sasl('alice', 'wrong'), 2)).rejects.toThrow(/Authentication failed: invalid username or password/);
  });
});
