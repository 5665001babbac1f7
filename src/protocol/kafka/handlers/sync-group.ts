/**
 * SyncGroup (key 14), versions 0-5: the leader sends every member's
 * assignment, every member gets its own (broker/groups). v3+ carries
 * group.instance.id; v5+ the protocol type and name, checked when given and
 * echoed in the answer.
 */

import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export const syncGroupHandler: ApiHandler = {
  apiKey: 14,
  versions: { min: 0, max: 5 },
  async handle(request, context) {
    const body = request as unknown as SyncGroupRequest;
    try {
      const result = await context.broker.groups.sync({
        groupId: body.groupId,
        generationId: body.generationId,
        memberId: body.memberId,
        groupInstanceId: body.groupInstanceId ?? null,
        protocolType: body.protocolType ?? null,
        protocolName: body.protocolName ?? null,
        assignments: body.assignments,
        signal: context.signal,
      });
      return { throttleTimeMs: 0, errorCode: 0, protocolType: result.protocolType, protocolName: result.protocolName, assignment: result.assignment };
    } catch (error) {
      return { throttleTimeMs: 0, errorCode: errorFields(error, context.logger, `SyncGroup ${body.groupId}`).errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
    }
  },
};
