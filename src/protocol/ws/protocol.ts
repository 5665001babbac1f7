/**
 * Ferry's WebSocket protocol, version 1: the wire shapes the door (server) and
 * the client library share. Pure: no Node built-ins, so the client's browser
 * path imports it as is.
 *
 * Connection
 *
 *   GET /ws?encoding=json|binary[&version=1]      WebSocket upgrade on the HTTP port
 *
 *   encoding   json (default): records are pushed as JSON text frames.
 *              binary: records are pushed as binary frames carrying the stored
 *              RecordBatch v2 bytes as they are on disk (the zero-copy path).
 *              Every other message is a JSON text frame in both encodings.
 *   version    1, the only one; anything else is refused with HTTP 400.
 *
 *   The server speaks first: {type:"hello", version:1, encoding, limits:{...}}
 *   (the limits of limits.ts, snake_case, so a client can size its requests).
 *   Limit names below are limits.ts's.
 *
 * Requests (client -> server, JSON text, and the binary produce frame below).
 * `id` (string or number) is the client's, echoed in the answer; requests are
 * answered in any order.
 *
 *   produce      {type:"produce", id, topic, acks?, records:[ProduceRecord]}
 *                acks: 0 | 1 | -1 | "all" (default "all"; on one node all = 1).
 *                -> {type:"produced", id, results:[{partition, offset, timestamp}]}
 *                   one result per record, in order; offset -1 with acks 0.
 *   produce (binary)
 *                one binary frame, layout below, in either encoding: record
 *                batches the client built, appended as they are (as the Kafka
 *                door appends a producer's), so the broker neither parses JSON
 *                nor builds batches.
 *                -> {type:"produced", id, partition, base_offset, record_count, log_append_time}
 *                   one answer per frame, not per record (a per-record answer
 *                   costs the broker ~0.5 us a record to write): record i of the
 *                   frame got offset base_offset + i when the batches' offset
 *                   deltas are 0, 1, 2... as the client library builds them;
 *                   log_append_time is the broker's time when the topic stamps
 *                   LogAppendTime, else -1 (records keep their own timestamps).
 *                   base_offset -1 with acks 0 (answered before the write).
 *                Errors name `id`: INVALID_REQUEST (a frame too short for its
 *                header or its topic, unknown frame type or version, flags set),
 *                INVALID_REQUIRED_ACKS, UNKNOWN_TOPIC_OR_PARTITION (the topic is
 *                created first where the broker auto-creates topics, as for JSON
 *                produce), and the Kafka door's batch errors: CORRUPT_MESSAGE
 *                (truncated batch, bad length, CRC32C mismatch, magic other
 *                than 0-2), UNSUPPORTED_FOR_MESSAGE_FORMAT (magic 0 or 1),
 *                MESSAGE_TOO_LARGE (a batch over the topic's max.message.bytes),
 *                INVALID_RECORD. A frame over payloadBytesMax closes the socket.
 *   subscribe    {type:"subscribe", id, topic, partitions?, from?, credit?}
 *                partitions: [p | {partition:p, from}]   (default: every partition)
 *                from: "earliest" | "latest" | {offset} | {timestamp}   (default "latest";
 *                  a partition's own `from` overrides it; a timestamp past the
 *                  last record starts at the log end)
 *                credit: bytes the server may push before the client grants more
 *                  (default creditBytesDefault)
 *                -> {type:"subscribed", id, subscription, partitions:[{partition, offset}]}
 *                   `offset` is where the push starts: resolved, never a spec.
 *   credit       {type:"credit", subscription, bytes}       no answer
 *                Adds `bytes` to the subscription's credit (clamped to creditBytesMax).
 *                A credit for a subscription that has just ended is ignored.
 *   unsubscribe  {type:"unsubscribe", id, subscription} -> {type:"unsubscribed", id, subscription}
 *   ping         {type:"ping", id} -> {type:"pong", id}
 *   join         {type:"join", id, group, topics:[topic], assignor?, from?, credit?,
 *                 session_timeout_ms?, rebalance_timeout_ms?, revoke_timeout_ms?, instance_id?}
 *                Joins consumer group `group` on the broker's coordinator, the one
 *                Kafka clients use, as a Kafka consumer would: protocol type
 *                "consumer", a ConsumerProtocol subscription to `topics` (each must
 *                exist). The door runs Kafka's whole dance for the member (the
 *                MEMBER_ID_REQUIRED round trip, JoinGroup, SyncGroup) and then
 *                heartbeats for it every session_timeout_ms / 3 (at most every 3 s)
 *                while the socket is open: a background tab's throttled timers
 *                cannot expire it.
 *                assignor: "range" | "roundrobin" | "RoundRobinAssigner" (kafkajs's
 *                  name for roundrobin), or a list of them in order of preference
 *                  (default "range"). A group only forms over a name every member
 *                  offers. When this member leads, the broker assigns with it;
 *                  when a Kafka client leads, its own assignor assigns this member.
 *                from: where a partition with no committed offset starts, as in
 *                  subscribe (Kafka's auto.offset.reset; default "latest"; also
 *                  used when the committed offset is outside the log).
 *                credit: the credit of each subscription the door opens (below).
 *                session_timeout_ms (default 30000; within the broker's group
 *                  min/max session timeouts), rebalance_timeout_ms (default
 *                  60000): Kafka's JoinGroup fields.
 *                revoke_timeout_ms (default 0): after pushing `rebalancing`, the
 *                  door waits up to this long (at most half the rebalance
 *                  timeout) for a commit of the group before it rejoins, so the
 *                  client can commit what it consumed while the group still
 *                  accepts it (Kafka's onPartitionsRevoked). Any commit answer
 *                  for the group ends the wait; `offsets: []` commits nothing
 *                  and just ends it.
 *                instance_id: Kafka's group.instance.id (static membership): a
 *                  socket that closes does not leave, so a reloaded page that
 *                  joins again with the same instance_id within the session
 *                  timeout gets its partitions back without a rebalance.
 *                -> {type:"joined", id, group, generation, member_id, leader,
 *                    assignment:[GroupAssignment]}
 *                   once the group is Stable with this member in it. The door
 *                   then pushes records of the assigned partitions through one
 *                   subscription per topic, exactly as for subscribe (credit,
 *                   records pushes, binary frames), each partition from its
 *                   committed offset, else from `from`.
 *                In a cluster: a join at a broker that does not coordinate the
 *                   group is NOT_COORDINATOR with `leader` naming the coordinator
 *                   (join there), and a partition assigned to the member that
 *                   another broker leads is listed in its topic's `elsewhere`
 *                   rather than pushed: the client reads it from that leader
 *                   (subscribe there from the committed `offset`, else `from`)
 *                   and still commits it here. A member the coordinator drops
 *                   because it moved gets the same error by `group`.
 *                A socket holds at most groupsPerSocketMax groups; joining a group
 *                it is already in is INVALID_REQUEST.
 *   commit       {type:"commit", id, group, offsets:[{topic, partition, offset, metadata?}]}
 *                offset: the next offset to consume (Kafka's convention); the
 *                list may be empty (see revoke_timeout_ms).
 *                From a member of `group` on this socket: with its generation, so
 *                a commit after a rebalance has moved on is refused
 *                (ILLEGAL_GENERATION, or REBALANCE_IN_PROGRESS while the group
 *                completes one), as Kafka refuses it. From a socket not in the
 *                group: a commit from outside group management, accepted only
 *                while the group has no members.
 *                -> {type:"committed", id, group, results:[{topic, partition, error_code, error_name}]}
 *                   error_code 0 / error_name "NONE" where that partition's commit was stored.
 *   offsets      {type:"offsets", id, group, topics?:[topic]}
 *                -> {type:"committed_offsets", id, group, offsets:[{topic, partition, offset, metadata}]}
 *                   every partition of `topics` (offset -1 where nothing is
 *                   committed), or every committed offset of the group.
 *   leave        {type:"leave", id, group} -> {type:"left", id, group}
 *                Stops the group's subscriptions and leaves (a static member too).
 *                Closing the socket leaves every group it joined without an
 *                instance_id.
 *   metadata     {type:"metadata", id, topics?:[topic]}
 *                -> {type:"metadata", id, brokers:[{id, host, http_port}],
 *                    topics:[{topic, partitions:[{partition, leader, leader_epoch}]}]}
 *                Who leads what, for a client that follows leaders (the client
 *                library does): every topic, or those named (an unknown one is
 *                UNKNOWN_TOPIC_OR_PARTITION). `brokers` are the live brokers
 *                (a single node: itself); `http_port` is the HTTP and WebSocket
 *                port, null for a broker this one cannot place (it leads none
 *                of the partitions listed). `leader` is a broker id, -1 while
 *                the partition has none (a failover under way: ask again).
 *                The broker itself is listed with the host and port the client
 *                reached it at (the upgrade's Host header).
 *   sync, heartbeat
 *                reserved: the door runs them on the member's behalf;
 *                -> error UNSUPPORTED_VERSION.
 *
 * Pushes (server -> client)
 *
 *   records      json:   {type:"records", subscription, partition, records:[Record],
 *                         next_offset, high_watermark, bytes}
 *                binary: one binary frame, layout below.
 *                `bytes` (json) / the batches' length (binary) is what the push
 *                charged against the subscription's credit: stored batch bytes.
 *   rebalancing  {type:"rebalancing", group, generation}
 *                The group is rebalancing: the member's subscriptions are over
 *                (their partitions are revoked; a credit for them is ignored).
 *                The door joins again after the client's commit or
 *                revoke_timeout_ms; a commit sent before it does is made with
 *                this generation, which the group accepts until the join completes.
 *   rebalance    {type:"rebalance", group, generation, member_id, leader, assignment:[GroupAssignment]}
 *                The member is in the group again, with new subscriptions.
 *   error        {type:"error", id?, subscription?, partition?, group?, error_code, error_name, retriable, message}
 *                Kafka's error codes and names. With `id`: that request failed.
 *                With `subscription`: that subscription is over (the server
 *                has dropped it). With `group` (no id): the door could not keep
 *                the member in that group (fenced, or rejoining failed) and has
 *                dropped the membership. With none: the frame could not be read
 *                (malformed JSON, a binary frame too short to hold a request id).
 *                NOT_LEADER_OR_FOLLOWER (cluster mode: this broker does not lead
 *                the partition), and NOT_COORDINATOR (it does not coordinate
 *                the group; then `leader` is the coordinator), carry
 *                `leader: {id, host, http_port, url}`,
 *                the live leader, url its WebSocket door (ws://host:port/ws):
 *                send the request there. LEADER_NOT_AVAILABLE (no leader during
 *                a failover) carries none: wait a little, ask `metadata`.
 *
 * Values
 *
 *   GroupAssignment {topic, subscription, partitions:[{partition, offset}],
 *                    elsewhere?:[{partition, offset, leader}]}
 *     one per topic with partitions assigned to the member; `subscription` is
 *     the id its records are pushed under (null when this broker leads none of
 *     them), `offset` where each push starts. `elsewhere` (cluster mode only,
 *     absent when empty): assigned partitions another broker leads; `offset`
 *     is the committed one (-1: none), `leader` a WireLeader or null while the
 *     partition has none.
 *   ProduceRecord {key?, value, headers?, partition?, timestamp?}
 *   Record        {offset, timestamp, key, value, headers}
 *   key, value and header values are a Value:
 *     "text"              the UTF-8 bytes of the string
 *     {"base64": "..."}   the bytes, standard base64 with padding
 *     null                null (a null value is a tombstone)
 *   In pushed records a key or value is a string when its bytes are valid
 *   UTF-8, else {base64}. Headers are [{key, value}] (keys are strings, may
 *   repeat); in produce an object {key: Value} is accepted as a shorthand.
 *   Offsets and timestamps (ms since the epoch) are JSON numbers, exact below 2^53.
 *   A keyed record without `partition` goes where Kafka's default partitioner
 *   puts it, so Kafka clients and Ferry agree.
 *
 * Flow control
 *
 *   Each subscription has a credit in stored batch bytes. The server reads a
 *   partition only while the credit is positive, and reads at most the
 *   credit (and pushBytesMax) per round. As in Kafka's fetch, a batch
 *   larger than the remaining credit is still sent whole when it is the first
 *   of its round, so a window smaller than a batch still moves; the credit
 *   then goes negative until the client grants it back above zero. A client
 *   therefore holds at most credit + one batch unread per subscription. The
 *   socket's own send buffer is the second bound: pushes pause while uWS
 *   holds more than socketBufferedBytesSoftMax and resume on drain; past
 *   socketBackpressureBytesMax (a client that sends requests and never reads
 *   the answers) the socket is closed. A frame over payloadBytesMax closes
 *   the socket that sent it (uWS drops the connection: the client sees 1006).
 *
 * Resuming
 *
 *   A subscription's position per partition is the `offset` of `subscribed`,
 *   then each push's next_offset (records before a push's fetch offset are
 *   never pushed as JSON; in binary mode the first batch may start earlier and
 *   the client skips records below fetchOffset). After a reconnect a client
 *   resubscribes with partitions:[{partition, from:{offset: position}}]; the
 *   client library does this. A group member instead joins again (closing
 *   the socket left the group) and resumes from the group's committed offsets.
 *
 * Binary records frame (big-endian; names in the constants below)
 *
 *   frameType       u8    FRAME_TYPE_RECORDS = 1
 *   version         u8    PROTOCOL_VERSION
 *   flags           u16   0 (reserved)
 *   subscription    u32
 *   partition       i32
 *   fetchOffset     i64   records of the first batch below it are to be skipped
 *   nextOffset      i64   the partition's position after this push
 *   highWatermark   i64   the log end when the push was read (lag = highWatermark - nextOffset)
 *   batches         RecordBatch v2 bytes, whole batches exactly as stored
 *                   (control batches included: clients skip them)
 *
 * Binary produce frame (client -> server, big-endian; names in the constants below)
 *
 *   frameType       u8    FRAME_TYPE_PRODUCE = 2
 *   version         u8    PROTOCOL_VERSION
 *   flags           u16   0 (reserved)
 *   requestId       u32   the client's id, echoed as `id` (a number) in the answer
 *   partition       i32   the partition, or PARTITION_ANY (-1): the door picks one
 *                         for the whole frame (keyed records should name theirs:
 *                         the client library sends keyed records without a
 *                         partition as JSON, where Kafka's partitioner places them)
 *   acks            i16   0 | 1 | -1 (-1 = all; on one node all = 1)
 *   topicLength     u16   bytes of topic, 1..TOPIC_BYTES_MAX
 *   topic           UTF-8
 *   batches         RecordBatch v2 bytes, one or more, exactly as a Kafka producer
 *                   sends them (baseOffset 0, CRC32C over attributes..end): the
 *                   door validates them as the Kafka door does and stores these
 *                   bytes, offsets assigned in place
 */

