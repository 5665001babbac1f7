/**
 * One broker per data directory. Two processes appending to the same logs
 * would corrupt them, so the log manager holds an exclusive flock(2) on
 * `<data-dir>/.lock` (Kafka's name for the same guard) while it is open. The
 * kernel drops the lock when the process dies, so a kill -9 never leaves a
 * stale lock behind.
 */

import fs from 'node:fs';
import path from 'node:path';
import { native } from './native.js';

export const DATA_DIR_LOCK_FILE_NAME = '.lock';

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, DATA_DIR_LOCK_FILE_NAME);
  const fd = fs.openSync(file, 'a');
  if (!native) {
    process.emitWarning(`native addon not loaded: ${file} is not locked, so nothing stops a second broker on this data directory`);
  } else if (!native.lockExclusive(fd)) {
    fs.closeSync(fd);
    throw new Error(`data directory ${dataDir} is in use by another Ferry process (it holds ${file})`);
  }
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      fs.closeSync(fd);
    },
  };
}
