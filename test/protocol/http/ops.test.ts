/**
 * /healthz and /metrics: the health answer, and the metric names the
 * dashboards rely on, on a registry of each server's own.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedStoragePool } from '../../../src/storage/storage-pool.js';
import { call, metricValue, openServer, stringRecord, type TestServer } from './helpers.js';

let t: TestServer;
let other: TestServer;

beforeAll(async () => {
  t = await openServer();
  other = await openServer();
});

afterAll(async () => {
  await t.close();
  await other.close();
  await closeSharedStoragePool();
});

describe('/healthz', () => {
  it('answers ok', async () => {
    const reply = await call('GET', `${t.origin}/healthz`);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ok' });
  });
});

describe('/metrics', () => {
  it('exports request counts, latencies, bytes, log offsets and event-loop lag', async () => {
    await call('POST', `${t.cluster}/topics`, { topic_name: 'measured', partitions_count: 2 });
    for (let i = 0; i < 3; i++) await call('POST', `${t.cluster}/topics/measured/records`, stringRecord(null, `m${i}`, { partition_id: 1 }));
    await call('GET', `${t.cluster}/topics/measured/partitions/1/records`);
    await call('GET', `${t.cluster}/topics/absent`);

    const reply = await call('GET', `${t.origin}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('text/plain');
    const text = reply.text;
    const produceRoute = '/v3/clusters/:cluster_id/topics/:topic_name/records';
    expect(metricValue(text, 'ferry_http_requests_total', { route: produceRoute, method: 'POST', status: '200' })).toBe(3);
    expect(metricValue(text, 'ferry_http_requests_total', { route: '/v3/clusters/:cluster_id/topics/:topic_name', status: '404' })).toBe(1);
    expect(metricValue(text, 'ferry_http_request_duration_seconds_count', { route: produceRoute, method: 'POST' })).toBe(3);
    expect(text).toContain('ferry_http_request_duration_seconds_bucket{le="0.001",route=');
    expect(metricValue(text, 'ferry_http_received_bytes_total', { route: produceRoute })).toBeGreaterThan(0);
    expect(metricValue(text, 'ferry_http_sent_bytes_total', { route: produceRoute })).toBeGreaterThan(0);
    expect(metricValue(text, 'ferry_log_end_offset', { topic: 'measured', partition: '1' })).toBe(3);
    expect(metricValue(text, 'ferry_log_end_offset', { topic: 'measured', partition: '0' })).toBe(0);
    expect(metricValue(text, 'ferry_log_start_offset', { topic: 'measured', partition: '1' })).toBe(0);
    expect(metricValue(text, 'ferry_http_sse_streams')).toBe(0);
    // A single node is its own live controller and leads every partition with an ISR of itself.
    expect(metricValue(text, 'ferry_controller_active')).toBe(1);
    expect(metricValue(text, 'ferry_brokers_live')).toBe(1);
    expect(metricValue(text, 'ferry_partitions_offline')).toBe(0);
    expect(metricValue(text, 'ferry_partitions_under_replicated')).toBe(0);
    for (const name of ['ferry_partitions_under_min_isr', 'ferry_isr_shrinks_total', 'ferry_isr_expands_total', 'ferry_replica_lag_max']) expect(metricValue(text, name)).toBe(0);
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
      expect(text).toContain(`\n${name} `);
    }
  });

  it('keeps each server’s counts apart', async () => {
    const text = (await call('GET', `${other.origin}/metrics`)).text;
    expect(metricValue(text, 'ferry_http_requests_total', { route: '/v3/clusters/:cluster_id/topics/:topic_name/records' })).toBeUndefined();
    expect(text).not.toContain('topic="measured"');
  });
});