export const PROTOCOL_VERSION = 1;
export const WS_PATH = '/ws';

export type Encoding = 'json' | 'binary';
export const ENCODINGS: readonly Encoding[] = ['json', 'binary'];

// --- binary records frame header ---------------------------------------------------------

export const FRAME_TYPE_RECORDS = 1;
/** A client frame carrying record batches to append as a Kafka producer sends them. */
export const FRAME_TYPE_PRODUCE = 2;

export const FRAME_TYPE_OFFSET = 0;
export const FRAME_TYPE_LENGTH = 1;
export const FRAME_VERSION_OFFSET = FRAME_TYPE_OFFSET + FRAME_TYPE_LENGTH;
export const FRAME_VERSION_LENGTH = 1;
export const FRAME_FLAGS_OFFSET = FRAME_VERSION_OFFSET + FRAME_VERSION_LENGTH;
export const FRAME_FLAGS_LENGTH = 2;
export const FRAME_SUBSCRIPTION_OFFSET = FRAME_FLAGS_OFFSET + FRAME_FLAGS_LENGTH;
export const FRAME_SUBSCRIPTION_LENGTH = 4;
export const FRAME_PARTITION_OFFSET = FRAME_SUBSCRIPTION_OFFSET + FRAME_SUBSCRIPTION_LENGTH;
export const FRAME_PARTITION_LENGTH = 4;
export const FRAME_FETCH_OFFSET_OFFSET = FRAME_PARTITION_OFFSET + FRAME_PARTITION_LENGTH;
export const FRAME_FETCH_OFFSET_LENGTH = 8;
export const FRAME_NEXT_OFFSET_OFFSET = FRAME_FETCH_OFFSET_OFFSET + FRAME_FETCH_OFFSET_LENGTH;
export const FRAME_NEXT_OFFSET_LENGTH = 8;
export const FRAME_HIGH_WATERMARK_OFFSET = FRAME_NEXT_OFFSET_OFFSET + FRAME_NEXT_OFFSET_LENGTH;
export const FRAME_HIGH_WATERMARK_LENGTH = 8;
export const FRAME_BATCHES_OFFSET = FRAME_HIGH_WATERMARK_OFFSET + FRAME_HIGH_WATERMARK_LENGTH;
/** The fixed header before the batches: 36 bytes. */
export const RECORDS_FRAME_HEADER_BYTES = FRAME_BATCHES_OFFSET;

