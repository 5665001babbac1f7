/**
 * `ferry dump-log <segment.log>`: what Kafka's kafka-dump-log.sh prints, for
 * Ferry's (identical) segment files: one line per batch with its offsets,
 * position, size, producer (id, epoch, base sequence, transactional, control),
 * CRC check and codec, and with --records one line per record.
 */

import fs from 'node:fs';
import { crc32c } from '../storage/crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  CRC_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  TRANSACTIONAL_FLAG_MASK,
  batchCompression,
  batchIsControl,
  batchUsesLogAppendTime,
} from '../storage/record-batch.js';
import { compressionCodecName } from '../storage/compression.js';
import { decodeBatch } from '../storage/records.js';
import { scanBatches } from '../storage/segment-scan.js';

export interface DumpOptions {
  records: boolean;
  write: (line: string) => void;
}

/** Prints the segment; returns false if a batch failed its CRC or the file ends in a torn batch. */
export function dumpLog(file: string, options: DumpOptions): boolean {
  const fd = fs.openSync(file, 'r');
  let healthy = true;
  try {
    const endPosition = fs.fstatSync(fd).size;
    options.write(`Dumping ${file} (${endPosition} bytes)`);
    const result = scanBatches({ fd, fromPosition: 0, endPosition, verify: false, batchBytesMax: Number.MAX_SAFE_INTEGER }, (header, chunk, chunkAt) => {
      // The walk guarantees the header is in the chunk; a large batch is read whole on its own.
      const inChunk = header.sizeBytes <= chunk.length - chunkAt;
      const bytes = inChunk ? chunk : readWhole(fd, header.position, header.sizeBytes);
      const at = inChunk ? chunkAt : 0;
      const crcValid = bytes.readUInt32BE(at + CRC_OFFSET) === crc32c(bytes, at + ATTRIBUTES_OFFSET, at + header.sizeBytes);
      healthy &&= crcValid;
      options.write(
        `baseOffset: ${header.baseOffset} lastOffset: ${header.lastOffset} count: ${header.recordCount} position: ${header.position} ` +
          `size: ${header.sizeBytes} maxTimestamp: ${header.maxTimestamp} timestampType: ${batchUsesLogAppendTime(bytes, at) ? 'LogAppendTime' : 'CreateTime'} ` +
          `${producerFields(bytes, at)} compression: ${compressionCodecName(batchCompression(bytes, at))} crcValid: ${crcValid}`,
      );
      if (options.records && crcValid) {
        for (const record of decodeBatch(bytes, at).records) {
          options.write(`| offset: ${record.offset} timestamp: ${record.timestamp} key: ${show(record.key)} value: ${show(record.value)} headers: ${record.headers.map((h) => `${h.key}=${show(h.value)}`).join(',')}`);
        }
      }
      return true;
    });
    if (result.stop !== 'end') {
      healthy = false;
      options.write(`stopped at position ${result.endPosition}: ${result.reason ?? result.stop}`);
    }
  } finally {
    fs.closeSync(fd);
  }
  return healthy;
}

/** The idempotent/transactional producer fields, named as kafka-dump-log names them. */
function producerFields(bytes: Buffer, at: number): string {
  const transactional = (bytes.readInt16BE(at + ATTRIBUTES_OFFSET) & TRANSACTIONAL_FLAG_MASK) !== 0;
  return (
    `producerId: ${bytes.readBigInt64BE(at + PRODUCER_ID_OFFSET)} producerEpoch: ${bytes.readInt16BE(at + PRODUCER_EPOCH_OFFSET)} ` +
    `baseSequence: ${bytes.readInt32BE(at + BASE_SEQUENCE_OFFSET)} isTransactional: ${transactional} isControl: ${batchIsControl(bytes, at)}`
  );
}

function readWhole(fd: number, position: number, sizeBytes: number): Buffer {
  const bytes = Buffer.allocUnsafe(sizeBytes);
  fs.readSync(fd, bytes, 0, sizeBytes, position);
  return bytes;
}

function show(bytes: Buffer | null): string {
  return bytes === null ? 'null' : JSON.stringify(bytes.toString('utf8'));
}
