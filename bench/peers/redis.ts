/**
 * Redis for the peers benchmark: the Debian redis-server (7.0) on loopback,
 * on its own port and data directory, durability as the issue sets it:
 * append-only file fsynced every second, no RDB snapshots. No config file:
 * everything on the command line, so the system's /etc/redis is never read.
 */

import { firstAnswer, startServer, type ServerProcess } from './server-process.js';

/** The settings, also quoted in the figures' notes. */
export const REDIS_SETTINGS = 'redis-server 7.0, appendonly yes, appendfsync everysec, save "" (no RDB), loopback';

export function startRedis(dataDir: string): Promise<ServerProcess> {
  return startServer({
    name: 'redis-server',
    executables: ['redis-server', '/usr/bin/redis-server'],
    args: (port) => [
      '--bind', '127.0.0.1',
      '--port', String(port),
      '--dir', dataDir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--logfile', '',
      '--loglevel', 'warning',
    ],
    answers: async (port) => (await firstAnswer(port, 'PING\r\n')).startsWith('+PONG'),
  });
}
