/**
 * Generic Kafka message codec driven by the generated field trees
 * (generated/messages.ts): one decoder and one encoder for every API and
 * version, instead of a hand-written codec per version.
 *
 * Per version it honours: which fields exist (absent fields decode to their
 * default and are not written), nullability, and flexible versions, where
 * strings/bytes/arrays are compact (uvarint length + 1) and every struct ends
 * with a tagged-field section (unknown tags skipped; tagged fields written
 * in tag order, only when not at their default). A field's own
 * `flexibleVersions` overrides the message's (the header's ClientId is never
 * compact). Nullable non-array structs carry an int8 marker (-1 null, 1
 * present), as Kafka's generated code does.
 *
 * Values: camelCase keys; int64 as bigint; uuid as a 16-byte Buffer; bytes
 * and records as zero-copy subarrays of the input.
 *
 * Headers: request header v1 (clientId) or v2 (v1 + tagged fields) when the
 * API version is flexible; response header v0 (correlationId) or v1 (+ tagged
 * fields), except ApiVersions responses, always v0 (a client must read them
 * before knowing what the broker speaks).
 */

import { FerryError } from '../../../errors.js';
import { REQUEST_HEADER, RESPONSE_HEADER } from '../generated/messages.js';
import { findApi, API_KEY } from '../apis.js';
import { inRange } from '../message-spec.js';
import type { ApiSpec, DefaultValue, FieldSpec, MessageSpec, PrimitiveType } from '../message-spec.js';
import type { RecordSet } from './file-records.js';
import type { KafkaReader } from './reader.js';
import type { KafkaWriter } from './writer.js';

export type KafkaValue = boolean | number | bigint | string | Buffer | null | KafkaStruct | readonly KafkaValue[];
export interface KafkaStruct {
  [key: string]: KafkaValue;
}

const NULL_STRUCT_MARKER = -1;
const PRESENT_STRUCT_MARKER = 1;
const ZERO_UUID = Buffer.alloc(16);

function isFlexible(spec: MessageSpec, version: number): boolean {
  return inRange(spec.flexibleVersions, version);
}

function checkVersion(spec: MessageSpec, version: number): void {
  if (!inRange(spec.validVersions, version)) {
    throw new FerryError('UNSUPPORTED_VERSION', `${spec.name} v${version}: valid versions are ${spec.validVersions.min}-${spec.validVersions.max}`);
  }
}

function isTagged(field: FieldSpec, version: number): boolean {
  return field.tag !== null && inRange(field.taggedVersions, version);
}

function fieldFlexible(field: FieldSpec, version: number, flexible: boolean): boolean {
  return field.flexibleVersions === undefined ? flexible : flexible && inRange(field.flexibleVersions, version);
}

// ---------------------------------------------------------------- defaults

function primitiveDefault(type: PrimitiveType): KafkaValue {
  switch (type) {
    case 'bool':
      return false;
    case 'int64':
      return 0n;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
    default:
      return 0;
  }
}

/** The value an absent field takes: its declared default, else the type's zero. */
export function defaultValue(field: FieldSpec, version: number): KafkaValue {
  if (field.default !== undefined) return field.default satisfies DefaultValue;
  if (field.isArray) return [];
  if (field.elementType === 'struct') {
    return inRange(field.nullableVersions, version) ? null : defaultStruct(field.fields ?? [], version);
  }
  return primitiveDefault(field.elementType);
}

function defaultStruct(fields: readonly FieldSpec[], version: number): KafkaStruct {
  const out: KafkaStruct = {};
  for (const field of fields) out[field.key] = defaultValue(field, version);
  return out;
}

function isDefault(field: FieldSpec, value: KafkaValue | undefined, version: number): boolean {
  if (value === undefined) return true;
  const fallback = defaultValue(field, version);
  if (value === null || fallback === null) return value === fallback;
  if (Array.isArray(value)) return value.length === 0 && Array.isArray(fallback);
  if (Buffer.isBuffer(value)) return Buffer.isBuffer(fallback) && value.equals(fallback);
  if (typeof value === 'object') return false;
  return value === fallback;
}

// ---------------------------------------------------------------- decode

/** Decodes one message body (or header) at `version`. */
export function decode(spec: MessageSpec, version: number, reader: KafkaReader): KafkaStruct {
  checkVersion(spec, version);
  return decodeStruct(spec.fields, version, isFlexible(spec, version), reader);
}

