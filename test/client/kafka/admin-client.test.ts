/**
 * The Kafka admin client's own machinery, against a scripted fake broker
 * (node:net + Ferry's server-side codec) where a real one would not
 * misbehave on demand, and against a real Ferry Kafka door: version
 * negotiation (KIP-511 retry included), correlation ids, timeouts, lost
 * connections, and error codes as FerryErrors with Kafka names.
 */

import net from 'node:net';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { API, CLIENT_VERSIONS, negotiateVersions, versionFor } from '../../../src/client/kafka/api-versions.js';
import { BrokerSession } from '../../../src/client/kafka/broker-session.js';
import { KafkaConnection } from '../../../src/client/kafka/connection.js';
import { deleteGroups, describeGroups } from '../../../src/client/kafka/group-calls.js';
import { KafkaAdminClient, parseBootstrapServer } from '../../../src/client/kafka/index.js';
import { kafkaError } from '../../../src/client/kafka/kafka-errors.js';
import { COORDINATOR_RETRIES_MAX, IN_FLIGHT_REQUESTS_MAX } from '../../../src/client/kafka/limits.js';
import { FerryError } from '../../../src/errors.js';
import { decode, decodeRequestHeader, encode, encodeResponseHeader, type RequestHeader } from '../../../src/protocol/kafka/codec/message-codec.js';
import { KafkaReader } from '../../../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../../../src/protocol/kafka/codec/writer.js';
import { FrameReader } from '../../../src/protocol/kafka/frame-reader.js';
import { HANDLERS } from '../../../src/protocol/kafka/handlers/index.js';
import type { ApiSpec } from '../../../src/protocol/kafka/message-spec.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { openKafkaServer } from '../../protocol/kafka/helpers.js';

afterAll(closeSharedStoragePool);

interface FakeRequest {
  header: RequestHeader;
  api: ApiSpec;
  body: Record<string, unknown>;
}

/** What the fake broker does with a request: answer it (at its version, or `asVersion`), or nothing at all. */
type Script = (request: FakeRequest, answer: (body: Record<string, unknown>, options?: { asVersion?: number; correlationId?: number }) => void) => void;

