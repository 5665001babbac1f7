import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { startServer } from '../../src/protocol/server.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

afterAll(closeSharedStoragePool);

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('the HTTP + WebSocket server', () => {
  it('refuses to share its port with a second broker on all interfaces', async () => {
    const first = await Broker.open({ dataDir: tempDir() });
    const second = await Broker.open({ dataDir: tempDir() });
    const port = await freePort();
    const server = await startServer({ broker: first, port });
    await expect(startServer({ broker: second, port })).rejects.toThrow(/cannot listen on 0.0.0.0:\d+ \(is another broker using it\?\)/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    server.close();
    server.close(); // twice is harmless
    await first.close();
    await second.close();
  });
});
