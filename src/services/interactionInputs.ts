// Validation of interaction center inputs as they arrive from a transport
// (route params merged with the JSON body, or a decoded gRPC message). Each
// parser returns the typed input the service takes, or throws BAD_REQUEST
// naming the field.
import { OrgError } from '../errors.js';
import { entityIdPattern } from '../model/ids.js';
import { SESSION_KINDS, type SessionKind } from '../model/interaction.js';
import { jsonObject, parseEntityId, type JsonObject } from '../model/input.js';
import { parseTemplateId, SEAT_MEDIA, type SeatMedia, type SeatOp } from '../model/seats.js';

/** FastCreate: a session in a room, optionally inviting one user at once. */
export interface CreateInput {
  lessonId: number;
  roomId: string;
  kind: SessionKind;
  /** Seats (multi); null: the configured default. A duo has 2. */
  capacity: number | null;
  channelId: string | null;
  invitee: number | null;
  /** The mic seat layout template; null or absent: the default of the kind. */
  templateId?: string | null;
  /** The user a platform service acts for (required from services: the creator). */
  by: number | null;
}

/** An operation on one user's link of a session. `uid` null: the caller itself (apply, leave). */
export interface LinkInput {
  lessonId: number;
  sessionId: string;
  uid: number | null;
  by: number | null;
}

/** Kick: a link operation that may also revoke the kicked user's tokens of the lesson. */
export interface KickInput extends LinkInput {
  revokeTokens: boolean;
}

/** Handle: accept or reject an invitation (by the invitee) or an application. */
export interface HandleInput extends LinkInput {
  accept: boolean;
}

/** End a session. */
export interface EndInput {
  lessonId: number;
  sessionId: string;
  by: number | null;
}

/** The RTC service's callback: a user joined, is still in, or left a channel. */
export interface RtcEventInput {
  lessonId: number;
  channelId: string;
  uid: number;
  event: 'joined' | 'alive' | 'left';
  eventId: string;
  /** RTC time of the event (ms); orders events that arrive out of order. */
  at: number;
}

/** A mic seat operation (take, leave, move, swap, lock, unlock, mute, unmute). */
export interface SeatInput {
  lessonId: number;
  sessionId: string;
  /** take, leave, move: the user acted on (null: the caller). */
  uid: number | null;
  /** The seat (take: null picks one; swap: the first). */
  seat: number | null;
  /** swap: the second seat. */
  other: number | null;
  /** mute, unmute: mic | cam. */
  media: SeatMedia | null;
  by: number | null;
}

/** Switch a session's layout template. */
export interface SwitchInput {
  lessonId: number;
  sessionId: string;
  templateId: string;
  by: number | null;
}

/** Grant or revoke a room admin. */
export interface AdminInput {
  lessonId: number;
  roomId: string;
  uid: number;
  granted: boolean;
}

const TOKEN = entityIdPattern(128);
const SESSION_ID = /^s[1-9][0-9]{0,15}$/;

const obj = (raw: unknown, known: readonly string[]): JsonObject => jsonObject(raw, '', known);
const absent = (v: unknown): boolean => v === undefined || v === null || v === '' || v === 0;

function int(o: JsonObject, k: string, min = 1): number {
  const v = o[k];
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new OrgError('BAD_REQUEST', `${k}: expected an integer >= ${min}, got ${JSON.stringify(v) ?? 'nothing'}`, { field: k });
  return n;
}

const optInt = (o: JsonObject, k: string): number | null => (absent(o[k]) ? null : int(o, k));

function token(o: JsonObject, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !TOKEN.test(v)) throw new OrgError('BAD_REQUEST', `${k}: expected 1-128 chars of [A-Za-z0-9._:-], got ${JSON.stringify(v) ?? 'nothing'}`, { field: k });
  return v;
}

function sessionId(o: JsonObject): string {
  const v = o.sessionId;
  if (typeof v !== 'string' || !SESSION_ID.test(v)) throw new OrgError('BAD_REQUEST', `sessionId: expected s<number>, got ${JSON.stringify(v) ?? 'nothing'}`, { field: 'sessionId' });
  return v;
}

function oneOf<T extends string>(o: JsonObject, k: string, allowed: readonly T[]): T {
  const v = o[k];
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new OrgError('BAD_REQUEST', `${k}: expected ${allowed.join(' | ')}, got ${JSON.stringify(v) ?? 'nothing'}`, { field: k });
  return v as T;
}

function bool(o: JsonObject, k: string): boolean {
  const v = o[k];
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new OrgError('BAD_REQUEST', `${k}: expected true or false, got ${JSON.stringify(v) ?? 'nothing'}`, { field: k });
}

/** A seat number: 0 or more (absent: null). */
function seatNo(o: JsonObject, k: string): number | null {
  const v = o[k];
  if (v === undefined || v === null || v === '') return null;
  return int(o, k, 0);
}

/** Parses {lessonId, roomId, kind, capacity?, channelId?, invitee?, templateId?, by?}. */
export function parseCreate(raw: unknown): CreateInput {
  const o = obj(raw, ['lessonId', 'roomId', 'kind', 'capacity', 'channelId', 'invitee', 'templateId', 'by']);
  const kind = oneOf(o, 'kind', SESSION_KINDS);
  const capacity = optInt(o, 'capacity');
  if (capacity !== null && capacity < 2) throw new OrgError('BAD_REQUEST', 'capacity: a session seats at least 2', { field: 'capacity' });
  if (kind === 'duo' && capacity !== null && capacity !== 2) throw new OrgError('BAD_REQUEST', 'capacity: a duo seats exactly 2', { field: 'capacity' });
  return {
    lessonId: int(o, 'lessonId'),
    roomId: parseEntityId('roomId', o.roomId),
    kind,
    capacity,
    channelId: absent(o.channelId) ? null : token(o, 'channelId'),
    invitee: optInt(o, 'invitee'),
    templateId: absent(o.templateId) ? null : parseTemplateId(o.templateId),
    by: optInt(o, 'by'),
  };
}

