/**
 * How every bench suite runs its load generator: a TypeScript script in a
 * child process (`node --import tsx <script> '<job as JSON>'`), so the
 * client's CPU is not counted against the broker's event loop in the bench
 * process. The script prints its result as one JSON line, last on stdout;
 * stderr is kept (its tail) for the error message if the child fails. A
 * child that has not finished within its timeout (CHILD_TIMEOUT_MS unless
 * the suite says otherwise) is killed.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** A child that has not answered within this long is killed and the run fails. */
export const CHILD_TIMEOUT_MS = 180_000;
const STDERR_TAIL_CHARS = 2000;

/** Runs `script` with `job`; resolves with the JSON of the last line it printed. */
export function runLoadScript<Result>(script: string, job: unknown, timeoutMs = CHILD_TIMEOUT_MS): Promise<Result> {
  const name = path.basename(script, '.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(job)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0) {
        reject(new Error(`${name} exited ${code ?? signal}: ${stderr.trim() || line.slice(0, 200)}`));
        return;
      }
      try {
        resolve(JSON.parse(line) as Result);
      } catch (error) {
        reject(new Error(`${name} printed no result line (${(error as Error).message}): ${line.slice(0, 200)}`));
      }
    });
  });
}
