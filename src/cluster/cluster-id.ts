/**
 * The cluster's id, shared by every broker of it: the first broker to join
 * creates `/ferry/<cluster>/cluster-id` (a transaction that puts the key only
 * if its create revision is 0, so two brokers starting together cannot both
 * win), and every broker, that one included, adopts what the key holds.
 *
 * A broker proposes the id its data directory already holds, so a single
 * broker's data moves into cluster mode with its id; a new data directory
 * proposes a new random id. Whether a data directory may join is decided
 * when the broker opens it (MetadataStore, InconsistentClusterIdError).
 */

import type { Etcd3 } from 'etcd3';
import { decodeClusterId, type ClusterKeys } from './keys.js';

export async function claimClusterId(client: Etcd3, keys: ClusterKeys, proposedId: string): Promise<{ clusterId: string; created: boolean }> {
  decodeClusterId('the proposed cluster id', proposedId);
  const result = await client
    .if(keys.clusterId, 'Create', '==', 0)
    .then(client.put(keys.clusterId).value(proposedId))
    .else(client.get(keys.clusterId))
    .commit();
  if (result.succeeded) return { clusterId: proposedId, created: true };
  const stored = result.responses[0]?.response_range.kvs[0];
  if (!stored) throw new Error(`${keys.clusterId} exists but reads empty`);
  return { clusterId: decodeClusterId(keys.clusterId, stored.value.toString()), created: false };
}
