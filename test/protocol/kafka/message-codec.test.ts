import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { KafkaReader } from '../../../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../../../src/protocol/kafka/codec/writer.js';
import {
  decode,
  decodeRequestHeader,
  decodeResponseHeader,
  encode,
  encodeRequestHeader,
  encodeResponseHeader,
} from '../../../src/protocol/kafka/codec/message-codec.js';
import type { KafkaStruct } from '../../../src/protocol/kafka/codec/message-codec.js';
import type { MessageSpec } from '../../../src/protocol/kafka/message-spec.js';
import { findApi } from '../../../src/protocol/kafka/apis.js';
import { buildBatch } from '../../../src/storage/batch-builder.js';
import { FerryError } from '../../../src/errors.js';

const apiVersions = findApi(18)!;
const metadata = findApi(3)!;
const produce = findApi(0)!;

function encodeToBuffer(spec: MessageSpec, version: number, value: Record<string, unknown>): Buffer {
  const writer = new KafkaWriter(8);
  encode(spec, version, value, writer);
  return writer.finish();
}

function roundTrip(spec: MessageSpec, version: number, value: Record<string, unknown>): KafkaStruct {
  const bytes = encodeToBuffer(spec, version, value);
  const reader = new KafkaReader(bytes);
  const decoded = decode(spec, version, reader);
  expect(reader.remaining).toBe(0);
  return decoded;
}

describe('message codec round trips', () => {
  it('ApiVersionsRequest v0 (empty) and v3 (flexible)', () => {
    expect(encodeToBuffer(apiVersions.request, 0, {})).toHaveLength(0);
    const v3 = roundTrip(apiVersions.request, 3, { clientSoftwareName: 'ferry', clientSoftwareVersion: '0.1.0' });
    expect(v3).toEqual({ clientSoftwareName: 'ferry', clientSoftwareVersion: '0.1.0' });
    // compact strings + empty tagged section: 1+5, 1+5, 1
    expect(encodeToBuffer(apiVersions.request, 3, v3)).toHaveLength(13);
  });

  it('ApiVersionsResponse v0 and v3 with tagged fields', () => {
    const apiKeys = [
      { apiKey: 0, minVersion: 3, maxVersion: 9 },
      { apiKey: 18, minVersion: 0, maxVersion: 3 },
    ];
    const v0 = roundTrip(apiVersions.response, 0, { errorCode: 0, apiKeys });
    expect(v0.apiKeys).toEqual(apiKeys);
    expect(v0.throttleTimeMs).toBe(0);
    const v3 = roundTrip(apiVersions.response, 3, {
      errorCode: 0,
      apiKeys,
      throttleTimeMs: 5,
      supportedFeatures: [{ name: 'metadata.version', minVersion: 1, maxVersion: 20 }],
      finalizedFeaturesEpoch: 7n,
    });
    expect(v3.throttleTimeMs).toBe(5);
    expect(v3.supportedFeatures).toEqual([{ name: 'metadata.version', minVersion: 1, maxVersion: 20 }]);
    expect(v3.finalizedFeaturesEpoch).toBe(7n);
    expect(v3.finalizedFeatures).toEqual([]);
    expect(v3.zkMigrationReady).toBe(false);
    // Defaults are not written: no tagged fields at all.
    const plain = encodeToBuffer(apiVersions.response, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0 });
    expect(plain.at(-1)).toBe(0);
    expect(decode(apiVersions.response, 3, new KafkaReader(plain)).finalizedFeaturesEpoch).toBe(-1n);
  });

  it('MetadataRequest v1 (null topics), v9 (flexible), v12 (topic ids)', () => {
    const v1 = roundTrip(metadata.request, 1, { topics: null });
    expect(v1.topics).toBeNull();
    expect(roundTrip(metadata.request, 1, { topics: [{ name: 'a' }] }).topics).toEqual([
      { name: 'a', topicId: Buffer.alloc(16) },
    ]);
    const v9 = roundTrip(metadata.request, 9, {
      topics: [{ name: 'orders' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: true,
      includeTopicAuthorizedOperations: true,
    });
    expect(v9).toMatchObject({ allowAutoTopicCreation: false, includeClusterAuthorizedOperations: true });
    const topicId = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const v12 = roundTrip(metadata.request, 12, {
      topics: [{ topicId, name: null }],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false,
    });
    expect(v12.topics).toEqual([{ topicId, name: null }]);
    expect(v12.includeClusterAuthorizedOperations).toBe(false); // absent in v12
    expect(() => encodeToBuffer(metadata.request, 1, { topics: [{ name: null }] })).toThrow(FerryError);
  });

  it.each([3, 9])('ProduceRequest v%i carries a RecordBatch zero-copy', (version) => {
    const batch = buildBatch(
      [
        { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ key: 'h', value: Buffer.from('x') }] },
        { value: Buffer.from('v2') },
      ],
      { now: () => 1_700_000_000_000n },
    );
    const request = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [{ name: 'orders', partitionData: [{ index: 0, records: batch }, { index: 1, records: null }] }],
    };
    const bytes = encodeToBuffer(produce.request, version, request);
    const decoded = decode(produce.request, version, new KafkaReader(bytes));
    expect(decoded).toEqual(request);
    const records = (decoded.topicData as KafkaStruct[])[0]!.partitionData as KafkaStruct[];
    const decodedBatch = records[0]!.records as Buffer;
    expect(decodedBatch.equals(batch)).toBe(true);
    expect(decodedBatch.buffer).toBe(bytes.buffer);
  });

  it('rejects a truncated or corrupt body with FerryError, never RangeError', () => {
    const bytes = encodeToBuffer(metadata.request, 9, { topics: [{ name: 'orders' }] });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decode(metadata.request, 9, new KafkaReader(bytes.subarray(0, cut)))).toThrow(FerryError);
    }
    const huge = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
    expect(() => decode(metadata.request, 1, new KafkaReader(huge))).toThrow(FerryError);
    expect(() => decode(metadata.request, 13, new KafkaReader(Buffer.alloc(0)))).toThrow(FerryError);
  });
});

