/**
 * The open-loop sender of the latency loads (kafka-latency-load.ts,
 * doors-load.ts 'ws-latency'): a worker thread that sends record i at its
 * due time, started + i / rate, whether or not earlier ones were answered.
 *
 * Why a thread of its own that sleeps with Atomics.wait: Node's timers fire
 * in whole milliseconds, and a sender ticking on them sends each record up to
 * 1 ms late; latency counts from the due time, so that lateness (about 0.6 ms
 * at the median) would be in every figure. Atomics.wait sleeps to the
 * microsecond without spinning, but blocks the thread's event loop, so the
 * sender lets its loop run (sockets read, answers settled) at least every
 * SENDER_YIELD_MS, and the consumer keeps the main thread's loop to itself.
 * A long wait sleeps on a timer instead, woken SENDER_TIMER_SLEEP_MS early.
 *
 * Both threads stamp monotonicMs() (CLOCK_MONOTONIC): performance.now()
 * counts from each thread's own start, so it cannot compare them.
 *
 * The main thread starts the sender with new SenderThread(import.meta.url)
 * and hands it jobs (run); the same module, loaded in the worker, calls
 * serveSenderThread with the function that connects and sends (sendPaced),
 * whose result goes back.
 */

import { parentPort, Worker } from 'node:worker_threads';

/** The sender lets its event loop run (socket writes queued, answers read) at least this often. */
export const SENDER_YIELD_MS = 1;
/** A wait longer than this sleeps on a timer (woken early by as much) instead of Atomics.wait. */
export const SENDER_TIMER_SLEEP_MS = 3;

/** CLOCK_MONOTONIC in ms: one clock for every thread of the process. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A worker thread running a TypeScript module: tsx's loader is per thread, so the worker registers it before importing. */
const tsWorkerBoot = (moduleUrl: string): string =>
  `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl)}); })`;

/**
 * The main thread's handle on a sender thread running `moduleUrl`, which
 * calls serveSenderThread. One thread serves a child's runs one after the
 * other, so its start-up (tsx and the client's modules, ~0.5 s) is paid
 * once, while the first run's consumer connects. close() ends it.
 */
export class SenderThread<Job, Done> {
  private readonly worker: Worker;
  private pending: { resolve(done: Done): void; reject(error: Error): void } | null = null;
  private failure: Error | null = null;

  constructor(moduleUrl: string) {
    this.worker = new Worker(tsWorkerBoot(moduleUrl), { eval: true });
    this.worker.on('message', (done: Done) => this.settle()?.resolve(done));
    this.worker.once('error', (error) => this.fail(error));
    this.worker.once('exit', (code) => this.fail(new Error(`sender thread exited ${code}`)));
  }

  /** Sends `job`'s records (the thread's serveSenderThread function); resolves with what it reports. */
  run(job: Job): Promise<Done> {
    if (this.pending !== null) throw new Error('a sender thread runs one job at a time');
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('sender thread closed');
    await this.worker.terminate();
  }

  private settle(): { resolve(done: Done): void; reject(error: Error): void } | null {
    const pending = this.pending;
    this.pending = null;
    return pending;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.settle()?.reject(error);
  }
}

/**
 * In the worker: runs `send` on each job SenderThread.run posts and posts
 * back its result. A failure is left unhandled on purpose: it ends the
 * thread, and the main thread's run() rejects with it.
 */
export function serveSenderThread<Job, Done>(send: (job: Job) => Promise<Done>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveSenderThread runs in a worker thread (SenderThread)');
  port.on('message', (job: Job) => void send(job).then((done) => port.postMessage(done)));
}

/**
 * Calls `send(dueAtMs, index)` for `total` records at `ratePerSecond`, each
 * when due (at once, with every other overdue one, if late); resolves with
 * the start (monotonicMs) once all are sent. Microtasks `send` queued run
 * before the next sleep, so a client that writes in one (FerryClient merges
 * the produce() calls of a turn and sends them in a microtask) sends now.
 */
export async function sendPaced(ratePerSecond: number, total: number, send: (dueAtMs: number, index: number) => void): Promise<number> {
  const intervalMs = 1000 / ratePerSecond;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const startedAtMs = monotonicMs();
  let yieldedAtMs = startedAtMs;
  let sent = 0;
  while (sent < total) {
    const nowMs = monotonicMs();
    const sentBefore = sent;
    while (sent < total && startedAtMs + sent * intervalMs <= nowMs) {
      send(startedAtMs + sent * intervalMs, sent);
      sent++;
    }
    if (sent > sentBefore) await Promise.resolve();
    const waitMs = startedAtMs + sent * intervalMs - monotonicMs();
    if (sent < total && waitMs > SENDER_TIMER_SLEEP_MS) {
      await new Promise((resolve) => setTimeout(resolve, waitMs - SENDER_TIMER_SLEEP_MS));
      yieldedAtMs = monotonicMs();
    } else if (sent >= total || monotonicMs() - yieldedAtMs >= SENDER_YIELD_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      yieldedAtMs = monotonicMs();
    } else if (waitMs > 0) {
      Atomics.wait(sleeper, 0, 0, waitMs);
    }
  }
  return startedAtMs;
}
