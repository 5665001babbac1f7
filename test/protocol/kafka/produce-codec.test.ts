/**
 * The hand-written Produce codec and header codec (the hot path) against the
 * generic spec-driven codec, their reference: same values decoded, same bytes
 * encoded, for every version the door serves, over seeded pseudo-random
 * bodies, unknown tagged fields and truncated input.
 */

import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/errors.js';
import { API_KEY, findApi } from '../../../src/protocol/kafka/apis.js';
import { decode, decodeRequestHeader, encode, encodeResponseHeader } from '../../../src/protocol/kafka/codec/message-codec.js';
import { decodeProduceRequest, encodeProduceResponse, PRODUCE_CODEC_VERSIONS, type ProduceResponseBody } from '../../../src/protocol/kafka/codec/produce-codec.js';
import { KafkaReader } from '../../../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../../../src/protocol/kafka/codec/writer.js';
import { REQUEST_HEADER, RESPONSE_HEADER } from '../../../src/protocol/kafka/generated/messages.js';
import { buildBatch } from '../../../src/storage/batch-builder.js';

const produce = findApi(API_KEY.Produce)!;
const VERSIONS = Array.from({ length: PRODUCE_CODEC_VERSIONS.max - PRODUCE_CODEC_VERSIONS.min + 1 }, (_, i) => PRODUCE_CODEC_VERSIONS.min + i);
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

const NAMES = ['t', 'orders', 'ünïcödé-topic', 'x'.repeat(249)];

function randomRequest(next: () => number): Record<string, unknown> {
  return {
    transactionalId: pick(next, [null, '', 'tx-1', 'tränsäction']),
    acks: pick(next, [0, 1, -1, 7]),
    timeoutMs: pick(next, [0, 30_000, 2 ** 31 - 1, -1]),
    topicData: Array.from({ length: Math.floor(next() * 3) }, () => ({
      name: pick(next, NAMES),
      partitionData: Array.from({ length: Math.floor(next() * 3) }, () => ({
        index: Math.floor(next() * 100) - 1,
        records: pick(next, [null, Buffer.alloc(0), buildBatch([{ value: Buffer.from('v') }]), buildBatch([{ value: Buffer.alloc(5000, 1) }])]),
      })),
    })),
  };
}

function randomResponse(next: () => number): ProduceResponseBody {
  return {
    responses: Array.from({ length: Math.floor(next() * 3) }, () => ({
      name: pick(next, NAMES),
      partitionResponses: Array.from({ length: Math.floor(next() * 3) }, () => ({
        index: Math.floor(next() * 100),
        errorCode: pick(next, [0, 2, 10, 87]),
        baseOffset: pick(next, [-1n, 0n, 123_456_789_012n]),
        logAppendTimeMs: pick(next, [-1n, 1_700_000_000_000n]),
        logStartOffset: pick(next, [-1n, 0n, 42n]),
        ...(next() < 0.5 ? {} : { recordErrors: [{ batchIndex: 3, batchIndexErrorMessage: pick(next, [null, 'bad record']) }] }),
        errorMessage: pick(next, [null, '', 'NOT_LEADER ünïcödé']),
      })),
    })),
    throttleTimeMs: pick(next, [0, 100]),
  };
}

function genericBytes(version: number, body: Record<string, unknown>, spec = produce.request): Buffer {
  const writer = new KafkaWriter(64);
  encode(spec, version, body, writer);
  return writer.finish();
}

function fastResponseBytes(version: number, body: ProduceResponseBody): Buffer {
  const writer = new KafkaWriter(64);
  encodeProduceResponse(body, version, writer);
  return writer.finish();
}

