/**
 * Server-Sent Events streams of records (Ferry extension), for browsers that
 * want no library: `new EventSource(url)` and listen for "record".
 *
 *   GET /v3/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}/records/stream?offset=N
 *   GET /v3/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}/records/stream?from=earliest|latest
 *   GET /v3/clusters/{cluster_id}/topics/{topic_name}/records/stream?from=earliest|latest      every partition
 *
 * Without offset or from, a stream starts at the end (new records only, as
 * kafka-console-consumer without --from-beginning). An explicit offset outside
 * the log is answered 416 before the stream starts. Events:
 *
 *   event: open                      first, once
 *   id: 0:4                          the cursor before the first record
 *   data: {"topic_name":"orders","partitions":[{"partition_id":0,"offset":5}]}     where each partition starts
 *
 *   event: record                    one per record, data as records-json.ts renders it
 *   id: 0:5
 *   data: {"partition_id":0,"offset":5,"timestamp":1714564800000,"key":"k","value":"v","headers":[]}
 *
 *   event: error                     last, when the stream cannot go on (topic deleted, broker stopping)
 *   data: {"error_code":404,"message":"...","kafka_error":"UNKNOWN_TOPIC_OR_PARTITION"}
 *
 *   : keepalive                      comment lines: when idle for SSE_HEARTBEAT_MS, and to push out buffered bytes
 *
 * `id` is the stream's cursor (grammar in positions.ts): `partition:offset` of
 * the last record delivered on each partition of the stream, so `0:5` on a
 * partition stream and `0:5,1:-1,2:17` on a topic stream. A browser's
 * EventSource sends the last one back as Last-Event-ID when it reconnects;
 * the stream then resumes right after it on every partition named, whatever
 * offset/from say. A resumed position that retention has deleted moves to the
 * log start (the same happens while streaming), as Kafka's
 * auto.offset.reset=earliest would.
 *
 * A topic stream follows the partitions the topic had when it opened, at most
 * SSE_TOPIC_PARTITIONS_MAX (its cursor must fit in a request header); larger
 * topics are read with partition streams.
 *
 * In a cluster a stream is read from the partition's leader: a partition
 * stream at another broker is redirected there (307), and so is a topic
 * stream at a broker that leads none of the topic's partitions (to the
 * leader of the first); a broker that leads some answers 503 for the others
 * (read a topic whose partitions have different leaders with partition
 * streams), and a stream whose leader moves ends with an error event
 * naming the leader.
 *
 * Flow: one broker long-poll (fetchRecords, woken by appends) per partition;
 * each fetch's records go out in one write. Once uWS reports backpressure no
 * partition fetches again until the client has taken what was buffered, so a
 * slow client costs at most one fetched chunk per partition of broker memory.
 * When the client goes away its long-polls are aborted.
 */

