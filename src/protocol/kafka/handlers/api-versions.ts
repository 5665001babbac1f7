/**
 * ApiVersions (key 18): what this broker speaks, from the one handler table.
 * Versions 0-4; v3+ carries the client's software name and version, which
 * the answer does not depend on. A request at a version above 4 never
 * reaches here: the connection answers it in v0 form with
 * UNSUPPORTED_VERSION and this same list (KIP-511), so the client can retry.
 */

import type { ApiHandler } from '../handler.js';

export const apiVersionsHandler: ApiHandler = {
  apiKey: 18,
  versions: { min: 0, max: 4 },
  allowedBeforeAuthentication: true,
  handle(_request, context) {
    return { errorCode: 0, apiKeys: context.supportedApis.map((api) => ({ ...api })), throttleTimeMs: 0 };
  },
};
