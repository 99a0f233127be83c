// Validation of score inputs as they arrive from a transport (route params
// merged with the JSON body or query, or a decoded gRPC message). Each parser
// returns the typed input the score service takes, or throws BAD_REQUEST
// naming the field. Bounds that come from configuration (the points range,
// board sizes, PK duration) are passed in.
import type { ScoresConfig } from '../config.js';
import { OrgError } from '../errors.js';
import { entityIdPattern } from '../model/ids.js';
import { jsonObject, parseEntityId, parseLimit, positiveField, type JsonObject } from '../model/input.js';
import { SCORE_KINDS, SEAT_SIDES, type ScoreEvent, type ScoreKind, type SeatSide } from '../store/redis/scoreStore.js';

/** Input of a PK round start. */
export interface PkStartInput {
  lessonId: number;
  roomId: string;
  sessionId: string | null;
  /** Two org nodes, or the two seat sides (left, right) of the scope. */
  kind: 'node' | 'seat';
  a: string;
  b: string;
  durationMs: number;
}

/** Where a PK round lives: a session of a room, or the room. */
export interface PkScopeInput {
  lessonId: number;
  roomId: string;
  sessionId: string | null;
}

/** Input of a PK round end. */
export interface PkEndInput extends PkScopeInput {
  roundId: number;
}

const KEY_RE = entityIdPattern(128);

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

const posInt = positiveField;

const optId = (o: JsonObject, k: string): string | null => (present(o[k]) ? parseEntityId(k, o[k]) : null);

function oneOf<W extends string>(o: JsonObject, k: string, words: readonly W[]): W {
  const v = o[k];
  if (typeof v !== 'string' || !(words as readonly string[]).includes(v)) {
    throw new OrgError('BAD_REQUEST', `${k}: expected one of ${words.join(' | ')}, got ${JSON.stringify(v) ?? 'nothing'}`, { field: k });
  }
  return v as W;
}

/** A board size (?limit, or a gRPC limit) within the configured board bounds; absent gives the default. */
export const parseBoardLimit = (raw: unknown, bounds: Pick<ScoresConfig, 'boardDefault' | 'boardMax'>): number =>
  parseLimit(raw, { def: bounds.boardDefault, max: bounds.boardMax });

/** Parses a score event: {lessonId, key, roomId, sessionId?, uid | nodeId, seatId?, side?, kind, points, roundId?}. */
export function parseAward(raw: unknown, bounds: Pick<ScoresConfig, 'minPoints' | 'maxPoints'>): ScoreEvent {
  const o = jsonObject(raw, '', ['lessonId', 'key', 'roomId', 'sessionId', 'uid', 'nodeId', 'seatId', 'side', 'kind', 'points', 'roundId']);
  const lessonId = posInt(o, 'lessonId');
  if (typeof o.key !== 'string' || !KEY_RE.test(o.key)) {
    throw new OrgError('BAD_REQUEST', `key: expected an idempotency key of 1-128 chars of [A-Za-z0-9._:-], got ${JSON.stringify(o.key) ?? 'nothing'}`, { field: 'key' });
  }
  const roomId = parseEntityId('roomId', o.roomId);
  const hasUid = present(o.uid);
  const hasNode = present(o.nodeId);
  if (hasUid === hasNode) throw new OrgError('BAD_REQUEST', 'give exactly one of uid (a student) or nodeId (an org node: group, team, ...)', { field: 'uid' });
  const kind: ScoreKind = oneOf(o, 'kind', SCORE_KINDS);
  const p = o.points;
  if (typeof p !== 'number' || !Number.isSafeInteger(p)) throw new OrgError('BAD_REQUEST', `points: expected an integer, got ${JSON.stringify(p) ?? 'nothing'}`, { field: 'points' });
  const min = kind === 'adjust' ? bounds.minPoints : 1;
  if (p === 0 || p < min || p > bounds.maxPoints) {
    throw new OrgError('BAD_REQUEST', `points: ${p} is outside ${min}..${bounds.maxPoints}${kind === 'adjust' ? ' (and not 0)' : ' (only kind adjust may take points away)'}`, {
      field: 'points',
      min,
      max: bounds.maxPoints,
    });
  }
  const seatId = optId(o, 'seatId');
  const side: SeatSide | null = present(o.side) ? oneOf(o, 'side', SEAT_SIDES) : null;
  if (side !== null && seatId === null) throw new OrgError('BAD_REQUEST', 'side: a seat side needs the seatId it belongs to', { field: 'side' });
  return {
    lessonId,
    key: o.key,
    roomId,
    sessionId: optId(o, 'sessionId'),
    uid: hasUid ? posInt(o, 'uid') : null,
    nodeId: hasNode ? parseEntityId('nodeId', o.nodeId) : null,
    seatId,
    side,
    kind,
    points: p,
    roundId: present(o.roundId) ? posInt(o, 'roundId') : null,
  };
}

/** Parses {lessonId, roomId, sessionId?, kind: node | seat, a?, b?, durationSeconds}; seat rounds are left against right. */
export function parsePkStart(raw: unknown, bounds: Pick<ScoresConfig, 'pkMaxSeconds'>): PkStartInput {
  const o = jsonObject(raw, '', ['lessonId', 'roomId', 'sessionId', 'kind', 'a', 'b', 'durationSeconds']);
  const base = { lessonId: posInt(o, 'lessonId'), roomId: parseEntityId('roomId', o.roomId), sessionId: optId(o, 'sessionId') };
  const kind = oneOf(o, 'kind', ['node', 'seat'] as const);
  const d = posInt(o, 'durationSeconds');
  if (d > bounds.pkMaxSeconds) throw new OrgError('BAD_REQUEST', `durationSeconds: at most ${bounds.pkMaxSeconds}, got ${d}`, { field: 'durationSeconds' });
  if (kind === 'seat') {
    if (present(o.a) || present(o.b)) throw new OrgError('BAD_REQUEST', 'a, b: a seat round is always left against right; give no sides', { field: 'a' });
    return { ...base, kind, a: 'left', b: 'right', durationMs: d * 1000 };
  }
  const a = parseEntityId('a', o.a);
  const b = parseEntityId('b', o.b);
  if (a === b) throw new OrgError('BAD_REQUEST', 'a, b: the two sides must be different org nodes', { field: 'b' });
  return { ...base, kind, a, b, durationMs: d * 1000 };
}

/** Parses {lessonId, roomId, sessionId?}. */
export function parsePkScope(raw: unknown): PkScopeInput {
  const o = jsonObject(raw, '', ['lessonId', 'roomId', 'sessionId']);
  return { lessonId: posInt(o, 'lessonId'), roomId: parseEntityId('roomId', o.roomId), sessionId: optId(o, 'sessionId') };
}

/** Parses {lessonId, roomId, sessionId?, roundId}. */
export function parsePkEnd(raw: unknown): PkEndInput {
  const o = jsonObject(raw, '', ['lessonId', 'roomId', 'sessionId', 'roundId']);
  return { lessonId: posInt(o, 'lessonId'), roomId: parseEntityId('roomId', o.roomId), sessionId: optId(o, 'sessionId'), roundId: posInt(o, 'roundId') };
}
