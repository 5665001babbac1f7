/**
 * The live brokers of a cluster as etcd holds them: every key under
 * `/ferry/<cluster>/brokers/`. `listBrokers` reads them once;
 * `BrokerDirectory` keeps the set current from a watch that starts right
 * after the revision of its first read, so no change falls between the two.
 */

import { watchPrefix } from './prefix-watch.js';
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { decodeRegistration, type BrokerRegistration, type ClusterKeys } from './keys.js';

export async function listBrokers(client: Etcd3, keys: ClusterKeys): Promise<BrokerRegistration[]> {
  const { brokers } = await readBrokers(client, keys);
  return sortedById(brokers.values());
}

async function readBrokers(client: Etcd3, keys: ClusterKeys): Promise<{ brokers: Map<string, BrokerRegistration>; revision: string }> {
  const response = await client.getAll().prefix(keys.brokersPrefix).exec();
  const brokers = new Map<string, BrokerRegistration>();
  for (const kv of response.kvs) brokers.set(kv.key.toString(), decodeRegistration(kv.key.toString(), kv.value.toString()));
  return { brokers, revision: response.header.revision };
}

function sortedById(brokers: Iterable<BrokerRegistration>): BrokerRegistration[] {
  return [...brokers].sort((a, b) => a.id - b.id);
}

interface DirectoryEvents {
  /** The set of live brokers changed; the new set, by id. */
  change: [brokers: BrokerRegistration[]];
}

export class BrokerDirectory extends EventEmitter<DirectoryEvents> {
  private watcher: Watcher | null = null;

  private constructor(private readonly brokersByKey: Map<string, BrokerRegistration>) {
    super();
  }

  static async open(client: Etcd3, keys: ClusterKeys, logger: Logger): Promise<BrokerDirectory> {
    const { brokers, revision } = await readBrokers(client, keys);
    const directory = new BrokerDirectory(brokers);
    directory.watcher = await watchPrefix(client, keys.brokersPrefix, revision, (kv) => directory.put(kv, logger), (kv) => directory.delete(kv), logger);
    return directory;
  }

  get brokers(): BrokerRegistration[] {
    return sortedById(this.brokersByKey.values());
  }

  async close(): Promise<void> {
    this.removeAllListeners();
    await this.watcher?.cancel();
  }

  private put(kv: IKeyValue, logger: Logger): void {
    const key = kv.key.toString();
    try {
      this.brokersByKey.set(key, decodeRegistration(key, kv.value.toString()));
    } catch (error) {
      logger.error({ error: (error as Error).message }, 'ignoring a bad broker registration');
      return;
    }
    this.emit('change', this.brokers);
  }

  private delete(kv: IKeyValue): void {
    if (this.brokersByKey.delete(kv.key.toString())) this.emit('change', this.brokers);
  }
}
