// Scores as Redis sees them: the award script (ledger record + every live total
// in one atomic step, idempotent by key), PK rounds (start, end), the score
// reads (leaderboards, node totals with one level's board, a student's ranks,
// a scope's round), and what reconcile needs (a consistent snapshot of every
// total, and increments that move a total to the ledger's value). Keys come
// from keys.ts; replies become typed results, or typed errors through
// replyCodes.ts.
import { currentTraceStamp } from '../../model/trace.js';
import { scopeOf, type ScoreTotals, type TotalKind } from '../../model/scores.js';
import { formatChannelMessage } from './channel.js';
import type { RedisClient } from './client.js';
import { durably, MEMORY, type Durability } from './durability.js';
import { lessonKeys, type LessonKeys } from './keys.js';
import { replyError, SCORE_CODES } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const AWARD = scriptCommand('award');
const PK_START = scriptCommand('pkStart');
const PK_END = scriptCommand('pkEnd');
const READ_SCORES = scriptCommand('readScores');

/** What a score event is for. */
export const SCORE_KINDS = ['reward', 'answer', 'gift', 'adjust'] as const;
/** One of SCORE_KINDS. */
export type ScoreKind = (typeof SCORE_KINDS)[number];

/** The two seat sides of a seat PK round. */
export const SEAT_SIDES = ['left', 'right'] as const;
/** One of SEAT_SIDES. */
export type SeatSide = (typeof SEAT_SIDES)[number];

/** One score event as the award script takes it. */
export interface ScoreEvent {
  lessonId: number;
  /** Idempotency key: the same key again changes nothing and returns the first result. */
  key: string;
  roomId: string;
  /** The interaction session it happened in; seat totals and PK rounds are then the session's, else the room's. */
  sessionId: string | null;
  /** Exactly one of a student and an org node gets the points. */
  uid: number | null;
  nodeId: string | null;
  seatId: string | null;
  /** Which side of a seat PK round the seat is on. */
  side: SeatSide | null;
  kind: ScoreKind;
  points: number;
  /** A PK round the event must count for: refused (409) when that round is not running. */
  roundId: number | null;
}

/** What an award did (or, for a replayed key, what it first did). */
export interface AwardResult {
  lessonId: number;
  key: string;
  replayed: boolean;
  /** Write-behind version of the event (its ledger row). */
  version: number;
  /** The org node credited (a student's group or preloaded node, or the node awarded), rolled up its path. */
  nodeId: string;
  uid: number | null;
  points: number;
  /** The student's lesson and room totals after the event (null for a node award). */
  userTotal: number | null;
  roomTotal: number | null;
  nodeTotal: number;
  /** The PK round and side the event counted for, with that side's total after it. */
  roundId: number | null;
  side: 'a' | 'b' | null;
  sideTotal: number | null;
  at: number;
}

/** A PK round as stored. */
export interface PkRound {
  lessonId: number;
  scope: string;
  roundId: number;
  kind: 'node' | 'seat';
  a: string;
  b: string;
  roomId: string;
  startAt: number;
  endAt: number;
  /** Running at `now`; else ended (its time ran out, or it was ended early). */
  running: boolean;
  pointsA: number;
  pointsB: number;
}

/** One entry of a board. */
export interface BoardEntry {
  id: string;
  points: number;
  rank: number;
}

/** A board: the top entries and how many there are. */
export interface Board {
  total: number;
  entries: BoardEntry[];
}

/** A student's totals and ranks (0-based; null where it has none). */
export interface StudentScores {
  lessonPoints: number | null;
  lessonRank: number | null;
  roomPoints: number | null;
  roomRank: number | null;
}

/** Bounds of the score scripts. */
export interface ScoreStoreOptions {
  redis: RedisClient;
  keyPrefix: string;
  ttlSeconds: number;
  maxStreamLength: number;
  /** At most one `score:<roomId>` notice per room per this many ms. */
  noticeMs: number;
  durability?: Durability;
}

const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
const numOrNull = (v: unknown): number | null => (v === '' || v === null || v === undefined ? null : Number(str(v)));

