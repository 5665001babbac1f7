/**
 * The per-partition checkpoint file: what a restart needs that the segment
 * files cannot say by themselves.
 *
 *   ferry-checkpoint v1
 *   logStartOffset <n>     advanced by retention and DeleteRecords
 *   recoveryPoint <n>      every offset below it was fdatasync'ed
 *   cleanShutdown <0|1>    1 only after a clean close flushed everything
 *
 * Written atomically (temp file, fdatasync, rename, directory fsync). A missing
 * or unreadable checkpoint means: recover everything.
 */

import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from './file-io.js';
import { CHECKPOINT_FILE_NAME } from './segment-files.js';

const HEADER = 'ferry-checkpoint v1';

export interface Checkpoint {
  logStartOffset: number;
  recoveryPoint: number;
  cleanShutdown: boolean;
}

export const EMPTY_CHECKPOINT: Readonly<Checkpoint> = Object.freeze({ logStartOffset: 0, recoveryPoint: 0, cleanShutdown: false });

export function readCheckpoint(dir: string): Checkpoint {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, CHECKPOINT_FILE_NAME), 'utf8');
  } catch {
    return { ...EMPTY_CHECKPOINT };
  }
  const lines = text.split('\n');
  if (lines[0] !== HEADER) return { ...EMPTY_CHECKPOINT };
  const fields = new Map(lines.slice(1).map((line) => line.split(' ') as [string, string]));
  const number = (name: string): number => {
    const value = Number(fields.get(name));
    return Number.isSafeInteger(value) && value >= 0 ? value : 0;
  };
  return { logStartOffset: number('logStartOffset'), recoveryPoint: number('recoveryPoint'), cleanShutdown: fields.get('cleanShutdown') === '1' };
}

export function writeCheckpoint(dir: string, checkpoint: Checkpoint): void {
  const text = `${HEADER}\nlogStartOffset ${checkpoint.logStartOffset}\nrecoveryPoint ${checkpoint.recoveryPoint}\ncleanShutdown ${checkpoint.cleanShutdown ? 1 : 0}\n`;
  writeFileDurably(path.join(dir, CHECKPOINT_FILE_NAME), text);
}
