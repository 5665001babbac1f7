/**
 * Ferry's WebSocket client: `FerryClient.connect(url, options)`, then
 * `produce(topic, records)`, `subscribe(topic, options)` (an async
 * iterator of records that resumes across reconnects) and
 * `join(group, topics, options)` (a consumer group member). Runs in browsers and
 * in Node unchanged: no Node built-ins anywhere under src/client.
 */

export { FerryClient, CLIENT_DEFAULTS, type ConnectionChange, type FerryClientOptions, type ProduceOptions } from './ferry-client.js';
export { Subscription, type From, type PartitionOffset, type SubscribeOptions } from './subscription.js';
export { GroupMembership, type AssignedPartitions, type JoinOptions, type OffsetToCommit } from './group-membership.js';
export { ConsumedRecord, type ConsumedHeader, type ProduceInput, type ValueInput } from './record.js';
export { FerryClientError } from './errors.js';
export { decodeRecordBatches, type BatchRecord, type BatchRecordHeader } from './batch-decoder.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
export type { CommitResult, Encoding, ProducedResult, WireAssignor, WireCommittedOffset } from '../protocol/ws/protocol.js';