/** Runs the score scripts of every lesson on one Redis (or Cluster). */
export class ScoreStore {
  private readonly keys = new Map<number, LessonKeys>();
  private readonly d: Durability;

  constructor(private readonly o: ScoreStoreOptions) {
    this.d = o.durability ?? MEMORY;
  }

  /** Appends one score event and applies it to every live total, atomically. */
  async award(e: ScoreEvent, now: number, by: number): Promise<AwardResult> {
    const lk = this.keysOf(e.lessonId);
    const isUid = e.uid !== null;
    const r = await durably(this.o.redis, this.d, (c) => c[AWARD](
      lk.head, lk.scoreIdem, lk.stateVersion, lk.writeBehind,
      e.key, e.roomId, e.sessionId ?? '', isUid ? 'u' : 'n', isUid ? String(e.uid) : e.nodeId!, e.seatId ?? '', e.side ?? '',
      e.kind, e.points, now, by, e.roundId === null ? '' : String(e.roundId), this.o.maxStreamLength, this.o.ttlSeconds, this.o.noticeMs, lk.channel, currentTraceStamp(),
    ));
    if (Number(r[0]) !== SCORE_CODES.OK) {
      throw replyError('award', r, {
        lessonId: e.lessonId, uid: e.uid ?? undefined, roomId: e.roomId, nodeId: e.nodeId ?? undefined,
        scope: scopeOf(e.roomId, e.sessionId), roundId: e.roundId === null ? undefined : String(e.roundId),
      });
    }
    // version|nodeId|userTotal|nodeTotal|roundId|side|sideTotal|roomTotal|at
    const f = str(r[2]).split('|');
    return {
      lessonId: e.lessonId,
      key: e.key,
      replayed: Number(r[1]) === 1,
      version: Number(f[0]),
      nodeId: f[1]!,
      uid: e.uid,
      points: e.points,
      userTotal: numOrNull(f[2]),
      roomTotal: numOrNull(f[7]),
      nodeTotal: Number(f[3]),
      roundId: numOrNull(f[4]),
      side: f[5] === 'a' || f[5] === 'b' ? f[5] : null,
      sideTotal: numOrNull(f[6]),
      at: Number(f[8]),
    };
  }

  /** Starts a PK round in a scope; refused while another runs there. */
  async startPk(
    p: { lessonId: number; roomId: string; sessionId: string | null; kind: 'node' | 'seat'; a: string; b: string; durationMs: number },
    now: number,
    by: number,
  ): Promise<PkRound> {
    const lk = this.keysOf(p.lessonId);
    const scope = scopeOf(p.roomId, p.sessionId);
    const r = await durably(this.o.redis, this.d, (c) =>
      c[PK_START](lk.head, lk.stateVersion, lk.writeBehind, scope, p.roomId, p.kind, p.a, p.b, now, p.durationMs, by, this.o.maxStreamLength, this.o.ttlSeconds, lk.channel, currentTraceStamp()),
    );
    if (Number(r[0]) !== SCORE_CODES.OK) {
      const nodeId = Number(r[0]) === SCORE_CODES.NODE_NOT_FOUND || Number(r[0]) === SCORE_CODES.NODE_NOT_IN_ROOM ? str(r[1]) : `${p.a} / ${p.b}`;
      throw replyError('pkStart', r, { lessonId: p.lessonId, roomId: p.roomId, nodeId, scope });
    }
    return {
      lessonId: p.lessonId, scope, roundId: Number(r[1]), kind: p.kind, a: p.a, b: p.b, roomId: p.roomId,
      startAt: Number(r[2]), endAt: Number(r[3]), running: true, pointsA: 0, pointsB: 0,
    };
  }

  /** Ends a scope's running round now; returns it with its final totals. */
  async endPk(lessonId: number, scope: string, roundId: number, now: number, by: number): Promise<PkRound> {
    const lk = this.keysOf(lessonId);
    const r = await durably(this.o.redis, this.d, (c) =>
      c[PK_END](lk.scorePk(scope), lk.stateVersion, lk.writeBehind, String(roundId), now, this.o.maxStreamLength, this.o.ttlSeconds, lk.channel, scope, by, currentTraceStamp()),
    );
    if (Number(r[0]) !== SCORE_CODES.OK) throw replyError('pkEnd', r, { lessonId, scope, roundId: String(roundId) });
    // a, b, pa, pb, start, end, kind, room, version
    return {
      lessonId, scope, roundId, a: str(r[1]), b: str(r[2]), pointsA: Number(r[3]), pointsB: Number(r[4]),
      startAt: Number(r[5]), endAt: Number(r[6]), kind: str(r[7]) as 'node' | 'seat', roomId: str(r[8]), running: false,
    };
  }

