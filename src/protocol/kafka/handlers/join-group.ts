/**
 * JoinGroup (key 11), versions 0-9: the coordinator's join (broker/groups).
 *
 *   v0        no rebalance timeout: the session timeout serves as both
 *   v4+       a new member first gets MEMBER_ID_REQUIRED with its id
 *   v5+       group.instance.id (static membership)
 *   v7+       ProtocolType in the answer; ProtocolName nullable
 *   v9+       SkipAssignment: a static leader rejoining a stable group gets
 *             the members but must not assign (older versions: no members)
 */

import { MemberIdRequiredError } from '../../../broker/groups/rebalance.js';
import type { JoinResult } from '../../../broker/groups/member.js';
import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
}

const MEMBER_ID_REQUIRED_FROM_VERSION = 4;
const NULLABLE_PROTOCOL_NAME_FROM_VERSION = 7;
const SKIP_ASSIGNMENT_FROM_VERSION = 9;

export const joinGroupHandler: ApiHandler = {
  apiKey: 11,
  versions: { min: 0, max: 9 },
  async handle(request, context) {
    const body = request as unknown as JoinGroupRequest;
    const version = context.apiVersion;
    try {
      const result = await context.broker.groups.join({
        groupId: body.groupId,
        memberId: body.memberId,
        groupInstanceId: body.groupInstanceId ?? null,
        clientId: context.header.clientId ?? '',
        clientHost: context.session.clientHost,
        sessionTimeoutMs: body.sessionTimeoutMs,
        rebalanceTimeoutMs: body.rebalanceTimeoutMs,
        protocolType: body.protocolType,
        protocols: body.protocols.map((protocol) => ({ name: protocol.name, metadata: protocol.metadata })),
        requireKnownMemberId: version >= MEMBER_ID_REQUIRED_FROM_VERSION,
        signal: context.signal,
      });
      return joinedResponse(result, version);
    } catch (error) {
      const memberId = error instanceof MemberIdRequiredError ? error.memberId : body.memberId;
      return {
        throttleTimeMs: 0,
        ...errorFields(error, context.logger, `JoinGroup ${body.groupId}`),
        generationId: -1,
        protocolType: null,
        protocolName: version >= NULLABLE_PROTOCOL_NAME_FROM_VERSION ? null : '',
        leader: '',
        skipAssignment: false,
        memberId,
        members: [],
      };
    }
  },
};

function joinedResponse(result: JoinResult, version: number): Record<string, unknown> {
  const withoutMembers = result.skipAssignment && version < SKIP_ASSIGNMENT_FROM_VERSION;
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    generationId: result.generationId,
    protocolType: result.protocolType,
    protocolName: result.protocolName ?? (version >= NULLABLE_PROTOCOL_NAME_FROM_VERSION ? null : ''),
    leader: result.leaderId,
    skipAssignment: result.skipAssignment,
    memberId: result.memberId,
    members: withoutMembers ? [] : result.members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId, metadata: member.metadata })),
  };
}