const servers: net.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function fakeBroker(script: Script): Promise<number> {
  const server = net.createServer((socket) => {
    const frames = new FrameReader();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of frames.push(chunk)) {
        const reader = new KafkaReader(frame);
        const { header, api } = decodeRequestHeader(reader);
        if (api === undefined) throw new Error(`fake broker: unknown API ${header.requestApiKey}`);
        const body = decode(api.request, header.requestApiVersion, reader);
        script({ header, api, body }, (answerBody, options = {}) => {
          const version = options.asVersion ?? header.requestApiVersion;
          const writer = new KafkaWriter();
          writer.writeInt32(0);
          encodeResponseHeader(api, version, options.correlationId ?? header.correlationId, writer);
          encode(api.response, version, answerBody, writer);
          writer.writeInt32At(0, writer.byteLength - 4);
          socket.write(writer.finish());
        });
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A fake broker that speaks ApiVersions 0-4 and `apis`, and hands every other request to `script`. */
function speaking(apis: Array<{ apiKey: number; minVersion: number; maxVersion: number }>, script: Script = () => undefined): Script {
  return (request, answer) => {
    if (request.api.apiKey === 18) answer({ errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }, ...apis] });
    else script(request, answer);
  };
}

describe('version negotiation', () => {
  it('takes the highest version both sides speak, and leaves out APIs with none in common', () => {
    const chosen = negotiateVersions([
      { apiKey: 15, minVersion: 0, maxVersion: 9 }, // DescribeGroups: broker newer than the client
      { apiKey: 16, minVersion: 0, maxVersion: 2 }, // ListGroups: broker older
      { apiKey: 9, minVersion: 0, maxVersion: 1 }, // OffsetFetch: the client needs 2+
      { apiKey: 999, minVersion: 0, maxVersion: 3 }, // an API the client does not implement
    ]);
    expect([...chosen].sort((a, b) => a[0] - b[0])).toEqual([
      [15, CLIENT_VERSIONS.DescribeGroups.max],
      [16, 2],
    ]);
    const broker = [{ apiKey: 9, minVersion: 0, maxVersion: 1 }];
    expect(() => versionFor(chosen, 'OffsetFetch', broker, 'b:9092')).toThrow('the broker at b:9092 offers versions 0-1 of OffsetFetch, this client speaks 2-9');
    expect(() => versionFor(chosen, 'DeleteGroups', broker, 'b:9092')).toThrow(expect.objectContaining({ errorName: 'UNSUPPORTED_VERSION', message: expect.stringContaining('offers no version of DeleteGroups') }));
  });

  it("asks ApiVersions again at the broker's version when it refuses ours (KIP-511)", async () => {
    const asked: number[] = [];
    const port = await fakeBroker((request, answer) => {
      asked.push(request.header.requestApiVersion);
      const apiKeys = [
        { apiKey: 18, minVersion: 0, maxVersion: 2 },
        { apiKey: 16, minVersion: 0, maxVersion: 2 },
      ];
      // Kafka's answer to an ApiVersions version it does not know: v0 form, UNSUPPORTED_VERSION, its list.
      if (request.header.requestApiVersion > 2) answer({ errorCode: 35, apiKeys }, { asVersion: 0 });
      else answer({ errorCode: 0, apiKeys, throttleTimeMs: 0 });
    });
    const session = await BrokerSession.open({ host: '127.0.0.1', port });
    try {
      expect(asked).toEqual([CLIENT_VERSIONS.ApiVersions.max, 2]);
      expect(session.version('ListGroups')).toBe(2);
      await expect(describeGroups(session, ['g'])).rejects.toThrow(/offers no version of DescribeGroups/);
    } finally {
      session.close();
    }
  });

  it("uses Ferry's own versions where they are the client's too", async () => {
    const server = await openKafkaServer();
    const session = await BrokerSession.open({ host: '127.0.0.1', port: server.port });
    try {
      for (const [name, range] of Object.entries(CLIENT_VERSIONS) as Array<[keyof typeof CLIENT_VERSIONS, { max: number }]>) {
        const ferryMax = HANDLERS.find((handler) => handler.apiKey === API[name])!.versions.max;
        expect(session.version(name), name).toBe(Math.min(range.max, ferryMax));
      }
    } finally {
      session.close();
      await server.close();
    }
  });
});

describe('coordinator errors', () => {
  it('looks the coordinator up again and retries while it is loading, unavailable or moved; other errors at once', async () => {
    const calls = { findCoordinator: 0, describeGroups: 0, offsetCommit: 0 };
    let port = 0;
    port = await fakeBroker(
      speaking(
        [
          { apiKey: 10, minVersion: 0, maxVersion: 6 },
          { apiKey: 15, minVersion: 0, maxVersion: 5 },
          { apiKey: 8, minVersion: 0, maxVersion: 9 },
        ],
        (request, answer) => {
          const body = request.body as { coordinatorKeys?: string[]; groups?: string[]; groupId?: string };
          if (request.api.apiKey === 10) {
            calls.findCoordinator++;
            const key = body.coordinatorKeys?.[0] ?? '';
            const errorCode = calls.findCoordinator === 1 ? 15 : 0; // COORDINATOR_NOT_AVAILABLE once
            answer({ coordinators: [{ key, nodeId: 1, host: '127.0.0.1', port, errorCode, errorMessage: null }] });
          } else if (request.api.apiKey === 15) {
            calls.describeGroups++;
            const groupId = body.groups?.[0] ?? '';
            // COORDINATOR_LOAD_IN_PROGRESS once; a group named "moved" is never here (NOT_COORDINATOR); "bad" is INVALID_GROUP_ID.
            const errorCode = groupId === 'moved' ? 16 : groupId === 'bad' ? 24 : calls.describeGroups === 1 ? 14 : 0;
            answer({ groups: [{ errorCode, groupId, groupState: 'Empty', protocolType: 'consumer', protocolData: '', members: [] }] });
          } else {
            calls.offsetCommit++;
            const errorCode = calls.offsetCommit === 1 ? 16 : 0; // NOT_COORDINATOR in the partition's outcome once
            answer({ topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode }] }] });
          }
        },
      ),
    );
    const admin = new KafkaAdminClient({ bootstrapServer: `127.0.0.1:${port}` });
    try {
      expect(await admin.describeGroup('g')).toMatchObject({ groupId: 'g', state: 'Empty', coordinator: { nodeId: 1, host: '127.0.0.1', port } });
      expect(calls).toEqual({ findCoordinator: 3, describeGroups: 2, offsetCommit: 0 });
      expect(await admin.commitOffsets('g', [{ topic: 't', partition: 0, offset: 5n }])).toEqual([{ topic: 't', partition: 0, offset: 5n, error: null }]);
      expect(calls.offsetCommit).toBe(2);

      calls.describeGroups = 0;
      await expect(admin.describeGroup('bad')).rejects.toThrow(expect.objectContaining({ errorName: 'INVALID_GROUP_ID' }));
      expect(calls.describeGroups).toBe(1);
      await expect(admin.describeGroup('moved')).rejects.toThrow(expect.objectContaining({ errorName: 'NOT_COORDINATOR' }));
      expect(calls.describeGroups).toBe(1 + COORDINATOR_RETRIES_MAX);
    } finally {
      admin.close();
    }
  });
});

