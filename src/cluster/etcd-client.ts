/**
 * The etcd client every cluster piece shares, with bounded waits: a call that
 * etcd does not answer fails after ETCD_CALL_TIMEOUT_MS instead of hanging a
 * broker's start, stop or a `ferry cluster` command. Streams (watches, lease
 * keep-alives) have no deadline; etcd3 reconnects them itself.
 */

import { Etcd3 } from 'etcd3';

export const ETCD_CALL_TIMEOUT_MS = 5_000;
export const ETCD_DIAL_TIMEOUT_MS = 5_000;

export function connectEtcd(endpoints: readonly string[]): Etcd3 {
  if (endpoints.length === 0) throw new Error('no etcd endpoint given');
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: ETCD_DIAL_TIMEOUT_MS,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + ETCD_CALL_TIMEOUT_MS }),
  });
}
