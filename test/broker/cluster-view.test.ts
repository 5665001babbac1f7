/**
 * The broker's side of one cluster id and one cluster view: a data
 * directory takes the cluster id it is given when new, keeps its own when it
 * has one and is given none, and refuses to open with another; a broker
 * alone describes itself as the whole cluster and its controller.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SingleNodeClusterView } from '../../src/broker/cluster-view.js';
import { InconsistentClusterIdError, METADATA_FILE_NAME, MetadataStore, newKafkaId } from '../../src/broker/metadata-store.js';
import { tempDir } from '../storage/helpers.js';

describe('SingleNodeClusterView', () => {
  it('is this broker alone, as the door advertises it, and its own controller', () => {
    const view = new SingleNodeClusterView(4, 'cluster-a');
    const self = { id: 4, host: 'ferry.test', kafkaPort: 9092, rack: null };
    expect(view.clusterId()).toBe('cluster-a');
    expect(view.controllerId()).toBe(4);
    expect(view.brokers(self)).toEqual([self]);
  });
});

describe('the cluster id of a data directory', () => {
  it('a new directory records the id it is given, or a new random one', () => {
    const given = newKafkaId();
    expect(MetadataStore.open(tempDir('ferry-cid-'), given).clusterId).toBe(given);
    expect(MetadataStore.open(tempDir('ferry-cid-')).clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('an existing directory keeps its id, opens when given the same, and is refused with another, naming the file and both ids', () => {
    const dataDir = tempDir('ferry-cid-');
    expect(MetadataStore.peekClusterId(dataDir)).toBeNull();
    const own = MetadataStore.open(dataDir).clusterId;
    expect(MetadataStore.peekClusterId(dataDir)).toBe(own);
    expect(MetadataStore.open(dataDir).clusterId).toBe(own);
    expect(MetadataStore.open(dataDir, own).clusterId).toBe(own);
    const other = newKafkaId();
    const file = path.join(dataDir, METADATA_FILE_NAME);
    const before = fs.readFileSync(file, 'utf8');
    expect(() => MetadataStore.open(dataDir, other)).toThrow(InconsistentClusterIdError);
    expect(() => MetadataStore.open(dataDir, other)).toThrow(`InconsistentClusterIdException: ${file} holds cluster id ${own}, but the cluster being joined has id ${other}`);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });
});
