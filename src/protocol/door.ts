/**
 * What every door gets: the broker it translates for, the uWS module, a
 * logger. Doors register routes on the one uWS app; they hold no business
 * logic of their own.
 */

import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { UwsModule } from './uws.js';

export interface DoorContext {
  broker: Broker;
  uws: UwsModule;
  logger: Logger;
}
