/**
 * A connection to one broker plus what the two sides agreed to speak: on
 * open, ApiVersions at the newest version this client knows; a broker that
 * does not know that version answers UNSUPPORTED_VERSION with its own list
 * (KIP-511), and the request is sent again at the highest version both know.
 * Every later call goes out at the version negotiated for its API. With
 * credentials, SASL/PLAIN follows before the session is handed out.
 */

import { FerryError } from '../../errors.js';
import type { KafkaStruct } from '../../protocol/kafka/codec/message-codec.js';
import { API, CLIENT_VERSIONS, negotiateVersions, versionFor, type ApiName, type BrokerApiVersion, type NegotiatedVersions } from './api-versions.js';
import { KafkaConnection, type ConnectionOptions } from './connection.js';
import { checkErrorCode } from './kafka-errors.js';
import { CLIENT_SOFTWARE_NAME, CLIENT_SOFTWARE_VERSION } from './limits.js';
import { authenticatePlain, type SaslPlainCredentials } from './sasl-plain.js';

interface ApiVersionsResponse {
  errorCode: number;
  apiKeys: BrokerApiVersion[];
}

const UNSUPPORTED_VERSION_CODE = 35;

export interface SessionCall {
  version: number;
  response: KafkaStruct;
}

export class BrokerSession {
  private constructor(
    private readonly connection: KafkaConnection,
    readonly brokerVersions: readonly BrokerApiVersion[],
    readonly versions: NegotiatedVersions,
  ) {}

  /** Connects, negotiates versions, and authenticates with SASL/PLAIN when given credentials. */
  static async open(options: ConnectionOptions & { saslPlain?: SaslPlainCredentials }): Promise<BrokerSession> {
    const connection = await KafkaConnection.connect(options);
    try {
      const brokerVersions = await askApiVersions(connection);
      const session = new BrokerSession(connection, brokerVersions, negotiateVersions(brokerVersions));
      if (options.saslPlain) await authenticatePlain(session, options.saslPlain);
      return session;
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  get address(): string {
    return this.connection.address;
  }

  version(name: ApiName): number {
    return versionFor(this.versions, name, this.brokerVersions, this.address);
  }

  /** Sends `name` at the negotiated version; `body` builds the request for that version. */
  async call(name: ApiName, body: (version: number) => Readonly<Record<string, unknown>>): Promise<SessionCall> {
    const version = this.version(name);
    return { version, response: await this.connection.request(API[name], version, body(version)) };
  }

  close(): void {
    this.connection.close();
  }
}

async function askApiVersions(connection: KafkaConnection): Promise<BrokerApiVersion[]> {
  const first = await requestApiVersions(connection, CLIENT_VERSIONS.ApiVersions.max);
  if (first.errorCode !== UNSUPPORTED_VERSION_CODE) {
    checkErrorCode(first.errorCode, `ApiVersions to ${connection.address}`);
    return first.apiKeys;
  }
  const version = negotiateVersions(first.apiKeys).get(API.ApiVersions);
  if (version === undefined) throw new FerryError('UNSUPPORTED_VERSION', `the broker at ${connection.address} speaks no ApiVersions version this client knows`);
  const second = await requestApiVersions(connection, version);
  checkErrorCode(second.errorCode, `ApiVersions v${version} to ${connection.address}`);
  return second.apiKeys;
}

async function requestApiVersions(connection: KafkaConnection, version: number): Promise<ApiVersionsResponse> {
  const response = await connection.request(API.ApiVersions, version, { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION });
  return response as unknown as ApiVersionsResponse;
}
