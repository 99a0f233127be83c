// The WebSocket protocol's decoding: one JSON text frame -> one typed client
// command (the shapes are ClientCommand in services/push.ts and ClientFrame in
// proto/orgengine/v1/push.proto). Anything malformed is a BAD_REQUEST naming
// what is wrong, answered as an `error` message; the connection stays up.
import { OrgError } from '../../errors.js';
import { jsonObject, onlyFields, parseEntityId } from '../../model/input.js';
import type { ClientCommand } from '../../services/push.js';
import { parseAfter } from '../../services/signals.js';

/** Parses one client frame (JSON text) into a command; BAD_REQUEST naming what is wrong. */
export function parseClientCommand(text: string): ClientCommand {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new OrgError('BAD_REQUEST', 'frame is not JSON; send {"type": "subscribe" | "unsubscribe" | "ping", ...}');
  }
  const o = jsonObject(v, 'frame', undefined, ' with a "type"');
  const id = o.id;
  if (id !== undefined && (typeof id !== 'string' || id.length > 64)) throw new OrgError('BAD_REQUEST', 'id must be a string of at most 64 characters');
  const only = (allowed: readonly string[]): void => onlyFields(o, o.type as string, allowed);
  const withId = id === undefined ? {} : { id: id as string };
  switch (o.type) {
    case 'ping':
      only(['type', 'id']);
      return { type: 'ping', ...withId };
    case 'unsubscribe':
      only(['type', 'id', 'room']);
      return { type: 'unsubscribe', room: parseEntityId('room', o.room), ...withId };
    case 'subscribe':
      only(['type', 'id', 'room', 'after']);
      return { type: 'subscribe', room: parseEntityId('room', o.room), after: o.after === undefined || o.after === null ? null : parseAfter(o.after), ...withId };
    default:
      throw new OrgError('BAD_REQUEST', `unknown command ${JSON.stringify(String(o.type).slice(0, 32))}; expected subscribe, unsubscribe or ping`);
  }
}
