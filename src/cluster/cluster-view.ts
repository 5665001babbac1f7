/**
 * The broker core's ClusterView in cluster mode: the live brokers from the
 * BrokerDirectory (the etcd registrations, kept current by a watch), the
 * controller from the controller key's watch, and the cluster id from etcd.
 * This view says who is in the cluster; who leads what is the broker's
 * TopicPlacements (etcd-topic-placements.ts).
 */

import type { ClusterMember, ClusterView } from '../broker/cluster-view.js';
import { NO_CONTROLLER_ID } from '../broker/cluster-view.js';
import type { ClusterNode } from './cluster-node.js';

export class EtcdClusterView implements ClusterView {
  constructor(
    private readonly node: ClusterNode,
    private readonly id: string,
    /** This broker's rack (--rack), which the doors do not know. */
    private readonly localRack: string | null,
  ) {}

  clusterId(): string {
    return this.id;
  }

  controllerId(): number {
    return this.node.controller.controllerId ?? NO_CONTROLLER_ID;
  }

  /**
   * Every registered broker, this one as the asking door advertises it. It is
   * listed even while its own registration is missing (its lease lost and
   * being renewed): it is answering, so it is alive.
   */
  brokers(self: ClusterMember): ClusterMember[] {
    const members: ClusterMember[] = [];
    for (const registration of this.node.brokers) {
      if (registration.id === self.id) continue;
      members.push({ id: registration.id, host: registration.host, kafkaPort: registration.kafkaPort, rack: registration.rack });
    }
    members.push({ ...self, rack: this.localRack });
    return members.sort((a, b) => a.id - b.id);
  }
}
