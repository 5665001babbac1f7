/**
 * How a handler turns a thrown error into the per-partition (or per-resource)
 * errorCode and errorMessage Kafka responses carry. A FerryError is bad input
 * or an unmet request and keeps its code; anything else is a bug, logged
 * and answered UNKNOWN_SERVER_ERROR.
 */

import type { Logger } from 'pino';
import { ERROR_CODES, FerryError } from '../../../errors.js';

export interface ErrorFields {
  errorCode: number;
  errorMessage: string;
}

export function errorFields(error: unknown, logger: Logger, what: string): ErrorFields {
  if (error instanceof FerryError) return { errorCode: error.errorCode, errorMessage: error.message };
  logger.error({ err: error }, `${what} failed`);
  return { errorCode: ERROR_CODES.UNKNOWN_SERVER_ERROR.code, errorMessage: 'internal error' };
}

export function errorCodeOf(name: keyof typeof ERROR_CODES): number {
  return ERROR_CODES[name].code;
}
