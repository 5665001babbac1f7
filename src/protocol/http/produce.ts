/**
 * Produce over HTTP, Confluent REST Proxy v3:
 *
 *   POST /v3/clusters/{cluster_id}/topics/{topic_name}/records
 *     { "key": { "type": "STRING", "data": "k" }, "value": { "type": "JSON", "data": { "n": 1 } } }
 *   200 { "error_code": 200, "cluster_id": "...", "topic_name": "orders", "partition_id": 0, "offset": 0,
 *         "timestamp": "2024-05-01T12:00:00.000Z", "key": { "type": "STRING", "size": 1 }, "value": { "type": "JSON", "size": 7 } }
 *
 * (record encodings: records-json.ts). The topic is auto-created when the
 * broker allows it; otherwise 404. Records are acknowledged with acks=all,
 * the Kafka producer's default: in a cluster, once every in-sync replica
 * has them.
 *
 * Ferry extension, a batch: the body may be a JSON array of records (at most
 * PRODUCE_RECORDS_MAX), answered by an array of delivery reports in the same
 * order. The whole array is checked before anything is appended (one bad
 * record: 400, nothing written). Records then go to the broker in order, in
 * groups small enough for one record batch per partition to stay under
 * max.message.bytes. If the broker refuses a group (say a record over
 * max.message.bytes), that group and every later one are not written and
 * their reports carry the error (`error_code` = its HTTP status, `message`),
 * as Confluent's streaming mode reports per-record failures. The HTTP status
 * is an error only when nothing at all was written; a 200 may carry failed
 * reports, so check each `error_code`.
 *
 * Cluster mode: a request for partitions this broker does not lead is
 * redirected (307) to their leader before anything is written
 * (leader-redirect.ts says which leader for a request spanning several).
 * Once writing has begun here, NOT_LEADER_OR_FOLLOWER is a 503 naming the
 * leader (or a per-record error), never a redirect: following it would send
 * records again that may already be written.
 */

import type { Broker, ProducedRecord } from '../../broker/broker.js';
import { clusterBase } from './cluster.js';
import { errorResponse, type ErrorBody } from './errors.js';
import { checkProduceLeader } from './leader-redirect.js';
import { PRODUCE_GROUP_BYTES_MAX, PRODUCE_RECORDS_MAX } from './limits.js';
import { parseProduceBody, type DataSummary, type ParsedRecord } from './records-json.js';
import { parseJsonBody } from './request-json.js';
import { TOPIC, topicParam } from './rest-v3.js';
import type { Router } from './router.js';
import type { ResourceBase } from './v3-resources.js';

export const RECORDS = `${TOPIC}/records`;

/** RecordBatch v2 header, log overhead included: what max.message.bytes counts beyond the records. */
const BATCH_HEADER_BYTES = 61;

export interface DeliveryReport {
  error_code: 200;
  cluster_id: string;
  topic_name: string;
  partition_id: number;
  offset: number;
  timestamp: string;
  key: DataSummary | null;
  value: DataSummary | null;
}

interface GroupFailure {
  error: unknown;
  /** Index of the first record not written. */
  firstFailed: number;
  /** One past the last record of the refused group: records from here on were never attempted. */
  groupEnd: number;
}

export function registerProduce(router: Router, broker: Broker): void {
  router.post(RECORDS, async (exchange, request) => {
    const base = clusterBase(broker, request);
    const topic = topicParam(request.params);
    const { records, batch } = parseProduceBody(parseJsonBody(request.body), PRODUCE_RECORDS_MAX);
    checkProduceLeader(broker, topic, records);
    const { produced, failure } = await produceInGroups(broker, topic, records, groupBytesMax(broker, topic));
    if (failure && produced.length === 0) {
      // Answered here, not thrown to the router: no redirect once writing has begun (see above).
      exchange.fail(failure.error, null);
      return;
    }
    const reports = records.map((record, i) => {
      const result = produced[i];
      return result ? deliveryReport(base, topic, record, result) : failureReport(failure, i);
    });
    exchange.json(200, batch ? reports : reports[0]);
  });
}

async function produceInGroups(broker: Broker, topic: string, records: readonly ParsedRecord[], bytesMax: number): Promise<{ produced: ProducedRecord[]; failure: GroupFailure | null }> {
  const produced: ProducedRecord[] = [];
  for (const group of groupsUnder(records, bytesMax)) {
    try {
      produced.push(...(await broker.produce(topic, group.map((parsed) => parsed.record), { acks: -1 })));
    } catch (error) {
      return { produced, failure: { error, firstFailed: produced.length, groupEnd: produced.length + group.length } };
    }
  }
  return { produced, failure: null };
}

/** Consecutive records whose estimated sizes add up to at most `bytesMax` (a larger record alone). */
function groupsUnder(records: readonly ParsedRecord[], bytesMax: number): ParsedRecord[][] {
  const groups: ParsedRecord[][] = [];
  let current: ParsedRecord[] = [];
  let currentBytes = 0;
  for (const record of records) {
    if (current.length > 0 && currentBytes + record.estimatedBytes > bytesMax) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(record);
    currentBytes += record.estimatedBytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Records per group so that one partition's batch fits the topic's max.message.bytes (the default when the topic is yet to be auto-created). */
function groupBytesMax(broker: Broker, topic: string): number {
  let maxMessageBytes = Number.POSITIVE_INFINITY;
  try {
    maxMessageBytes = broker.topicConfig(topic).maxMessageBytes;
  } catch {
    // Not there yet: auto-creation gives it the broker's defaults.
  }
  return Math.max(1, Math.min(PRODUCE_GROUP_BYTES_MAX, maxMessageBytes - BATCH_HEADER_BYTES));
}

function deliveryReport(base: ResourceBase, topic: string, record: ParsedRecord, result: ProducedRecord): DeliveryReport {
  return {
    error_code: 200,
    cluster_id: base.clusterId,
    topic_name: topic,
    partition_id: result.partition,
    offset: result.offset,
    timestamp: new Date(result.timestamp).toISOString(),
    key: record.key,
    value: record.value,
  };
}

function failureReport(failure: GroupFailure | null, index: number): ErrorBody {
  const { body } = errorResponse(failure?.error);
  if (failure && index >= failure.groupEnd) return { ...body, message: `not attempted: record [${failure.firstFailed}] before it failed: ${body.message}` };
  return body;
}
