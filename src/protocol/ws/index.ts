/** The WebSocket door (placeholder until /ws lands). */
import type { TemplatedApp } from 'uWebSockets.js';
import type { DoorContext } from '../door.js';

/** Registers `/ws`; returns a function that closes every open socket. */
export function registerWebSocketDoor(_app: TemplatedApp, _context: DoorContext): () => void {
  return () => undefined;
}