export interface RecordsFrameHeader {
  subscription: number;
  partition: number;
  fetchOffset: number;
  nextOffset: number;
  highWatermark: number;
}

const TWO_TO_32 = 2 ** 32;

/** An int64 as a number: exact below 2^53, which offsets and ms timestamps never reach. */
function getInt64(view: DataView, at: number): number {
  return view.getInt32(at) * TWO_TO_32 + view.getUint32(at + 4);
}

function setInt64(view: DataView, at: number, value: number): void {
  view.setInt32(at, Math.floor(value / TWO_TO_32));
  view.setUint32(at + 4, value >>> 0);
}

/** Writes a records frame header into `out` (RECORDS_FRAME_HEADER_BYTES long). */
export function writeRecordsFrameHeader(out: Uint8Array, header: RecordsFrameHeader): void {
  const view = new DataView(out.buffer, out.byteOffset, RECORDS_FRAME_HEADER_BYTES);
  view.setUint8(FRAME_TYPE_OFFSET, FRAME_TYPE_RECORDS);
  view.setUint8(FRAME_VERSION_OFFSET, PROTOCOL_VERSION);
  view.setUint16(FRAME_FLAGS_OFFSET, 0);
  view.setUint32(FRAME_SUBSCRIPTION_OFFSET, header.subscription);
  view.setInt32(FRAME_PARTITION_OFFSET, header.partition);
  setInt64(view, FRAME_FETCH_OFFSET_OFFSET, header.fetchOffset);
  setInt64(view, FRAME_NEXT_OFFSET_OFFSET, header.nextOffset);
  setInt64(view, FRAME_HIGH_WATERMARK_OFFSET, header.highWatermark);
}

