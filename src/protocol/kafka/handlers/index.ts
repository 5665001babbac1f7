/**
 * Every API the Kafka door answers, one handler per API key. ApiVersions
 * advertises exactly this table, so adding an API is adding its handler here.
 */

import type { ApiHandler, SupportedApi } from '../handler.js';
import { apiVersionsHandler } from './api-versions.js';
import { describeProducersHandler } from './describe-producers.js';
import { initProducerIdHandler } from './init-producer-id.js';
import { fetchHandler } from './fetch.js';
import { listOffsetsHandler } from './list-offsets.js';
import { metadataHandler } from './metadata.js';
import { alterConfigsHandler, incrementalAlterConfigsHandler } from './alter-configs.js';
import { createPartitionsHandler } from './create-partitions.js';
import { createTopicsHandler } from './create-topics.js';
import { deleteRecordsHandler } from './delete-records.js';
import { deleteTopicsHandler } from './delete-topics.js';
import { describeClusterHandler } from './describe-cluster.js';
import { describeConfigsHandler } from './describe-configs.js';
import { saslAuthenticateHandler, saslHandshakeHandler } from './sasl.js';
import { produceHandler } from './produce.js';
import { deleteGroupsHandler } from './delete-groups.js';
import { describeGroupsHandler } from './describe-groups.js';
import { findCoordinatorHandler } from './find-coordinator.js';
import { heartbeatHandler } from './heartbeat.js';
import { joinGroupHandler } from './join-group.js';
import { leaveGroupHandler } from './leave-group.js';
import { listGroupsHandler } from './list-groups.js';
import { offsetCommitHandler } from './offset-commit.js';
import { offsetDeleteHandler } from './offset-delete.js';
import { offsetFetchHandler } from './offset-fetch.js';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.js';
import { syncGroupHandler } from './sync-group.js';

export const HANDLERS: readonly ApiHandler[] = [
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
  saslHandshakeHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  deleteRecordsHandler,
  offsetForLeaderEpochHandler,
  describeConfigsHandler,
  alterConfigsHandler,
  saslAuthenticateHandler,
  createPartitionsHandler,
  incrementalAlterConfigsHandler,
  describeClusterHandler,
  apiVersionsHandler,
  initProducerIdHandler,
  describeProducersHandler,
  findCoordinatorHandler,
  joinGroupHandler,
  syncGroupHandler,
  heartbeatHandler,
  leaveGroupHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  offsetDeleteHandler,
  listGroupsHandler,
  describeGroupsHandler,
  deleteGroupsHandler,
];

export const HANDLERS_BY_KEY: ReadonlyMap<number, ApiHandler> = new Map(HANDLERS.map((handler) => [handler.apiKey, handler]));

export const SUPPORTED_APIS: readonly SupportedApi[] = HANDLERS.map((handler) => ({
  apiKey: handler.apiKey,
  minVersion: handler.versions.min,
  maxVersion: handler.versions.max,
})).sort((a, b) => a.apiKey - b.apiKey);