function decodeStruct(fields: readonly FieldSpec[], version: number, flexible: boolean, reader: KafkaReader): KafkaStruct {
  const out: KafkaStruct = {};
  for (const field of fields) {
    if (!inRange(field.versions, version) || (flexible && isTagged(field, version))) {
      out[field.key] = defaultValue(field, version);
    } else {
      out[field.key] = decodeField(field, version, flexible, reader);
    }
  }
  if (flexible) {
    reader.readTaggedFields((tag, tagReader) => {
      const field = fields.find((f) => f.tag === tag && isTagged(f, version) && inRange(f.versions, version));
      if (field === undefined) return false;
      out[field.key] = decodeField(field, version, flexible, tagReader);
      return true;
    });
  }
  return out;
}

function decodeField(field: FieldSpec, version: number, flexible: boolean, reader: KafkaReader): KafkaValue {
  const compact = fieldFlexible(field, version, flexible);
  const nullable = inRange(field.nullableVersions, version);
  if (!field.isArray) return decodeValue(field, version, flexible, compact, nullable, reader);
  const count = reader.readArrayLength(compact);
  if (count === -1) return nullOrThrow(field, nullable, reader);
  const out = new Array<KafkaValue>(count);
  for (let i = 0; i < count; i++) out[i] = decodeValue(field, version, flexible, compact, false, reader);
  return out;
}

function nullOrThrow(field: FieldSpec, nullable: boolean, reader: KafkaReader): null {
  if (!nullable) throw new FerryError('INVALID_REQUEST', `field ${field.name} is null at offset ${reader.offset} but not nullable`);
  return null;
}

function decodeValue(
  field: FieldSpec,
  version: number,
  flexible: boolean,
  compact: boolean,
  nullable: boolean,
  reader: KafkaReader,
): KafkaValue {
  switch (field.elementType) {
    case 'bool':
      return reader.readBool();
    case 'int8':
      return reader.readInt8();
    case 'int16':
      return reader.readInt16();
    case 'uint16':
      return reader.readUint16();
    case 'int32':
      return reader.readInt32();
    case 'int64':
      return reader.readInt64();
    case 'float64':
      return reader.readFloat64();
    case 'uuid':
      return reader.readUuid();
    case 'string': {
      const value = compact ? reader.readCompactNullableString() : reader.readNullableString();
      return value === null ? nullOrThrow(field, nullable, reader) : value;
    }
    case 'bytes':
    case 'records': {
      const value = compact ? reader.readCompactNullableBytes() : reader.readNullableBytes();
      return value === null ? nullOrThrow(field, nullable, reader) : value;
    }
    case 'struct': {
      if (nullable && !field.isArray && reader.readInt8() === NULL_STRUCT_MARKER) return null;
      return decodeStruct(field.fields ?? [], version, flexible, reader);
    }
  }
}

// ---------------------------------------------------------------- encode

/** Encodes one message body (or header) at `version`; missing keys take their defaults. */
export function encode(spec: MessageSpec, version: number, value: Readonly<Record<string, unknown>>, writer: KafkaWriter): void {
  checkVersion(spec, version);
  encodeStruct(spec.fields, version, isFlexible(spec, version), value as KafkaStruct, writer);
}

function encodeStruct(fields: readonly FieldSpec[], version: number, flexible: boolean, value: KafkaStruct, writer: KafkaWriter): void {
  for (const field of fields) {
    if (!inRange(field.versions, version) || (flexible && isTagged(field, version))) continue;
    const fieldValue = value[field.key];
    encodeField(field, version, flexible, fieldValue === undefined ? defaultValue(field, version) : fieldValue, writer);
  }
  if (flexible) encodeTaggedFields(fields, version, value, writer);
}

function encodeTaggedFields(fields: readonly FieldSpec[], version: number, value: KafkaStruct, writer: KafkaWriter): void {
  const present = fields
    .filter((f) => inRange(f.versions, version) && isTagged(f, version) && !isDefault(f, value[f.key], version))
    .sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0));
  writer.writeUnsignedVarint(present.length);
  for (const field of present) {
    writer.writeUnsignedVarint(field.tag ?? 0);
    const start = writer.offset;
    encodeField(field, version, true, value[field.key] ?? null, writer);
    writer.insertUnsignedVarintAt(start, writer.offset - start);
  }
}

