/**
 * HTTP door test helpers: a real broker in a temp dir behind a real server
 * on 127.0.0.1 port 0, curl-shaped calls through Node's fetch, and a
 * Server-Sent Events reader over fetch's body stream. Every wait is bounded.
 */

import { pino } from 'pino';
import { Broker, type BrokerOptions } from '../../../src/broker/broker.js';
import { startServer, type RunningServer } from '../../../src/protocol/server.js';
import { tempDir } from '../../storage/helpers.js';

export const WAIT_MS = 15_000;

export interface TestServer {
  broker: Broker;
  server: RunningServer;
  dataDir: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** `<origin>/v3/clusters/<cluster id>` */
  cluster: string;
  close(): Promise<void>;
}

export async function openServer(options: Partial<BrokerOptions> = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir('ferry-http-');
  const broker = await Broker.open({ ...options, dataDir });
  const server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  const origin = `http://127.0.0.1:${server.port}`;
  return {
    broker,
    server,
    dataDir,
    origin,
    cluster: `${origin}/v3/clusters/${broker.clusterId}`,
    close: async () => {
      server.close();
      await broker.close();
    },
  };
}

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: T;
}

/** One request; a body that is not a string or Buffer is sent as JSON. */
export async function call<T = unknown>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { ...headers }, signal: AbortSignal.timeout(WAIT_MS) };
  if (body !== undefined) {
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json: json as T };
}

export interface ProduceReport {
  error_code: number;
  message?: string;
  kafka_error?: string;
  cluster_id: string;
  topic_name: string;
  partition_id: number;
  offset: number;
  timestamp: string;
  key: { type: string; size: number } | null;
  value: { type: string; size: number } | null;
}

export interface RecordJson {
  partition_id: number;
  offset: number;
  timestamp: number;
  key: string | null;
  key_encoding?: string;
  value: string | null;
  value_encoding?: string;
  headers: Array<{ name: string; value: string | null; value_encoding?: string }>;
}

export interface FetchReply {
  topic_name: string;
  partition_id: number;
  records: RecordJson[];
  next_offset: number;
  high_watermark: number;
  log_start_offset: number;
}

export interface ErrorReply {
  error_code: number;
  message: string;
  kafka_error?: string;
}

/** A STRING key and value record, the simplest produce body. */
export function stringRecord(key: string | null, value: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(key === null ? {} : { key: { type: 'STRING', data: key } }), value: { type: 'STRING', data: value }, ...extra };
}

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** An SSE stream read through fetch: events parsed as they arrive, taken in order with a bounded wait. */
export class SseReader {
  private readonly events: SseEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private buffer = '';
  ended = false;

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    void this.pump(response.body!.getReader());
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), WAIT_MS);
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    clearTimeout(timer);
    return new SseReader(response, controller);
  }

  /** The next event (skipping those that do not match), within WAIT_MS. */
  async next(match: (event: SseEvent) => boolean = () => true): Promise<SseEvent> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      while (this.events.length > 0) {
        const event = this.events.shift()!;
        if (match(event)) return event;
      }
      if (this.ended) throw new Error('SSE stream ended');
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error('no SSE event within the wait');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next `count` record events. */
  async records(count: number): Promise<Array<{ id: string | undefined; record: RecordJson }>> {
    const taken: Array<{ id: string | undefined; record: RecordJson }> = [];
    while (taken.length < count) {
      const event = await this.next((e) => e.event === 'record');
      taken.push({ id: event.id, record: JSON.parse(event.data) as RecordJson });
    }
    return taken;
  }

  close(): void {
    this.controller.abort();
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        this.parse();
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.notify();
  }

  private parse(): void {
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event: SseEvent = { event: 'message', id: undefined, data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.event = value;
        else if (field === 'id') event.id = value;
        else if (field === 'data') {
          event.data += hasData ? `\n${value}` : value;
          hasData = true;
        }
      }
      if (hasData) this.events.push(event);
    }
    this.notify();
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
  }
}

/** Polls `probe` until it returns a value other than undefined, for at most WAIT_MS. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One sample's value from Prometheus text, or undefined when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}