describe('SASL/PLAIN', () => {
  it('authenticates every connection when given credentials, and says why it could not', async () => {
    const server = await openKafkaServer({}, { saslPlainUsers: new Map([['admin', 'pass:with:colons']]) });
    const bootstrapServer = server.bootstrap;
    try {
      const admin = new KafkaAdminClient({ bootstrapServer, saslPlain: { username: 'admin', password: 'pass:with:colons' } });
      await server.broker.createTopic('audit'); // a group exists once it holds something: here an offset
      await server.broker.groups.resetOffsets('audited', [{ topic: 'audit', partition: 0, offset: 0n }]);
      expect(await admin.listGroups()).toEqual([{ groupId: 'audited', protocolType: '', state: 'Empty' }]);
      admin.close();

      const wrong = new KafkaAdminClient({ bootstrapServer, saslPlain: { username: 'admin', password: 'nope' } });
      await expect(wrong.connect()).rejects.toThrow(
        expect.objectContaining({ errorName: 'SASL_AUTHENTICATION_FAILED', message: expect.stringMatching(/^SASL\/PLAIN authentication of admin at 127\.0\.0\.1:\d+ failed with SASL_AUTHENTICATION_FAILED: Authentication failed/) }),
      );
      wrong.close();
      // Without credentials the door answers ApiVersions, then hangs up on anything else.
      const anonymous = new KafkaAdminClient({ bootstrapServer });
      await expect(anonymous.listGroups()).rejects.toThrow(expect.objectContaining({ errorName: 'NETWORK_EXCEPTION' }));
      anonymous.close();
    } finally {
      await server.close();
    }
  });
});

describe('connection', () => {
  it('matches answers to requests by correlation id, in whatever order they come', async () => {
    const waiting: Array<() => void> = [];
    const port = await fakeBroker((request, answer) => {
      const reply = (): void => answer({ errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: request.header.correlationId }] });
      waiting.push(reply);
      if (waiting.length === 3) for (const send of waiting.reverse()) send();
    });
    const connection = await KafkaConnection.connect({ host: '127.0.0.1', port });
    try {
      const answers = await Promise.all([0, 1, 2].map(() => connection.request(18, 0, {})));
      expect(answers.map((answer) => (answer.apiKeys as Array<{ maxVersion: number }>)[0]!.maxVersion)).toEqual([0, 1, 2]);
      expect(connection.inFlight).toBe(0);
    } finally {
      connection.close();
    }
  });

  it(`puts at most ${IN_FLIGHT_REQUESTS_MAX} requests on the wire; the rest wait for an answer to free a slot`, async () => {
    const held: Array<() => void> = [];
    let received = 0;
    const port = await fakeBroker((_request, answer) => {
      received++;
      held.push(() => answer({ errorCode: 0, apiKeys: [] }));
    });
    const connection = await KafkaConnection.connect({ host: '127.0.0.1', port });
    try {
      const all = Array.from({ length: IN_FLIGHT_REQUESTS_MAX + 3 }, () => connection.request(18, 0, {}));
      await vi.waitFor(() => expect(received).toBe(IN_FLIGHT_REQUESTS_MAX));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toBe(IN_FLIGHT_REQUESTS_MAX);
      held.shift()!();
      await vi.waitFor(() => expect(received).toBe(IN_FLIGHT_REQUESTS_MAX + 1));
      while (held.length > 0 || received < all.length) {
        held.shift()?.();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(await Promise.all(all)).toHaveLength(IN_FLIGHT_REQUESTS_MAX + 3);
    } finally {
      connection.close();
    }
  });

  it('fails every waiting request when an answer names no request, or none comes in time, or the broker hangs up', async () => {
    const strayPort = await fakeBroker((_request, answer) => answer({ errorCode: 0, apiKeys: [] }, { correlationId: 77 }));
    const stray = await KafkaConnection.connect({ host: '127.0.0.1', port: strayPort });
    await expect(stray.request(18, 0, {})).rejects.toThrow(expect.objectContaining({ errorName: 'UNKNOWN_SERVER_ERROR', message: expect.stringContaining('correlation id 77') }));
    await expect(stray.request(18, 0, {})).rejects.toThrow(/correlation id 77/);

    const silentPort = await fakeBroker(() => undefined);
    const silent = await KafkaConnection.connect({ host: '127.0.0.1', port: silentPort, requestTimeoutMs: 100 });
    const both = [silent.request(18, 0, {}), silent.request(16, 0, {})];
    await expect(both[0]).rejects.toThrow(expect.objectContaining({ errorName: 'REQUEST_TIMED_OUT', message: expect.stringContaining('ApiVersions v0 to 127.0.0.1:') }));
    await expect(both[1]).rejects.toThrow(expect.objectContaining({ errorName: 'REQUEST_TIMED_OUT' }));

    const hangUpServer = net.createServer((socket) => socket.once('data', () => socket.destroy()));
    servers.push(hangUpServer);
    await new Promise<void>((resolve) => hangUpServer.listen(0, '127.0.0.1', resolve));
    const hungUp = await KafkaConnection.connect({ host: '127.0.0.1', port: (hangUpServer.address() as net.AddressInfo).port });
    await expect(hungUp.request(18, 0, {})).rejects.toThrow(expect.objectContaining({ errorName: 'NETWORK_EXCEPTION', message: expect.stringContaining('closed by the broker') }));

    await expect(KafkaConnection.connect({ host: '127.0.0.1', port: 1 })).rejects.toThrow(expect.objectContaining({ errorName: 'NETWORK_EXCEPTION', message: 'cannot connect to 127.0.0.1:1: ECONNREFUSED' }));
  });
});

