/**
 * Metadata and DescribeCluster answer from the broker's ClusterView, not
 * from the broker alone: given a view of three brokers (as cluster mode's
 * EtcdClusterView gives), every version lists them all, names the view's
 * controller and carries the view's cluster id.
 */

import { describe, expect, it } from 'vitest';
import { NO_CONTROLLER_ID, type ClusterMember, type ClusterView } from '../../../../src/broker/cluster-view.js';
import { describeClusterHandler } from '../../../../src/protocol/kafka/handlers/describe-cluster.js';
import { metadataHandler } from '../../../../src/protocol/kafka/handlers/metadata.js';
import { ADVERTISED_HOST, ADVERTISED_PORT, useHarnesses, versionsOf, type Harness } from './admin-harness.js';

const open = useHarnesses();

const OTHERS: ClusterMember[] = [
  { id: 2, host: 'broker-2.test', kafkaPort: 29092, rack: 'rack-b' },
  { id: 3, host: 'broker-3.test', kafkaPort: 39092, rack: null },
];

/** Three brokers (this one, id 1, as its door advertises it) and a controller chosen by the test. */
function threeBrokers(h: Harness, controllerId: number): ClusterView {
  return {
    clusterId: () => h.broker.clusterId,
    controllerId: () => controllerId,
    brokers: (self) => [self, ...OTHERS],
  };
}

const expectedNodes = [
  { nodeId: 1, host: ADVERTISED_HOST, port: ADVERTISED_PORT, rack: null },
  { nodeId: 2, host: 'broker-2.test', port: 29092, rack: 'rack-b' },
  { nodeId: 3, host: 'broker-3.test', port: 39092, rack: null },
];

describe('the cluster as the Kafka door describes it', () => {
  it('Metadata lists every broker of the view and its controller at every version', async () => {
    const h = await open();
    await h.broker.createTopic('orders');
    h.broker.useClusterView(threeBrokers(h, 3));
    for (const version of versionsOf(metadataHandler)) {
      const response = await h.call(metadataHandler, version, { topics: version === 0 ? [] : null });
      // Rack is a v1+ field: v0 decodes it as its default, null.
      expect(response['brokers']).toEqual(version === 0 ? expectedNodes.map((node) => ({ ...node, rack: null })) : expectedNodes);
      if (version >= 1) expect(response['controllerId']).toBe(3);
      if (version >= 2) expect(response['clusterId']).toBe(h.broker.clusterId);
      // Partitions are not assigned across brokers yet: this broker leads its own.
      expect((response['topics'] as Array<{ partitions: Array<{ leaderId: number }> }>)[0]!.partitions.map((partition) => partition.leaderId)).toEqual([1]);
    }
  });

  it('DescribeCluster lists every broker of the view and its controller at every version', async () => {
    const h = await open();
    h.broker.useClusterView(threeBrokers(h, 2));
    for (const version of versionsOf(describeClusterHandler)) {
      const response = await h.call(describeClusterHandler, version, {});
      expect(response).toMatchObject({ errorCode: 0, clusterId: h.broker.clusterId, controllerId: 2 });
      expect(response['brokers']).toEqual(expectedNodes.map(({ nodeId, ...rest }) => ({ brokerId: nodeId, ...rest })));
    }
  });

  it('answers controller id -1 while the view knows no controller', async () => {
    const h = await open();
    h.broker.useClusterView(threeBrokers(h, NO_CONTROLLER_ID));
    expect((await h.call(metadataHandler, 1, { topics: [] }))['controllerId']).toBe(-1);
    expect((await h.call(describeClusterHandler, 0, {}))['controllerId']).toBe(-1);
  });

  it('a view of another cluster is refused by the broker', async () => {
    const h = await open();
    expect(() => h.broker.useClusterView({ ...threeBrokers(h, 1), clusterId: () => 'AAAAAAAAAAAAAAAAAAAAAA' })).toThrow(/cluster view for cluster AAAAAAAAAAAAAAAAAAAAAA given to a broker of cluster/);
  });
});