/** Reads a records frame header; null when `frame` is not a version-1 records frame. */
export function readRecordsFrameHeader(frame: Uint8Array): RecordsFrameHeader | null {
  if (frame.byteLength < RECORDS_FRAME_HEADER_BYTES) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, RECORDS_FRAME_HEADER_BYTES);
  if (view.getUint8(FRAME_TYPE_OFFSET) !== FRAME_TYPE_RECORDS || view.getUint8(FRAME_VERSION_OFFSET) !== PROTOCOL_VERSION) return null;
  return {
    subscription: view.getUint32(FRAME_SUBSCRIPTION_OFFSET),
    partition: view.getInt32(FRAME_PARTITION_OFFSET),
    fetchOffset: getInt64(view, FRAME_FETCH_OFFSET_OFFSET),
    nextOffset: getInt64(view, FRAME_NEXT_OFFSET_OFFSET),
    highWatermark: getInt64(view, FRAME_HIGH_WATERMARK_OFFSET),
  };
}

// --- binary produce frame header ---------------------------------------------------------

// frameType, version and flags sit where they sit in the records frame (FRAME_*_OFFSET above).
export const PRODUCE_REQUEST_ID_OFFSET = FRAME_FLAGS_OFFSET + FRAME_FLAGS_LENGTH;
export const PRODUCE_REQUEST_ID_LENGTH = 4;
export const PRODUCE_PARTITION_OFFSET = PRODUCE_REQUEST_ID_OFFSET + PRODUCE_REQUEST_ID_LENGTH;
export const PRODUCE_PARTITION_LENGTH = 4;
export const PRODUCE_ACKS_OFFSET = PRODUCE_PARTITION_OFFSET + PRODUCE_PARTITION_LENGTH;
export const PRODUCE_ACKS_LENGTH = 2;
export const PRODUCE_TOPIC_LENGTH_OFFSET = PRODUCE_ACKS_OFFSET + PRODUCE_ACKS_LENGTH;
export const PRODUCE_TOPIC_LENGTH_LENGTH = 2;
export const PRODUCE_TOPIC_OFFSET = PRODUCE_TOPIC_LENGTH_OFFSET + PRODUCE_TOPIC_LENGTH_LENGTH;
/** The fixed header before the topic: 16 bytes. */
export const PRODUCE_FRAME_HEADER_BYTES = PRODUCE_TOPIC_OFFSET;
/** Kafka's longest topic name (249 characters, ASCII): a bound on topicLength. */
export const TOPIC_BYTES_MAX = 249;
/** The partition field's "the door picks". */
export const PARTITION_ANY = -1;
/** Request ids of binary produce frames are u32. */
export const PRODUCE_REQUEST_ID_MAX = 0xffff_ffff;

