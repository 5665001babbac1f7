/**
 * The HTTP + WebSocket server: one uWebSockets.js app on one port, the HTTP
 * door's routes and the WebSocket door's `/ws` registered on it.
 */

import { pino, type Logger } from 'pino';
import type { ListenOptions } from 'uWebSockets.js';
import type { Broker } from '../broker/broker.js';
import type { DoorContext } from './door.js';
import { registerHttpDoor } from './http/index.js';
import { loadUws } from './uws.js';
import { registerWebSocketDoor } from './ws/index.js';

const ALL_INTERFACES = '0.0.0.0';
/** uSockets' ListenOptions value (a const enum in the typings, so not importable as a value). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1 as ListenOptions;

export interface ServerOptions {
  broker: Broker;
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  allowUwsFallback?: boolean;
  logger?: Logger;
}

export interface RunningServer {
  port: number;
  /** uWS's native binary is serving (false only with --allow-uws-fallback after a load failure). */
  native: boolean;
  close(): void;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? pino({ name: 'ferry' });
  const loaded = loadUws({ allowFallback: options.allowUwsFallback ?? false });
  if (!loaded.native) logger.warn({ problem: loaded.problem }, 'serving HTTP and WebSocket on the slow ws-based uWebSockets.js fallback');
  const { uws } = loaded;
  const app = uws.App();
  const context: DoorContext = { broker: options.broker, uws, logger };
  const closeWebSockets = registerWebSocketDoor(app, context);
  registerHttpDoor(app, context);
  const host = options.host ?? ALL_INTERFACES;
  const listenSocket = await new Promise<Exclude<Parameters<Parameters<typeof app.listen>[2]>[0], false>>((resolve, reject) => {
    const listening = (socket: Parameters<Parameters<typeof app.listen>[2]>[0]): void => {
      if (socket) resolve(socket);
      else reject(new Error(`cannot listen on ${host}:${options.port} (is another broker using it?)`));
    };
    // This uWS build sets SO_REUSEPORT when given a host, so a second broker would silently share
    // the port. On all interfaces (the default) the exclusive form makes it fail instead.
    if (host === ALL_INTERFACES) app.listen(options.port, LIBUS_LISTEN_EXCLUSIVE_PORT, listening);
    else app.listen(host, options.port, listening);
  });
  const port = uws.us_socket_local_port(listenSocket);
  let closed = false;
  return {
    port,
    native: loaded.native,
    close: () => {
      // Closing a uWS listen socket twice crashes the process (a libuv assertion): once only.
      if (closed) return;
      closed = true;
      uws.us_listen_socket_close(listenSocket);
      closeWebSockets();
    },
  };
}
