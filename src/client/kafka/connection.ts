/**
 * One TCP connection to a Kafka broker, client side: requests framed with
 * Ferry's own codec, answers matched to them by correlation id.
 *
 *   request frame:  size int32 | request header v1/v2 | body
 *   response frame: size int32 | correlationId int32 | [tagged fields, header v1] | body
 *
 * A broker answers a connection's requests in order, so an answer with a
 * correlation id we are not waiting for means the stream is broken: the
 * connection is closed and every waiting request fails. So does a request
 * not answered within its timeout (Kafka's clients disconnect too, since a
 * late answer would still arrive in that slot). At most IN_FLIGHT_REQUESTS_MAX
 * requests are on the wire at once; more wait for a slot.
 *
 * Errors are FerryErrors: NETWORK_EXCEPTION (cannot connect, connection
 * lost), REQUEST_TIMED_OUT, and UNKNOWN_SERVER_ERROR for an answer that does
 * not decode.
 */

import net from 'node:net';
import { assert, FerryError } from '../../errors.js';
import { findApi } from '../../protocol/kafka/apis.js';
import { decode, decodeResponseHeader, encode, encodeRequestHeader, type KafkaStruct } from '../../protocol/kafka/codec/message-codec.js';
import { KafkaReader } from '../../protocol/kafka/codec/reader.js';
import { KafkaWriter } from '../../protocol/kafka/codec/writer.js';
import { FrameReader } from '../../protocol/kafka/frame-reader.js';
import type { ApiSpec } from '../../protocol/kafka/message-spec.js';
import { API } from './api-versions.js';
import { CLIENT_ID, CONNECT_TIMEOUT_MS, IN_FLIGHT_REQUESTS_MAX, REQUEST_TIMEOUT_MS, RESPONSE_BYTES_MAX } from './limits.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

interface PendingRequest {
  api: ApiSpec;
  apiVersion: number;
  resolve(body: KafkaStruct): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const SIZE_PREFIX_BYTES = 4;
const CORRELATION_ID_BYTES = 4;
const INT32_MAX = 0x7fffffff;
const UNSUPPORTED_VERSION_CODE = 35;

/** `host:port`, with IPv6 hosts in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class KafkaConnection {
  readonly address: string;
  private readonly frames = new FrameReader(RESPONSE_BYTES_MAX);
  private readonly pending = new Map<number, PendingRequest>();
  private readonly slotWaiters: Array<() => void> = [];
  private nextCorrelationId = 0;
  private failure: FerryError | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly options: Required<ConnectionOptions>,
  ) {
    this.address = formatAddress(options.host, options.port);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.fail(new FerryError('NETWORK_EXCEPTION', `connection to ${this.address} failed: ${error.code ?? error.message}`)));
    socket.on('close', () => this.fail(new FerryError('NETWORK_EXCEPTION', `connection to ${this.address} closed by the broker`)));
  }

  static connect(options: ConnectionOptions): Promise<KafkaConnection> {
    const settings: Required<ConnectionOptions> = {
      clientId: CLIENT_ID,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      ...options,
    };
    const address = formatAddress(settings.host, settings.port);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: settings.host, port: settings.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new FerryError('NETWORK_EXCEPTION', `cannot connect to ${address}: no answer within ${settings.connectTimeoutMs} ms`));
      }, settings.connectTimeoutMs);
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new FerryError('NETWORK_EXCEPTION', `cannot connect to ${address}: ${error.code ?? error.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new KafkaConnection(socket, settings));
      });
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one request and resolves with the decoded response body. */
  async request(apiKey: number, apiVersion: number, body: Readonly<Record<string, unknown>>): Promise<KafkaStruct> {
    const api = findApi(apiKey);
    assert(api !== undefined, `API key ${apiKey} is in the generated table`);
    while (this.pending.size >= IN_FLIGHT_REQUESTS_MAX && this.failure === null) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    if (this.failure !== null) throw this.failure;
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId === INT32_MAX ? 0 : correlationId + 1;
    const frame = encodeFrame(api, apiVersion, correlationId, this.options.clientId, body);
    return new Promise<KafkaStruct>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new FerryError('REQUEST_TIMED_OUT', `${api.name} v${apiVersion} to ${this.address}: no answer within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      this.pending.set(correlationId, { api, apiVersion, resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  /** Closes the connection; requests still waiting fail with NETWORK_EXCEPTION. */
  close(): void {
    this.fail(new FerryError('NETWORK_EXCEPTION', `connection to ${this.address} closed by the client`));
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.frames.push(chunk);
    } catch (error) {
      this.fail(new FerryError('UNKNOWN_SERVER_ERROR', `${this.address} sent a response frame outside [0, ${RESPONSE_BYTES_MAX}] bytes: ${(error as Error).message}`));
      return;
    }
    for (const frame of frames) this.onFrame(frame);
  }

  private onFrame(frame: Buffer): void {
    if (this.failure !== null) return;
    const correlationId = frame.length >= CORRELATION_ID_BYTES ? frame.readInt32BE(0) : -1;
    const request = this.pending.get(correlationId);
    if (request === undefined) {
      this.fail(new FerryError('UNKNOWN_SERVER_ERROR', `${this.address} answered correlation id ${correlationId}, which no request is waiting for`));
      return;
    }
    this.pending.delete(correlationId);
    clearTimeout(request.timer);
    this.slotWaiters.shift()?.();
    try {
      request.resolve(decodeFrame(request.api, request.apiVersion, frame));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      request.reject(new FerryError('UNKNOWN_SERVER_ERROR', `${request.api.name} v${request.apiVersion} response from ${this.address} does not decode: ${reason}`));
    }
  }

  /** Ends the connection once: every waiting request (and every later one) fails with `error`. */
  private fail(error: FerryError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.socket.destroy();
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this.pending.clear();
    for (const wake of this.slotWaiters.splice(0)) wake();
  }
}

function encodeFrame(api: ApiSpec, apiVersion: number, correlationId: number, clientId: string, body: Readonly<Record<string, unknown>>): Buffer {
  const writer = new KafkaWriter();
  writer.writeInt32(0);
  encodeRequestHeader(api, { requestApiKey: api.apiKey, requestApiVersion: apiVersion, correlationId, clientId }, writer);
  encode(api.request, apiVersion, body, writer);
  writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
  return writer.finish();
}

/**
 * The body of one response frame. A broker that does not speak our
 * ApiVersions version answers it in v0 form with UNSUPPORTED_VERSION and its
 * own version list (KIP-511): that answer is read as v0, whatever we sent.
 */
function decodeFrame(api: ApiSpec, apiVersion: number, frame: Buffer): KafkaStruct {
  const reader = new KafkaReader(frame);
  decodeResponseHeader(api, apiVersion, reader);
  const refusedApiVersions = api.apiKey === API.ApiVersions && reader.remaining >= 2 && frame.readInt16BE(reader.offset) === UNSUPPORTED_VERSION_CODE;
  const body = decode(api.response, refusedApiVersions ? 0 : apiVersion, reader);
  if (reader.remaining !== 0) throw new Error(`${reader.remaining} bytes left over`);
  return body;
}
