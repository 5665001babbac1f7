/**
 * The fetch session cache's limits: a full cache evicts only idle sessions
 * (otherwise a new fetch goes sessionless), and a session cannot grow past
 * its partition cap.
 */

import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/errors.js';
import { FetchSessionCache, partitionKey, type SessionPartition } from '../../../src/protocol/kafka/fetch-sessions.js';
import { FETCH_SESSION_EVICTION_IDLE_MS, FETCH_SESSION_PARTITIONS_MAX } from '../../../src/protocol/kafka/limits.js';

function target(partition: number): SessionPartition {
  return { topic: 't', topicId: Buffer.alloc(16), partition, fetchOffset: 0, currentLeaderEpoch: -1, maxBytes: 1024, lastHighWatermark: -1, lastLogStartOffset: -1, lastErrorCode: -1 };
}

describe('FetchSessionCache', () => {
  it('when full, evicts the least recently used session only once it has been idle long enough', () => {
    let nowMs = 0;
    const cache = new FetchSessionCache(2, () => nowMs);
    const first = cache.open([target(0)])!;
    const second = cache.open([target(1)])!;
    expect(cache.open([target(2)])).toBeNull(); // both in use: no eviction, answered sessionless
    nowMs += FETCH_SESSION_EVICTION_IDLE_MS / 2;
    cache.resume(first.id, 1); // first used again; second is now the least recently used
    nowMs += FETCH_SESSION_EVICTION_IDLE_MS / 2 + 1;
    const third = cache.open([target(2)]);
    expect(third).not.toBeNull();
    expect(() => cache.resume(second.id, 1)).toThrow(FerryError);
    expect(cache.resume(first.id, 1).id).toBe(first.id); // the handler, not the cache, moves the epoch on
  });

  it('refuses to open or grow a session past its partition cap, closing it', () => {
    const cache = new FetchSessionCache();
    const many = Array.from({ length: FETCH_SESSION_PARTITIONS_MAX + 1 }, (_, i) => target(i));
    expect(cache.open(many)).toBeNull();
    const session = cache.open(many.slice(0, FETCH_SESSION_PARTITIONS_MAX))!;
    expect(() => cache.add(session, partitionKey('t', FETCH_SESSION_PARTITIONS_MAX), target(FETCH_SESSION_PARTITIONS_MAX))).toThrow(/would hold more than/);
    expect(() => cache.resume(session.id, 1)).toThrow(/not known/);
  });
});
