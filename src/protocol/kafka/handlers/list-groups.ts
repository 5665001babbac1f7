/**
 * ListGroups (key 16), versions 0-5. v4+ filter by state (case-insensitive
 * names: Empty, PreparingRebalance, CompletingRebalance, Stable) and answer
 * each group's state; v5+ filter by type and answer it: every Ferry group is
 * a "classic" group.
 */

import type { ApiHandler } from '../handler.js';

interface ListGroupsRequest {
  statesFilter: string[];
  typesFilter: string[];
}

const GROUP_TYPE = 'classic';

export const listGroupsHandler: ApiHandler = {
  apiKey: 16,
  versions: { min: 0, max: 5 },
  handle(request, context) {
    const body = request as unknown as ListGroupsRequest;
    const types = body.typesFilter ?? [];
    if (types.length > 0 && !types.some((type) => type.toLowerCase() === GROUP_TYPE)) return { throttleTimeMs: 0, errorCode: 0, groups: [] };
    const groups = context.broker.groups.listGroups({ states: body.statesFilter ?? [] });
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      groups: groups.map((group) => ({ groupId: group.groupId, protocolType: group.protocolType, groupState: group.state, groupType: GROUP_TYPE })),
    };
  },
};
