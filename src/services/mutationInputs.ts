// Validation of mutation inputs as they arrive from a transport (route params
// merged with the JSON body, or a decoded gRPC message). Each parser returns
// the typed input the service takes, or throws BAD_REQUEST naming the field.
import { OrgError } from '../errors.js';
import { jsonObject, parseEntityId, positiveField, type JsonObject } from '../model/input.js';

/** Input of a group pick: `groupId` null places the student automatically. */
export interface PickGroupInput {
  lessonId: number;
  uid: number;
  groupId: string | null;
}

/** Input of a mute/unmute: exactly one of `uid` (a student) or `nodeId` (an org node). */
export type MuteInput =
  | { lessonId: number; roomId: string; uid: number; nodeId?: undefined; muted: boolean }
  | { lessonId: number; roomId: string; nodeId: string; uid?: undefined; muted: boolean };

/** Input of a sign-in. */
export interface SignInInput {
  lessonId: number;
  uid: number;
}

/** Input of a heartbeat. */
export interface HeartbeatInput {
  lessonId: number;
  uid: number;
  roomId: string;
}

const obj = (raw: unknown, known: readonly string[]): JsonObject => jsonObject(raw, '', known);

const int = positiveField;

const id = (o: JsonObject, k: string): string => parseEntityId(k, o[k]);

function bool(o: JsonObject, k: string): boolean {
  const v = o[k];
  if (v === true || v === 'true' || v === 1 || v === '1') return true;
  if (v === false || v === 'false' || v === 0 || v === '0') return false;
  throw new OrgError('BAD_REQUEST', `${k}: expected true or false, got ${JSON.stringify(v) ?? 'nothing'}`, { field: k });
}

/** Parses {lessonId, uid, groupId?}; a missing, null or empty groupId means automatic placement. */
export function parsePickGroup(raw: unknown): PickGroupInput {
  const o = obj(raw, ['lessonId', 'uid', 'groupId']);
  const auto = o.groupId === undefined || o.groupId === null || o.groupId === '';
  return { lessonId: int(o, 'lessonId'), uid: int(o, 'uid'), groupId: auto ? null : id(o, 'groupId') };
}

/** Parses {lessonId, roomId, uid | nodeId, muted}. */
export function parseMute(raw: unknown): MuteInput {
  const o = obj(raw, ['lessonId', 'roomId', 'uid', 'nodeId', 'muted']);
  const base = { lessonId: int(o, 'lessonId'), roomId: id(o, 'roomId'), muted: bool(o, 'muted') };
  const hasUid = o.uid !== undefined && o.uid !== null;
  const hasNode = o.nodeId !== undefined && o.nodeId !== null;
  if (hasUid === hasNode) throw new OrgError('BAD_REQUEST', 'give exactly one of uid (a student) or nodeId (an org node)', { field: 'uid' });
  return hasUid ? { ...base, uid: int(o, 'uid') } : { ...base, nodeId: id(o, 'nodeId') };
}

/** Parses {lessonId, uid}. */
export function parseSignIn(raw: unknown): SignInInput {
  const o = obj(raw, ['lessonId', 'uid']);
  return { lessonId: int(o, 'lessonId'), uid: int(o, 'uid') };
}

/** Parses {lessonId, uid, roomId}. */
export function parseHeartbeat(raw: unknown): HeartbeatInput {
  const o = obj(raw, ['lessonId', 'uid', 'roomId']);
  return { lessonId: int(o, 'lessonId'), uid: int(o, 'uid'), roomId: id(o, 'roomId') };
}
