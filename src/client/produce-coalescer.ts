/**
 * Merges the produce() calls made in one turn of the event loop into one
 * request per (topic, partition, acks), as a Kafka producer with linger.ms=0
 * batches what accumulates while it is busy: an application producing one
 * record per call at a high rate (an open-loop sender that wakes every
 * millisecond and sends what is due) costs the broker one frame, one append
 * and one answer per turn instead of per record. Nothing waits for a timer:
 * the merged request goes out in a microtask, before any I/O.
 *
 * Records keep their call order within a (topic, partition, acks). As in a
 * Kafka batch, the merged request succeeds or fails whole: every call merged
 * into it gets the error. A merge stops at `bytesMax` of values and keys, so
 * a merged request stays one frame's worth.
 */

import type { ProducedResult, WireAcks } from '../protocol/ws/protocol.js';
import type { ProduceInput } from './record.js';

/** Where merged records go: `partition` null means JSON produce (the broker partitions each record). */
export interface ProduceTarget {
  topic: string;
  partition: number | null;
  acks: WireAcks | undefined;
}

interface Caller {
  records: readonly ProduceInput[];
  resolve(results: ProducedResult[]): void;
  reject(error: unknown): void;
}

interface Merge {
  target: ProduceTarget;
  callers: Caller[];
  recordCount: number;
  bytes: number;
}

export class ProduceCoalescer {
  /** The merge still open per target key; closed ones are in `ready`. */
  private readonly open = new Map<string, Merge>();
  private readonly ready: Merge[] = [];
  private scheduled = false;

  constructor(
    private readonly send: (target: ProduceTarget, records: readonly ProduceInput[]) => Promise<ProducedResult[]>,
    private readonly bytesMax: number,
  ) {}

  add(target: ProduceTarget, records: readonly ProduceInput[]): Promise<ProducedResult[]> {
    const key = `${String(target.acks)}\u0000${target.partition ?? 'json'}\u0000${target.topic}`;
    const bytes = estimatedBytes(records);
    let merge = this.open.get(key);
    if (merge !== undefined && merge.bytes + bytes > this.bytesMax) {
      this.open.delete(key);
      merge = undefined;
    }
    if (merge === undefined) {
      merge = { target, callers: [], recordCount: 0, bytes: 0 };
      this.open.set(key, merge);
      this.ready.push(merge);
    }
    merge.bytes += bytes;
    merge.recordCount += records.length;
    const promise = new Promise<ProducedResult[]>((resolve, reject) => merge.callers.push({ records, resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
    return promise;
  }

  private flush(): void {
    this.scheduled = false;
    this.open.clear();
    for (const merge of this.ready.splice(0)) void this.sendMerge(merge);
  }

  private async sendMerge(merge: Merge): Promise<void> {
    const { callers } = merge;
    let results: ProducedResult[];
    try {
      results = await this.send(merge.target, callers.length === 1 ? callers[0]!.records : concatenated(callers, merge.recordCount));
    } catch (error) {
      for (const caller of callers) caller.reject(error);
      return;
    }
    if (callers.length === 1) {
      callers[0]!.resolve(results);
      return;
    }
    let at = 0;
    for (const caller of callers) {
      caller.resolve(results.slice(at, at + caller.records.length));
      at += caller.records.length;
    }
  }
}

function concatenated(callers: readonly Caller[], recordCount: number): ProduceInput[] {
  const records: ProduceInput[] = new Array(recordCount);
  let at = 0;
  for (const caller of callers) for (const record of caller.records) records[at++] = record;
  return records;
}

/** Value and key sizes (a string's length for text: a bound good enough for splitting merges). */
function estimatedBytes(records: readonly ProduceInput[]): number {
  let bytes = 0;
  for (const record of records) bytes += sizeOf(record.value) + sizeOf(record.key);
  return bytes;
}

function sizeOf(value: ProduceInput['value']): number {
  return value === null || value === undefined ? 0 : value.length;
}
