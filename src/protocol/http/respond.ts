/**
 * One HTTP exchange on a uWS response: reading the request body under a
 * limit, answering with JSON or text, or streaming with backpressure.
 *
 * uWS rules this class keeps so route handlers do not have to:
 * - `onAborted` is registered in the constructor, which runs synchronously in
 *   the route handler, before any await; after an abort the response object
 *   must not be touched, so every write checks the state first.
 * - The request body arrives through `onData` only if that handler is set
 *   synchronously too (`readBody` is called by the router before any await);
 *   uWS neuters each chunk's ArrayBuffer on return, so chunks are copied.
 * - Writes after an await are grouped in `res.cork()`: one syscall.
 * - Streaming: `write` returns false when uWS had to buffer; the caller then
 *   awaits `writable()` (uWS's `onWritable`) before producing more, so a slow
 *   reader holds at most one chunk in memory, never a growing queue.
 */

import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import { HttpError, errorResponse, type ErrorResponse } from './errors.js';

/** What the metrics hear: body bytes as they move, and the status once the exchange ends. */
export interface ExchangeObserver {
  received(bytes: number): void;
  sent(bytes: number): void;
  /** 499 (nginx's "client closed request") when the client went away first. */
  finished(status: number): void;
}

export const STATUS_CLIENT_CLOSED = 499;

type State = 'open' | 'streaming' | 'done' | 'aborted';

export type Header = readonly [name: string, value: string];

export class Exchange {
  private state: State = 'open';
  private readonly controller = new AbortController();
  private bytesIn = 0;
  private status = 0;
  /** Pending while uWS holds written bytes the socket has not taken. */
  private drain: { promise: Promise<void>; resolve: () => void } | null = null;
  private drainFiller = '';

  constructor(
    private readonly res: HttpResponse,
    private readonly observer: ExchangeObserver,
    /** A HEAD request: the GET's status and headers, its length reported, no body. */
    private readonly headOnly = false,
  ) {
    res.onAborted(() => this.aborted());
  }

  /** Aborts when the client goes away: hand it to broker long-polls. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Not yet answered in full, and the client is still there. */
  get isOpen(): boolean {
    return this.state === 'open' || this.state === 'streaming';
  }

  get isStreaming(): boolean {
    return this.state === 'streaming';
  }

  // --- whole responses -----------------------------------------------------------------------

  json(status: number, body: unknown): void {
    this.send(status, 'application/json', JSON.stringify(body));
  }

  noContent(): void {
    this.send(204, null, '');
  }

  send(status: number, contentType: string | null, body: string | Buffer, closeConnection = false, headers: readonly Header[] = []): void {
    if (this.state !== 'open') return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      if (contentType !== null) this.res.writeHeader('content-type', contentType);
      for (const [name, value] of headers) this.res.writeHeader(name, value);
      if (this.headOnly) this.res.endWithoutBody(typeof body === 'string' ? Buffer.byteLength(body) : body.length, closeConnection);
      else this.res.end(body, closeConnection);
    });
    this.observer.sent(typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    this.finish('done', status);
  }

  /**
   * Answers with the error's status, headers and Confluent-style body;
   * returns the mapping (the router logs unexpected ones). `redirectTarget`:
   * errors.ts's errorResponse.
   */
  fail(error: unknown, redirectTarget: string | null = null): ErrorResponse {
    const response = errorResponse(error, redirectTarget);
    this.send(response.status, 'application/json', JSON.stringify(response.body), response.closeConnection, response.headers);
    return response;
  }

  // --- request body --------------------------------------------------------------------------

  /**
   * The whole request body, refused with 413 (and the connection closed, since
   * the rest is still arriving) once it passes `limitBytes`. Call it
   * synchronously in the route handler.
   */
  readBody(limitBytes: number, declaredBytes: number | null): Promise<Buffer> {
    if (declaredBytes !== null && declaredBytes > limitBytes) return Promise.reject(bodyTooLarge(declaredBytes, limitBytes));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let failed = false;
      this.signal.addEventListener('abort', () => reject(new HttpError(STATUS_CLIENT_CLOSED, 'client went away')), { once: true });
      this.res.onData((chunk, isLast) => {
        if (failed || this.state !== 'open') return;
        this.bytesIn += chunk.byteLength;
        this.observer.received(chunk.byteLength);
        if (this.bytesIn > limitBytes) {
          failed = true;
          reject(bodyTooLarge(this.bytesIn, limitBytes));
          return;
        }
        if (chunk.byteLength > 0) chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) resolve(Buffer.concat(chunks, this.bytesIn));
      });
    });
  }

  // --- streaming -----------------------------------------------------------------------------

  /**
   * Sends the status and headers of a chunked response. `drainFiller` is a
   * no-op line of the stream's format: while an onWritable handler is set,
   * uWS drains its buffer only when something is written, so the handler
   * writes this to push out what is still buffered.
   */
  beginStream(status: number, headers: readonly Header[], drainFiller: string): void {
    if (this.state !== 'open') return;
    if (this.headOnly) {
      // HEAD of a stream: its headers, no body; the abort tells the producer of the stream to stop at once.
      this.res.cork(() => {
        this.res.writeStatus(statusLine(status));
        for (const [name, value] of headers) this.res.writeHeader(name, value);
        this.res.endWithoutBody();
      });
      this.finish('done', status);
      this.controller.abort();
      return;
    }
    this.drainFiller = drainFiller;
    this.status = status;
    this.state = 'streaming';
    this.res.onWritable(() => this.onWritable());
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const [name, value] of headers) this.res.writeHeader(name, value);
    });
  }

  /** Writes one chunk; false when uWS had to buffer it: await `writable()` before producing the next. */
  write(chunk: string): boolean {
    if (this.state !== 'streaming') return false;
    let ok = false;
    this.res.cork(() => {
      ok = this.res.write(chunk);
    });
    this.observer.sent(Buffer.byteLength(chunk));
    if (!ok && !this.drain) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((done) => (resolve = done));
      this.drain = { promise, resolve };
    }
    return ok;
  }

  /** Resolves once the client has taken what was buffered (or has gone away). */
  writable(): Promise<void> {
    return this.drain?.promise ?? Promise.resolve();
  }

  get backpressured(): boolean {
    return this.drain !== null;
  }

  endStream(lastChunk = ''): void {
    if (this.state !== 'streaming') return;
    this.res.cork(() => {
      this.res.end(lastChunk);
    });
    this.observer.sent(Buffer.byteLength(lastChunk));
    this.releaseDrain();
    this.finish('done', this.status);
  }

  private onWritable(): boolean {
    if (this.state !== 'streaming' || !this.drain) return true;
    let ok = false;
    this.res.cork(() => {
      ok = this.res.write(this.drainFiller);
    });
    this.observer.sent(this.drainFiller.length);
    if (ok) this.releaseDrain();
    return ok;
  }

  private releaseDrain(): void {
    const drain = this.drain;
    this.drain = null;
    drain?.resolve();
  }

  // --- ending --------------------------------------------------------------------------------

  private aborted(): void {
    if (this.state === 'done' || this.state === 'aborted') return;
    this.finish('aborted', STATUS_CLIENT_CLOSED);
    this.controller.abort();
    this.releaseDrain();
  }

  private finish(state: 'done' | 'aborted', status: number): void {
    this.state = state;
    this.status = status;
    this.observer.finished(status);
  }
}

export function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

function bodyTooLarge(bytes: number, limitBytes: number): HttpError {
  return new HttpError(413, `request body of ${bytes} bytes or more exceeds HTTP_BODY_BYTES_MAX ${limitBytes}`, true);
}
