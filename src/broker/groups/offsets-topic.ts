/**
 * Where groups persist: the compacted internal topic __consumer_offsets,
 * created on first need. A group's records all go to one partition, chosen
 * as Kafka chooses it, so one append (one batch) carries a whole commit and
 * the log order is the commit order. Appends go through the storage engine
 * like any produce; a commit is acknowledged only after its append returned.
 * At open, every partition is read from its start to rebuild the groups.
 */

import type { Broker } from '../broker.js';
import { FerryError } from '../../errors.js';
import { buildBatch } from '../../storage/batch-builder.js';
import { LOAD_READ_BYTES, OFFSETS_TOPIC } from './limits.js';
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

  /** Appends the records as one batch to the group's partition, resolving once stored. */
  async append(groupId: string, records: readonly OffsetsTopicRecord[]): Promise<void> {
    if (records.length === 0) return;
    const timestamp = BigInt(this.now());
    const batch = buildBatch(records.map((record) => ({ key: record.key, value: record.value, timestamp })));
    try {
      await this.broker.appendInternal(OFFSETS_TOPIC, offsetsPartitionFor(groupId, this.partitions ?? (await this.ensureTopic())), batch);
    } catch (error) {
      if (!(error instanceof FerryError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION')) throw error;
      // Someone deleted __consumer_offsets: make it again, once.
      this.partitions = null;
      await this.broker.appendInternal(OFFSETS_TOPIC, offsetsPartitionFor(groupId, await this.ensureTopic()), batch);
    }
  }

  /** Every record of the topic, partition by partition in log order; nothing when it does not exist yet. */
  load(visit: (record: OffsetsTopicRecord) => void): void {
    const partitions = this.existingPartitions();
    if (partitions === null) return;
    this.partitions = partitions;
    for (let partition = 0; partition < partitions; partition++) {
      const log = this.broker.log(OFFSETS_TOPIC, partition);
      let offset = log.logStartOffset;
      while (offset < log.logEndOffset) {
        const read = log.readRecords(offset, LOAD_READ_BYTES);
        for (const record of read.records) if (record.key) visit({ key: record.key, value: record.value });
        if (read.nextOffset <= offset) break;
        offset = read.nextOffset;
      }
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

  private ensureTopic(): Promise<number> {
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
