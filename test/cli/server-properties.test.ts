import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readServerProperties } from '../../src/cli/server-properties.js';
import { tempDir } from '../storage/helpers.js';

describe('server.properties', () => {
  it('reads producer.id.expiration.ms, and refuses a value that is not a positive integer', () => {
    const file = path.join(tempDir(), 'server.properties');
    fs.writeFileSync(file, 'producer.id.expiration.ms=3600000\n');
    expect(readServerProperties(file).producerIdExpirationMs).toBe(3_600_000);
    fs.writeFileSync(file, 'producer.id.expiration.ms=soon\n');
    expect(() => readServerProperties(file)).toThrow(/producer.id.expiration.ms=soon must be an integer/);
  });

  it('reads the group coordinator settings by Kafka names, minutes turned into milliseconds', () => {
    const file = path.join(tempDir(), 'server.properties');
    fs.writeFileSync(file, 'group.initial.rebalance.delay.ms=0\noffsets.topic.num.partitions=5\noffsets.retention.minutes=60\ngroup.max.session.timeout.ms=60000\n');
    expect(readServerProperties(file).groups).toEqual({ initialRebalanceDelayMs: 0, offsetsTopicPartitions: 5, offsetsRetentionMs: 3_600_000, sessionTimeoutMaxMs: 60_000 });
    fs.writeFileSync(file, 'offsets.topic.num.partitions=0\n');
    expect(() => readServerProperties(file)).toThrow(/offsets.topic.num.partitions=0 must be an integer from 1/);
  });

  it('reads the cluster settings: broker.id, broker.rack and default.replication.factor by Kafka names, etcd.endpoints, cluster.name, etcd.lease.ttl.seconds', () => {
    const file = path.join(tempDir(), 'server.properties');
    fs.writeFileSync(file, 'broker.id=3\nbroker.rack=rack-a\netcd.endpoints=http://127.0.0.1:2379, http://127.0.0.1:2381\ncluster.name=prod\netcd.lease.ttl.seconds=6\ndefault.replication.factor=2\n');
    expect(readServerProperties(file)).toMatchObject({ brokerId: 3, rack: 'rack-a', etcd: ['http://127.0.0.1:2379', 'http://127.0.0.1:2381'], clusterName: 'prod', leaseTtlSeconds: 6, defaultReplicationFactor: 2 });
    fs.writeFileSync(file, 'etcd.endpoints=127.0.0.1:2379\n');
    expect(() => readServerProperties(file)).toThrow(/:1: an etcd endpoint is http:\/\/host:port/);
    fs.writeFileSync(file, 'etcd.lease.ttl.seconds=1\n');
    expect(() => readServerProperties(file)).toThrow(/etcd.lease.ttl.seconds=1 must be an integer from 2/);
    fs.writeFileSync(file, 'cluster.name=a/b\n');
    expect(() => readServerProperties(file)).toThrow(/:1: a cluster name is/);
  });
});