export interface ProduceFrameHeader {
  requestId: number;
  partition: number;
  acks: number;
  topic: string;
}

/** Why a produce frame could not be read; `requestId` when the frame was long enough to hold one. */
export interface ProduceFrameProblem {
  requestId: number | undefined;
  problem: string;
}

const topicEncoder = new TextEncoder();
const topicDecoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a topic name once, for produce frames to it. */
export function produceTopicBytes(topic: string): Uint8Array {
  const bytes = topicEncoder.encode(topic);
  if (bytes.length === 0 || bytes.length > TOPIC_BYTES_MAX) throw new RangeError(`a topic name is 1..${TOPIC_BYTES_MAX} bytes, not ${bytes.length}`);
  return bytes;
}

/** Bytes of the header and topic before a produce frame's batches. */
export function produceFrameHeaderBytes(topicBytes: Uint8Array): number {
  return PRODUCE_FRAME_HEADER_BYTES + topicBytes.length;
}

/** Writes a produce frame's header and topic into `out` (produceFrameHeaderBytes long at least); the batches follow. */
export function writeProduceFrameHeader(out: Uint8Array, requestId: number, partition: number, acks: number, topicBytes: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, PRODUCE_FRAME_HEADER_BYTES);
  view.setUint8(FRAME_TYPE_OFFSET, FRAME_TYPE_PRODUCE);
  view.setUint8(FRAME_VERSION_OFFSET, PROTOCOL_VERSION);
  view.setUint16(FRAME_FLAGS_OFFSET, 0);
  view.setUint32(PRODUCE_REQUEST_ID_OFFSET, requestId);
  view.setInt32(PRODUCE_PARTITION_OFFSET, partition);
  view.setInt16(PRODUCE_ACKS_OFFSET, acks);
  view.setUint16(PRODUCE_TOPIC_LENGTH_OFFSET, topicBytes.length);
  out.set(topicBytes, PRODUCE_TOPIC_OFFSET);
}

