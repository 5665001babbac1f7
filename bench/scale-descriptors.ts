/**
 * File descriptors for the scale runs: a broker with 10,000 sockets or
 * 10,000 partitions needs more than most shells' default `ulimit -n`. A run
 * says how many it needs; the soft limit is raised to the hard one when that
 * is enough (prlimit on this process; children inherit it), and otherwise
 * TooFewDescriptors names both numbers, before the broker hits EMFILE halfway.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const LIMITS_FILE = '/proc/self/limits';
const FD_DIR = '/proc/self/fd';

/** The run needs more open files than this process may have. */
export class TooFewDescriptors extends Error {}

export interface OpenFilesLimit {
  soft: number;
  hard: number;
}

/** RLIMIT_NOFILE of this process, from /proc (Linux). */
export function openFilesLimit(): OpenFilesLimit {
  const line = fs.readFileSync(LIMITS_FILE, 'utf8').split('\n').find((text) => text.startsWith('Max open files'));
  const match = line === undefined ? null : /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
  if (match === null) throw new Error(`no 'Max open files' line in ${LIMITS_FILE}`);
  const value = (text: string): number => (text === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text));
  return { soft: value(match[1]!), hard: value(match[2]!) };
}

/** Descriptors this process has open now. */
export function openDescriptorCount(): number {
  return fs.readdirSync(FD_DIR).length;
}

/** Makes sure `needed` descriptors can be open at once in this process, raising the soft limit if it must; throws with the numbers if it cannot. */
export function ensureOpenFiles(needed: number, what: string): OpenFilesLimit {
  let limit = openFilesLimit();
  if (limit.soft >= needed) return limit;
  if (limit.hard > limit.soft) {
    try {
      execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${limit.hard}:${limit.hard}`], { stdio: 'ignore' });
    } catch {
      // Checked below: the limit is what it is.
    }
    limit = openFilesLimit();
  }
  if (limit.soft < needed) {
    throw new TooFewDescriptors(`${what} needs about ${needed.toLocaleString('en-US')} open files, and this process may have ${limit.soft.toLocaleString('en-US')} (hard limit ${limit.hard.toLocaleString('en-US')}): raise it (ulimit -n ${needed}) before the run`);
  }
  return limit;
}
