/**
 * The options of bench/soak.ts (node:util parseArgs) and their checks: a bad
 * option is a SoakSetupError naming it, before any process starts.
 */

import { parseArgs } from 'node:util';
import { LEASE_TTL_SECONDS_MIN } from '../src/cluster/keys.js';
import { prng } from '../test/storage/helpers.js';

/** A problem with the options or the setup, said in one line (no stack). */
export class SoakSetupError extends Error {}

const DURATION_SECONDS_MAX = 24 * 3600;
const PARTITIONS_MAX = 64;
const PRODUCERS_MAX = 16;
const LEASE_TTL_SECONDS_MAX = 60;

export interface SoakOptions {
  durationSeconds: number;
  seed: number;
  leaseTtlSeconds: number;
  partitions: number;
  producers: number;
}

export const USAGE = `npm run soak -- [options]
  --duration <t>            how long fault cycles go on: 90s, 10m, 1h or seconds (default 5m)
  --seed <n>                seeds the fault sequence (default: random, printed)
  --lease-ttl-seconds <s>   brokers' etcd lease TTL: how soon a dead broker is noticed (default 3)
  --partitions <n>          partitions of the soak topic (default 6)
  --producers <n>           kafkajs idempotent producers (default 2)
  --help                    print this`;

/** `90s`, `10m`, `1h` or plain seconds, as seconds. */
export function parseDurationSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!match) throw new SoakSetupError(`--duration: expected 90s, 10m, 1h or seconds, got "${text}"`);
  const seconds = Number(match[1]) * ({ s: 1, m: 60, h: 3600 } as const)[(match[2] ?? 's') as 's' | 'm' | 'h'];
  if (!(seconds > 0 && seconds <= DURATION_SECONDS_MAX)) throw new SoakSetupError(`--duration: between 1 s and ${DURATION_SECONDS_MAX} s, got ${text}`);
  return seconds;
}

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new SoakSetupError(`--${name}: an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

/** The options, or null when --help asked for the usage. */
export function parseOptions(argv: readonly string[]): SoakOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        duration: { type: 'string', default: '5m' },
        seed: { type: 'string' },
        'lease-ttl-seconds': { type: 'string', default: '3' },
        partitions: { type: 'string', default: '6' },
        producers: { type: 'string', default: '2' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    throw new SoakSetupError((error as Error).message);
  }
  const values = parsed.values;
  if (values.help) return null;
  return {
    durationSeconds: parseDurationSeconds(values.duration),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : integer('seed', values.seed, 0, 2 ** 32 - 1),
    leaseTtlSeconds: integer('lease-ttl-seconds', values['lease-ttl-seconds'], LEASE_TTL_SECONDS_MIN, LEASE_TTL_SECONDS_MAX),
    partitions: integer('partitions', values.partitions, 1, PARTITIONS_MAX),
    producers: integer('producers', values.producers, 1, PRODUCERS_MAX),
  };
}

/** mulberry32 (the test suite's prng), so one --seed replays one fault sequence. */
export const seededRandom = prng;
