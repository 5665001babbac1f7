/**
 * A Kafka error code in a broker's answer, as a FerryError carrying the
 * Kafka name (src/errors.ts holds the one table). A code that table does not
 * know keeps its number in the message, under UNKNOWN_SERVER_ERROR, so the
 * user still sees what the broker said.
 */

import { ERROR_CODES, FerryError, type ErrorName } from '../../errors.js';

const BY_CODE = new Map<number, ErrorName>(Object.entries(ERROR_CODES).map(([name, { code }]) => [code, name as ErrorName]));

export const NONE = 0;

export function errorName(code: number): ErrorName | undefined {
  return BY_CODE.get(code);
}

/** The error for a nonzero code; `context` says what was asked ("DescribeGroups orders"). */
export function kafkaError(code: number, context: string, brokerMessage?: string | null): FerryError {
  const name = errorName(code);
  const detail = brokerMessage ? `: ${brokerMessage}` : '';
  if (name === undefined) return new FerryError('UNKNOWN_SERVER_ERROR', `${context} failed with Kafka error code ${code}${detail}`);
  return new FerryError(name, `${context} failed with ${name}${detail}`);
}

/** Throws kafkaError for a nonzero code. */
export function checkErrorCode(code: number, context: string, brokerMessage?: string | null): void {
  if (code !== NONE) throw kafkaError(code, context, brokerMessage);
}