/**
 * Parses a seat operation's {lessonId, sessionId, uid?, seat?, other?, media?, by?}:
 * take (seat optional), leave, move (seat), swap (seat, other), lock/unlock (seat),
 * mute/unmute (seat, media).
 */
export function parseSeat(op: Exclude<SeatOp, 'switch'>, raw: unknown): SeatInput {
  const o = obj(raw, ['lessonId', 'sessionId', 'uid', 'seat', 'other', 'media', 'by']);
  const r: SeatInput = {
    lessonId: int(o, 'lessonId'),
    sessionId: sessionId(o),
    uid: optInt(o, 'uid'),
    seat: seatNo(o, 'seat'),
    other: seatNo(o, 'other'),
    media: absent(o.media) ? null : oneOf(o, 'media', SEAT_MEDIA),
    by: optInt(o, 'by'),
  };
  const need = (k: 'seat' | 'other' | 'media', yes: boolean): void => {
    if (yes && r[k] === null) throw new OrgError('BAD_REQUEST', `${k}: ${op} needs it`, { field: k });
    if (!yes && r[k] !== null) throw new OrgError('BAD_REQUEST', `${k}: ${op} takes none`, { field: k });
  };
  if (op !== 'take') need('seat', op !== 'leave');
  need('other', op === 'swap');
  need('media', op === 'mute' || op === 'unmute');
  if (r.uid !== null && op !== 'take' && op !== 'leave' && op !== 'move') throw new OrgError('BAD_REQUEST', `uid: ${op} acts on a seat, not a user`, { field: 'uid' });
  if (op === 'swap' && r.seat === r.other) throw new OrgError('BAD_REQUEST', 'other: swap needs two different seats', { field: 'other' });
  return r;
}

/** Parses {lessonId, sessionId, templateId, by?}. */
export function parseSwitch(raw: unknown): SwitchInput {
  const o = obj(raw, ['lessonId', 'sessionId', 'templateId', 'by']);
  return { lessonId: int(o, 'lessonId'), sessionId: sessionId(o), templateId: parseTemplateId(o.templateId), by: optInt(o, 'by') };
}

/** Parses {lessonId, sessionId, uid?, by?}. */
export function parseLink(raw: unknown): LinkInput {
  const o = obj(raw, ['lessonId', 'sessionId', 'uid', 'by']);
  return { lessonId: int(o, 'lessonId'), sessionId: sessionId(o), uid: optInt(o, 'uid'), by: optInt(o, 'by') };
}

/** Parses {lessonId, sessionId, uid, by?, revokeTokens?}: Kick; revokeTokens needs the kicked uid. */
export function parseKick(raw: unknown): KickInput {
  const o = obj(raw, ['lessonId', 'sessionId', 'uid', 'by', 'revokeTokens']);
  const revokeTokens = absent(o.revokeTokens) ? false : bool(o, 'revokeTokens');
  const uid = optInt(o, 'uid');
  if (revokeTokens && uid === null) throw new OrgError('BAD_REQUEST', 'uid: a kick that revokes tokens names the kicked user', { field: 'uid' });
  return { lessonId: int(o, 'lessonId'), sessionId: sessionId(o), uid, by: optInt(o, 'by'), revokeTokens };
}

/** Parses {lessonId, sessionId, uid, accept, by?}. */
export function parseHandle(raw: unknown): HandleInput {
  const o = obj(raw, ['lessonId', 'sessionId', 'uid', 'accept', 'by']);
  return { lessonId: int(o, 'lessonId'), sessionId: sessionId(o), uid: optInt(o, 'uid'), accept: bool(o, 'accept'), by: optInt(o, 'by') };
}

/** Parses {lessonId, sessionId, by?}. */
export function parseEnd(raw: unknown): EndInput {
  const o = obj(raw, ['lessonId', 'sessionId', 'by']);
  return { lessonId: int(o, 'lessonId'), sessionId: sessionId(o), by: optInt(o, 'by') };
}

/** Parses {lessonId, channelId, uid, event, eventId, at}. */
export function parseRtcEvent(raw: unknown): RtcEventInput {
  const o = obj(raw, ['lessonId', 'channelId', 'uid', 'event', 'eventId', 'at']);
  return {
    lessonId: int(o, 'lessonId'),
    channelId: token(o, 'channelId'),
    uid: int(o, 'uid'),
    event: oneOf(o, 'event', ['joined', 'alive', 'left'] as const),
    eventId: token(o, 'eventId'),
    at: int(o, 'at', 0),
  };
}

/** Parses {lessonId, roomId, uid, granted}. */
export function parseAdmin(raw: unknown): AdminInput {
  const o = obj(raw, ['lessonId', 'roomId', 'uid', 'granted']);
  return { lessonId: int(o, 'lessonId'), roomId: parseEntityId('roomId', o.roomId), uid: int(o, 'uid'), granted: bool(o, 'granted') };
}
