/**
 * DescribeCluster (key 60), versions 0-1: the cluster id, the controller
 * and the brokers, as the Admin client's describeCluster wants them.
 * EndpointType (v1) asks for brokers (1) or controllers (2); a broker
 * endpoint answers MISMATCHED_ENDPOINT_TYPE to the second, as Kafka's
 * brokers do, and UNSUPPORTED_ENDPOINT_TYPE to any other value.
 */

import { FerryError } from '../../../errors.js';
import type { ApiHandler } from '../handler.js';
import { advertisedBrokers, AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS } from './cluster-view.js';

interface DescribeClusterRequest {
  includeClusterAuthorizedOperations: boolean;
  endpointType: number;
}

const ENDPOINT_TYPE = { BROKERS: 1, CONTROLLERS: 2 } as const;

export const describeClusterHandler: ApiHandler = {
  apiKey: 60,
  versions: { min: 0, max: 1 },
  handle(request, context) {
    const body = request as unknown as DescribeClusterRequest;
    if (body.endpointType === ENDPOINT_TYPE.CONTROLLERS) throw new FerryError('MISMATCHED_ENDPOINT_TYPE', 'this is a broker endpoint; ask it for brokers (endpoint type 1)');
    if (body.endpointType !== ENDPOINT_TYPE.BROKERS) throw new FerryError('UNSUPPORTED_ENDPOINT_TYPE', `endpoint type ${body.endpointType} is not one Ferry knows (1 brokers, 2 controllers)`);
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      endpointType: ENDPOINT_TYPE.BROKERS,
      clusterId: context.broker.cluster.clusterId(),
      controllerId: context.broker.cluster.controllerId(),
      brokers: advertisedBrokers(context).map(({ nodeId, host, port, rack }) => ({ brokerId: nodeId, host, port, rack })),
      clusterAuthorizedOperations: body.includeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
};