/**
 * Reads a produce frame's header: the header and where its batches start,
 * or the problem (the batches themselves are the broker's to validate).
 */
export function readProduceFrameHeader(frame: Uint8Array): { header: ProduceFrameHeader; batchesOffset: number } | ProduceFrameProblem {
  if (frame.byteLength < PRODUCE_REQUEST_ID_OFFSET + PRODUCE_REQUEST_ID_LENGTH) {
    return { requestId: undefined, problem: `a binary frame of ${frame.byteLength} bytes is too short for a produce frame header (${PRODUCE_FRAME_HEADER_BYTES} bytes)` };
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const requestId = view.getUint32(PRODUCE_REQUEST_ID_OFFSET);
  const frameType = view.getUint8(FRAME_TYPE_OFFSET);
  if (frameType !== FRAME_TYPE_PRODUCE) return { requestId, problem: `unknown binary frame type ${frameType} (clients send ${FRAME_TYPE_PRODUCE}, produce)` };
  const version = view.getUint8(FRAME_VERSION_OFFSET);
  if (version !== PROTOCOL_VERSION) return { requestId, problem: `produce frame version ${version}; this broker speaks ${PROTOCOL_VERSION}` };
  const flags = view.getUint16(FRAME_FLAGS_OFFSET);
  if (flags !== 0) return { requestId, problem: `produce frame flags ${flags}: none are defined, they must be 0` };
  if (frame.byteLength < PRODUCE_FRAME_HEADER_BYTES) return { requestId, problem: `a produce frame of ${frame.byteLength} bytes is shorter than its ${PRODUCE_FRAME_HEADER_BYTES}-byte header` };
  const topicLength = view.getUint16(PRODUCE_TOPIC_LENGTH_OFFSET);
  if (topicLength === 0 || topicLength > TOPIC_BYTES_MAX) return { requestId, problem: `topic length ${topicLength} is outside 1..${TOPIC_BYTES_MAX}` };
  const batchesOffset = PRODUCE_TOPIC_OFFSET + topicLength;
  if (frame.byteLength < batchesOffset) return { requestId, problem: `topic length ${topicLength} runs past the end of the ${frame.byteLength}-byte frame` };
  if (frame.byteLength === batchesOffset) return { requestId, problem: 'the produce frame carries no record batches' };
  let topic: string;
  try {
    topic = topicDecoder.decode(frame.subarray(PRODUCE_TOPIC_OFFSET, batchesOffset));
  } catch {
    return { requestId, problem: 'the topic is not valid UTF-8' };
  }
  return { header: { requestId, partition: view.getInt32(PRODUCE_PARTITION_OFFSET), acks: view.getInt16(PRODUCE_ACKS_OFFSET), topic }, batchesOffset };
}

// --- JSON messages -----------------------------------------------------------------------

export type RequestId = string | number;

/** A key, value or header value: UTF-8 text, bytes as base64, or null. */
export type WireValue = string | { base64: string } | null;

export interface WireHeader {
  key: string;
  value: WireValue;
}

export interface WireProduceRecord {
  key?: WireValue;
  value: WireValue;
  headers?: WireHeader[] | Record<string, WireValue>;
  partition?: number;
  timestamp?: number;
}

export type WireFrom = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

export type WireAcks = 0 | 1 | -1 | 'all';

export interface ProduceRequest {
  type: 'produce';
  id?: RequestId;
  topic: string;
  acks?: WireAcks;
  records: WireProduceRecord[];
}

export interface SubscribeRequest {
  type: 'subscribe';
  id?: RequestId;
  topic: string;
  partitions?: Array<number | { partition: number; from: WireFrom }>;
  from?: WireFrom;
  credit?: number;
}

export interface CreditRequest {
  type: 'credit';
  subscription: number;
  bytes: number;
}

export interface UnsubscribeRequest {
  type: 'unsubscribe';
  id?: RequestId;
  subscription: number;
}

export interface PingRequest {
  type: 'ping';
  id?: RequestId;
}

/** Assignor names a member may offer; the broker runs range or roundrobin for them when the member leads. */
export type WireAssignor = 'range' | 'roundrobin' | 'RoundRobinAssigner';
export const WIRE_ASSIGNORS: readonly WireAssignor[] = ['range', 'roundrobin', 'RoundRobinAssigner'];

export interface JoinRequest {
  type: 'join';
  id?: RequestId;
  group: string;
  topics: string[];
  assignor?: WireAssignor | WireAssignor[];
  from?: WireFrom;
  credit?: number;
  session_timeout_ms?: number;
  rebalance_timeout_ms?: number;
  revoke_timeout_ms?: number;
  instance_id?: string;
}

export interface WireOffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string;
}