  /** A scope's current (or last) PK round. */
  async readPk(lessonId: number, scope: string, now: number): Promise<PkRound> {
    const r = await this.read(lessonId, 'pk', scope, 0, { scope });
    // id, kind, a, b, room, start, end, status, pa, pb
    const endAt = Number(r[7]);
    return {
      lessonId, scope, roundId: Number(r[1]), kind: str(r[2]) as 'node' | 'seat', a: str(r[3]), b: str(r[4]), roomId: str(r[5]),
      startAt: Number(r[6]), endAt, running: str(r[8]) === 'run' && now >= Number(r[6]) && now < endAt, pointsA: Number(r[9]), pointsB: Number(r[10]),
    };
  }

  /** The top `n` students of a room (roomId) or of the whole lesson (null). */
  async readUserBoard(lessonId: number, roomId: string | null, n: number): Promise<Board> {
    const r = await this.read(lessonId, roomId === null ? 'lesson' : 'room', roomId ?? '', n, { roomId: roomId ?? undefined });
    return board(r, 1);
  }

  /** An org node's rolled-up total and the top `n` of its children (one level of the tree). */
  async readNodeBoard(lessonId: number, nodeId: string, n: number): Promise<{ points: number; children: Board }> {
    const r = await this.read(lessonId, 'node', nodeId, n, { nodeId });
    return { points: Number(numOrNull(r[1]) ?? 0), children: board(r, 2) };
  }

  /** A student's lesson total and rank, and its room's when `roomId` is given. */
  async readStudent(lessonId: number, uid: number, roomId: string | null): Promise<StudentScores> {
    const r = await this.read(lessonId, 'student', roomId ?? '', uid, { uid, roomId: roomId ?? undefined });
    return { lessonPoints: numOrNull(r[1]), lessonRank: numOrNull(r[2]), roomPoints: numOrNull(r[3]), roomRank: numOrNull(r[4]) };
  }

  private async read(lessonId: number, what: 'room' | 'lesson' | 'node' | 'student' | 'pk', id: string, n: number, ctx: { uid?: number; roomId?: string; nodeId?: string; scope?: string }) {
    const lk = this.keysOf(lessonId);
    const r = await this.o.redis[READ_SCORES](lk.head, what, id, n);
    if (Number(r[0]) !== SCORE_CODES.OK) throw replyError('readScores', r, { lessonId, ...ctx });
    return r;
  }

  private keysOf(lessonId: number): LessonKeys {
    let k = this.keys.get(lessonId);
    if (!k) {
      k = lessonKeys(this.o.keyPrefix, lessonId);
      if (this.keys.size >= 10_000) this.keys.clear();
      this.keys.set(lessonId, k);
    }
    return k;
  }
}

/** A board from a reply whose count is at `at` and whose (id, points) pairs follow it. */
function board(r: ReadonlyArray<unknown>, at: number): Board {
  const entries: BoardEntry[] = [];
  for (let i = at + 1; i + 1 < r.length; i += 2) entries.push({ id: str(r[i]), points: Number(str(r[i + 1])), rank: entries.length });
  return { total: Number(r[at]), entries };
}

/** Every live score total of a lesson, read in one MULTI (one consistent moment), and the version counter then. */
export interface ScoreSnapshot extends ScoreTotals {
  /** st:ver at the snapshot: every event with a version up to it is in these totals. */
  version: number;
}

const pairs = (flat: string[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, Number(flat[i + 1]));
  return m;
};

/**
 * Reads every live total of a lesson at one moment. `roomIds` and `parentIds`
 * name the room boards and level boards to read (reconcile passes the rooms of
 * the lesson and every node), since their keys are not listed anywhere.
 */
