/**
 * The check every `/v3/clusters/{cluster_id}/...` route starts with: the id
 * must be this broker's cluster id (404 otherwise, as Confluent answers), and
 * the origin that resource URLs are built from (the request's Host header).
 */

import type { Broker } from '../../broker/broker.js';
import { HttpError } from './errors.js';
import type { RouteRequest } from './router.js';
import type { ResourceBase } from './v3-resources.js';

/** `params[0]` of every cluster route is the cluster id. */
export function clusterBase(broker: Broker, request: RouteRequest): ResourceBase {
  const clusterId = request.params[0] ?? '';
  const served = broker.cluster.clusterId();
  if (clusterId !== served) throw new HttpError(404, `cluster ${clusterId} not found (this broker serves cluster ${served})`);
  return { origin: requestOrigin(request), clusterId };
}

export function requestOrigin(request: RouteRequest): string {
  const host = request.headers.get('host');
  return `http://${host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : 'localhost'}`;
}
