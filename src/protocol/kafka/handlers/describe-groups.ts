/**
 * DescribeGroups (key 15), versions 0-5: state, protocol and members (client
 * id and host; metadata and assignment while Stable). A group this broker
 * does not know is answered as Kafka does before v6: state Dead, no error.
 * Authorized operations (v3+) are left unset: Ferry has no ACLs.
 */

import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface DescribeGroupsRequest {
  groups: string[];
}

export const describeGroupsHandler: ApiHandler = {
  apiKey: 15,
  versions: { min: 0, max: 5 },
  handle(request, context) {
    const body = request as unknown as DescribeGroupsRequest;
    return {
      throttleTimeMs: 0,
      groups: body.groups.map((groupId) => {
        try {
          const group = context.broker.groups.describeGroup(groupId);
          return {
            errorCode: 0,
            groupId,
            groupState: group.state,
            protocolType: group.protocolType,
            protocolData: group.protocolName,
            members: group.members.map((member) => ({
              memberId: member.memberId,
              groupInstanceId: member.groupInstanceId,
              clientId: member.clientId,
              clientHost: member.clientHost,
              memberMetadata: member.metadata,
              memberAssignment: member.assignment,
            })),
          };
        } catch (error) {
          return { errorCode: errorFields(error, context.logger, `DescribeGroups ${groupId}`).errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
        }
      }),
    };
  },
};
