/**
 * How the HTTP door answers the cluster's leader errors (errors.ts): a
 * redirect where the request may go again as it is, a 503 naming the leader
 * where it may not, and Retry-After while a partition has no leader. The
 * redirect through real brokers is in test/cluster/client-follows-leaders.test.ts.
 */

import { describe, expect, it } from 'vitest';
import { FerryError, NotLeaderError } from '../../../src/errors.js';
import { errorResponse } from '../../../src/protocol/http/errors.js';

const leader = { id: 2, host: '10.0.0.2', kafkaPort: 9093, httpPort: 8081 };
const target = '/v3/clusters/c1/topics/orders/partitions/0/records?offset=5&max_bytes=100';

describe('leader errors over HTTP', () => {
  it('NOT_LEADER_OR_FOLLOWER with a live leader is a 307 to the same path and query on it, the leader in the body', () => {
    const response = errorResponse(new NotLeaderError('broker 1 does not lead orders-0', leader), target);
    expect(response.status).toBe(307);
    expect(response.headers).toEqual([['location', `http://10.0.0.2:8081${target}`]]);
    expect(response.body).toEqual({ error_code: 307, message: 'broker 1 does not lead orders-0', kafka_error: 'NOT_LEADER_OR_FOLLOWER', leader: { id: 2, host: '10.0.0.2', http_port: 8081 } });
  });

  it('is a 503 naming the leader where the request may not be repeated (no target), and brackets an IPv6 leader', () => {
    const here = errorResponse(new NotLeaderError('moved', leader), null);
    expect(here.status).toBe(503);
    expect(here.headers).toEqual([]);
    expect(here.body.leader).toEqual({ id: 2, host: '10.0.0.2', http_port: 8081 });
    const v6 = errorResponse(new NotLeaderError('moved', { ...leader, host: '::1' }), '/x');
    expect(v6.headers).toEqual([['location', 'http://[::1]:8081/x']]);
  });

  it('without a live leader: NOT_LEADER_OR_FOLLOWER is a 503, LEADER_NOT_AVAILABLE a 503 with Retry-After: 1', () => {
    expect(errorResponse(new NotLeaderError('no endpoint', null), target)).toMatchObject({ status: 503, headers: [] });
    expect(errorResponse(new FerryError('LEADER_NOT_AVAILABLE', 'failover'), target)).toMatchObject({ status: 503, headers: [['retry-after', '1']], body: { kafka_error: 'LEADER_NOT_AVAILABLE' } });
  });
});
