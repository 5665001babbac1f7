/** The groups module's public surface: the coordinator, its request types, the consumer-protocol codec and the assignors. */

export * from './group-coordinator.js';
export { GROUP_STATES, type GroupState } from './group.js';
export type { GroupProtocol, JoinResult, JoinedMember, SyncResult } from './member.js';
export { MemberIdRequiredError, type HeartbeatRequest, type JoinRequest, type MemberIdentity, type SyncRequest } from './rebalance.js';
export { DEFAULT_GROUP_SETTINGS, OFFSETS_TOPIC, type GroupCoordinatorSettings } from './limits.js';
export * from './consumer-protocol.js';
export * from './assignors.js';
export * from './broker-assignment.js';
