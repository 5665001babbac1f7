/**
 * The HTTP door: Confluent REST Proxy v3 routes for topics and produce, Ferry's
 * reading extensions (long-poll fetch, Server-Sent Events), /metrics and
 * /healthz, all on the server's one uWS app. Each file registers one group of
 * routes and says at its top what they take and answer:
 *
 *   rest-v3.ts   clusters, topics, partitions, topic configs
 *   produce.ts   POST .../topics/{topic}/records
 *   fetch.ts     GET  .../partitions/{p}/records (long-poll)
 *   sse.ts       GET  .../records/stream (Server-Sent Events)
 *   ops.ts       /healthz, /metrics
 *
 * Everything else answers 404 in the same error shape (errors.ts). Limits:
 * limits.ts.
 */

import type { TemplatedApp } from 'uWebSockets.js';
import type { DoorContext } from '../door.js';
import { registerClientBundle } from './client-bundle.js';
import { registerFetch } from './fetch.js';
import { HttpMetrics } from './metrics.js';
import { registerOps } from './ops.js';
import { registerProduce } from './produce.js';
import { registerRestV3 } from './rest-v3.js';
import { Router } from './router.js';
import { registerSse } from './sse.js';

export function registerHttpDoor(app: TemplatedApp, context: DoorContext): void {
  const { broker, logger } = context;
  const metrics = new HttpMetrics(broker);
  const router = new Router(app, metrics, logger);
  registerRestV3(router, broker);
  registerProduce(router, broker);
  registerFetch(router, broker);
  registerSse(router, broker, metrics, logger);
  registerOps(router, broker, metrics);
  registerClientBundle(app, context);
  router.fallback();
}
