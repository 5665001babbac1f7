/**
 * SASL/PLAIN, client side, in Kafka's framed form (KIP-152): SaslHandshake
 * v1 names the mechanism, then SaslAuthenticate carries the RFC 4616 token
 *
 *   authzid (empty) NUL user NUL password     (UTF-8)
 *
 * Sent once per connection, after ApiVersions (which a broker answers
 * before authentication) and before anything else. Over plain TCP the
 * password crosses the network readable, as with any Kafka SASL_PLAINTEXT
 * listener.
 */

import { FerryError } from '../../errors.js';
import type { BrokerSession } from './broker-session.js';
import { checkErrorCode } from './kafka-errors.js';

export interface SaslPlainCredentials {
  username: string;
  password: string;
}

const MECHANISM = 'PLAIN';
const NUL = '\u0000';

export function plainToken(credentials: SaslPlainCredentials): Buffer {
  if (credentials.username.includes(NUL) || credentials.password.includes(NUL)) {
    throw new FerryError('INVALID_CONFIG', 'a SASL/PLAIN user name or password cannot contain a NUL character');
  }
  return Buffer.from(`${NUL}${credentials.username}${NUL}${credentials.password}`, 'utf8');
}

export async function authenticatePlain(session: BrokerSession, credentials: SaslPlainCredentials): Promise<void> {
  const token = plainToken(credentials);
  const { response: handshake } = await session.call('SaslHandshake', () => ({ mechanism: MECHANISM }));
  const offered = (handshake.mechanisms as string[] | null) ?? [];
  checkErrorCode(handshake.errorCode as number, `SaslHandshake ${MECHANISM} to ${session.address} (it offers ${offered.join(', ') || 'no mechanism'})`);
  const { response } = await session.call('SaslAuthenticate', () => ({ authBytes: token }));
  checkErrorCode(response.errorCode as number, `SASL/PLAIN authentication of ${credentials.username} at ${session.address}`, response.errorMessage as string | null);
}
