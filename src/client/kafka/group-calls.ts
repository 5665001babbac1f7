/**
 * The group APIs, one function each, request built and answer read for the
 * version the session negotiated:
 *
 *   FindCoordinator  v0-3 one key (v1+ KeyType); v4+ CoordinatorKeys, one answer each
 *   ListGroups       v4+ answers each group's state (older: state null)
 *   DescribeGroups   v4+ group.instance.id per member; member assignments of
 *                    a "consumer" group decoded as Kafka's ConsumerProtocol
 *   DeleteGroups     one outcome per group
 *
 * A group-level error code is thrown as a FerryError with its Kafka name,
 * except DeleteGroups', which is each group's outcome.
 */

import { CONSUMER_PROTOCOL_TYPE, decodeAssignment, type TopicPartitions } from '../../broker/groups/consumer-protocol.js';
import type { FerryError } from '../../errors.js';
import type { BrokerSession } from './broker-session.js';
import { checkErrorCode, kafkaError, NONE } from './kafka-errors.js';

export interface BrokerNode {
  nodeId: number;
  host: string;
  port: number;
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  /** null when the broker answered ListGroups below v4, which carries no state. */
  state: string | null;
}

export interface GroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Decoded for a "consumer" group while it is Stable; empty otherwise. */
  assignment: TopicPartitions[];
}

export interface GroupDescription {
  groupId: string;
  /** Kafka's state names: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead (unknown group). */
  state: string;
  protocolType: string;
  /** The assignor of a consumer group (range, roundrobin, …) while Stable. */
  protocolName: string;
  members: GroupMember[];
}

export interface GroupOutcome {
  groupId: string;
  error: FerryError | null;
}

const KEY_TYPE_GROUP = 0;
const BATCHED_COORDINATOR_VERSION = 4;
const LIST_GROUPS_STATE_VERSION = 4;

interface CoordinatorFields {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export async function findGroupCoordinator(session: BrokerSession, groupId: string): Promise<BrokerNode> {
  const { version, response } = await session.call('FindCoordinator', () => ({ key: groupId, keyType: KEY_TYPE_GROUP, coordinatorKeys: [groupId] }));
  const answer = version >= BATCHED_COORDINATOR_VERSION ? (response.coordinators as unknown as CoordinatorFields[])[0] : (response as unknown as CoordinatorFields);
  if (answer === undefined) throw kafkaError(-1, `FindCoordinator for group ${groupId} (empty answer)`);
  checkErrorCode(answer.errorCode, `FindCoordinator for group ${groupId}`, answer.errorMessage);
  return { nodeId: answer.nodeId, host: answer.host, port: answer.port };
}

export async function listGroups(session: BrokerSession): Promise<GroupListing[]> {
  const { version, response } = await session.call('ListGroups', () => ({ statesFilter: [], typesFilter: [] }));
  const body = response as unknown as { errorCode: number; groups: Array<{ groupId: string; protocolType: string; groupState: string }> };
  checkErrorCode(body.errorCode, `ListGroups on ${session.address}`);
  return body.groups.map((group) => ({
    groupId: group.groupId,
    protocolType: group.protocolType,
    state: version >= LIST_GROUPS_STATE_VERSION ? group.groupState : null,
  }));
}

interface DescribedGroup {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; memberAssignment: Buffer }>;
}

export async function describeGroups(session: BrokerSession, groupIds: readonly string[]): Promise<GroupDescription[]> {
  const { response } = await session.call('DescribeGroups', () => ({ groups: groupIds, includeAuthorizedOperations: false }));
  return (response.groups as unknown as DescribedGroup[]).map((group) => {
    checkErrorCode(group.errorCode, `DescribeGroups ${group.groupId}`);
    const consumer = group.protocolType === CONSUMER_PROTOCOL_TYPE;
    return {
      groupId: group.groupId,
      state: group.groupState,
      protocolType: group.protocolType,
      protocolName: group.protocolData,
      members: group.members.map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId ?? null,
        clientId: member.clientId,
        clientHost: member.clientHost,
        assignment: consumer ? decodeAssignment(member.memberAssignment).assignedPartitions : [],
      })),
    };
  });
}

export async function deleteGroups(session: BrokerSession, groupIds: readonly string[]): Promise<GroupOutcome[]> {
  const { response } = await session.call('DeleteGroups', () => ({ groupsNames: groupIds }));
  const results = response.results as unknown as Array<{ groupId: string; errorCode: number }>;
  return results.map((result) => ({
    groupId: result.groupId,
    error: result.errorCode === NONE ? null : kafkaError(result.errorCode, `DeleteGroups ${result.groupId}`),
  }));
}
