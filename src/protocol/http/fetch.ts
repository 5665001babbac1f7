/**
 * Reading a partition over HTTP with one long-poll fetch (Ferry extension;
 * Confluent's v3 API has no consume):
 *
 *   GET /v3/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}/records?offset=0&max_bytes=1048576&timeout_ms=5000
 *   200 { "topic_name": "orders", "partition_id": 0,
 *         "records": [ { "partition_id": 0, "offset": 0, "timestamp": 1714564800000, "key": "k", "value": "v", "headers": [] } ],
 *         "next_offset": 1, "high_watermark": 1, "log_start_offset": 0 }
 *
 *   offset      first offset wanted (or from=earliest|latest; default earliest).
 *               Outside [log start, log end]: 416 with kafka_error OFFSET_OUT_OF_RANGE.
 *   max_bytes   stored bytes to read, 1..FETCH_BYTES_MAX (default FETCH_BYTES_DEFAULT);
 *               a first batch larger than that still comes whole, as in Kafka.
 *   timeout_ms  when nothing is there at `offset`, wait up to this long for an
 *               append (0..FETCH_TIMEOUT_MS_MAX, default 0: answer at once).
 *
 * Keep reading from `next_offset`. Record JSON: records-json.ts. The broker's
 * wait is aborted as soon as the client goes away.
 */

import type { Broker } from '../../broker/broker.js';
import { clusterBase } from './cluster.js';
import { FETCH_BYTES_DEFAULT, FETCH_BYTES_MAX, FETCH_TIMEOUT_MS_MAX } from './limits.js';
import { requestedStart } from './positions.js';
import { renderRecord } from './records-json.js';
import { pathInteger, queryInteger } from './request-json.js';
import { PARTITION, topicParam } from './rest-v3.js';
import type { Router } from './router.js';

export const PARTITION_RECORDS = `${PARTITION}/records`;

export function registerFetch(router: Router, broker: Broker): void {
  router.get(PARTITION_RECORDS, async (exchange, request) => {
    clusterBase(broker, request);
    const topic = topicParam(request.params);
    const partition = pathInteger(request.params[2] ?? '', 'partition_id');
    const maxBytes = queryInteger(request.query, 'max_bytes', { min: 1, max: FETCH_BYTES_MAX, fallback: FETCH_BYTES_DEFAULT });
    const maxWaitMs = queryInteger(request.query, 'timeout_ms', { min: 0, max: FETCH_TIMEOUT_MS_MAX, fallback: 0 });
    const offset = requestedStart(broker, topic, partition, request.query, 'earliest');
    const fetched = await broker.fetchRecords(topic, partition, offset, { maxBytes, maxWaitMs, signal: exchange.signal });
    exchange.json(200, {
      topic_name: topic,
      partition_id: partition,
      records: fetched.records.map((record) => renderRecord(partition, record)),
      next_offset: fetched.nextOffset,
      high_watermark: fetched.highWatermark,
      log_start_offset: fetched.logStartOffset,
    });
  });
}
