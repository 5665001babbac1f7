/**
 * Prometheus metrics for GET /metrics, on a registry of this door's own (not
 * prom-client's global one), so several servers can live in one process.
 *
 *   ferry_http_requests_total{route,method,status}        counter
 *   ferry_http_request_duration_seconds{route,method}     histogram (SSE streams: their whole life)
 *   ferry_http_received_bytes_total{route}                request bodies
 *   ferry_http_sent_bytes_total{route}                    response bodies, SSE included
 *   ferry_http_sse_streams                                open SSE streams
 *   ferry_log_start_offset{topic,partition}               collected from the broker on each scrape
 *   ferry_log_end_offset{topic,partition}
 *   ferry_controller_active                               Kafka's ActiveControllerCount (1 on the controller)
 *   ferry_brokers_live                                    live brokers this broker sees, itself included
 *   ferry_partitions_offline                              Kafka's OfflinePartitionsCount (the controller's; 0 elsewhere)
 *   ferry_partitions_under_replicated                     Kafka's UnderReplicatedPartitions (of those this broker leads)
 *   ferry_partitions_under_min_isr                        Kafka's UnderMinIsrPartitionCount (of those this broker leads)
 *   ferry_isr_shrinks_total, ferry_isr_expands_total      ISR changes of partitions this broker led (Kafka's IsrShrinksPerSec, IsrExpandsPerSec)
 *   ferry_replica_lag_max                                 offsets the furthest-behind follower of a partition led here is behind (-1: not heard from)
 *   nodejs_eventloop_lag_seconds, nodejs_eventloop_lag_p99_seconds, ...   prom-client's default metrics
 *
 * `route` is the uWS pattern (`/v3/clusters/:cluster_id/topics`), so the
 * label's values are bounded by the route table, never by what clients send.
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Broker, ClusterHealth, PartitionDescription } from '../../broker/broker.js';
import { METRICS_PARTITIONS_MAX } from './limits.js';
import type { ExchangeObserver } from './respond.js';

const DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly duration: Histogram<'route' | 'method'>;
  private readonly receivedBytes: Counter<'route'>;
  private readonly sentBytes: Counter<'route'>;
  readonly sseStreams: Gauge;

  constructor(broker: Broker) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'ferry_http_requests_total', help: 'HTTP requests answered, by route pattern, method and status (499: the client went away)', labelNames: ['route', 'method', 'status'], registers });
    this.duration = new Histogram({ name: 'ferry_http_request_duration_seconds', help: 'HTTP request latency, from routing to the last byte handed to the socket', labelNames: ['route', 'method'], buckets: DURATION_BUCKETS_SECONDS, registers });
    this.receivedBytes = new Counter({ name: 'ferry_http_received_bytes_total', help: 'HTTP request body bytes received', labelNames: ['route'], registers });
    this.sentBytes = new Counter({ name: 'ferry_http_sent_bytes_total', help: 'HTTP response body bytes sent (SSE streams included)', labelNames: ['route'], registers });
    this.sseStreams = new Gauge({ name: 'ferry_http_sse_streams', help: 'Server-Sent Events streams open', registers });
    registerOffsetGauges(broker, registers);
    registerClusterGauges(broker, registers);
  }

  /** Counts one exchange on `route`: bytes as they move (an SSE stream's too), status and latency at its end. */
  observer(route: string, method: string): ExchangeObserver {
    const startedNs = process.hrtime.bigint();
    return {
      received: (bytes) => this.receivedBytes.inc({ route }, bytes),
      sent: (bytes) => {
        if (bytes > 0) this.sentBytes.inc({ route }, bytes);
      },
      finished: (status) => {
        this.requests.inc({ route, method, status: String(status) });
        this.duration.observe({ route, method }, Number(process.hrtime.bigint() - startedNs) / 1e9);
      },
    };
  }

  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

