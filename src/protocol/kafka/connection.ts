/**
 * One Kafka client connection: frames in, handlers called, responses out.
 *
 * Requests are decoded and handed to their handler in arrival order (so
 * produce appends keep the order the client sent them in), may complete in
 * any order, and are answered strictly in arrival order, as Kafka promises
 * per connection. At most CONNECTION_REQUESTS_IN_FLIGHT_MAX requests, and
 * CONNECTION_REQUEST_BYTES_IN_FLIGHT_MAX bytes of them, are with handlers at
 * once; frames beyond wait undispatched and the socket is not read (Kafka
 * "mutes" the channel), as it is not while its write buffer is over
 * CONNECTION_WRITE_BUFFER_BYTES_MAX: one client cannot queue unbounded work.
 * Until SASL authentication succeeds (when it is required) a frame may be at
 * most UNAUTHENTICATED_REQUEST_BYTES_MAX; a connection idle for
 * CONNECTION_IDLE_MS is closed.
 *
 * Bad input is answered as Kafka does: a bad size prefix, an undecodable
 * header or body, an unknown API key or an unsupported version closes the
 * connection, except ApiVersions at a version too new for us, which gets a
 * v0 answer with UNSUPPORTED_VERSION and our version list (KIP-511) so the
 * client can retry lower. Either way the broker and other connections carry
 * on. A handler's FerryError becomes the response's top-level error code
 * when the response has one.
 */

