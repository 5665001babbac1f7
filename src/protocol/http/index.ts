/** The HTTP door (placeholder until the REST v3 routes land). */
import type { TemplatedApp } from 'uWebSockets.js';
import type { DoorContext } from '../door.js';

export function registerHttpDoor(_app: TemplatedApp, _context: DoorContext): void {}
