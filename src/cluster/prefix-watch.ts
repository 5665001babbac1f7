/**
 * The one way this folder follows a key prefix in etcd: a watch that starts
 * right after the revision of the read it continues, so no change between
 * the read and the watch is missed. etcd3 reconnects a broken watch by itself
 * and resumes from the last revision it delivered.
 */

import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';

export async function watchPrefix(
  client: Etcd3,
  prefix: string,
  afterRevision: string,
  onPut: (kv: IKeyValue) => void,
  onDelete: (kv: IKeyValue) => void,
  logger: Logger,
): Promise<Watcher> {
  const watcher = await client.watch().prefix(prefix).startRevision(String(BigInt(afterRevision) + 1n)).create();
  watcher.on('put', onPut);
  watcher.on('delete', onDelete);
  watcher.on('disconnected', (error) => logger.warn({ error: error.message, prefix }, 'etcd watch disconnected; reconnecting'));
  watcher.on('error', (error) => logger.error({ error: error.message, prefix }, 'etcd watch failed'));
  return watcher;
}