function registerOffsetGauges(broker: Broker, registers: Registry[]): void {
  offsetGauge(broker, registers, 'ferry_log_start_offset', 'First readable offset of each partition', (partition) => partition.logStartOffset);
  offsetGauge(broker, registers, 'ferry_log_end_offset', 'Log end offset (the next offset to be written) of each partition', (partition) => partition.logEndOffset);
}

function registerClusterGauges(broker: Broker, registers: Registry[]): void {
  healthGauge(broker, registers, 'ferry_controller_active', "1 on the cluster's elected controller, else 0 (Kafka's ActiveControllerCount)", (health) => health.controllerActive);
  healthGauge(broker, registers, 'ferry_brokers_live', 'Live brokers this broker sees, itself included', (health) => health.brokersLive);
  healthGauge(broker, registers, 'ferry_partitions_offline', "Partitions whose leader is not a live broker, counted by the controller only (Kafka's OfflinePartitionsCount)", (health) => health.partitionsOffline);
  healthGauge(broker, registers, 'ferry_partitions_under_replicated', "Partitions this broker leads whose ISR is smaller than their replicas (Kafka's UnderReplicatedPartitions)", (health) => health.partitionsUnderReplicated);
  healthGauge(broker, registers, 'ferry_partitions_under_min_isr', "Partitions this broker leads whose ISR is smaller than min.insync.replicas: acks=all refused (Kafka's UnderMinIsrPartitionCount)", (health) => health.partitionsUnderMinIsr);
  healthGauge(broker, registers, 'ferry_replica_lag_max', 'Offsets the furthest-behind follower of a partition this broker leads is behind its log end; -1 while a follower has not fetched since this broker became leader', (health) => health.replicaLagMax);
  healthCounter(broker, registers, 'ferry_isr_shrinks_total', "ISR shrinks of partitions this broker led, since it started (Kafka's IsrShrinksPerSec)", (health) => health.isrShrinks);
  healthCounter(broker, registers, 'ferry_isr_expands_total', "ISR expansions of partitions this broker led, since it started (Kafka's IsrExpandsPerSec)", (health) => health.isrExpands);
}

/** A gauge filled from the broker's cluster health when scraped; left out while the broker is shutting down. */
function healthGauge(broker: Broker, registers: Registry[], name: string, help: string, read: (health: ClusterHealth) => number): void {
  const gauge: Gauge = new Gauge({
    name,
    help,
    registers,
    collect: () => {
      gauge.reset();
      const health = brokerHealth(broker);
      if (health) gauge.set(read(health));
    },
  });
}

/** A counter whose total the broker keeps (ClusterHealth), read when scraped. */
function healthCounter(broker: Broker, registers: Registry[], name: string, help: string, read: (health: ClusterHealth) => number): void {
  const counter: Counter = new Counter({
    name,
    help,
    registers,
    collect: () => {
      const health = brokerHealth(broker);
      if (!health) return;
      counter.reset();
      counter.inc(read(health));
    },
  });
}

function brokerHealth(broker: Broker): ClusterHealth | undefined {
  try {
    return broker.clusterHealth();
  } catch {
    return undefined;
  }
}

/** A per-partition gauge filled from the broker's topic descriptions when scraped. */
function offsetGauge(broker: Broker, registers: Registry[], name: string, help: string, read: (partition: PartitionDescription) => number): void {
  const gauge: Gauge<'topic' | 'partition'> = new Gauge({
    name,
    help,
    labelNames: ['topic', 'partition'],
    registers,
    collect: () => {
      gauge.reset();
      let exported = 0;
      for (const topic of brokerTopics(broker)) {
        for (const partition of topic.partitions) {
          if (exported++ >= METRICS_PARTITIONS_MAX) return;
          gauge.set({ topic: topic.name, partition: String(partition.partition) }, read(partition));
        }
      }
    },
  });
}

/** The broker's topics, or none while it is shutting down (a scrape must not fail then). */
function brokerTopics(broker: Broker): ReturnType<Broker['listTopics']> {
  try {
    return broker.listTopics({ includeInternal: true });
  } catch {
    return [];
  }
}