export interface CommitRequest {
  type: 'commit';
  id?: RequestId;
  group: string;
  offsets: WireOffsetToCommit[];
}

export interface OffsetsRequest {
  type: 'offsets';
  id?: RequestId;
  group: string;
  topics?: string[];
}

export interface LeaveRequest {
  type: 'leave';
  id?: RequestId;
  group: string;
}

export interface MetadataRequest {
  type: 'metadata';
  id?: RequestId;
  topics?: string[];
}

export type ClientMessage = ProduceRequest | SubscribeRequest | CreditRequest | UnsubscribeRequest | PingRequest | JoinRequest | CommitRequest | OffsetsRequest | LeaveRequest | MetadataRequest;

/** Kafka's group requests the door runs on a member's behalf: reserved, answered UNSUPPORTED_VERSION. */
export const RESERVED_GROUP_TYPES: readonly string[] = ['sync', 'heartbeat'];

export interface WireLimits {
  payload_bytes_max: number;
  credit_bytes_max: number;
  credit_bytes_default: number;
  push_bytes_max: number;
  subscriptions_max: number;
  subscribed_partitions_max: number;
  inflight_requests_max: number;
  idle_timeout_s: number;
  groups_max: number;
}

export interface HelloMessage {
  type: 'hello';
  version: number;
  encoding: Encoding;
  limits: WireLimits;
}

export interface ProducedResult {
  partition: number;
  offset: number;
  timestamp: number;
}

export interface ProducedMessage {
  type: 'produced';
  id?: RequestId;
  results: ProducedResult[];
}

