/**
 * A FerryClient for the CLI: the WebSocket door of the broker named by the
 * global --http option (http://host:port -> ws://host:port/ws), on the `ws`
 * package (Node 20 has no global WebSocket). A broker that cannot be reached
 * becomes one CliError line, as in http-api.ts.
 */

import { createRequire } from 'node:module';
import { FerryClient, FerryClientError, type FerryClientOptions, type WebSocketConstructor, type WebSocketLike } from '../client/index.js';
import { CliError } from './http-api.js';

/** How long the opening handshake may take before the broker counts as unreachable. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The part of the `ws` package used here (it ships no types). */
type WsSocket = WebSocketLike & { on(event: 'error', listener: (error: Error & { code?: string }) => void): unknown };
type WsConstructor = new (url: string, options: { handshakeTimeout: number }) => WsSocket;

const Ws = createRequire(import.meta.url)('ws') as WsConstructor;

/** The broker's WebSocket URL from its HTTP URL. */
export function webSocketUrl(httpUrl: string): string {
  let url: URL;
  try {
    url = new URL(httpUrl);
  } catch {
    throw new CliError(`--http ${httpUrl} is not a URL (expected e.g. http://localhost:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--http ${httpUrl}: expected an http:// or https:// URL`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = '/ws';
  url.search = '';
  return url.toString();
}

/** Connects to the broker at `httpUrl`, or throws a CliError that says it is not reachable. */
export async function connectBroker(httpUrl: string, options: Omit<FerryClientOptions, 'WebSocket'> = {}): Promise<FerryClient> {
  const url = webSocketUrl(httpUrl);
  let lastSocketError: string | null = null;
  // The client makes sockets with `new WebSocket(url)`: this subclass adds the handshake bound and keeps the cause of a failure.
  const WebSocket = class extends Ws {
    constructor(socketUrl: string) {
      super(socketUrl, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
      this.on('error', (error) => (lastSocketError = error.code ?? error.message));
    }
  } as WebSocketConstructor;
  try {
    return await FerryClient.connect(url, { ...options, WebSocket });
  } catch (error) {
    if (!(error instanceof FerryClientError)) throw error;
    const cause = lastSocketError ?? error.message;
    throw new CliError(`cannot reach the broker at ${httpUrl} (${url}: ${cause}); is it running? (ferry start, or set --http / FERRY_HTTP)`);
  }
}

/** A client error said in one line for the CLI; anything else is a bug and stays as it is. */
export function cliError(error: unknown): unknown {
  return error instanceof FerryClientError ? new CliError(`${error.errorName}: ${error.message}`) : error;
}
