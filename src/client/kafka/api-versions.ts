/**
 * The versions of each API this client can write and read, and the choice
 * made against a broker's ApiVersions answer: per API, the highest version
 * both sides speak. An API with no common version is not an error until it
 * is called: a broker may lack DeleteGroups and still be described.
 *
 * The ranges are those whose request and response fields the calls in this
 * folder fill and read (see each call's header for what changes by version).
 */

import { FerryError } from '../../errors.js';
import type { VersionRange } from '../../protocol/kafka/message-spec.js';

export const API = {
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  SaslHandshake: 17,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  SaslAuthenticate: 36,
  DeleteGroups: 42,
  OffsetForLeaderEpoch: 23,
} as const;

export type ApiName = keyof typeof API;

/**
 * What this client implements. ListOffsets v0 and OffsetFetch v0-1 are
 * Kafka's oldest forms, which Kafka 4.0 dropped too; Metadata starts at v4,
 * the first that lets a lookup not auto-create the topics it names;
 * SaslHandshake at v1, the first whose tokens travel in SaslAuthenticate.
 */
export const CLIENT_VERSIONS: Readonly<Record<ApiName, VersionRange>> = {
  // A follower's fetch (src/cluster/replica-fetcher.ts): v12 is the last that names topics rather than ids.
  Fetch: { min: 12, max: 12 },
  ListOffsets: { min: 1, max: 10 },
  Metadata: { min: 4, max: 12 },
  OffsetCommit: { min: 2, max: 9 },
  OffsetFetch: { min: 2, max: 9 },
  FindCoordinator: { min: 0, max: 6 },
  SaslHandshake: { min: 1, max: 1 },
  DescribeGroups: { min: 0, max: 5 },
  ListGroups: { min: 0, max: 5 },
  ApiVersions: { min: 0, max: 4 },
  SaslAuthenticate: { min: 0, max: 2 },
  DeleteGroups: { min: 0, max: 2 },
  OffsetForLeaderEpoch: { min: 3, max: 4 },
};

export interface BrokerApiVersion {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/** Per API key, the version to use with this broker; APIs with no common version are absent. */
export type NegotiatedVersions = ReadonlyMap<number, number>;

export function negotiateVersions(broker: readonly BrokerApiVersion[], client: Readonly<Record<ApiName, VersionRange>> = CLIENT_VERSIONS): NegotiatedVersions {
  const offered = new Map(broker.map((entry) => [entry.apiKey, entry]));
  const chosen = new Map<number, number>();
  for (const [name, range] of Object.entries(client) as Array<[ApiName, VersionRange]>) {
    const brokerRange = offered.get(API[name]);
    if (brokerRange === undefined) continue;
    const version = Math.min(range.max, brokerRange.maxVersion);
    if (version >= Math.max(range.min, brokerRange.minVersion)) chosen.set(API[name], version);
  }
  return chosen;
}

/** The negotiated version of `name`, or UNSUPPORTED_VERSION naming both ranges. */
export function versionFor(versions: NegotiatedVersions, name: ApiName, broker: readonly BrokerApiVersion[], address: string): number {
  const version = versions.get(API[name]);
  if (version !== undefined) return version;
  const brokerRange = broker.find((entry) => entry.apiKey === API[name]);
  const offered = brokerRange ? `versions ${brokerRange.minVersion}-${brokerRange.maxVersion}` : 'no version';
  const ours = CLIENT_VERSIONS[name];
  throw new FerryError('UNSUPPORTED_VERSION', `the broker at ${address} offers ${offered} of ${name}, this client speaks ${ours.min}-${ours.max}`);
}
