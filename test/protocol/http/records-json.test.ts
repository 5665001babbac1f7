/**
 * The record encodings of the HTTP door, without a server: produce bodies
 * into broker records, stored records into JSON.
 */

import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/protocol/http/errors.js';
import { parseProduceBody, parseRecord, renderRecord } from '../../../src/protocol/http/records-json.js';
import { parseCursor } from '../../../src/protocol/http/positions.js';

describe('parseRecord', () => {
  it('turns each embedded type into the bytes Confluent would store', () => {
    const parsed = parseRecord(
      {
        partition_id: 3,
        key: { type: 'BINARY', data: 'AAH/' },
        value: { type: 'JSON', data: { a: [1, 'two'] } },
        headers: [{ name: 'h', value: 'aGk=' }, { name: 'n', value: null }],
        timestamp: '2024-01-02T03:04:05.006Z',
      },
      'record',
    );
    expect(parsed.record).toEqual({
      key: Buffer.from([0, 1, 0xff]),
      value: Buffer.from('{"a":[1,"two"]}'),
      headers: [{ key: 'h', value: Buffer.from('hi') }, { key: 'n', value: null }],
      partition: 3,
      timestamp: Date.UTC(2024, 0, 2, 3, 4, 5, 6),
    });
    expect(parsed.key).toEqual({ type: 'BINARY', size: 3 });
    expect(parsed.value).toEqual({ type: 'JSON', size: 15 });
    expect(parsed.estimatedBytes).toBeGreaterThanOrEqual(3 + 15 + 1 + 2 + 1);
  });

  it('defaults the type to JSON and treats missing data as null', () => {
    expect(parseRecord({ value: { data: 'text' } }, 'r').record.value).toEqual(Buffer.from('"text"'));
    expect(parseRecord({ value: { type: 'STRING', data: '' } }, 'r').record.value).toEqual(Buffer.alloc(0));
    const tombstone = parseRecord({ key: { type: 'STRING', data: 'k' } }, 'r');
    expect(tombstone.record.value).toBeNull();
    expect(tombstone.value).toBeNull();
    expect(parseRecord({ value: { type: 'JSON', data: null } }, 'r').record.value).toBeNull();
  });

  it('refuses wrong shapes with a 400 naming the field', () => {
    const refuse = (input: unknown, field: string): void => {
      expect(() => parseRecord(input, 'record')).toThrow(HttpError);
      expect(() => parseRecord(input, 'record')).toThrow(field);
    };
    refuse({ value: { type: 'AVRO', data: 1 } }, 'record.value.type');
    refuse({ key: { type: 'BINARY', data: '@@' } }, 'record.key.data must be base64');
    refuse({ key: { type: 'BINARY', data: 'a' } }, 'record.key.data must be base64');
    refuse({ headers: [{ name: 'x', value: 5 }] }, 'record.headers[0].value');
    refuse({ timestamp: 1.5 }, 'record.timestamp');
    refuse({ timestamp: 9e15 }, 'record.timestamp');
    refuse({ partition_id: 2 ** 31 }, 'record.partition_id');
  });

  it('takes an array as a batch, up to its limit', () => {
    expect(parseProduceBody([{ value: { data: 1 } }, { value: { data: 2 } }], 10).records).toHaveLength(2);
    expect(parseProduceBody({ value: { data: 1 } }, 10).batch).toBe(false);
    expect(() => parseProduceBody([{}, {}, {}], 2)).toThrow('PRODUCE_RECORDS_MAX');
    expect(() => parseProduceBody([{}, 'x'], 10)).toThrow('record [1] must be a JSON object');
  });
});

describe('renderRecord', () => {
  it('shows UTF-8 as text and anything else as flagged base64', () => {
    const json = renderRecord(2, {
      offset: 7n,
      timestamp: 1700000000000n,
      key: Buffer.from('ключ'),
      value: Buffer.from([0xc3, 0x28]),
      headers: [{ key: 'a', value: Buffer.from('b') }, { key: 'bin', value: Buffer.from([0xff]) }, { key: 'none', value: null }],
    });
    expect(json).toEqual({
      partition_id: 2,
      offset: 7,
      timestamp: 1700000000000,
      key: 'ключ',
      value: 'wyg=',
      value_encoding: 'base64',
      headers: [{ name: 'a', value: 'b' }, { name: 'bin', value: '/w==', value_encoding: 'base64' }, { name: 'none', value: null }],
    });
    expect(renderRecord(0, { offset: 0n, timestamp: 0n, key: null, value: null, headers: [] })).toEqual({ partition_id: 0, offset: 0, timestamp: 0, key: null, value: null, headers: [] });
  });
});

describe('parseCursor', () => {
  it('reads partition:offset pairs and refuses anything else', () => {
    expect(parseCursor(undefined)).toBeNull();
    expect(parseCursor('')).toBeNull();
    expect(parseCursor('0:5')).toEqual(new Map([[0, 5]]));
    expect(parseCursor('0:-1,1:7,2:12')).toEqual(new Map([[0, -1], [1, 7], [2, 12]]));
    for (const bad of ['x', '0:', ':5', '0:5,', '0:5;1:2', `0:${'9'.repeat(20)}`]) expect(() => parseCursor(bad)).toThrow(HttpError);
  });
});
