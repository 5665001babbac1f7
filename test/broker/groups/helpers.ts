/** Shared helpers for group coordinator tests: a broker with fast group settings, and join/sync shorthands. */

import { expect } from 'vitest';
import { Broker } from '../../../src/broker/broker.js';
import type { GroupCoordinatorOptions } from '../../../src/broker/groups/group-coordinator.js';
import type { JoinRequest } from '../../../src/broker/groups/rebalance.js';
import { FerryError } from '../../../src/errors.js';
import { tempDir } from '../../storage/helpers.js';

/** No initial delay, and sessions as short as tests want them. */
export const FAST_GROUPS: GroupCoordinatorOptions = { initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 10, offsetsTopicPartitions: 5 };

export async function openBroker(options: { dataDir?: string; groups?: GroupCoordinatorOptions } = {}): Promise<{ broker: Broker; dataDir: string }> {
  const dataDir = options.dataDir ?? tempDir('ferry-groups-');
  const broker = await Broker.open({ dataDir, groups: { ...FAST_GROUPS, ...options.groups } });
  return { broker, dataDir };
}

export function joinRequest(overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
    requireKnownMemberId: false,
    ...overrides,
  };
}

export async function expectError(promise: Promise<unknown> | (() => unknown), errorName: string): Promise<FerryError> {
  const run = typeof promise === 'function' ? Promise.resolve().then(promise) : promise;
  const error = await run.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(FerryError);
  expect((error as FerryError).errorName).toBe(errorName);
  return error as FerryError;
}
