/**
 * A load generator child that says when it is ready, for runs where the
 * producer must not start before every subscriber is in place (the scale
 * suite, bench/load.ts): the child prints READY_LINE once set up and its
 * result as one JSON line last, as runLoadScript's children do
 * (bench/load-child.ts, which has no ready step). A child can also wait for
 * GO_LINE on its stdin (waitForGo), so that it starts up (~1 s of tsx) while
 * the others do; the go line may carry a word after it (a common start
 * time), and the parent may send further lines (ReadyChild.send, read with
 * parentLine). A child that has not finished within its timeout is killed.
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

/** Lines from the parent not yet asked for, and the children's waits for them, by first word. */
const parentInput = { text: '', lines: [] as string[], waiters: [] as Array<{ word: string; resolve: (rest: string) => void; reject: (error: Error) => void }> };

function deliverParentLines(): void {
  for (let i = 0; i < parentInput.lines.length; i++) {
    const line = parentInput.lines[i]!;
    const waiter = parentInput.waiters.findIndex((each) => line === each.word || line.startsWith(`${each.word} `));
    if (waiter < 0) continue;
    const { word, resolve } = parentInput.waiters.splice(waiter, 1)[0]!;
    parentInput.lines.splice(i--, 1);
    resolve(line.slice(word.length + 1));
  }
  if (parentInput.waiters.length === 0) process.stdin.pause();
}

/**
 * In a child: resolves with the rest of the first line from the parent
 * whose first word is `word` ('' when the line is the word alone). Lines
 * nobody waits for yet are kept for a later call.
 */
export function parentLine(word: string): Promise<string> {
  return new Promise((resolve, reject) => {
    parentInput.waiters.push({ word, resolve, reject });
    if (process.stdin.listenerCount('data') === 0) {
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (chunk: string) => {
        const lines = (parentInput.text + chunk).split('\n');
        parentInput.text = lines.pop()!;
        parentInput.lines.push(...lines);
        deliverParentLines();
      });
      process.stdin.once('end', () => {
        for (const waiter of parentInput.waiters.splice(0)) waiter.reject(new Error(`stdin closed before the ${waiter.word} line`));
      });
    }
    process.stdin.resume();
    deliverParentLines();
  });
}

/** In a child: resolves when the parent sends GO_LINE, with what follows it on the line ('' for a bare go). */
export function waitForGo(): Promise<string> {
  return parentLine(GO_LINE);
}

export interface ReadyChild<Result> {
  /** Resolves when the child printed READY_LINE; rejects if it exits first. */
  ready: Promise<void>;
  /** The JSON of the last line the child printed, once it exited 0. */
  result: Promise<Result>;
  /** Sends GO_LINE to the child's stdin, with `word` after it when given. */
  go(word?: string): void;
  /** Sends one line to the child's stdin (read there with parentLine). */
  send(line: string): void;
  kill(): void;
}

export interface ReadyChildOptions {
  /** Called with each whole line the child prints on stdout, READY_LINE and the result line included. */
  onLine?: (line: string) => void;
}

export function startReadyChild<Result>(script: string, job: unknown, timeoutMs: number, options: ReadyChildOptions = {}): ReadyChild<Result> {
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
  let unfinishedLine = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes(`${READY_LINE}\n`)) markReady();
    if (options.onLine === undefined) return;
    const lines = (unfinishedLine + chunk).split('\n');
    unfinishedLine = lines.pop()!;
    for (const line of lines) options.onLine(line);
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
  const send = (line: string): void => void child.stdin.write(`${line}\n`);
  return { ready, result, go: (word) => send(word === undefined ? GO_LINE : `${GO_LINE} ${word}`), send, kill: () => child.kill('SIGKILL') };
}
