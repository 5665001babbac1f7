/**
 * Client input checked into typed values: JSON request bodies and query
 * parameters. Anything of the wrong shape becomes a 400 naming the field and
 * what was expected; nothing from a client is trusted past this file's
 * return values.
 */

import { badRequest } from './errors.js';

export type JsonObject = Record<string, unknown>;

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw badRequest('request body is empty; expected JSON');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw badRequest(`malformed JSON in request body: ${(error as Error).message}`);
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectObject(value: unknown, where: string): JsonObject {
  if (!isObject(value)) throw badRequest(`${where} must be a JSON object`);
  return value;
}

export function expectString(value: unknown, where: string): string {
  if (typeof value !== 'string') throw badRequest(`${where} must be a string`);
  return value;
}

export function optionalInteger(value: unknown, where: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badRequest(`${where} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}

/** A config value as Kafka carries it: a string (numbers and booleans are accepted and written out), or null to reset. */
export function configValue(value: unknown, where: string): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw badRequest(`${where} must be a string or null`);
}

/** A path parameter that must be a non-negative integer (a partition id). */
export function pathInteger(value: string, name: string): number {
  if (!/^\d{1,9}$/.test(value)) throw badRequest(`${name} must be a non-negative integer, not ${JSON.stringify(value)}`);
  return Number(value);
}

export function queryInteger(query: URLSearchParams, name: string, bounds: { min: number; max: number; fallback: number }): number;
export function queryInteger(query: URLSearchParams, name: string, bounds: { min: number; max: number }): number | undefined;
export function queryInteger(query: URLSearchParams, name: string, bounds: { min: number; max: number; fallback?: number }): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return bounds.fallback;
  const value = /^-?\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw badRequest(`query parameter ${name} must be an integer from ${bounds.min} to ${bounds.max}, not ${JSON.stringify(raw)}`);
  }
  return value;
}

export function queryChoice<T extends string>(query: URLSearchParams, name: string, choices: readonly T[]): T | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!(choices as readonly string[]).includes(raw)) throw badRequest(`query parameter ${name} must be one of ${choices.join(', ')}, not ${JSON.stringify(raw)}`);
  return raw as T;
}
