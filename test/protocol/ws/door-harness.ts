/**
 * A WebSocket door on 127.0.0.1, port 0, over a fresh broker, and a raw
 * protocol socket (the `ws` package) that queues every frame it receives for
 * the tests to take by predicate. Every wait is bounded (WAIT_MS).
 */

import { createRequire } from 'node:module';
import { pino } from 'pino';
import { expect } from 'vitest';
import { Broker } from '../../../src/broker/broker.js';
import { createWebSocketDoor, type WebSocketDoor } from '../../../src/protocol/ws/index.js';
import { WS_LIMITS, type WsLimits } from '../../../src/protocol/ws/limits.js';
import type { ServerMessage } from '../../../src/protocol/ws/protocol.js';
import { loadUws } from '../../../src/protocol/uws.js';
import { tempDir } from '../../storage/helpers.js';

export const WAIT_MS = 15_000;
export const KIB = 1024;

/** The parts of the `ws` package's WebSocket these tests use (it ships no types). */
export interface NodeWebSocket {
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(data: string | Buffer): void;
  close(): void;
}
export const NodeWebSocket = createRequire(import.meta.url)('ws') as new (url: string) => NodeWebSocket;

export type Received = ServerMessage | Buffer;

/** A raw protocol socket: every frame it receives queued, taken by predicate with a bounded wait. */
export class TestSocket {
  private readonly received: Received[] = [];
  private readonly waiters = new Set<() => void>();
  closeCode: number | null = null;

  private constructor(private readonly ws: NodeWebSocket) {
    ws.on('message', (data, isBinary) => {
      this.received.push(isBinary ? Buffer.from(data) : (JSON.parse(data.toString('utf8')) as ServerMessage));
      this.notify();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.notify();
    });
    ws.on('error', () => undefined);
  }

  static async open(port: number, query = 'encoding=json'): Promise<TestSocket> {
    const socket = new TestSocket(new NodeWebSocket(`ws://127.0.0.1:${port}/ws?${query}`));
    const hello = await socket.take((m) => !Buffer.isBuffer(m) && m.type === 'hello', 'hello');
    expect(hello).toMatchObject({ type: 'hello', version: 1 });
    return socket;
  }

  send(message: object | string | Buffer): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  close(): void {
    this.ws.close();
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Removes and returns the first received frame matching `match`, waiting up to WAIT_MS. */
  async take<T extends Received = ServerMessage>(match: (message: Received) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const index = this.received.findIndex(match);
      if (index >= 0) return this.received.splice(index, 1)[0] as T;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode}) while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT_MS} ms; received ${JSON.stringify(this.received.map(frameName))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now() + 1);
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
      });
    }
  }

  answer<T extends ServerMessage>(id: string | number): Promise<T> {
    return this.take<T>((m) => !Buffer.isBuffer(m) && 'id' in m && m.id === id, `answer to ${id}`);
  }

  /** JSON pushes of one subscription until `count` records have come; their records in order. */
  async jsonRecords(subscription: number, count: number): Promise<Extract<ServerMessage, { type: 'records' }>['records']> {
    const records: Extract<ServerMessage, { type: 'records' }>['records'] = [];
    while (records.length < count) {
      const push = await this.take<Extract<ServerMessage, { type: 'records' }>>((m) => !Buffer.isBuffer(m) && m.type === 'records' && m.subscription === subscription, `records of subscription ${subscription}`);
      records.push(...push.records);
    }
    return records;
  }

  /** Everything received so far that matches, without waiting. */
  pending(match: (message: Received) => boolean): Received[] {
    return this.received.filter(match);
  }

  async closed(): Promise<number> {
    const deadline = Date.now() + WAIT_MS;
    while (this.closeCode === null) {
      if (Date.now() > deadline) throw new Error('socket not closed');
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
        setTimeout(wake, 50);
      });
    }
    return this.closeCode;
  }
}

export function frameName(message: Received): string {
  return Buffer.isBuffer(message) ? `binary(${message.length})` : message.type;
}

/** Polls `read` until `done` holds: for state the door exposes through stats(), bounded. */
export async function until<T>(read: () => T, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Harness {
  broker: Broker;
  door: WebSocketDoor;
  port: number;
  close(): Promise<void>;
}

export async function startDoor(limits: Partial<WsLimits> = {}, autoCreateTopics = false): Promise<Harness> {
  const broker = await Broker.open({ dataDir: tempDir('ferry-ws-'), autoCreateTopics });
  const { uws } = loadUws({ allowFallback: false });
  const app = uws.App();
  const door = createWebSocketDoor(app, { broker, uws, logger: pino({ level: 'silent' }) }, { ...WS_LIMITS, ...limits });
  const listenSocket = await new Promise<Exclude<Parameters<Parameters<typeof app.listen>[2]>[0], false>>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (socket) => (socket ? resolve(socket) : reject(new Error('cannot listen')))),
  );
  return {
    broker,
    door,
    port: uws.us_socket_local_port(listenSocket),
    close: async () => {
      uws.us_listen_socket_close(listenSocket);
      door.close();
      await broker.close();
    },
  };
}
