/**
 * `replication-offset-checkpoint` in the data directory (cluster mode): the
 * high watermark of every partition this broker holds a replica of, in
 * Kafka's text layout (ReplicationOffsetCheckpoint), so that a broker that
 * restarts and becomes leader at once starts from the high watermark it had,
 * not from the log start: consumers asking for `latest` are not sent back,
 * and the high watermark never appears to move backwards across a restart.
 *
 *   0                             format version
 *   <count>                       number of entries
 *   <topic> <partition> <offset>  count lines
 *
 * Written atomically every HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS (Kafka's
 * replica.high.watermark.checkpoint.interval.ms) and at a clean close. A
 * missing or unreadable file reads as empty: the high watermarks start at
 * the log start and the followers' fetches move them up again.
 */

import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../storage/file-io.js';

export const HIGH_WATERMARK_CHECKPOINT_FILE = 'replication-offset-checkpoint';
export const HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 5_000;
const VERSION = '0';

export interface PartitionHighWatermark {
  topic: string;
  partition: number;
  highWatermark: number;
}

/** By `topic/partition`; empty when the file is missing or not in the layout. */
export function readHighWatermarks(dataDir: string): Map<string, number> {
  const found = new Map<string, number>();
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, HIGH_WATERMARK_CHECKPOINT_FILE), 'utf8');
  } catch {
    return found;
  }
  const lines = text.split('\n').filter((line) => line.length > 0);
  if (lines[0] !== VERSION || Number(lines[1]) !== lines.length - 2) return found;
  for (const line of lines.slice(2)) {
    // Topic names hold no spaces (validateTopicName): the last two fields are numbers.
    const match = /^(\S+) (\d+) (\d+)$/.exec(line);
    if (!match) return new Map();
    found.set(`${match[1]}/${match[2]}`, Number(match[3]));
  }
  return found;
}

export function writeHighWatermarks(dataDir: string, entries: readonly PartitionHighWatermark[]): void {
  const lines = [VERSION, String(entries.length), ...entries.map((entry) => `${entry.topic} ${entry.partition} ${entry.highWatermark}`)];
  writeFileDurably(path.join(dataDir, HIGH_WATERMARK_CHECKPOINT_FILE), `${lines.join('\n')}\n`);
}
