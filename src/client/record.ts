/**
 * Records as the client hands them out, and values to and from the wire's
 * Value (protocol.ts: text, {base64}, or null).
 *
 * A consumed record keeps its key and value as they arrived (text from a JSON
 * push, bytes from base64 or from a binary push) and converts on access, so
 * text read as text and bytes read as bytes are never converted at all.
 */

import type { WireValue } from '../protocol/ws/protocol.js';
import { decodeBase64, encodeBase64 } from './base64.js';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** What a caller may give for a key, value or header value. */
export type ValueInput = string | Uint8Array | null | undefined;

/** A record to produce. */
export interface ProduceInput {
  key?: ValueInput;
  value: ValueInput;
  headers?: Record<string, ValueInput> | ReadonlyArray<{ key: string; value: ValueInput }>;
  partition?: number;
  timestamp?: number | Date;
}

export interface ConsumedHeader {
  key: string;
  value: Uint8Array | null;
}

type Raw = string | Uint8Array | null;

export class ConsumedRecord {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    /** ms since the epoch (CreateTime, or LogAppendTime when the topic says so). */
    readonly timestamp: number,
    private readonly rawKey: Raw,
    private readonly rawValue: Raw,
    readonly headers: ConsumedHeader[],
  ) {}

  get key(): Uint8Array | null {
    return asBytes(this.rawKey);
  }

  /** The key as UTF-8 text (invalid sequences become U+FFFD). */
  get keyText(): string | null {
    return asText(this.rawKey);
  }

  /** null is a tombstone. */
  get value(): Uint8Array | null {
    return asBytes(this.rawValue);
  }

  get valueText(): string | null {
    return asText(this.rawValue);
  }

  /** The first header named `key`, as text. */
  headerText(key: string): string | null | undefined {
    const header = this.headers.find((h) => h.key === key);
    return header === undefined ? undefined : asText(header.value);
  }
}

function asBytes(raw: Raw): Uint8Array | null {
  return typeof raw === 'string' ? utf8Encoder.encode(raw) : raw;
}

function asText(raw: Raw): string | null {
  return raw === null || typeof raw === 'string' ? raw : utf8Decoder.decode(raw);
}

export function toWireValue(value: ValueInput): WireValue {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : { base64: encodeBase64(value) };
}

/** A pushed Value as it came: text stays text, base64 becomes bytes. */
export function fromWireValue(value: WireValue): Raw {
  if (value === null || typeof value === 'string') return value;
  return decodeBase64(value.base64);
}

export function wireValueBytes(value: WireValue): Uint8Array | null {
  return asBytes(fromWireValue(value));
}
