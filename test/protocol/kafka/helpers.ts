/**
 * Kafka door test helpers: a real broker in a temp dir behind a real Kafka
 * listener on 127.0.0.1 port 0, and a raw client that speaks the protocol
 * with Ferry's own codec — for requests no client library sends (bad
 * versions, duplicates, garbage) and for checking exact response fields.
 * Every wait is bounded.
 */

import net from 'node:net';
import { pino } from 'pino';
import { Broker, type BrokerOptions } from '../../../src/broker/broker.js';
import { findApi } from '../../../src/protocol/kafka/apis.js';
import { KafkaReader } from '../../../src/protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../../../src/protocol/kafka/codec/writer.js';
import { decode, decodeResponseHeader, encode, encodeRequestHeader, type KafkaStruct } from '../../../src/protocol/kafka/codec/message-codec.js';
import type { KafkaDoorSettings } from '../../../src/protocol/kafka/handler.js';
import { startKafkaServer, type RunningKafkaServer } from '../../../src/protocol/kafka/server.js';
import { tempDir } from '../../storage/helpers.js';

export const WAIT_MS = 15_000;

export interface KafkaTestServer {
  broker: Broker;
  server: RunningKafkaServer;
  dataDir: string;
  /** `127.0.0.1:<port>`, for kafkajs `brokers` and kcat `-b`. */
  bootstrap: string;
  port: number;
  close(): Promise<void>;
}

export async function openKafkaServer(
  options: Partial<BrokerOptions> = {},
  settings: Partial<KafkaDoorSettings> = {},
  requestBytesMax?: number,
): Promise<KafkaTestServer> {
  const dataDir = options.dataDir ?? tempDir('ferry-kafka-');
  const broker = await Broker.open({ ...options, dataDir });
  const server = await startKafkaServer({
    broker,
    host: '127.0.0.1',
    port: 0,
    settings: { advertisedHost: '127.0.0.1', ...settings },
    logger: pino({ level: 'silent' }),
    ...(requestBytesMax === undefined ? {} : { requestBytesMax }),
  });
  return {
    broker,
    server,
    dataDir,
    port: server.port,
    bootstrap: `127.0.0.1:${server.port}`,
    close: async () => {
      await server.close();
      await broker.close();
    },
  };
}

/** Encodes one framed request (size prefix included). */
export function encodeRequest(apiKey: number, apiVersion: number, correlationId: number, body: Record<string, unknown>, clientId = 'ferry-test'): Buffer {
  const api = findApi(apiKey);
  if (!api) throw new Error(`unknown API key ${apiKey}`);
  const writer = new KafkaWriter();
  writer.writeInt32(0);
  encodeRequestHeader(api, { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId }, writer);
  encode(api.request, apiVersion, body, writer);
  writer.writeInt32At(0, writer.byteLength - 4);
  return Buffer.from(writer.finish());
}

/** A raw protocol connection: send frames, read whole response frames in order. */
export class RawKafkaClient {
  private buffered = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private readonly waiters: Array<() => void> = [];
  private ended = false;
  private nextCorrelationId = 1;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        this.frames.push(this.buffered.subarray(4, 4 + size));
        this.buffered = this.buffered.subarray(4 + size);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawKafkaClient(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  get closed(): boolean {
    return this.ended;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next response frame (correlation id first), or null once the broker closed the connection. */
  async nextFrame(timeoutMs = WAIT_MS): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.ended) return null;
      if (Date.now() > deadline) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames.shift()!;
  }

  /** Resolves true once the broker closed the connection (false if it did not within the wait). */
  async waitClosed(timeoutMs = WAIT_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.frames.length = 0;
    }
    return this.ended;
  }

  /** Sends a request and decodes its response (checking the correlation id). */
  async request(apiKey: number, apiVersion: number, body: Record<string, unknown>): Promise<KafkaStruct> {
    const correlationId = this.nextCorrelationId++;
    this.write(encodeRequest(apiKey, apiVersion, correlationId, body));
    const frame = await this.nextFrame();
    if (frame === null) throw new Error(`connection closed instead of answering API ${apiKey} v${apiVersion}`);
    return decodeResponse(apiKey, apiVersion, correlationId, frame);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function decodeResponse(apiKey: number, apiVersion: number, correlationId: number, frame: Buffer): KafkaStruct {
  const api = findApi(apiKey)!;
  const reader = new KafkaReader(frame);
  const header = decodeResponseHeader(api, apiVersion, reader);
  if (header.correlationId !== correlationId) throw new Error(`correlation id ${header.correlationId}, expected ${correlationId}`);
  const body = decode(api.response, apiVersion, reader);
  if (reader.remaining !== 0) throw new Error(`${reader.remaining} bytes left after the ${api.name} v${apiVersion} response`);
  return body;
}
