/**
 * Errors the client hands to its caller. Errors from the broker keep Kafka's
 * name, code and `retriable` flag as they came on the wire; the client's own
 * use Kafka's names where one fits (NETWORK_EXCEPTION, CORRUPT_MESSAGE,
 * UNSUPPORTED_COMPRESSION_TYPE).
 */

/** Kafka's codes for the errors the client raises itself. */
const CLIENT_ERROR_CODES: Readonly<Record<string, number>> = {
  CORRUPT_MESSAGE: 2,
  NETWORK_EXCEPTION: 13,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
};

/** A partition's leader as a NOT_LEADER_OR_FOLLOWER error names it (protocol.ts's WireLeader). */
export interface LeaderAddress {
  id: number;
  host: string;
  http_port: number;
  /** Its WebSocket door. */
  url: string;
}

export class FerryClientError extends Error {
  readonly errorCode: number;
  /** NOT_LEADER_OR_FOLLOWER in a cluster: where the partition's leader is. */
  leader: LeaderAddress | undefined;
  /** The request never reached a broker (its socket closed first): sending it again cannot repeat it. */
  unsent = false;

  constructor(
    readonly errorName: string,
    message: string,
    readonly retriable: boolean,
    errorCode?: number,
  ) {
    super(message);
    this.name = 'FerryClientError';
    this.errorCode = errorCode ?? CLIENT_ERROR_CODES[errorName] ?? -1;
  }
}

export function networkError(message: string): FerryClientError {
  return new FerryClientError('NETWORK_EXCEPTION', message, true);
}

export function clientClosedError(): FerryClientError {
  return new FerryClientError('CLIENT_CLOSED', 'the client was closed', false);
}

export function corruptError(message: string): FerryClientError {
  return new FerryClientError('CORRUPT_MESSAGE', message, false);
}