describe('hand-written Produce codec against the generic codec', () => {
  for (const version of VERSIONS) {
    it(`decodes Produce v${version} requests as the generic codec does`, () => {
      const next = random(version);
      for (let i = 0; i < CASES_PER_VERSION; i++) {
        const bytes = genericBytes(version, randomRequest(next));
        const genericReader = new KafkaReader(bytes);
        const fastReader = new KafkaReader(bytes);
        expect(decodeProduceRequest(fastReader, version)).toEqual(decode(produce.request, version, genericReader));
        expect(fastReader.offset).toBe(genericReader.offset);
      }
    });

    it(`encodes Produce v${version} responses byte for byte as the generic codec does`, () => {
      const next = random(1000 + version);
      for (let i = 0; i < CASES_PER_VERSION; i++) {
        const body = randomResponse(next);
        expect(fastResponseBytes(version, body)).toEqual(genericBytes(version, body as unknown as Record<string, unknown>, produce.response));
      }
    });

    it(`refuses every truncation of a Produce v${version} request with INVALID_REQUEST, as the generic codec does`, () => {
      const bytes = genericBytes(version, randomRequest(random(2000 + version)));
      for (let length = 0; length < bytes.length; length++) {
        const cut = bytes.subarray(0, length);
        const generic = outcome(() => decode(produce.request, version, new KafkaReader(cut)));
        const fast = outcome(() => decodeProduceRequest(new KafkaReader(cut), version));
        expect(fast, `cut at ${length}`).toEqual(generic);
      }
    });
  }

  it('skips unknown tagged fields at every level of a flexible request, as the generic codec does', () => {
    const version = 11;
    const body = { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'a', partitionData: [{ index: 0, records: buildBatch([{ value: Buffer.from('x') }]) }] }] };
    const plain = genericBytes(version, body);
    // Every struct ends with an empty tagged section (one 0x00 byte): the last three bytes are the
    // partition's, the topic's and the request's. Give each an unknown tag 7 carrying two bytes.
    const unknownTag = Buffer.from([1, 7, 2, 0xab, 0xcd]);
    const head = plain.subarray(0, plain.length - 3);
    const bytes = Buffer.concat([head, unknownTag, unknownTag, unknownTag]);
    const generic = decode(produce.request, version, new KafkaReader(bytes));
    const fastReader = new KafkaReader(bytes);
    expect(decodeProduceRequest(fastReader, version)).toEqual(generic);
    expect(fastReader.remaining).toBe(0);
  });

  it('refuses versions outside the ones it covers', () => {
    expect(() => decodeProduceRequest(new KafkaReader(Buffer.alloc(64)), PRODUCE_CODEC_VERSIONS.max + 1)).toThrow(FerryError);
    expect(() => encodeProduceResponse({ responses: [], throttleTimeMs: 0 }, PRODUCE_CODEC_VERSIONS.min - 1, new KafkaWriter())).toThrow(FerryError);
  });
});

describe('hand-written request and response headers against the generic codec', () => {
  it('decodes header v1 and v2 (with unknown tagged fields) as the generic codec does', () => {
    for (const [apiVersion, headerVersion] of [
      [8, 1],
      [9, 2],
    ] as const) {
      for (const clientId of [null, '', 'ferry-client', 'ünï']) {
        const writer = new KafkaWriter(16);
        encode(REQUEST_HEADER, headerVersion, { requestApiKey: API_KEY.Produce, requestApiVersion: apiVersion, correlationId: -5, clientId }, writer);
        let bytes = writer.finish();
        if (headerVersion === 2) bytes = Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from([1, 3, 1, 0x99])]);
        const fastReader = new KafkaReader(bytes);
        const genericReader = new KafkaReader(bytes);
        expect(decodeRequestHeader(fastReader).header).toEqual(decode(REQUEST_HEADER, headerVersion, genericReader));
        expect(fastReader.offset).toBe(genericReader.offset);
      }
    }
  });

  it('encodes response header v0 and v1 as the generic codec does', () => {
    for (const [apiVersion, headerVersion] of [
      [8, 0],
      [9, 1],
    ] as const) {
      const fast = new KafkaWriter(8);
      encodeResponseHeader(produce, apiVersion, 123_456, fast);
      const generic = new KafkaWriter(8);
      encode(RESPONSE_HEADER, headerVersion, { correlationId: 123_456 }, generic);
      expect(fast.finish()).toEqual(generic.finish());
    }
  });
});

function outcome(run: () => unknown): string {
  try {
    run();
    return 'decoded';
  } catch (error) {
    return error instanceof FerryError ? `FerryError ${error.errorName}` : `other ${String(error)}`;
  }
}
