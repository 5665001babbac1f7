/**
 * The cluster as this broker describes it to clients of every door: its
 * shared id, its live brokers and its controller. The doors ask the view
 * (Kafka Metadata and DescribeCluster, HTTP `/v3/clusters`) and never build
 * the answer themselves, so single-node and cluster mode differ only in
 * which view the broker holds:
 *
 *   SingleNodeClusterView   this broker alone, its own controller (the default)
 *   EtcdClusterView         the brokers registered in etcd and the elected
 *                           controller (src/cluster/cluster-view.ts)
 */

/** A broker as clients are told to reach it through the Kafka door. */
export interface ClusterMember {
  id: number;
  host: string;
  kafkaPort: number;
  rack: string | null;
}

/** Kafka's "no controller known" (MetadataResponse's -1). */
export const NO_CONTROLLER_ID = -1;

export interface ClusterView {
  clusterId(): string;
  /** The elected controller's broker id, NO_CONTROLLER_ID while there is none. */
  controllerId(): number;
  /**
   * The live brokers, by id. `self` is this broker as the asking door
   * advertises it; it is always listed, since it is answering.
   */
  brokers(self: ClusterMember): ClusterMember[];
}

export class SingleNodeClusterView implements ClusterView {
  constructor(
    private readonly brokerId: number,
    private readonly id: string,
  ) {}

  clusterId(): string {
    return this.id;
  }

  controllerId(): number {
    return this.brokerId;
  }

  brokers(self: ClusterMember): ClusterMember[] {
    return [self];
  }
}
