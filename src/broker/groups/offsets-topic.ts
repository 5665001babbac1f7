/**
 * Where groups persist: the compacted internal topic __consumer_offsets,
 * created on first need. A group's records all go to one partition, chosen
 * as Kafka chooses it, so one append (one batch) carries a whole commit and
 * the log order is the commit order. Appends go through the storage engine
 * like any produce; a commit is acknowledged only after its append returned.
 * At open, every partition is read from its start to rebuild the groups
 * (a single node); in a cluster each partition is read when this broker
 * comes to lead it. Appends wait for every in-sync replica (Kafka's
 * offsets.commit.required.acks=-1); a partition this broker no longer leads
 * is NOT_COORDINATOR, too few replicas COORDINATOR_NOT_AVAILABLE, as Kafka
 * answers a commit.
 */

import type { Broker } from '../broker.js';
import { FerryError } from '../../errors.js';
import { buildBatch } from '../../storage/batch-builder.js';
import { LOAD_READ_BYTES, OFFSETS_TOPIC } from './limits.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { offsetsPartitionFor } from './offsets-topic-records.js';

export interface OffsetsTopicRecord {
  key: Buffer;
  /** Null: a tombstone. */
  value: Buffer | null;
}

export class OffsetsTopic {
  private partitions: number | null = null;
  private creating: Promise<number> | null = null;

  constructor(
    private readonly broker: Broker,
    /** offsets.topic.num.partitions, used only when the topic is created. */
    private readonly partitionsWhenCreated: number,
    private readonly now: () => number,
  ) {}

  /** The partition count once known (loaded or created); null before. */
  get partitionCount(): number | null {
    return this.partitions;
  }

  /** Appends the records as one batch to the group's partition, resolving once stored. */
  async append(groupId: string, records: readonly OffsetsTopicRecord[]): Promise<void> {
    if (records.length === 0) return;
    const timestamp = BigInt(this.now());
    const batch = buildBatch(records.map((record) => ({ key: record.key, value: record.value, timestamp })));
    try {
      await this.appendMapped(offsetsPartitionFor(groupId, this.partitions ?? (await this.ensureTopic())), batch);
    } catch (error) {
      if (!(error instanceof FerryError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION')) throw error;
      // Someone deleted __consumer_offsets: make it again, once.
      this.partitions = null;
      await this.appendMapped(offsetsPartitionFor(groupId, await this.ensureTopic()), batch);
    }
  }

  /** The append, its replication errors told as a coordinator's. */
  private async appendMapped(partition: number, batch: Buffer): Promise<void> {
    try {
      await this.broker.appendInternal(OFFSETS_TOPIC, partition, batch);
    } catch (error) {
      if (!(error instanceof FerryError)) throw error;
      const name = error.errorName;
      if (name === 'NOT_LEADER_OR_FOLLOWER' || name === 'LEADER_NOT_AVAILABLE' || name === 'FENCED_LEADER_EPOCH') throw new FerryError('NOT_COORDINATOR', error.message);
      if (name === 'NOT_ENOUGH_REPLICAS' || name === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' || name === 'REQUEST_TIMED_OUT') throw new FerryError('COORDINATOR_NOT_AVAILABLE', error.message);
      throw error;
    }
  }

  /** Every record of the topic, partition by partition in log order; nothing when it does not exist yet. */
  load(visit: (record: OffsetsTopicRecord) => void): void {
    const partitions = this.existingPartitions();
    if (partitions === null) return;
    this.partitions = partitions;
    for (let partition = 0; partition < partitions; partition++) readLog(this.broker.log(OFFSETS_TOPIC, partition), visit);
  }

  /**
   * Every record of one partition in log order (cluster mode: a partition
   * this broker has come to lead), one read of LOAD_READ_BYTES per event-loop
   * turn; stops early once `goOn()` says the load is no longer wanted.
   */
  async loadPartition(partition: number, partitions: number, visit: (record: OffsetsTopicRecord) => void, goOn: () => boolean): Promise<void> {
    this.partitions = partitions;
    const log = this.broker.log(OFFSETS_TOPIC, partition);
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset && goOn()) {
      offset = readSlice(log, offset, visit);
      await yieldTurn();
    }
  }

  private existingPartitions(): number | null {
    try {
      return this.broker.describeTopic(OFFSETS_TOPIC).partitions.length;
    } catch (error) {
      if (error instanceof FerryError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
      throw error;
    }
  }

  ensureTopic(): Promise<number> {
    this.creating ??= this.createTopic().finally(() => {
      this.creating = null;
    });
    return this.creating;
  }

  private async createTopic(): Promise<number> {
    let partitions = this.existingPartitions();
    if (partitions === null) {
      const created = await this.broker.createTopic(OFFSETS_TOPIC, { partitions: this.partitionsWhenCreated, configs: { 'cleanup.policy': 'compact' } });
      partitions = created.partitions.length;
    }
    this.partitions = partitions;
    return partitions;
  }
}

/** Synchronous, from the log start to its end (a single node's open, before it serves anything). */
function readLog(log: PartitionLog, visit: (record: OffsetsTopicRecord) => void): void {
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const next = readSlice(log, offset, visit);
    if (next <= offset) break;
    offset = next;
  }
}

/** One read of LOAD_READ_BYTES from `offset`; returns where the next starts (the log end when nothing more could be read). */
function readSlice(log: PartitionLog, offset: number, visit: (record: OffsetsTopicRecord) => void): number {
  const read = log.readRecords(offset, LOAD_READ_BYTES);
  for (const record of read.records) if (record.key) visit({ key: record.key, value: record.value });
  return read.nextOffset > offset ? read.nextOffset : log.logEndOffset;
}
