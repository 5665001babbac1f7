/**
 * All partition logs of one data directory, and their upkeep.
 *
 * Layout, as Kafka's: `<dataDir>/<topic>-<partition>/` per partition log.
 * The manager opens (and, after an unclean stop, recovers) every log found
 * there, hands out logs by topic and partition, and runs the background work
 * Kafka's log manager runs on timers: retention, compaction (in the storage
 * pool, one log at a time) and recovery-point checkpoints. Topic configs are
 * the broker's business: the manager asks `configFor(topic)`.
 */

import fs from 'node:fs';
import path from 'node:path';
import { FerryError } from '../errors.js';
import type { LogConfig } from './log-config.js';
import { PartitionLog } from './partition-log.js';
import type { StorageTasks } from './storage-pool.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';

export interface LogManagerOptions {
  dataDir: string;
  configFor: (topic: string) => LogConfig;
  tasks?: StorageTasks;
  clock?: () => number;
  /** log.retention.check.interval.ms */
  retentionCheckIntervalMs?: number;
  /** log.cleaner.backoff.ms: pause between compaction passes. */
  cleanerIntervalMs?: number;
  /** log.flush.offset.checkpoint.interval.ms */
  checkpointIntervalMs?: number;
  /** The data directory's lock, when the caller took it first (before reading its own files there). */
  lock?: DataDirLock;
  /** producer.id.expiration.ms, for every log. */
  producerIdExpirationMs?: number;
  /** producer.id.expiration.check.interval.ms */
  producerExpirationCheckIntervalMs?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

const PARTITION_DIR = /^(.+)-(\d+)$/;
/** Kafka's legal topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's topic naming rule: 1 to 249 of [a-zA-Z0-9._-], and not "." or "..". */
export function validateTopicName(topic: string): void {
  if (!TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    throw new FerryError('INVALID_TOPIC_EXCEPTION', `invalid topic name ${JSON.stringify(topic)}: use 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'`);
  }
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class LogManager {
  private readonly logs = new Map<string, PartitionLog>();
  private readonly opening = new Map<string, Promise<PartitionLog>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private cleaning = false;
  private closed = false;

  private constructor(
    private readonly options: LogManagerOptions,
    private readonly lock: DataDirLock,
  ) {}

  /** Opens every partition log under the data directory, recovering those that were not closed cleanly. */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    fs.mkdirSync(options.dataDir, { recursive: true });
    const manager = new LogManager(options, options.lock ?? lockDataDir(options.dataDir));
    for (const entry of fs.readdirSync(options.dataDir, { withFileTypes: true })) {
      const match = entry.isDirectory() ? PARTITION_DIR.exec(entry.name) : null;
      if (match) await manager.getOrCreate(match[1]!, Number(match[2]));
    }
    manager.startTimers();
    return manager;
  }

  get partitions(): TopicPartition[] {
    return [...this.logs.keys()].map((name) => {
      const match = PARTITION_DIR.exec(name)!;
      return { topic: match[1]!, partition: Number(match[2]) };
    });
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionDirName(topic, partition));
  }

  /** The log of a partition, created empty if it does not exist yet. */
  async getOrCreate(topic: string, partition: number): Promise<PartitionLog> {
    validateTopicName(topic);
    if (!Number.isSafeInteger(partition) || partition < 0) throw new FerryError('UNKNOWN_TOPIC_OR_PARTITION', `invalid partition ${partition}`);
    const name = partitionDirName(topic, partition);
    const existing = this.logs.get(name);
    if (existing) return existing;
    let pending = this.opening.get(name);
    if (!pending) {
      pending = PartitionLog.open({
        dir: path.join(this.options.dataDir, name),
        config: this.options.configFor(topic),
        ...(this.options.tasks ? { tasks: this.options.tasks } : {}),
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        ...(this.options.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: this.options.producerIdExpirationMs } : {}),
      });
      this.opening.set(name, pending);
    }
    try {
      const log = await pending;
      this.logs.set(name, log);
      return log;
    } finally {
      this.opening.delete(name);
    }
  }

  /** Closes and removes a partition's log and files. */
  async delete(topic: string, partition: number): Promise<void> {
    const name = partitionDirName(topic, partition);
    const log = this.logs.get(name);
    if (!log) return;
    this.logs.delete(name);
    await log.close();
    fs.rmSync(log.dir, { recursive: true, force: true });
  }

  /** One retention pass over every log. */
  enforceRetention(): number {
    let deleted = 0;
    for (const log of this.logs.values()) deleted += log.enforceRetention().deletedSegments;
    return deleted;
  }

  /** One compaction pass, one log at a time so the pool never holds more than one cleaning job. */
  async compactAll(): Promise<void> {
    if (this.cleaning) return;
    this.cleaning = true;
    try {
      for (const log of [...this.logs.values()]) {
        if (this.closed) break;
        if (log.config.cleanupCompact) await log.compact();
      }
    } finally {
      this.cleaning = false;
    }
  }

  /** Forgets idempotent producers silent for producer.id.expiration.ms, in every log. */
  expireProducers(): number {
    let expired = 0;
    for (const log of this.logs.values()) expired += log.expireProducers();
    return expired;
  }

  checkpointAll(): void {
    for (const log of this.logs.values()) log.saveCheckpoint(false);
  }

  private startTimers(): void {
    const every = (intervalMs: number | undefined, fallbackMs: number, work: () => unknown): void => {
      const timer = setInterval(() => {
        if (this.closed) return;
        Promise.resolve()
          .then(work)
          .catch((error: unknown) => process.emitWarning(`ferry storage upkeep failed: ${(error as Error).message}`));
      }, intervalMs ?? fallbackMs);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.retentionCheckIntervalMs, 300_000, () => this.enforceRetention());
    every(this.options.cleanerIntervalMs, 15_000, () => this.compactAll());
    every(this.options.checkpointIntervalMs, 60_000, () => this.checkpointAll());
    every(this.options.producerExpirationCheckIntervalMs, 600_000, () => this.expireProducers());
  }

  /** Flushes and closes every log (each marks its shutdown clean). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await closeEach([...this.logs.values()]);
    this.logs.clear();
    this.lock.release();
  }
}

/**
 * Logs closing at once. A closing log holds its .log open and, while it syncs
 * them, a descriptor of each index file: every log of a broker at once would
 * need three descriptors per partition (10,000 partitions ran out at close).
 * The syncs run in libuv's few threads anyway, so a bound costs no time.
 */
const LOGS_CLOSING_AT_ONCE = 32;

/** Closes every log, LOGS_CLOSING_AT_ONCE at a time; one failing does not stop the others. Throws the first failure once all are done. */
async function closeEach(logs: readonly PartitionLog[]): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const closeNext = async (): Promise<void> => {
    while (next < logs.length) {
      const log = logs[next++]!;
      await log.close().catch((error: unknown) => failures.push(error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOGS_CLOSING_AT_ONCE, logs.length) }, closeNext));
  if (failures.length > 0) throw failures[0];
}
