/**
 * Heartbeat (key 12), versions 0-4: keeps a member's session alive and tells
 * it when to rejoin (REBALANCE_IN_PROGRESS). v3+ carries group.instance.id.
 */

import type { ApiHandler } from '../handler.js';
import { errorFields } from './error-fields.js';

interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export const heartbeatHandler: ApiHandler = {
  apiKey: 12,
  versions: { min: 0, max: 4 },
  handle(request, context) {
    const body = request as unknown as HeartbeatRequest;
    try {
      context.broker.groups.heartbeat({ groupId: body.groupId, generationId: body.generationId, memberId: body.memberId, groupInstanceId: body.groupInstanceId ?? null });
      return { throttleTimeMs: 0, errorCode: 0 };
    } catch (error) {
      return { throttleTimeMs: 0, errorCode: errorFields(error, context.logger, `Heartbeat ${body.groupId}`).errorCode };
    }
  },
};
