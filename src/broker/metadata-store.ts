/**
 * The broker's metadata: cluster id, topics (id, partition count, configs
 * as set by the user) and the end of the last block of producer ids handed
 * out, in `<data-dir>/ferry-metadata.json`, rewritten atomically and durably
 * on every change. Partition logs live beside it in
 * `<topic>-<partition>/` directories; this file says which of them are topics.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../storage/file-io.js';

export const METADATA_FILE_NAME = 'ferry-metadata.json';
const FORMAT_VERSION = 1;

export interface TopicMetadata {
  name: string;
  /** Kafka's Uuid text form: 16 random bytes, base64url, 22 characters. */
  topicId: string;
  partitions: number;
  /** Topic configs set explicitly (Kafka names, string values); the rest are defaults. */
  configs: Record<string, string>;
  /**
   * Cluster mode: the topic came from the cluster's record, so the record's
   * absence later means the topic was deleted. A topic this data directory
   * held from single-node days lacks it, and is never deleted for that.
   */
  placedByCluster?: boolean;
}

interface MetadataFile {
  version: number;
  clusterId: string;
  topics: TopicMetadata[];
  /** Producer ids below this were reserved (handed out or skipped); absent in files from before producer ids. */
  producerIdBlockEnd?: number;
}

/** A range of producer ids reserved durably: [start, end). */
export interface ProducerIdBlock {
  start: number;
  end: number;
}

/** A Kafka-style id: 16 random bytes as unpadded base64url. */
export function newKafkaId(): string {
  return randomBytes(16).toString('base64url');
}

/** A data directory that belongs to another cluster than the one it is asked to join (Kafka's InconsistentClusterIdException). */
export class InconsistentClusterIdError extends Error {
  constructor(
    readonly file: string,
    readonly storedClusterId: string,
    readonly expectedClusterId: string,
  ) {
    super(`InconsistentClusterIdException: ${file} holds cluster id ${storedClusterId}, but the cluster being joined has id ${expectedClusterId}; this data directory belongs to another cluster (start the broker on an empty data directory to join this one)`);
  }
}

export class MetadataStore {
  private readonly topicsByName = new Map<string, TopicMetadata>();

  private constructor(
    private readonly file: string,
    readonly clusterId: string,
    topics: readonly TopicMetadata[],
    private producerIdBlockEnd = 0,
  ) {
    for (const topic of topics) this.topicsByName.set(topic.name, topic);
  }

  /**
   * Loads the metadata of `dataDir`, creating it on first start with
   * `clusterId` (cluster mode: the cluster's id from etcd) or a new random
   * id. A directory that exists with another id than `clusterId` is refused.
   */
  static open(dataDir: string, clusterId?: string): MetadataStore {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, METADATA_FILE_NAME);
    if (!fs.existsSync(file)) {
      const store = new MetadataStore(file, clusterId ?? newKafkaId(), []);
      store.save();
      return store;
    }
    const parsed = readMetadataFile(file);
    if (clusterId !== undefined && parsed.clusterId !== clusterId) throw new InconsistentClusterIdError(file, parsed.clusterId, clusterId);
    const blockEnd = parsed.producerIdBlockEnd ?? 0;
    if (!Number.isSafeInteger(blockEnd) || blockEnd < 0) throw new Error(`${file}: producerIdBlockEnd ${blockEnd} is not a non-negative integer`);
    return new MetadataStore(file, parsed.clusterId, parsed.topics, blockEnd);
  }

  /**
   * The cluster id `dataDir` holds, null when it has none yet. Read without
   * the data-dir lock: only a proposal for etcd, which `open` checks again.
   */
  static peekClusterId(dataDir: string): string | null {
    const file = path.join(dataDir, METADATA_FILE_NAME);
    return fs.existsSync(file) ? readMetadataFile(file).clusterId : null;
  }

  /**
   * Reserves the next `count` producer ids, durably before returning, so no
   * id is ever handed out twice, across restarts included (ids of a block
   * not used up before a restart are skipped, as Kafka skips them).
   */
  reserveProducerIds(count: number): ProducerIdBlock {
    const block = { start: this.producerIdBlockEnd, end: this.producerIdBlockEnd + count };
    this.producerIdBlockEnd = block.end;
    try {
      this.save();
    } catch (error) {
      this.producerIdBlockEnd = block.start;
      throw error;
    }
    return block;
  }

  /** Whether `producerId` was ever reserved here (and so may have been handed out). */
  producerIdReserved(producerId: number): boolean {
    return producerId >= 0 && producerId < this.producerIdBlockEnd;
  }

  topics(): TopicMetadata[] {
    return [...this.topicsByName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): TopicMetadata | undefined {
    return this.topicsByName.get(name);
  }

  put(topic: TopicMetadata): void {
    this.topicsByName.set(topic.name, topic);
    this.save();
  }

  remove(name: string): void {
    if (this.topicsByName.delete(name)) this.save();
  }

  private save(): void {
    const contents: MetadataFile = { version: FORMAT_VERSION, clusterId: this.clusterId, topics: this.topics(), producerIdBlockEnd: this.producerIdBlockEnd };
    writeFileDurably(this.file, `${JSON.stringify(contents, null, 2)}\n`);
  }
}

function readMetadataFile(file: string): MetadataFile {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as MetadataFile;
  if (parsed.version !== FORMAT_VERSION) throw new Error(`${file}: metadata format version ${parsed.version}, this broker reads ${FORMAT_VERSION}`);
  if (typeof parsed.clusterId !== 'string' || parsed.clusterId === '') throw new Error(`${file}: no cluster id`);
  return parsed;
}
