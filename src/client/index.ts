/**
 * Ferry's WebSocket client: `FerryClient.connect(url, options)`, then
 * `produce(topic, records)` and `subscribe(topic, options)` (an async
 * iterator of records that resumes across reconnects). Runs in browsers and
 * in Node unchanged: no Node built-ins anywhere under src/client.
 */

export { FerryClient, CLIENT_DEFAULTS, type ConnectionChange, type FerryClientOptions, type ProduceInput, type ProduceOptions } from './ferry-client.js';
export { Subscription, type From, type PartitionOffset, type SubscribeOptions } from './subscription.js';
export { ConsumedRecord, type ConsumedHeader, type ValueInput } from './record.js';
export { FerryClientError } from './errors.js';
export { decodeRecordBatches, type BatchRecord, type BatchRecordHeader } from './batch-decoder.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
export type { Encoding, ProducedResult } from '../protocol/ws/protocol.js';