import type { Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import { FerryError, NotLeaderError } from '../../errors.js';
import type { DecodedRecord } from '../../storage/records.js';
import { clusterBase } from './cluster.js';
import { badRequest, errorResponse } from './errors.js';
import { SSE_HEARTBEAT_MS, SSE_PARTITION_FETCH_BYTES_MIN, SSE_POLL_WAIT_MS, SSE_STREAM_FETCH_BYTES_MAX, SSE_TOPIC_PARTITIONS_MAX } from './limits.js';
import { checkLeadsOneOf } from './leader-redirect.js';
import type { HttpMetrics } from './metrics.js';
import { FROM_CHOICES, clampToLog, parseCursor, requestedStart } from './positions.js';
import { renderRecord } from './records-json.js';
import { queryChoice, pathInteger } from './request-json.js';
import type { Exchange, Header } from './respond.js';
import { PARTITION, TOPIC, topicParam } from './rest-v3.js';
import type { RouteRequest, Router } from './router.js';

export const PARTITION_STREAM = `${PARTITION}/records/stream`;
export const TOPIC_STREAM = `${TOPIC}/records/stream`;

const SSE_HEADERS: readonly Header[] = [
  ['content-type', 'text/event-stream; charset=utf-8'],
  ['cache-control', 'no-cache'],
  // nginx and friends buffer responses unless told not to.
  ['x-accel-buffering', 'no'],
];
const KEEPALIVE = ': keepalive\n\n';
/** Written when uWS's buffer can drain: a comment line, harmless between events. */
const DRAIN_FILLER = ':\n';

export function registerSse(router: Router, broker: Broker, metrics: HttpMetrics, logger: Logger): void {
  router.get(PARTITION_STREAM, (exchange, request) => {
    clusterBase(broker, request);
    const topic = topicParam(request.params);
    const partition = pathInteger(request.params[2] ?? '', 'partition_id');
    const resumed = parseCursor(request.headers.get('last-event-id'))?.get(partition);
    const start = resumed === undefined ? requestedStart(broker, topic, partition, request.query, 'latest') : clampToLog(broker, topic, partition, resumed + 1);
    void new SseStream(exchange, broker, topic, new Map([[partition, start]]), metrics, logger).run();
  });

  router.get(TOPIC_STREAM, (exchange, request) => {
    clusterBase(broker, request);
    const topic = broker.describeTopic(topicParam(request.params));
    if (topic.partitions.length > SSE_TOPIC_PARTITIONS_MAX) {
      throw badRequest(`topic ${topic.name} has ${topic.partitions.length} partitions, more than one stream follows (SSE_TOPIC_PARTITIONS_MAX ${SSE_TOPIC_PARTITIONS_MAX}); use partition streams`);
    }
    checkLeadsOneOf(broker, topic.name, topic.partitions.map(({ partition }) => partition));
    let start: Map<number, number>;
    try {
      start = topicStartPositions(broker, topic.name, topic.partitions.length, request);
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error;
      exchange.fail(error, null); // partitions led by several brokers: a redirect could bounce between them
      return;
    }
    void new SseStream(exchange, broker, topic.name, start, metrics, logger).run();
  });
}

function topicStartPositions(broker: Broker, topic: string, partitions: number, request: RouteRequest): Map<number, number> {
  if (request.query.has('offset')) throw badRequest('a topic stream starts from=earliest|latest; for an offset use a partition stream');
  const from = queryChoice(request.query, 'from', FROM_CHOICES) ?? 'latest';
  const cursor = parseCursor(request.headers.get('last-event-id'));
  const start = new Map<number, number>();
  for (let partition = 0; partition < partitions; partition++) {
    const resumed = cursor?.get(partition);
    start.set(partition, resumed === undefined ? broker.listOffset(topic, partition, from).offset : clampToLog(broker, topic, partition, resumed + 1));
  }
  return start;
}

class SseStream {
  /** partition -> next offset to fetch; the cursor is each value - 1. */
  private readonly next: Map<number, number>;
  private readonly partitions: number[];
  private readonly fetchBytes: number;
  private readonly stop = new AbortController();
  private idle = true;

  constructor(
    private readonly exchange: Exchange,
    private readonly broker: Broker,
    private readonly topic: string,
    start: Map<number, number>,
    private readonly metrics: HttpMetrics,
    private readonly logger: Logger,
  ) {
    this.next = new Map(start);
    this.partitions = [...start.keys()].sort((a, b) => a - b);
    this.fetchBytes = Math.max(SSE_PARTITION_FETCH_BYTES_MIN, Math.floor(SSE_STREAM_FETCH_BYTES_MAX / this.partitions.length));
  }

  async run(): Promise<void> {
    const stopOnAbort = (): void => this.stop.abort();
    this.exchange.signal.addEventListener('abort', stopOnAbort, { once: true });
    this.exchange.beginStream(200, SSE_HEADERS, DRAIN_FILLER);
    this.metrics.sseStreams.inc();
    const heartbeat = setInterval(() => this.heartbeat(), SSE_HEARTBEAT_MS).unref();
    try {
      this.write(this.openEvent());
      await Promise.all(this.partitions.map((partition) => this.pump(partition)));
    } catch (error) {
      this.endWithError(error);
    } finally {
      this.stop.abort();
      clearInterval(heartbeat);
      this.exchange.signal.removeEventListener('abort', stopOnAbort);
      this.metrics.sseStreams.dec();
    }
  }

  /** Fetch, write, repeat for one partition, until the stream stops. */
  private async pump(partition: number): Promise<void> {
    while (!this.stop.signal.aborted) {
      await this.exchange.writable();
      if (this.stop.signal.aborted) return;
      const offset = this.next.get(partition) ?? 0;
      let fetched;
      try {
        fetched = await this.broker.fetchRecords(this.topic, partition, offset, { maxBytes: this.fetchBytes, maxWaitMs: SSE_POLL_WAIT_MS, signal: this.stop.signal });
      } catch (error) {
        if (!(error instanceof FerryError && error.errorName === 'OFFSET_OUT_OF_RANGE')) throw error;
        this.next.set(partition, clampToLog(this.broker, this.topic, partition, offset));
        continue;
      }
      if (this.stop.signal.aborted) return;
      if (fetched.records.length > 0) this.write(this.recordEvents(partition, fetched.records));
      // Also past control batches and offsets compaction removed, which yield no records.
      this.next.set(partition, Math.max(offset, fetched.nextOffset));
    }
  }

  private write(chunk: string): void {
    this.idle = false;
    this.exchange.write(chunk);
  }

  private heartbeat(): void {
    if (this.idle && !this.exchange.backpressured) this.exchange.write(KEEPALIVE);
    this.idle = true;
  }

  private openEvent(): string {
    const partitions = this.partitions.map((partition) => ({ partition_id: partition, offset: this.next.get(partition) ?? 0 }));
    return `event: open\nid: ${this.cursorAround(-1).before}\ndata: ${JSON.stringify({ topic_name: this.topic, partitions })}\n\n`;
  }

  private recordEvents(partition: number, records: readonly DecodedRecord[]): string {
    const { before, after } = this.cursorAround(partition);
    let chunk = '';
    for (const record of records) {
      chunk += `event: record\nid: ${before}${partition}:${record.offset}${after}\ndata: ${JSON.stringify(renderRecord(partition, record))}\n\n`;
    }
    return chunk;
  }

  /**
   * The cursor's pairs before and after `partition`, so each record's id is
   * one concatenation. With partition -1 `before` is the whole cursor.
   */
  private cursorAround(partition: number): { before: string; after: string } {
    let before = '';
    let after = '';
    for (const other of this.partitions) {
      if (other === partition) continue;
      const pair = `${other}:${(this.next.get(other) ?? 0) - 1}`;
      if (partition < 0 || other < partition) before += before === '' ? pair : `,${pair}`;
      else after += `,${pair}`;
    }
    if (partition >= 0 && before !== '') before += ',';
    return { before, after };
  }

  private endWithError(error: unknown): void {
    const response = errorResponse(error);
    if (response.unexpected) this.logger.error({ err: error, topic: this.topic }, 'SSE stream failed');
    this.exchange.endStream(`event: error\ndata: ${JSON.stringify(response.body)}\n\n`);
  }
}
