/**
 * FindCoordinator (key 10), versions 0-6. Single node: this broker
 * coordinates every group; in a cluster, the leader of the group's
 * __consumer_offsets partition does (Broker.groupCoordinator), and while
 * there is none (the topic is being made on the first ask, a failover) the
 * answer is COORDINATOR_NOT_AVAILABLE, which clients retry. v0-3 ask for
 * one key; v4+ batch them (CoordinatorKeys), each answered alone.
 *
 *   KeyType 0 (group)         the group's coordinator
 *   KeyType 1 (transaction)   this broker: transactional ids are then
 *                             refused by InitProducerId with a definite
 *                             error, rather than a retriable
 *                             COORDINATOR_NOT_AVAILABLE clients loop on
 *   anything else             INVALID_REQUEST
 */

import { FerryError } from '../../../errors.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { errorFields } from './error-fields.js';

interface FindCoordinatorRequest {
  key: string;
  keyType: number;
  coordinatorKeys: string[];
}

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
const BATCHED_FROM_VERSION = 4;
const NO_NODE = -1;

interface CoordinatorAnswer {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export const findCoordinatorHandler: ApiHandler = {
  apiKey: 10,
  versions: { min: 0, max: 6 },
  handle(request, context) {
    const body = request as unknown as FindCoordinatorRequest;
    if (context.apiVersion >= BATCHED_FROM_VERSION) {
      return { throttleTimeMs: 0, coordinators: body.coordinatorKeys.map((key) => ({ key, ...answer(key, body.keyType, context) })) };
    }
    return { throttleTimeMs: 0, ...answer(body.key, body.keyType, context) };
  },
};

function answer(key: string, keyType: number, context: RequestContext): CoordinatorAnswer {
  try {
    if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) throw new FerryError('INVALID_REQUEST', `unknown coordinator key type ${keyType}`);
    if (keyType === KEY_TYPE_GROUP && key.length === 0) throw new FerryError('INVALID_GROUP_ID', 'group id must not be empty');
    const self = { id: context.broker.brokerId, host: context.settings.advertisedHost, kafkaPort: context.settings.advertisedPort, rack: null };
    const coordinatorId = keyType === KEY_TYPE_GROUP ? context.broker.groupCoordinator(key) : self.id;
    const coordinator = coordinatorId === null ? undefined : context.broker.cluster.brokers(self).find((broker) => broker.id === coordinatorId);
    if (!coordinator) throw new FerryError('COORDINATOR_NOT_AVAILABLE', `the coordinator of group ${key} is not available yet; retry`);
    return { errorCode: 0, errorMessage: null, nodeId: coordinator.id, host: coordinator.host, port: coordinator.kafkaPort };
  } catch (error) {
    return { ...errorFields(error, context.logger, `FindCoordinator ${key}`), nodeId: NO_NODE, host: '', port: NO_NODE };
  }
}
