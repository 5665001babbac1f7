import { describe, expect, it } from 'vitest';
import { ERROR_CODES, FerryError } from '../../../../src/errors.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS } from '../../../../src/protocol/kafka/handlers/cluster-view.js';
import { describeClusterHandler } from '../../../../src/protocol/kafka/handlers/describe-cluster.js';
import { HANDLERS } from '../../../../src/protocol/kafka/handlers/index.js';
import { parsePlainToken, saslAuthenticateHandler, saslHandshakeHandler } from '../../../../src/protocol/kafka/handlers/sasl.js';
import { ADVERTISED_HOST, ADVERTISED_PORT, useHarnesses, versionsOf } from './admin-harness.js';

const open = useHarnesses();
const USERS = new Map([['alice', 'secret'], ['bob', 'pässword']]);
const code = (name: keyof typeof ERROR_CODES) => ERROR_CODES[name].code;
const token = (authzid: string, user: string, password: string) => Buffer.from(`${authzid}\0${user}\0${password}`, 'utf8');

describe('SASL PLAIN', () => {
  it('authenticates after a PLAIN handshake at every SaslAuthenticate version', async () => {
    for (const version of versionsOf(saslAuthenticateHandler)) {
      const h = await open({}, USERS);
      expect(await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' })).toEqual({ errorCode: 0, mechanisms: ['PLAIN'] });
      expect(h.session.saslMechanism).toBe('PLAIN');
      const response = await h.call(saslAuthenticateHandler, version, { authBytes: token('', 'bob', 'pässword') });
      expect(response).toMatchObject({ errorCode: 0, errorMessage: null });
      expect(response['authBytes']).toEqual(Buffer.alloc(0));
      if (version >= 1) expect(response['sessionLifetimeMs']).toBe(0n);
      expect(h.session.principal).toBe('bob');
      await h.close();
    }
  });

  it('refuses a wrong password, an unknown user and a foreign authzid alike, without authenticating', async () => {
    const h = await open({}, USERS);
    for (const bad of [token('', 'alice', 'wrong'), token('', 'mallory', 'secret'), token('', 'alice', 'secre'), token('bob', 'alice', 'secret')]) {
      await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' });
      const response = await h.call(saslAuthenticateHandler, 2, { authBytes: bad });
      expect(response['errorCode']).toBe(code('SASL_AUTHENTICATION_FAILED'));
      expect(response['errorMessage']).toMatch(/^Authentication failed/);
      expect(h.session.principal).toBeNull();
      expect(h.session.saslMechanism).toBeNull(); // a new token needs a new handshake
    }
    // The same message for a wrong password and an unknown user.
    const messages = [];
    for (const bad of [token('', 'alice', 'wrong'), token('', 'mallory', 'wrong')]) {
      await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' });
      messages.push((await h.call(saslAuthenticateHandler, 1, { authBytes: bad }))['errorMessage']);
    }
    expect(messages[0]).toBe(messages[1]);
    // Each failure asked the connection to close after its answer, as Kafka closes it.
    expect(h.closeRequests).toHaveLength(6);
    // authzid equal to the user is fine.
    await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' });
    expect((await h.call(saslAuthenticateHandler, 2, { authBytes: token('alice', 'alice', 'secret') }))['errorCode']).toBe(0);
    expect(h.session.principal).toBe('alice');
  });

  it('parses PLAIN tokens strictly', () => {
    expect(parsePlainToken(token('', 'alice', 'secret'))).toEqual({ user: 'alice', password: 'secret' });
    expect(parsePlainToken(token('', 'a', 'p\u00e4ss'))).toEqual({ user: 'a', password: 'p\u00e4ss' });
    expect(parsePlainToken(Buffer.from('alice\0secret'))).toMatch(/invalid SASL\/PLAIN token/);
    expect(parsePlainToken(Buffer.from('\0alice\0secret\0'))).toMatch(/invalid SASL\/PLAIN token/);
    expect(parsePlainToken(token('', '', 'secret'))).toMatch(/empty/);
    expect(parsePlainToken(token('', 'alice', ''))).toMatch(/empty/);
    expect(parsePlainToken(Buffer.alloc(0))).toMatch(/invalid/);
    expect(parsePlainToken(Buffer.alloc(70_000, 1))).toMatch(/limit/);
  });

  it('answers UNSUPPORTED_SASL_MECHANISM with the enabled list, and ILLEGAL_SASL_STATE out of order', async () => {
    const h = await open({}, USERS);
    expect(await h.call(saslHandshakeHandler, 1, { mechanism: 'SCRAM-SHA-256' })).toEqual({ errorCode: code('UNSUPPORTED_SASL_MECHANISM'), mechanisms: ['PLAIN'] });
    expect(h.session.saslMechanism).toBeNull();
    // Authenticate before any handshake.
    const early = await h.call(saslAuthenticateHandler, 2, { authBytes: token('', 'alice', 'secret') });
    expect(early['errorCode']).toBe(code('ILLEGAL_SASL_STATE'));
    expect(h.session.principal).toBeNull();
    // Two handshakes in a row.
    await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' });
    expect((await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' }))['errorCode']).toBe(code('ILLEGAL_SASL_STATE'));
    await h.call(saslAuthenticateHandler, 2, { authBytes: token('', 'alice', 'secret') });
    expect(h.session.principal).toBe('alice');
    // After authentication: no second handshake or token.
    expect((await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' }))['errorCode']).toBe(code('ILLEGAL_SASL_STATE'));
    expect((await h.call(saslAuthenticateHandler, 2, { authBytes: token('', 'bob', 'pässword') }))['errorCode']).toBe(code('ILLEGAL_SASL_STATE'));
    expect(h.session.principal).toBe('alice');
  });

  it('answers ILLEGAL_SASL_STATE when SASL is off', async () => {
    const h = await open();
    expect(await h.call(saslHandshakeHandler, 1, { mechanism: 'PLAIN' })).toEqual({ errorCode: code('ILLEGAL_SASL_STATE'), mechanisms: [] });
    expect((await h.call(saslAuthenticateHandler, 0, { authBytes: token('', 'alice', 'secret') }))['errorCode']).toBe(code('ILLEGAL_SASL_STATE'));
    expect(h.session.principal).toBeNull();
  });

  it('lets exactly ApiVersions, SaslHandshake and SaslAuthenticate run before authentication', () => {
    expect(HANDLERS.filter((handler) => handler.allowedBeforeAuthentication === true).map((handler) => handler.apiKey).sort((a, b) => a - b)).toEqual([17, 18, 36]);
  });

  it('advertises SaslHandshake v0 (librdkafka requires it in the range) but refuses it: v0 tokens would be unframed', async () => {
    expect(saslHandshakeHandler.versions).toEqual({ min: 0, max: 1 });
    const h = await open({}, USERS);
    expect(await h.call(saslHandshakeHandler, 0, { mechanism: 'PLAIN' })).toEqual({ errorCode: code('UNSUPPORTED_VERSION'), mechanisms: ['PLAIN'] });
    expect(h.session.saslMechanism).toBeNull();
  });
});

describe('DescribeCluster', () => {
  it('answers the cluster id, controller and this broker at every version', async () => {
    const h = await open();
    for (const version of versionsOf(describeClusterHandler)) {
      const response = await h.call(describeClusterHandler, version, {});
      expect(response).toMatchObject({ errorCode: 0, errorMessage: null, clusterId: h.broker.clusterId, controllerId: 1, clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED });
      expect(response['brokers']).toEqual([{ brokerId: 1, host: ADVERTISED_HOST, port: ADVERTISED_PORT, rack: null }]);
      if (version >= 1) expect(response['endpointType']).toBe(1);
    }
    expect((await h.call(describeClusterHandler, 0, { includeClusterAuthorizedOperations: true }))['clusterAuthorizedOperations']).toBe(CLUSTER_OPERATIONS);
  });

  it('refuses controller and unknown endpoint types', async () => {
    const h = await open();
    const errorOf = (endpointType: number) =>
      h.call(describeClusterHandler, 1, { endpointType }).then(
        () => null,
        (error: unknown) => (error instanceof FerryError ? error.errorName : String(error)),
      );
    expect(await errorOf(2)).toBe('MISMATCHED_ENDPOINT_TYPE');
    expect(await errorOf(7)).toBe('UNSUPPORTED_ENDPOINT_TYPE');
  });
});