import type net from 'node:net';
import type { Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import { assert, ERROR_CODES, FerryError } from '../../errors.js';
import { API_KEY } from './apis.js';
import { FileRecords, type ResponseChunk } from './codec/file-records.js';
import { KafkaReader } from './codec/reader.js';
import { KafkaWriter } from './codec/writer.js';
import { decode, decodeRequestHeader, encode, encodeResponseHeader, type RequestHeader } from './codec/message-codec.js';
import type { FetchSessionCache } from './fetch-sessions.js';
import { readFileRecords, type FileSender } from './file-sender.js';
import { FrameReader } from './frame-reader.js';
import { NO_RESPONSE, type ApiBodyCodec, type ApiHandler, type KafkaDoorSettings, type KafkaSession, type RequestContext, type ResponseBody, type SupportedApi } from './handler.js';
import {
  CONNECTION_CLOSE_LINGER_MS,
  CONNECTION_IDLE_MS,
  CONNECTION_REQUEST_BYTES_IN_FLIGHT_MAX,
  CONNECTION_REQUESTS_IN_FLIGHT_MAX,
  CONNECTION_WRITE_BUFFER_BYTES_MAX,
  SIZE_PREFIX_BYTES,
  UNAUTHENTICATED_REQUEST_BYTES_MAX,
} from './limits.js';
import { inRange, type ApiSpec } from './message-spec.js';

/** What every connection of one door shares. */
export interface DoorState {
  broker: Broker;
  settings: KafkaDoorSettings;
  handlers: ReadonlyMap<number, ApiHandler>;
  supportedApis: readonly SupportedApi[];
  logger: Logger;
  requestBytesMax: number;
  /** Counters across every connection of the door. */
  stats: { frames: number };
  fetchSessions: FetchSessionCache;
  /** Sends record sets left in their files (sendfile), within a door-wide limit. */
  fileSender: FileSender;
}

/** A response writer's first buffer: most answers fit, so most need no growing (a pooled allocation below 4 KiB). */
const RESPONSE_WRITER_BYTES = 1024;

interface PendingResponse {
  /** null until the handler answered. */
  chunks: ResponseChunk[] | typeof NO_RESPONSE | null;
  /** The first chunk not yet written (a flush stops after a chunk sent with sendfile and resumes here). */
  nextChunk: number;
  /** Set by the handler: close the connection right after this response. */
  closeReason?: string;
  /** The request's frame size, counted in flight until it is answered. */
  requestBytes: number;
}

export class KafkaConnection {
  private readonly frames: FrameReader;
  private readonly pending: PendingResponse[] = [];
  /** Frames received but not yet handed to a handler (the connection is at its in-flight limits). */
  private readonly waitingFrames: Buffer[] = [];
  private requestBytesInFlight = 0;
  private draining = false;
  private readonly aborter = new AbortController();
  private readonly session: KafkaSession;
  private readonly logger: Logger;
  private paused = false;
  private closed = false;
  private flushScheduled = false;
  /** A record set is going out with sendfile: nothing else may be written until it is done. */
  private sendingFile = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly door: DoorState,
    connectionId: number,
  ) {
    this.session = { connectionId, clientHost: `/${socket.remoteAddress ?? 'unknown'}`, saslMechanism: null, principal: null };
    this.frames = new FrameReader(this.authenticationRequired() ? Math.min(UNAUTHENTICATED_REQUEST_BYTES_MAX, door.requestBytesMax) : door.requestBytesMax);
    this.logger = door.logger.child({ connection: connectionId, client: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.drainFrames());
    socket.on('error', (error) => this.logger.debug({ err: error }, 'socket error'));
    socket.on('close', () => this.onClose());
    socket.setTimeout(CONNECTION_IDLE_MS);
    socket.on('timeout', () => {
      if (this.pending.length === 0 && this.waitingFrames.length === 0) this.close('idle for connections.max.idle.ms');
    });
  }

  private authenticationRequired(): boolean {
    return this.door.settings.saslPlainUsers.size > 0 && this.session.principal === null;
  }

  /**
   * Closes the connection: responses already written still go out (end,
   * not destroy), nothing more is read or answered, and waits on its long
   * polls end through the abort signal.
   */
  close(reason: string): void {
    if (this.closed) return;
    this.logger.debug({ reason }, 'closing Kafka connection');
    this.onClose();
    this.socket.removeAllListeners('data');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CONNECTION_CLOSE_LINGER_MS).unref();
  }

  /** Drops the connection at once (broker shutdown). */
  destroy(): void {
    this.onClose();
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.aborter.abort();
    // Unsent answers never will be: their file ranges go back (one being sent is the sender's to release).
    for (const slot of this.pending) if (Array.isArray(slot.chunks)) releaseFiles(slot.chunks, slot.nextChunk);
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.frames.push(chunk);
    } catch (error) {
      this.close(errorMessage(error));
      return;
    }
    this.waitingFrames.push(...frames);
    this.drainFrames();
  }

  /** Hands waiting frames to their handlers while the in-flight limits allow. */
  private drainFrames(): void {
    // A handler that answers synchronously flushes, which drains again: the outer loop carries on instead.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.waitingFrames.length > 0 && !this.closed && !this.atCapacity(this.waitingFrames[0]!)) {
        const frame = this.waitingFrames.shift()!;
        this.door.stats.frames++;
        this.dispatch(frame);
      }
    } finally {
      this.draining = false;
    }
    this.updateReading();
  }

  private atCapacity(next: Buffer): boolean {
    if (this.pending.length >= CONNECTION_REQUESTS_IN_FLIGHT_MAX) return true;
    return this.requestBytesInFlight > 0 && this.requestBytesInFlight + next.length > CONNECTION_REQUEST_BYTES_IN_FLIGHT_MAX;
  }

  private dispatch(frame: Buffer): void {
    const reader = new KafkaReader(frame);
    let header: RequestHeader;
    let api: ApiSpec | undefined;
    try {
      ({ header, api } = decodeRequestHeader(reader));
    } catch (error) {
      this.close(`undecodable request header: ${errorMessage(error)}`);
      return;
    }
    const handler = this.door.handlers.get(header.requestApiKey);
    if (api === undefined || handler === undefined) {
      this.close(`API key ${header.requestApiKey} is not supported`);
      return;
    }
    const version = header.requestApiVersion;
    if (!inRange(handler.versions, version)) {
      if (api.apiKey === API_KEY.ApiVersions) this.answerUnsupportedApiVersions(api, header.correlationId);
      else this.close(`${api.name} v${version} is not supported (supported: ${handler.versions.min}-${handler.versions.max})`);
      return;
    }
    if (this.door.settings.saslPlainUsers.size > 0 && this.session.principal === null && handler.allowedBeforeAuthentication !== true) {
      this.close(`${api.name} before SASL authentication`);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = handler.codec?.decodeRequest ? handler.codec.decodeRequest(reader, version) : decode(api.request, version, reader);
    } catch (error) {
      this.close(`undecodable ${api.name} v${version} request: ${errorMessage(error)}`);
      return;
    }
    this.run(handler, api, header, body, frame.length);
  }

  private run(handler: ApiHandler, api: ApiSpec, header: RequestHeader, body: Record<string, unknown>, requestBytes: number): void {
    const slot: PendingResponse = { chunks: null, nextChunk: 0, requestBytes };
    this.pending.push(slot);
    this.requestBytesInFlight += requestBytes;
    const context: RequestContext = {
      broker: this.door.broker,
      settings: this.door.settings,
      session: this.session,
      header,
      apiVersion: header.requestApiVersion,
      supportedApis: this.door.supportedApis,
      fetchSessions: this.door.fetchSessions,
      sendsFileRecords: this.door.fileSender.available,
      signal: this.aborter.signal,
      logger: this.logger,
      closeAfterResponse: (reason) => {
        slot.closeReason = reason;
      },
    };
    const answer = (response: ResponseBody | typeof NO_RESPONSE, bodyCodec: ApiBodyCodec | undefined): void => {
      if (this.closed) {
        // Nothing more goes out, but file ranges in the answer must still be given back.
        if (response !== NO_RESPONSE && this.door.fileSender.available) releaseFiles(encodeResponseChunks(api, header.requestApiVersion, header.correlationId, response, bodyCodec), 0);
        return;
      }
      this.requestBytesInFlight -= slot.requestBytes;
      slot.requestBytes = 0;
      // Authentication just succeeded: frames of any allowed size from now on.
      if (this.frames.requestBytesMax < this.door.requestBytesMax && !this.authenticationRequired()) this.frames.requestBytesMax = this.door.requestBytesMax;
      try {
        slot.chunks = response === NO_RESPONSE ? NO_RESPONSE : encodeResponseChunks(api, header.requestApiVersion, header.correlationId, response, bodyCodec);
      } catch (error) {
        this.logger.error({ err: error, api: api.name, version: header.requestApiVersion }, 'cannot encode the response');
        this.close('response encoding failed');
        return;
      }
      this.scheduleFlush();
    };
    const fail = (error: unknown): void => {
      if (this.closed) return;
      const fallback = errorResponse(api, header.requestApiVersion, error);
      if (fallback === null) {
        if (!(error instanceof FerryError)) this.logger.error({ err: error, api: api.name }, 'handler failed');
        this.close(`${api.name} failed: ${errorMessage(error)}`);
        return;
      }
      if (!(error instanceof FerryError)) this.logger.error({ err: error, api: api.name }, 'handler failed; answered UNKNOWN_SERVER_ERROR');
      // The fallback carries only the error fields: the generic codec writes the rest as defaults.
      answer(fallback, undefined);
    };
    const answerWithCodec = (response: ResponseBody | typeof NO_RESPONSE): void => answer(response, handler.codec);
    try {
      const result = handler.handle(body, context);
      if (result instanceof Promise) result.then(answerWithCodec, fail);
      else answerWithCodec(result);
    } catch (error) {
      fail(error);
    }
  }

  private answerUnsupportedApiVersions(api: ApiSpec, correlationId: number): void {
    const body = { errorCode: ERROR_CODES.UNSUPPORTED_VERSION.code, apiKeys: this.door.supportedApis.map((entry) => ({ ...entry })) };
    this.pending.push({ chunks: encodeResponse(api, 0, correlationId, body), nextChunk: 0, requestBytes: 0 });
    this.scheduleFlush();
  }

  /**
   * Flushes once the current event-loop turn's I/O callbacks and promise
   * jobs have run (setImmediate: the same turn's check phase, so no answer
   * waits for new I/O): every response answered in the meantime goes out in
   * one corked write. A write costs a syscall and, on loopback, the peer's
   * wake-up; one per response was the broker's largest cost at 10,000
   * one-record requests/s, and grew with a backlog instead of shrinking.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.closed) this.flush();
    });
  }

  /**
   * Writes every answered response at the head of the queue, in one corked
   * batch. A record set left in its file goes out with sendfile when a slot
   * is free: the flush stops there, resumes when the kernel has it all, and
   * meanwhile nothing else is written (the bytes would interleave); without
   * a slot it is read into memory and written like any chunk.
   */
  private flush(): void {
    if (this.sendingFile || this.pending.length === 0 || this.pending[0]!.chunks === null) return;
    let closeReason: string | undefined;
    this.socket.cork();
    try {
      while (this.pending.length > 0 && this.pending[0]!.chunks !== null && closeReason === undefined) {
        const slot = this.pending[0]!;
        if (slot.chunks !== NO_RESPONSE && !this.writeChunks(slot as PendingResponse & { chunks: ResponseChunk[] })) return;
        this.pending.shift();
        closeReason = slot.closeReason;
      }
    } finally {
      this.socket.uncork();
    }
    if (closeReason !== undefined) this.close(closeReason);
    else this.drainFrames();
  }

  /** Writes a response's chunks from where it stopped; false when it stopped to send a file (the flush resumes after). */
  private writeChunks(slot: PendingResponse & { chunks: ResponseChunk[] }): boolean {
    const chunks = slot.chunks;
    while (slot.nextChunk < chunks.length) {
      const chunk = chunks[slot.nextChunk++]!;
      if (chunk instanceof FileRecords) {
        this.socket.write(readFileRecords(chunk));
        continue;
      }
      const next = chunks[slot.nextChunk];
      if (next instanceof FileRecords && this.door.fileSender.tryReserve()) {
        // sendfile must start only once Node's write queue is in the kernel: this chunk's callback says so.
        slot.nextChunk++;
        this.sendingFile = true;
        this.socket.write(chunk, (error) => this.sendFile(next, error ?? null));
        return false;
      }
      this.socket.write(chunk);
    }
    return true;
  }

  private sendFile(records: FileRecords, writeError: Error | null): void {
    const sent = writeError === null && !this.closed ? this.door.fileSender.sendfile(this.socket, records) : this.door.fileSender.cancel(records);
    sent.then(
      () => {
        this.sendingFile = false;
        if (this.closed) return;
        this.flush();
        this.updateReading();
      },
      (error: unknown) => {
        this.sendingFile = false;
        // Part of a response went out: the stream cannot be continued.
        if (this.closed) return;
        this.logger.debug({ err: error }, 'sendfile failed');
        this.destroy();
      },
    );
  }

  private updateReading(): void {
    if (this.closed) return;
    const busy = this.waitingFrames.length > 0 || this.pending.length >= CONNECTION_REQUESTS_IN_FLIGHT_MAX || this.socket.writableLength > CONNECTION_WRITE_BUFFER_BYTES_MAX;
    if (busy && !this.paused) this.socket.pause();
    else if (!busy && this.paused) this.socket.resume();
    this.paused = busy;
  }
}

