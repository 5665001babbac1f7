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
});
