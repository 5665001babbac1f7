/**
 * The hand-written Fetch response encoder against the generic codec, its
 * reference: the same bytes for every version the door serves, over seeded
 * pseudo-random bodies shaped as the Fetch handler builds them; and it
 * refuses the tagged fields it does not write.
 */

import { describe, expect, it } from 'vitest';
import { API_KEY, findApi } from '../../../src/protocol/kafka/apis.js';
import { encodeFetchResponse, FETCH_CODEC_VERSIONS, type FetchResponseBody } from '../../../src/protocol/kafka/codec/fetch-codec.js';
import { encode } from '../../../src/protocol/kafka/codec/message-codec.js';
import { KafkaWriter } from '../../../src/protocol/kafka/codec/writer.js';
import { buildBatch } from '../../../src/storage/batch-builder.js';

const fetchApi = findApi(API_KEY.Fetch)!;
const VERSIONS = Array.from({ length: FETCH_CODEC_VERSIONS.max - FETCH_CODEC_VERSIONS.min + 1 }, (_, i) => FETCH_CODEC_VERSIONS.min + i);
const CASES_PER_VERSION = 40;

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(next: () => number, values: readonly T[]): T {
  return values[Math.floor(next() * values.length)]!;
}

const RECORD_SETS = [null, Buffer.alloc(0), buildBatch([{ value: Buffer.from('v') }]), buildBatch([{ value: Buffer.alloc(6000, 7) }])];

function randomBody(next: () => number): FetchResponseBody {
  return {
    throttleTimeMs: pick(next, [0, 250]),
    errorCode: pick(next, [0, 70]),
    sessionId: pick(next, [0, 12345]),
    responses: Array.from({ length: Math.floor(next() * 3) }, () => ({
      topic: pick(next, ['t', 'ünïcödé', 'x'.repeat(249)]),
      topicId: Buffer.from(Array.from({ length: 16 }, () => Math.floor(next() * 256))),
      partitions: Array.from({ length: Math.floor(next() * 3) }, () => ({
        partitionIndex: Math.floor(next() * 50),
        errorCode: pick(next, [0, 1, 3, 100]),
        highWatermark: pick(next, [-1n, 0n, 9_876_543_210n]),
        lastStableOffset: pick(next, [-1n, 5n]),
        logStartOffset: pick(next, [-1n, 0n, 77n]),
        abortedTransactions: pick(next, [null, [], [{ producerId: 4n, firstOffset: 9n }]]),
        preferredReadReplica: -1,
        records: pick(next, RECORD_SETS),
      })),
    })),
  };
}

function bytes(write: (writer: KafkaWriter) => void): Buffer {
  const writer = new KafkaWriter(64);
  write(writer);
  return writer.finish();
}

describe('hand-written Fetch response encoder against the generic codec', () => {
  for (const version of VERSIONS) {
    it(`encodes Fetch v${version} responses byte for byte as the generic codec does`, () => {
      const next = random(version);
      for (let i = 0; i < CASES_PER_VERSION; i++) {
        const body = randomBody(next);
        const fast = bytes((writer) => encodeFetchResponse(body, version, writer));
        const generic = bytes((writer) => encode(fetchApi.response, version, body as unknown as Record<string, unknown>, writer));
        expect(fast).toEqual(generic);
      }
    });
  }

  it('refuses tagged fields it does not write instead of dropping them', () => {
    const partition = { partitionIndex: 0, errorCode: 0, highWatermark: 0n, lastStableOffset: 0n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records: null };
    const body = (extra: object, partitionExtra: object): FetchResponseBody => ({ throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [{ topic: 't', topicId: Buffer.alloc(16), partitions: [{ ...partition, ...partitionExtra }] }], ...extra });
    expect(() => encodeFetchResponse(body({}, {}), 12, new KafkaWriter())).not.toThrow();
    expect(() => encodeFetchResponse(body({}, { currentLeader: { leaderId: 1, leaderEpoch: 2 } }), 12, new KafkaWriter())).toThrow(/currentLeader/);
    expect(() => encodeFetchResponse(body({ nodeEndpoints: [] }, {}), 16, new KafkaWriter())).toThrow(/node_endpoints/);
  });
});
