/**
 * Bad input over HTTP: each case gets its documented status and error body,
 * and the broker goes on serving every other request as before.
 */

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_BODY_BYTES_MAX } from '../../../src/protocol/http/limits.js';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { WAIT_MS, call, openServer, stringRecord, type ErrorReply, type FetchReply, type ProduceReport, type TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await openServer({ autoCreateTopics: false });
  await t.broker.createTopic('good', { partitions: 2, configs: { 'max.message.bytes': '10000' } });
});

afterAll(async () => {
  await t.close();
  await closeSharedStoragePool();
});

const records = (topic: string): string => `${t.cluster}/topics/${topic}/records`;

/** A request that must keep working after each bad one. */
async function stillServing(): Promise<void> {
  const produced = await call<ProduceReport>('POST', records('good'), stringRecord(null, 'fine', { partition_id: 0 }));
  expect(produced.status).toBe(200);
  const fetched = await call<FetchReply>('GET', `${t.cluster}/topics/good/partitions/0/records?offset=${produced.json.offset}`);
  expect(fetched.json.records.map((r) => r.value)).toEqual(['fine']);
}

function expectError(reply: { status: number; json: ErrorReply; headers: Headers }, status: number, kafkaError?: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toBe('application/json');
  expect(reply.json.error_code).toBe(status);
  expect(typeof reply.json.message).toBe('string');
  expect(reply.json.kafka_error).toBe(kafkaError);
}

describe('bad input', () => {
  it('malformed JSON: 400', async () => {
    const reply = await call<ErrorReply>('POST', records('good'), '{"value": {"type": "STRING", "data": "x"');
    expectError(reply, 400);
    expect(reply.json.message).toMatch(/^malformed JSON/);
    expectError(await call<ErrorReply>('POST', `${t.cluster}/topics`, 'not json'), 400);
    expectError(await call<ErrorReply>('POST', records('good')), 400);
    await stillServing();
  });

  it('JSON data nested too deeply to re-encode: 400, not a broker failure', async () => {
    const depth = 200_000;
    const body = `{"value":{"type":"JSON","data":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const reply = await call<ErrorReply>('POST', records('good'), body);
    expectError(reply, 400);
    expect(reply.json.message).toMatch(/nested too deeply/);
    await stillServing();
  });

  it('records of the wrong shape: 400, and nothing of the request is written', async () => {
    const before = t.broker.describeTopic('good').partitions.map((p) => p.logEndOffset);
    const bad: unknown[] = [
      'a string',
      42,
      { value: { type: 'AVRO', data: {} } },
      { value: { type: 'STRING', data: 5 } },
      { value: { type: 'BINARY', data: 'not base64!' } },
      { value: { type: 'BINARY', data: 'abcde' } },
      { value: 'not an object' },
      { headers: 'x', value: { data: 1 } },
      { headers: [{ name: 1, value: null }], value: { data: 1 } },
      { headers: [{ name: 'h', value: '%%%' }], value: { data: 1 } },
      { partition_id: -1, value: { data: 1 } },
      { partition_id: 'zero', value: { data: 1 } },
      { timestamp: 'yesterday', value: { data: 1 } },
      { timestamp: -5, value: { data: 1 } },
      [stringRecord(null, 'fine'), { value: { type: 'NOPE', data: 1 } }],
    ];
    for (const body of bad) {
      const reply = await call<ErrorReply>('POST', records('good'), body);
      expect({ body, status: reply.status }).toEqual({ body, status: 400 });
    }
    expect(t.broker.describeTopic('good').partitions.map((p) => p.logEndOffset)).toEqual(before);
    await stillServing();
  });

  it('unknown topic with auto-create off: 404', async () => {
    expectError(await call<ErrorReply>('POST', records('nowhere'), stringRecord(null, 'x')), 404, 'UNKNOWN_TOPIC_OR_PARTITION');
    expect(t.broker.listTopics().map((topic) => topic.name)).not.toContain('nowhere');
    await stillServing();
  });

  it('partition out of range: 404', async () => {
    expectError(await call<ErrorReply>('POST', records('good'), stringRecord(null, 'x', { partition_id: 2 })), 404, 'UNKNOWN_TOPIC_OR_PARTITION');
    expectError(await call<ErrorReply>('GET', `${t.cluster}/topics/good/partitions/9/records`), 404, 'UNKNOWN_TOPIC_OR_PARTITION');
    await stillServing();
  });

  it('a record over max.message.bytes: 413', async () => {
    const reply = await call<ErrorReply>('POST', records('good'), stringRecord(null, 'z'.repeat(20_000), { partition_id: 0 }));
    expectError(reply, 413, 'MESSAGE_TOO_LARGE');
    expect(reply.json.message).toContain('max.message.bytes');
    await stillServing();
  });

  it('a body over HTTP_BODY_BYTES_MAX: 413, declared or streamed', async () => {
    const huge = Buffer.alloc(HTTP_BODY_BYTES_MAX + 1, 0x20);
    const declared = await call<ErrorReply>('POST', records('good'), huge);
    expectError(declared, 413);
    expect(declared.json.message).toContain('HTTP_BODY_BYTES_MAX');

    // Chunked, so no Content-Length announces it: refused once the bytes pass the limit.
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > HTTP_BODY_BYTES_MAX * 2) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const streamed = await fetch(records('good'), { method: 'POST', body, duplex: 'half', signal: AbortSignal.timeout(WAIT_MS) } as RequestInit).then(
      async (response) => ({ status: response.status, text: await response.text() }),
      (error: unknown) => ({ status: 0, text: String(error) }),
    );
    // The server answers 413 and closes; a client still writing may see the close before the answer.
    if (streamed.status !== 0) expect(streamed.status).toBe(413);
    await stillServing();
  });

  it('a malformed raw request or a client vanishing mid-body does not disturb others', async () => {
    await rawExchange('GARBAGE\r\n\r\n');
    await rawExchange(`POST /v3/clusters/${t.broker.clusterId}/topics/good/records HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"value":`);
    await stillServing();
  });

  it('unknown routes and methods: 404 in the same shape; bad path encoding: 400', async () => {
    expectError(await call<ErrorReply>('GET', `${t.origin}/nope`), 404);
    expectError(await call<ErrorReply>('PUT', `${t.origin}/v3/clusters`), 404);
    expectError(await call<ErrorReply>('GET', `${t.cluster}/topics/%E0%A4%A/partitions`), 400);
    await stillServing();
  });
});

/** Writes `request` on a raw socket, then hangs up after a moment, whatever came back. */
async function rawExchange(request: string): Promise<void> {
  const socket = net.connect(t.server.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(request);
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
}

describe('HEAD', () => {
  it('answers HEAD on GET routes with the GET status and headers and no body, streams included', async () => {
    const health = await fetch(`${t.origin}/healthz`, { method: 'HEAD', signal: AbortSignal.timeout(WAIT_MS) });
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toBe('application/json');
    expect(await health.text()).toBe('');
    const missing = await fetch(`${t.cluster}/topics/nope`, { method: 'HEAD', signal: AbortSignal.timeout(WAIT_MS) });
    expect(missing.status).toBe(404);
    const stream = await fetch(`${t.cluster}/topics/good/records/stream`, { method: 'HEAD', signal: AbortSignal.timeout(WAIT_MS) });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await stream.text()).toBe('');
    // The stream behind the HEAD stopped: no SSE stream is left open.
    await expect
      .poll(async () => (await (await fetch(`${t.origin}/metrics`)).text()).match(/^ferry_http_sse_streams (\d+)/m)?.[1], { timeout: WAIT_MS })
      .toBe('0');
    await stillServing();
  });
});