function encodeField(field: FieldSpec, version: number, flexible: boolean, value: KafkaValue, writer: KafkaWriter): void {
  const compact = fieldFlexible(field, version, flexible);
  const nullable = inRange(field.nullableVersions, version);
  if (value === null && !nullable) {
    throw new FerryError('INVALID_REQUEST', `field ${field.name} is null but not nullable in v${version}`);
  }
  if (!field.isArray) {
    encodeValue(field, version, flexible, compact, nullable, value, writer);
    return;
  }
  const values = value as readonly KafkaValue[] | null;
  writer.writeArrayLength(values === null ? null : values.length, compact);
  if (values !== null) for (const element of values) encodeValue(field, version, flexible, compact, false, element, writer);
}

function encodeValue(
  field: FieldSpec,
  version: number,
  flexible: boolean,
  compact: boolean,
  nullable: boolean,
  value: KafkaValue,
  writer: KafkaWriter,
): void {
  switch (field.elementType) {
    case 'bool':
      writer.writeBool(value as boolean);
      return;
    case 'int8':
      writer.writeInt8(value as number);
      return;
    case 'int16':
      writer.writeInt16(value as number);
      return;
    case 'uint16':
      writer.writeUint16(value as number);
      return;
    case 'int32':
      writer.writeInt32(value as number);
      return;
    case 'int64':
      writer.writeInt64(value as bigint | number);
      return;
    case 'float64':
      writer.writeFloat64(value as number);
      return;
    case 'uuid':
      writer.writeUuid(value as Buffer);
      return;
    case 'string':
      if (compact) writer.writeCompactNullableString(value as string | null);
      else writer.writeNullableString(value as string | null);
      return;
    case 'bytes':
      if (compact) writer.writeCompactNullableBytes(value as Buffer | null);
      else writer.writeNullableBytes(value as Buffer | null);
      return;
    case 'records':
      writer.writeRecords(value as RecordSet | null, compact);
      return;
    case 'struct':
      if (nullable && !field.isArray) {
        writer.writeInt8(value === null ? NULL_STRUCT_MARKER : PRESENT_STRUCT_MARKER);
        if (value === null) return;
      }
      encodeStruct(field.fields ?? [], version, flexible, value as KafkaStruct, writer);
  }
}

// ---------------------------------------------------------------- headers

export interface RequestHeader {
  requestApiKey: number;
  requestApiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Request header v2 for flexible API versions, v1 otherwise (v0 is only ControlledShutdown v0, unsupported). */
export function requestHeaderVersion(api: ApiSpec, apiVersion: number): number {
  return isFlexible(api.request, apiVersion) ? 2 : 1;
}

/** Response header v1 for flexible versions, v0 otherwise; ApiVersions always v0. */
export function responseHeaderVersion(api: ApiSpec, apiVersion: number): number {
  if (api.apiKey === API_KEY.ApiVersions) return 0;
  return isFlexible(api.response, apiVersion) ? 1 : 0;
}

/**
 * Decodes a request header. The API key and version are peeked first to pick
 * the header version; an unknown API key is read as header v1 and returned
 * with `api` undefined, so the door can answer or close as it sees fit.
 */
export function decodeRequestHeader(reader: KafkaReader): { header: RequestHeader; api: ApiSpec | undefined } {
  const api = findApi(reader.peekInt16(0));
  const headerVersion = api === undefined ? 1 : requestHeaderVersion(api, reader.peekInt16(2));
  // Written out rather than walked through REQUEST_HEADER's spec: every request pays for it (the
  // generic decode of the same spec is the reference in the tests).
  const requestApiKey = reader.readInt16();
  const requestApiVersion = reader.readInt16();
  const correlationId = reader.readInt32();
  const clientId = reader.readNullableString(); // never compact, even in header v2
  if (headerVersion >= 2) reader.readTaggedFields();
  return { header: { requestApiKey, requestApiVersion, correlationId, clientId }, api };
}

export function encodeRequestHeader(api: ApiSpec, header: RequestHeader, writer: KafkaWriter): void {
  encode(REQUEST_HEADER, requestHeaderVersion(api, header.requestApiVersion), { ...header }, writer);
}

export function encodeResponseHeader(api: ApiSpec, apiVersion: number, correlationId: number, writer: KafkaWriter): void {
  // Header v0 is the correlation id, v1 adds an empty tagged-field section: written out, as every response pays for it.
  writer.writeInt32(correlationId);
  if (responseHeaderVersion(api, apiVersion) >= 1) writer.writeEmptyTaggedFields();
}

export function decodeResponseHeader(api: ApiSpec, apiVersion: number, reader: KafkaReader): { correlationId: number } {
  return decode(RESPONSE_HEADER, responseHeaderVersion(api, apiVersion), reader) as unknown as { correlationId: number };
}
