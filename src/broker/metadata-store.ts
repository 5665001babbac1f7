/**
 * The broker's metadata: cluster id and topics (id, partition count, configs
 * as set by the user), in `<data-dir>/ferry-metadata.json`, rewritten
 * atomically and durably on every change. Partition logs live beside it in
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
}

interface MetadataFile {
  version: number;
  clusterId: string;
  topics: TopicMetadata[];
}

/** A Kafka-style id: 16 random bytes as unpadded base64url. */
export function newKafkaId(): string {
  return randomBytes(16).toString('base64url');
}

export class MetadataStore {
  private readonly topicsByName = new Map<string, TopicMetadata>();

  private constructor(
    private readonly file: string,
    readonly clusterId: string,
    topics: readonly TopicMetadata[],
  ) {
    for (const topic of topics) this.topicsByName.set(topic.name, topic);
  }

  /** Loads the metadata of `dataDir`, creating it (with a new cluster id) on first start. */
  static open(dataDir: string): MetadataStore {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, METADATA_FILE_NAME);
    if (!fs.existsSync(file)) {
      const store = new MetadataStore(file, newKafkaId(), []);
      store.save();
      return store;
    }
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as MetadataFile;
    if (parsed.version !== FORMAT_VERSION) throw new Error(`${file}: metadata format version ${parsed.version}, this broker reads ${FORMAT_VERSION}`);
    return new MetadataStore(file, parsed.clusterId, parsed.topics);
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
    const contents: MetadataFile = { version: FORMAT_VERSION, clusterId: this.clusterId, topics: this.topics() };
    writeFileDurably(this.file, `${JSON.stringify(contents, null, 2)}\n`);
  }
}
