/**
 * The shape of Kafka's message definitions as Ferry keeps them: one typed,
 * readonly field tree per request, response and header, emitted into
 * `generated/messages.ts` by `scripts/gen-kafka-messages.mjs` from Apache
 * Kafka's own JSON definitions. The codec in `codec/message-codec.ts` walks
 * these trees; nothing else in the Kafka door spells out a field layout.
 */

/** Inclusive version range; an open range ("3+") ends at VERSION_MAX. */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/** Largest version an open range ("N+") reaches: int16 max, as in Kafka. */
export const VERSION_MAX = 0x7fff;

export type PrimitiveType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records';

export type DefaultValue = boolean | number | bigint | string | null;

export interface FieldSpec {
  /** Kafka's PascalCase name, e.g. "ThrottleTimeMs". */
  readonly name: string;
  /** The property name in decoded objects, e.g. "throttleTimeMs". */
  readonly key: string;
  /** The type as written in the definition: "int32", "[]string", "[]Topic", "Cursor". */
  readonly type: string;
  /** Whether the field is an array ("[]..."). */
  readonly isArray: boolean;
  /** The primitive, or 'struct' when `fields` describes the value (or each element). */
  readonly elementType: PrimitiveType | 'struct';
  readonly versions: VersionRange;
  readonly nullableVersions: VersionRange | null;
  readonly taggedVersions: VersionRange | null;
  readonly tag: number | null;
  /** Per-field override of the message's flexible versions ("none" for the header ClientId). */
  readonly flexibleVersions?: VersionRange | null;
  readonly default?: DefaultValue;
  readonly fields?: readonly FieldSpec[];
}

export interface StructSpec {
  readonly name: string;
  readonly versions: VersionRange;
  readonly fields: readonly FieldSpec[];
}

export interface MessageSpec {
  readonly name: string;
  readonly kind: 'request' | 'response' | 'header';
  /** -1 for headers. */
  readonly apiKey: number;
  readonly validVersions: VersionRange;
  /** null when no version is flexible. */
  readonly flexibleVersions: VersionRange | null;
  /** Fields; struct references are resolved (inlined) in place. */
  readonly fields: readonly FieldSpec[];
  readonly commonStructs: readonly StructSpec[];
}

export interface ApiSpec {
  readonly apiKey: number;
  /** The API name without the suffix: "ApiVersions". */
  readonly name: string;
  readonly request: MessageSpec;
  readonly response: MessageSpec;
}

export function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return range != null && version >= range.min && version <= range.max;
}
