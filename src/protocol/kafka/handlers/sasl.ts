/**
 * SaslHandshake (key 17, v0-1) and SaslAuthenticate (key 36, v0-2):
 * SASL/PLAIN against the door's user list, in Kafka's framed form
 * (KIP-152): the client picks a mechanism, then sends its PLAIN token
 * inside SaslAuthenticate.
 *
 * SaslHandshake v0 is advertised but refused (UNSUPPORTED_VERSION, with the
 * mechanisms): after a v0 handshake the client would send raw, unframed
 * SASL tokens, which only the connection loop could read. It is advertised
 * because librdkafka enables SASL only when the broker's SaslHandshake
 * range includes v0; it then sends v1, as every client since Kafka 1.0
 * does when the broker offers it.
 *
 * A PLAIN token is UTF-8 (RFC 4616):
 *
 *   [authzid] NUL authcid NUL passwd
 *
 * where authzid, when present, must equal authcid (Ferry has no proxy
 * users). Passwords are compared in constant time through SHA-256 digests,
 * and an unknown user costs the same comparison as a wrong password; both
 * get the same message, so neither reveals which users exist.
 *
 * State per connection: handshake sets session.saslMechanism; a good
 * token sets session.principal (the user name). Both APIs answer
 * ILLEGAL_SASL_STATE when SASL is off (no users), out of order, or after
 * authentication has succeeded (Ferry does not re-authenticate, KIP-368).
 * A failed authenticate clears the chosen mechanism: the client must start
 * over with a handshake (Kafka closes the connection instead).
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { ERROR_CODES } from '../../../errors.js';
import type { ApiHandler, KafkaDoorSettings, KafkaSession } from '../handler.js';

/** The mechanisms Ferry speaks, as SaslHandshake lists them. */
export const SASL_MECHANISMS: readonly string[] = ['PLAIN'];

const PLAIN = 'PLAIN';
const NUL = 0;
/** Bound on a PLAIN token: far above any user name and password. */
const PLAIN_TOKEN_BYTES_MAX = 64 * 1024;
const NO_AUTH_BYTES = Buffer.alloc(0);
/** Ferry's sessions do not expire (KIP-368 re-authentication is not offered). */
const SESSION_LIFETIME_UNLIMITED_MS = 0n;
const AUTHENTICATION_FAILED = 'Authentication failed: invalid username or password';

/** The first SaslHandshake version whose tokens travel in SaslAuthenticate requests. */
const FRAMED_HANDSHAKE_VERSION = 1;

export const saslHandshakeHandler: ApiHandler = {
  apiKey: 17,
  versions: { min: 0, max: 1 },
  allowedBeforeAuthentication: true,
  handle(request, context) {
    const { mechanism } = request as unknown as { mechanism: string };
    const { session, settings } = context;
    if (context.apiVersion < FRAMED_HANDSHAKE_VERSION) return { errorCode: ERROR_CODES.UNSUPPORTED_VERSION.code, mechanisms: [...SASL_MECHANISMS] };
    if (!saslEnabled(settings) || session.principal !== null || session.saslMechanism !== null) {
      return { errorCode: ERROR_CODES.ILLEGAL_SASL_STATE.code, mechanisms: saslEnabled(settings) ? [...SASL_MECHANISMS] : [] };
    }
    if (!SASL_MECHANISMS.includes(mechanism)) return { errorCode: ERROR_CODES.UNSUPPORTED_SASL_MECHANISM.code, mechanisms: [...SASL_MECHANISMS] };
    session.saslMechanism = mechanism;
    return { errorCode: 0, mechanisms: [...SASL_MECHANISMS] };
  },
};

export const saslAuthenticateHandler: ApiHandler = {
  apiKey: 36,
  versions: { min: 0, max: 2 },
  allowedBeforeAuthentication: true,
  handle(request, context) {
    const { authBytes } = request as unknown as { authBytes: Buffer };
    const { session, settings } = context;
    const refusal = stateRefusal(session, settings);
    if (refusal !== null) return answer(ERROR_CODES.ILLEGAL_SASL_STATE.code, refusal);
    session.saslMechanism = null; // one token per handshake, whatever its outcome
    const token = parsePlainToken(authBytes);
    const failure = typeof token === 'string' ? `Authentication failed: ${token}` : passwordMatches(settings.saslPlainUsers, token.user, token.password) ? null : AUTHENTICATION_FAILED;
    if (failure !== null || typeof token === 'string') {
      // As Kafka: the failure is answered, then the connection closed, so passwords cannot be tried over and over on one socket.
      context.closeAfterResponse('SASL authentication failed');
      return answer(ERROR_CODES.SASL_AUTHENTICATION_FAILED.code, failure);
    }
    session.principal = token.user;
    context.logger.debug({ user: token.user, clientHost: session.clientHost }, 'SASL/PLAIN authenticated');
    return answer(0, null);
  },
};

function saslEnabled(settings: KafkaDoorSettings): boolean {
  return settings.saslPlainUsers.size > 0;
}

function stateRefusal(session: KafkaSession, settings: KafkaDoorSettings): string | null {
  if (!saslEnabled(settings)) return 'SASL is not enabled on this listener';
  if (session.principal !== null) return 'already authenticated: Ferry does not re-authenticate a connection';
  if (session.saslMechanism !== PLAIN) return 'SaslAuthenticate before a SaslHandshake that chose PLAIN';
  return null;
}

function answer(errorCode: number, errorMessage: string | null): Record<string, unknown> {
  return { errorCode, errorMessage, authBytes: NO_AUTH_BYTES, sessionLifetimeMs: SESSION_LIFETIME_UNLIMITED_MS };
}

export interface PlainCredentials {
  user: string;
  password: string;
}

/** The user and password of a PLAIN token, or why it is not one. */
export function parsePlainToken(token: Buffer): PlainCredentials | string {
  if (token.length > PLAIN_TOKEN_BYTES_MAX) return `SASL/PLAIN token of ${token.length} bytes is over the ${PLAIN_TOKEN_BYTES_MAX}-byte limit`;
  const first = token.indexOf(NUL);
  const second = first < 0 ? -1 : token.indexOf(NUL, first + 1);
  if (first < 0 || second < 0 || token.indexOf(NUL, second + 1) >= 0) return 'invalid SASL/PLAIN token: expected authzid NUL user NUL password';
  const authzid = token.subarray(0, first).toString('utf8');
  const user = token.subarray(first + 1, second).toString('utf8');
  const password = token.subarray(second + 1).toString('utf8');
  if (user === '' || password === '') return 'invalid SASL/PLAIN token: empty user name or password';
  if (authzid !== '' && authzid !== user) return 'the authorization id must be empty or the user name';
  return { user, password };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time in the password; an unknown user is compared against a fixed digest, so it costs the same as a known one. */
function passwordMatches(users: ReadonlyMap<string, string>, user: string, password: string): boolean {
  const expected = users.get(user);
  const expectedDigest = expected === undefined ? Buffer.alloc(32, 0xff) : digest(expected);
  const same = timingSafeEqual(digest(password), expectedDigest);
  return same && expected !== undefined;
}
