/**
 * Lookup over the generated API table: API key -> request/response specs.
 */

import { API_SPECS } from './generated/messages.js';
import type { ApiSpec } from './message-spec.js';

const BY_KEY = new Map<number, ApiSpec>(API_SPECS.map((api) => [api.apiKey, api]));

export const API_KEY = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  ApiVersions: 18,
} as const;

export function findApi(apiKey: number): ApiSpec | undefined {
  return BY_KEY.get(apiKey);
}