describe('errors', () => {
  it("are FerryErrors with the Kafka name of the broker's code", async () => {
    const port = await fakeBroker(
      speaking([{ apiKey: 15, minVersion: 0, maxVersion: 5 }, { apiKey: 42, minVersion: 0, maxVersion: 2 }], (request, answer) => {
        if (request.api.apiKey === 15) answer({ groups: [{ errorCode: 16, groupId: 'g', groupState: '', protocolType: '', protocolData: '', members: [] }] });
        else answer({ results: [{ groupId: 'a', errorCode: 0 }, { groupId: 'b', errorCode: 68 }, { groupId: 'c', errorCode: 30 }] });
      }),
    );
    const session = await BrokerSession.open({ host: '127.0.0.1', port });
    try {
      await expect(describeGroups(session, ['g'])).rejects.toThrow(expect.objectContaining({ errorName: 'NOT_COORDINATOR', retriable: true, message: 'DescribeGroups g failed with NOT_COORDINATOR' }));
      const outcomes = await deleteGroups(session, ['a', 'b', 'c']);
      expect(outcomes.map((outcome) => [outcome.groupId, outcome.error?.errorName ?? null, outcome.error?.message ?? null])).toEqual([
        ['a', null, null],
        ['b', 'NON_EMPTY_GROUP', 'DeleteGroups b failed with NON_EMPTY_GROUP'],
        ['c', 'UNKNOWN_SERVER_ERROR', 'DeleteGroups c failed with Kafka error code 30'],
      ]);
    } finally {
      session.close();
    }
    expect(kafkaError(69, 'DeleteGroups x', 'no such group')).toMatchObject({ errorName: 'GROUP_ID_NOT_FOUND', message: 'DeleteGroups x failed with GROUP_ID_NOT_FOUND: no such group' });
    expect(kafkaError(69, 'x')).toBeInstanceOf(FerryError);
  });

  it('reads bootstrap servers as host:port, IPv6 in brackets', async () => {
    expect(parseBootstrapServer('localhost:9092')).toEqual({ host: 'localhost', port: 9092 });
    expect(parseBootstrapServer('[::1]:19092')).toEqual({ host: '::1', port: 19092 });
    for (const bad of ['localhost', ':9092', 'host:0', 'host:70000', 'a:b:1']) expect(() => parseBootstrapServer(bad), bad).toThrow(/is not host:port/);
    // Nothing is opened until the first call.
    const admin = new KafkaAdminClient({ bootstrapServer: '127.0.0.1:1' });
    await expect(admin.listGroups()).rejects.toThrow(expect.objectContaining({ errorName: 'NETWORK_EXCEPTION' }));
    admin.close();
  });
});
