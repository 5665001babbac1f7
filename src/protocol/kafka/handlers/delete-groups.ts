/**
 * DeleteGroups (key 42), versions 0-2: each group with no members is deleted
 * with its offsets; others answer NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND or
 * INVALID_GROUP_ID.
 */

import type { ApiHandler } from '../handler.js';

interface DeleteGroupsRequest {
  groupsNames: string[];
}

export const deleteGroupsHandler: ApiHandler = {
  apiKey: 42,
  versions: { min: 0, max: 2 },
  async handle(request, context) {
    const body = request as unknown as DeleteGroupsRequest;
    const outcomes = await context.broker.groups.deleteGroups(body.groupsNames);
    return { throttleTimeMs: 0, results: outcomes.map((outcome) => ({ groupId: outcome.groupId, errorCode: outcome.error ? outcome.error.errorCode : 0 })) };
  },
};