/** Size prefix, response header and body, as the writer's chunks (record sets by reference, none left in files). */
export function encodeResponse(api: ApiSpec, version: number, correlationId: number, body: ResponseBody, bodyCodec?: ApiBodyCodec): Buffer[] {
  const chunks = encodeResponseChunks(api, version, correlationId, body, bodyCodec);
  assert(chunks.every((chunk) => Buffer.isBuffer(chunk)), `${api.name} response holds record sets left in their files`);
  return chunks as Buffer[];
}

/** As encodeResponse, record sets left in their files (FileRecords) included as they are. */
function encodeResponseChunks(api: ApiSpec, version: number, correlationId: number, body: ResponseBody, bodyCodec?: ApiBodyCodec): ResponseChunk[] {
  const writer = new KafkaWriter(RESPONSE_WRITER_BYTES);
  writer.writeInt32(0);
  encodeResponseHeader(api, version, correlationId, writer);
  if (bodyCodec?.encodeResponse) bodyCodec.encodeResponse(body, version, writer);
  else encode(api.response, version, body, writer);
  writer.writeInt32At(0, writer.byteLength - SIZE_PREFIX_BYTES);
  return writer.finishResponseChunks();
}

/** Gives back the file ranges among `chunks` from `from` on: they will not be sent. */
function releaseFiles(chunks: readonly ResponseChunk[], from: number): void {
  for (let i = from; i < chunks.length; i++) {
    const chunk = chunks[i];
    if (chunk instanceof FileRecords) chunk.release();
  }
}

/** A body carrying only a top-level error code, when the response has such a field at this version; else null. */
function errorResponse(api: ApiSpec, version: number, error: unknown): ResponseBody | null {
  const hasErrorCode = api.response.fields.some((field) => field.key === 'errorCode' && inRange(field.versions, version));
  if (!hasErrorCode) return null;
  const errorCode = error instanceof FerryError ? error.errorCode : ERROR_CODES.UNKNOWN_SERVER_ERROR.code;
  const withMessage = api.response.fields.some((field) => field.key === 'errorMessage' && inRange(field.versions, version));
  return withMessage ? { errorCode, errorMessage: errorMessage(error) } : { errorCode };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
