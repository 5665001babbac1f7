/**
 * NATS for the peers benchmark: the Debian nats-server (2.9) with JetStream
 * (-js) and file storage in its own directory (-sd), on loopback, on its own
 * port. No config file: the system's /etc/nats is never read. The stream
 * itself (file storage, one replica) is created by the client
 * (bench/peers-load.ts).
 */

import { firstAnswer, startServer, type ServerProcess } from './server-process.js';

/** The settings, also quoted in the figures' notes. */
export const NATS_SETTINGS = 'nats-server 2.9 -js -sd <dir>, file-storage stream, 1 replica, default sync (page cache, fsync on its own interval), loopback';

export function startNats(storeDir: string): Promise<ServerProcess> {
  return startServer({
    name: 'nats-server',
    executables: ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server'],
    args: (port) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
    // The server greets every connection with INFO once it accepts clients; JetStream is up before that.
    answers: async (port) => (await firstAnswer(port, null)).startsWith('INFO '),
  });
}
