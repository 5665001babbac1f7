/**
 * A load generator child that says when it is ready, for the scale suite's
 * runs where the producer must not start before every subscriber is in
 * place: the child prints READY_LINE once set up and its result as one JSON
 * line last, as runLoadScript's children do (bench/load-child.ts, which has
 * no ready step). A child can also wait for GO_LINE on its stdin (waitForGo),
 * so that it starts up (~1 s of tsx) while the others do. A child that has
 * not finished within its timeout is killed.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STDERR_TAIL_CHARS = 2000;

/** What a child prints, alone on its line, once it is ready. */
export const READY_LINE = '{"ready":true}';
/** What the parent writes to a child's stdin to start it (ReadyChild.go). */
export const GO_LINE = 'go';

/** In a child: resolves when the parent sends GO_LINE. */
export function waitForGo(): Promise<void> {
  return new Promise((resolve, reject) => {
    let input = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      input += chunk;
      if (input.split('\n').includes(GO_LINE)) {
        process.stdin.pause();
        resolve();
      }
    });
    process.stdin.once('end', () => reject(new Error('stdin closed before the go line')));
  });
}

export interface ReadyChild<Result> {
  /** Resolves when the child printed READY_LINE; rejects if it exits first. */
  ready: Promise<void>;
  /** The JSON of the last line the child printed, once it exited 0. */
  result: Promise<Result>;
  /** Sends GO_LINE to the child's stdin. */
  go(): void;
  kill(): void;
}

export function startReadyChild<Result>(script: string, job: unknown, timeoutMs: number): ReadyChild<Result> {
  const name = path.basename(script, '.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(job)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => {};
  let failReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes(`${READY_LINE}\n`)) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = new Promise<Result>((resolve, reject) => {
    const failed = (error: Error): void => {
      failReady(error);
      reject(error);
    };
    child.once('error', (error) => {
      clearTimeout(timer);
      failed(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0) {
        failed(new Error(`${name} exited ${code ?? signal}${signal === 'SIGKILL' ? ` (killed after ${timeoutMs} ms?)` : ''}: ${stderr.trim() || line.slice(0, 200)}`));
        return;
      }
      try {
        resolve(JSON.parse(line) as Result);
      } catch (error) {
        failed(new Error(`${name} printed no result line (${(error as Error).message}): ${line.slice(0, 200)}`));
      }
    });
  });
  // Either promise may be left unawaited when the other fails first: never an unhandled rejection.
  ready.catch(() => undefined);
  result.catch(() => undefined);
  child.stdin.on('error', () => undefined); // a child that exited early: its failure is reported by `result`
  return { ready, result, go: () => child.stdin.write(`${GO_LINE}\n`), kill: () => child.kill('SIGKILL') };
}
