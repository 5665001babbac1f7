/**
 * The WebSocket door: `/ws` on the HTTP port. Protocol in protocol.ts, limits
 * in limits.ts, one Connection per socket (connection.ts) and one push loop
 * per subscription (push.ts). uWS enforces the frame size limit (closing the
 * offending socket only), the idle timeout, and the hard send-buffer cap.
 */

import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t } from 'uWebSockets.js';
import type { DoorContext } from '../door.js';
import { Connection, type ConnectionStats, type SocketData } from './connection.js';
import { WS_LIMITS, type WsLimits } from './limits.js';
import { selfAddressOf } from './metadata.js';
import { ReceiveBuffers } from './receive-buffers.js';
import { ENCODINGS, PROTOCOL_VERSION, WS_PATH, type Encoding } from './protocol.js';

export interface WebSocketDoor {
  /** Closes every open socket (1001, going away). */
  close(): void;
  /** Per open socket: buffered bytes and each subscription's state, credit and bytes pushed. */
  stats(): ConnectionStats[];
}

/** Registers `/ws`; returns a function that closes every open socket. */
export function registerWebSocketDoor(app: TemplatedApp, context: DoorContext, limits: WsLimits = WS_LIMITS): () => void {
  const door = createWebSocketDoor(app, context, limits);
  return () => door.close();
}

export function createWebSocketDoor(app: TemplatedApp, context: DoorContext, limits: WsLimits = WS_LIMITS): WebSocketDoor {
  const connections = new Set<Connection>();
  const receiveBuffers = new ReceiveBuffers(limits.receivePoolBytesMax, limits.receivePooledBufferBytesMax);
  app.ws<SocketData>(WS_PATH, {
    maxPayloadLength: limits.payloadBytesMax,
    idleTimeout: limits.idleTimeoutSeconds,
    sendPingsAutomatically: true,
    maxBackpressure: limits.socketBackpressureBytesMax,
    closeOnBackpressureLimit: 1, // typed as a number in uWS's d.ts; a flag
    upgrade: (res, req, socketContext) => upgrade(res, req, socketContext, connections.size < limits.socketsMax),
    open: (ws) => {
      const data = ws.getUserData();
      const connection = new Connection(ws, data.encoding, context.broker, limits, receiveBuffers, context.logger, data.self);
      data.connection = connection;
      connections.add(connection);
      connection.start();
    },
    message: (ws, message, isBinary) => ws.getUserData().connection?.onMessage(message, isBinary),
    drain: (ws) => ws.getUserData().connection?.onDrain(),
    close: (ws) => {
      const data = ws.getUserData();
      if (!data.connection) return;
      data.connection.onClose();
      connections.delete(data.connection);
      data.connection = null;
    },
  });
  return {
    close: () => {
      for (const connection of [...connections]) connection.end();
    },
    stats: () => [...connections].map((connection) => connection.stats()),
  };
}

/** Checks the query (encoding, version) before accepting: a bad one is an HTTP 400, no socket. */
function upgrade(res: HttpResponse, req: HttpRequest, socketContext: us_socket_context_t, roomForOne: boolean): void {
  const encoding = req.getQuery('encoding') || 'json';
  const version = req.getQuery('version') || String(PROTOCOL_VERSION);
  if (!ENCODINGS.includes(encoding as Encoding)) {
    res.writeStatus('400 Bad Request').end(`encoding must be one of ${ENCODINGS.join(', ')}, not ${encoding}`);
    return;
  }
  if (version !== String(PROTOCOL_VERSION)) {
    res.writeStatus('400 Bad Request').end(`this broker speaks WebSocket protocol version ${PROTOCOL_VERSION}, not ${version}`);
    return;
  }
  if (!roomForOne) {
    res.writeStatus('503 Service Unavailable').end('too many WebSocket connections');
    return;
  }
  // Where the client reached this broker, for the metadata answer (metadata.ts); localhost when the header is odd.
  const self = selfAddressOf(req.getHeader('host')) ?? { host: 'localhost', httpPort: 80 };
  const data: SocketData = { encoding: encoding as Encoding, connection: null, self };
  res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), socketContext);
}
