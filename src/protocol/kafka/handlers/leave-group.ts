/**
 * LeaveGroup (key 13), versions 0-5. v0-2 name one member and answer with
 * its error at the top level; v3+ name a batch (by member id, or by
 * group.instance.id alone) and answer per member, the top level reserved for
 * group-wide failures.
 */

import type { MemberIdentity } from '../../../broker/groups/rebalance.js';
import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface LeaveGroupRequest {
  groupId: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null }>;
}

const BATCH_FROM_VERSION = 3;

export const leaveGroupHandler: ApiHandler = {
  apiKey: 13,
  versions: { min: 0, max: 5 },
  handle(request, context) {
    const body = request as unknown as LeaveGroupRequest;
    const batch = context.apiVersion >= BATCH_FROM_VERSION;
    const identities: MemberIdentity[] = batch
      ? body.members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId ?? null }))
      : [{ memberId: body.memberId, groupInstanceId: null }];
    try {
      const outcomes = context.broker.groups.leave(body.groupId, identities).map((outcome) => ({
        memberId: outcome.memberId,
        groupInstanceId: outcome.groupInstanceId,
        errorCode: outcome.error ? outcome.error.errorCode : 0,
      }));
      return { throttleTimeMs: 0, errorCode: batch ? 0 : outcomes[0]!.errorCode, members: outcomes };
    } catch (error) {
      return { throttleTimeMs: 0, errorCode: errorFields(error, context.logger, `LeaveGroup ${body.groupId}`).errorCode, members: [] };
    }
  },
};
