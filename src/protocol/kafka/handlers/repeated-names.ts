/**
 * Kafka refuses a request that names the same topic (or config resource)
 * twice: every entry with that name is answered INVALID_REQUEST, the others
 * are carried out. The admin handlers share this check.
 */

import { FerryError } from '../../../errors.js';

/** A check for one entry of `entries`: throws INVALID_REQUEST when its key occurs more than once in the request. */
export function refuseRepeatedNames<T>(entries: readonly T[], keyOf: (entry: T) => string, what: string): (entry: T) => void {
  const counts = new Map<string, number>();
  for (const entry of entries) counts.set(keyOf(entry), (counts.get(keyOf(entry)) ?? 0) + 1);
  return (entry) => {
    const key = keyOf(entry);
    if (counts.get(key)! > 1) throw new FerryError('INVALID_REQUEST', `${what} ${key} is named more than once in the request`);
  };
}
