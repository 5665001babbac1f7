/**
 * The part of the WHATWG WebSocket the client uses, typed here because the
 * project compiles without the DOM library. Browsers' WebSocket, Node 22's
 * global one and the `ws` package's class all fit it.
 */

export interface WebSocketMessageEvent {
  /** A string for text frames; an ArrayBuffer for binary frames once binaryType is 'arraybuffer'. */
  data: unknown;
}

export interface WebSocketCloseEvent {
  code: number;
  reason: string;
}

export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: WebSocketMessageEvent) => void) | null;
  onclose: ((event: WebSocketCloseEvent) => void) | null;
  onerror: ((event: unknown) => void) | null;
  /** Text frames for strings, binary frames for bytes (copied before send returns, as the WHATWG spec and `ws` do). */
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The runtime's own WebSocket, if it has one (browsers; Node from 22). */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}