export async function readScoreSnapshot(redis: RedisClient, prefix: string, lessonId: number, roomIds: readonly string[], parentIds: readonly string[]): Promise<ScoreSnapshot> {
  const lk = lessonKeys(prefix, lessonId);
  const scopes = await redis.smembers(lk.scoreScopes);
  const m = redis.multi();
  m.get(lk.stateVersion);
  m.zrange(lk.scoreUsers, 0, -1, 'WITHSCORES');
  m.hgetall(lk.scoreNodes);
  for (const r of roomIds) m.zrange(lk.scoreRoom(r), 0, -1, 'WITHSCORES');
  for (const p of parentIds) m.zrange(lk.scoreChildren(p), 0, -1, 'WITHSCORES');
  for (const s of scopes) {
    m.hgetall(lk.scoreSeats(s));
    m.hmget(lk.scorePk(s), 'id', 'pa', 'pb');
  }
  const res = await m.exec();
  if (!res) throw new Error('score snapshot: MULTI aborted');
  const out = res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
  let i = 0;
  const snap: ScoreSnapshot = {
    version: Number(out[i++] ?? 0),
    users: pairs(out[i++] as string[]),
    nodes: new Map(Object.entries(out[i++] as Record<string, string>).map(([k, v]) => [k, Number(v)])),
    rooms: new Map(),
    children: new Map(),
    seats: new Map(),
    pk: new Map(),
  };
  for (const r of roomIds) snap.rooms.set(r, pairs(out[i++] as string[]));
  for (const p of parentIds) snap.children.set(p, pairs(out[i++] as string[]));
  for (const s of scopes) {
    snap.seats.set(s, new Map(Object.entries(out[i++] as Record<string, string>).map(([k, v]) => [k, Number(v)])));
    const h = out[i++] as Array<string | null>;
    if (h[0]) snap.pk.set(s, { roundId: Number(h[0]), pa: Number(h[1] ?? 0), pb: Number(h[2] ?? 0) });
  }
  return snap;
}

/** One increment that moves a live total by `delta` (reconcile's repair): `of` is the room, parent node or scope ('' for users and nodes); a PK side's member is pa or pb. */
export interface ScoreFix {
  what: TotalKind;
  of: string;
  member: string;
  delta: number;
}

/**
 * Applies increments in chunks of one MULTI each, then publishes `score:<roomId>`
 * so gateways drop cached score reads. Increments, not values: an award landing
 * meanwhile keeps its effect.
 */
export async function applyScoreFixes(redis: RedisClient, prefix: string, lessonId: number, fixes: readonly ScoreFix[], ttlSeconds: number, roomId: string): Promise<number> {
  const lk = lessonKeys(prefix, lessonId);
  for (let i = 0; i < fixes.length; i += 500) {
    const m = redis.multi();
    for (const f of fixes.slice(i, i + 500)) {
      switch (f.what) {
        case 'user':
          m.zincrby(lk.scoreUsers, f.delta, f.member).expire(lk.scoreUsers, ttlSeconds);
          break;
        case 'room':
          m.zincrby(lk.scoreRoom(f.of), f.delta, f.member).expire(lk.scoreRoom(f.of), ttlSeconds);
          break;
        case 'node':
          m.hincrby(lk.scoreNodes, f.member, f.delta).expire(lk.scoreNodes, ttlSeconds);
          break;
        case 'child':
          m.zincrby(lk.scoreChildren(f.of), f.delta, f.member).expire(lk.scoreChildren(f.of), ttlSeconds);
          break;
        case 'seat':
          m.hincrby(lk.scoreSeats(f.of), f.member, f.delta).expire(lk.scoreSeats(f.of), ttlSeconds);
          m.sadd(lk.scoreScopes, f.of).expire(lk.scoreScopes, ttlSeconds);
          break;
        case 'pk':
          m.hincrby(lk.scorePk(f.of), f.member, f.delta);
          break;
      }
    }
    const res = await m.exec();
    for (const [err] of res ?? []) if (err) throw err;
  }
  await redis.spublish(lk.channel, formatChannelMessage({ kind: 'score', roomId }));
  return fixes.length;
}
