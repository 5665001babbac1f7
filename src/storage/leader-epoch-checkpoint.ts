/**
 * The `leader-epoch-checkpoint` file of a partition directory, in Kafka's
 * text layout (LeaderEpochCheckpointFile), so tools that read Kafka's read it:
 *
 *   0                        format version
 *   <count>                  number of entries
 *   <epoch> <startOffset>    count lines, epochs and offsets ascending
 *
 * Written atomically (temp file, fdatasync, rename, directory fsync). A file
 * that is missing, torn or not in this layout reads as null: the caller
 * rebuilds the entries from the batch headers.
 */

import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from './file-io.js';
import { LEADER_EPOCH_CHECKPOINT_FILE_NAME } from './segment-files.js';

export const LEADER_EPOCH_CHECKPOINT_VERSION = 0;
/** Entries a file may declare: far more epochs than a partition ever sees, small enough to bound a corrupt count. */
export const LEADER_EPOCH_ENTRIES_MAX = 1_000_000;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export function leaderEpochCheckpointPath(dir: string): string {
  return path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE_NAME);
}

export function encodeLeaderEpochCheckpoint(entries: readonly EpochEntry[]): string {
  const lines = [String(LEADER_EPOCH_CHECKPOINT_VERSION), String(entries.length)];
  for (const entry of entries) lines.push(`${entry.epoch} ${entry.startOffset}`);
  return `${lines.join('\n')}\n`;
}

/** The entries in `text`, or null when it is not a whole file of this layout. */
export function decodeLeaderEpochCheckpoint(text: string): EpochEntry[] | null {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== String(LEADER_EPOCH_CHECKPOINT_VERSION)) return null;
  const count = wholeNumber(lines[1]);
  if (count === null || count > LEADER_EPOCH_ENTRIES_MAX || lines.length !== count + 2) return null;
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const [epochText, offsetText, extra] = line.split(' ');
    const epoch = wholeNumber(epochText);
    const startOffset = wholeNumber(offsetText);
    if (epoch === null || startOffset === null || extra !== undefined) return null;
    const previous = entries.at(-1);
    if (previous && (epoch <= previous.epoch || startOffset < previous.startOffset)) return null;
    entries.push({ epoch, startOffset });
  }
  return entries;
}

export function readLeaderEpochCheckpoint(dir: string): EpochEntry[] | null {
  let text: string;
  try {
    text = fs.readFileSync(leaderEpochCheckpointPath(dir), 'utf8');
  } catch {
    return null;
  }
  return decodeLeaderEpochCheckpoint(text);
}

export function writeLeaderEpochCheckpoint(dir: string, entries: readonly EpochEntry[]): void {
  writeFileDurably(leaderEpochCheckpointPath(dir), encodeLeaderEpochCheckpoint(entries));
}

function wholeNumber(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}
