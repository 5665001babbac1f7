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
});
