/**
 * Operational endpoints:
 *
 *   GET /healthz   200 { "status": "ok" } while the broker answers; 503 { "status": "unavailable", ... } while it is shutting down
 *   GET /metrics   200 Prometheus text format (metrics.ts lists what is exported)
 */

import type { Broker } from '../../broker/broker.js';
import type { HttpMetrics } from './metrics.js';
import type { Router } from './router.js';

export function registerOps(router: Router, broker: Broker, metrics: HttpMetrics): void {
  router.get('/healthz', (exchange) => {
    try {
      broker.listTopics();
    } catch (error) {
      exchange.json(503, { status: 'unavailable', message: (error as Error).message });
      return;
    }
    exchange.json(200, { status: 'ok' });
  });

  router.get('/metrics', async (exchange) => {
    const { contentType, text } = await metrics.scrape();
    exchange.send(200, contentType, text);
  });
}