describe('headers', () => {
  it('request header v1 for non-flexible, v2 (tagged fields) for flexible', () => {
    for (const [version, length] of [[0, 4 + 4 + 2 + 5], [3, 4 + 4 + 2 + 5 + 1]] as const) {
      const writer = new KafkaWriter();
      encodeRequestHeader(apiVersions, { requestApiKey: 18, requestApiVersion: version, correlationId: 42, clientId: 'kcat1' }, writer);
      const bytes = writer.finish();
      expect(bytes).toHaveLength(length);
      const { header, api } = decodeRequestHeader(new KafkaReader(bytes));
      expect(api).toBe(apiVersions);
      expect(header).toEqual({ requestApiKey: 18, requestApiVersion: version, correlationId: 42, clientId: 'kcat1' });
    }
  });

  it('response header: v0 for ApiVersions even when flexible, v1 for flexible Metadata', () => {
    const a = new KafkaWriter();
    encodeResponseHeader(apiVersions, 3, 7, a);
    expect(a.finish()).toHaveLength(4);
    const m = new KafkaWriter();
    encodeResponseHeader(metadata, 9, 7, m);
    expect(m.finish()).toHaveLength(5);
    expect(decodeResponseHeader(metadata, 9, new KafkaReader(m.finish()))).toEqual({ correlationId: 7 });
  });
});

describe('decoding bytes encoded by kafkajs', () => {
  const require = createRequire(import.meta.url);
  interface KafkajsRequest {
    apiKey: number;
    apiVersion: number;
    encode(): Promise<{ buffer: Buffer }>;
  }
  const load = (path: string): ((args?: unknown) => KafkajsRequest) =>
    require(`kafkajs/src/protocol/requests/${path}/request.js`) as (args?: unknown) => KafkajsRequest;

  it('ApiVersions v0-v2 request bodies', async () => {
    for (const v of [0, 1, 2]) {
      const request = load(`apiVersions/v${v}`)();
      expect(request.apiKey).toBe(18);
      const body = (await request.encode()).buffer;
      const reader = new KafkaReader(body);
      // Fields absent before v3 decode to their defaults.
      expect(decode(apiVersions.request, request.apiVersion, reader)).toEqual({ clientSoftwareName: '', clientSoftwareVersion: '' });
      expect(reader.remaining).toBe(0);
    }
  });

  it('Metadata v4 and v6 request bodies', async () => {
    for (const v of [4, 6]) {
      const request = load(`metadata/v${v}`)({ topics: ['orders', 'payments'], allowAutoTopicCreation: false });
      expect(request.apiKey).toBe(3);
      const body = (await request.encode()).buffer;
      const reader = new KafkaReader(body);
      const decoded = decode(metadata.request, request.apiVersion, reader);
      expect(reader.remaining).toBe(0);
      expect((decoded.topics as KafkaStruct[]).map((t) => t.name)).toEqual(['orders', 'payments']);
      expect(decoded.allowAutoTopicCreation).toBe(false);
    }
  });
});