/** The answer to a binary produce frame: one per frame (see produce (binary) above). */
export interface BatchProducedMessage {
  type: 'produced';
  id: number;
  partition: number;
  base_offset: number;
  record_count: number;
  log_append_time: number;
}

export interface SubscribedPartition {
  partition: number;
  offset: number;
}

export interface SubscribedMessage {
  type: 'subscribed';
  id?: RequestId;
  subscription: number;
  partitions: SubscribedPartition[];
}

export interface UnsubscribedMessage {
  type: 'unsubscribed';
  id?: RequestId;
  subscription: number;
}

export interface PongMessage {
  type: 'pong';
  id?: RequestId;
}

export interface WireRecord {
  offset: number;
  timestamp: number;
  key: WireValue;
  value: WireValue;
  headers: WireHeader[];
}

export interface RecordsMessage {
  type: 'records';
  subscription: number;
  partition: number;
  records: WireRecord[];
  next_offset: number;
  high_watermark: number;
  bytes: number;
}

export interface GroupAssignment {
  topic: string;
  /** Null when every assigned partition of the topic is led elsewhere. */
  subscription: number | null;
  partitions: SubscribedPartition[];
  /** Assigned partitions another broker leads: the client reads them there (cluster mode; absent when none). */
  elsewhere?: PartitionElsewhere[];
}

/** An assigned partition led by another broker: where to read it and from which offset. */
export interface PartitionElsewhere {
  partition: number;
  /** The group's committed offset; -1 when none (then the join's `from`). */
  offset: number;
  /** Null while the partition has no leader (a failover): ask `metadata`. */
  leader: WireLeader | null;
}

export interface JoinedMessage {
  type: 'joined';
  id?: RequestId;
  group: string;
  generation: number;
  member_id: string;
  leader: string;
  assignment: GroupAssignment[];
}

export interface RebalancingMessage {
  type: 'rebalancing';
  group: string;
  generation: number;
}

export interface RebalanceMessage {
  type: 'rebalance';
  group: string;
  generation: number;
  member_id: string;
  leader: string;
  assignment: GroupAssignment[];
}

export interface CommitResult {
  topic: string;
  partition: number;
  error_code: number;
  error_name: string;
}

export interface CommittedMessage {
  type: 'committed';
  id?: RequestId;
  group: string;
  results: CommitResult[];
}

export interface WireCommittedOffset {
  topic: string;
  partition: number;
  /** -1 when nothing is committed. */
  offset: number;
  metadata: string | null;
}

export interface CommittedOffsetsMessage {
  type: 'committed_offsets';
  id?: RequestId;
  group: string;
  offsets: WireCommittedOffset[];
}

export interface LeftMessage {
  type: 'left';
  id?: RequestId;
  group: string;
}

/** A broker as the metadata answer and a NOT_LEADER_OR_FOLLOWER error name it. */
export interface WireBroker {
  id: number;
  host: string;
  /** HTTP and WebSocket; null when unknown (metadata only). */
  http_port: number | null;
}

/** A partition's leader in a NOT_LEADER_OR_FOLLOWER error: `url` is its WebSocket door. */
export interface WireLeader extends WireBroker {
  http_port: number;
  url: string;
}

export interface WirePartitionLeader {
  partition: number;
  /** -1: none now. */
  leader: number;
  leader_epoch: number;
}

export interface MetadataMessage {
  type: 'metadata';
  id?: RequestId;
  brokers: WireBroker[];
  topics: Array<{ topic: string; partitions: WirePartitionLeader[] }>;
}

/** A leader's WebSocket door, as NOT_LEADER_OR_FOLLOWER errors name it. */
export function leaderSocketUrl(host: string, httpPort: number): string {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `ws://${bracketed}:${httpPort}${WS_PATH}`;
}

export interface ErrorMessage {
  type: 'error';
  id?: RequestId;
  subscription?: number;
  partition?: number;
  group?: string;
  error_code: number;
  error_name: string;
  retriable: boolean;
  message: string;
  leader?: WireLeader;
}

export type ServerMessage =
  | HelloMessage
  | ProducedMessage
  | BatchProducedMessage
  | SubscribedMessage
  | UnsubscribedMessage
  | PongMessage
  | RecordsMessage
  | JoinedMessage
  | RebalancingMessage
  | RebalanceMessage
  | CommittedMessage
  | CommittedOffsetsMessage
  | LeftMessage
  | MetadataMessage
  | ErrorMessage;
