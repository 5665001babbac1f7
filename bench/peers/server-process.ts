/**
 * Runs a peer's server (redis-server, nats-server) for bench/peers.bench.ts:
 * on loopback, on a port free at start, as a child of this process, killed
 * by stop() and also when this process exits, so a failed run leaves no
 * server behind. Never the system's instance: each gets its own port and
 * data directory.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a server may take to answer after spawn. */
const READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 25;
/** After SIGTERM, how long before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
const STDERR_TAIL_BYTES = 2_000;

export interface ServerProcess {
  port: number;
  /** For bench/probe.ts's probeServerProcess: its CPU and memory are the peer's broker usage. */
  pid: number;
  stop(): Promise<void>;
}

export interface ServerSpec {
  /** For messages: 'redis-server', 'nats-server'. */
  name: string;
  /** Candidates for the executable, first existing wins (nats-server lives in /usr/sbin, not always on PATH). */
  executables: readonly string[];
  args(port: number): string[];
  /** Resolves true once the server answers on `port` (one attempt; polled until READY_TIMEOUT_MS). */
  answers(port: number): Promise<boolean>;
}

/** A TCP port free on 127.0.0.1 now (the OS's pick; a tiny race with other processes is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function findExecutable(spec: ServerSpec): string {
  const pathDirs = (process.env.PATH ?? '').split(':').filter((dir) => dir !== '');
  for (const candidate of spec.executables) {
    const paths = candidate.includes('/') ? [candidate] : pathDirs.map((dir) => `${dir}/${candidate}`);
    const found = paths.find((file) => fs.existsSync(file));
    if (found !== undefined) return found;
  }
  throw new Error(`${spec.name} not found (tried ${spec.executables.join(', ')}); scripts/install-test-deps.sh installs it (as root)`);
}

/** Sends `request` to 127.0.0.1:port, resolves with the first bytes answered ('' on any error or after timeoutMs). */
export function firstAnswer(port: number, request: string | null, timeoutMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (answer: string): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(''));
    socket.once('error', () => done(''));
    socket.once('connect', () => {
      if (request !== null) socket.write(request);
    });
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1')));
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  const executable = findExecutable(spec);
  const port = await freePort();
  const child = spawn(executable, spec.args(port), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | null = null;
  child.once('error', (error) => (spawnError = error));
  // A crash of the bench (or Ctrl-C) must not leave the server running.
  const onExit = (): void => kill(child, 'SIGKILL');
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    kill(child, 'SIGTERM');
    const timer = setTimeout(() => kill(child, 'SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    process.removeListener('exit', onExit);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await spec.answers(port))) {
    if (spawnError !== null || child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      const why = spawnError ?? `exited ${child.exitCode ?? child.signalCode}`;
      throw new Error(`${spec.name} on port ${port} did not answer within ${READY_TIMEOUT_MS} ms (${String(why)}): ${stderr.trim()}`);
    }
    await sleep(READY_POLL_MS);
  }
  if (child.pid === undefined) throw new Error(`${spec.name} answered on port ${port} but has no pid`);
  return { port, pid: child.pid, stop };
}
