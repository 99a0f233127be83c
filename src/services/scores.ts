// Scores: the ledger of score events with live totals rolled up the org tree,
// leaderboards and PK rounds. Every write is one Lua script on the lesson's slot
// (store/redis/scoreStore.ts): the event's ledger record (write-behind) and its
// effect on every total, atomically, idempotent by the event's key; a refused
// write writes nothing. Transports call these methods with a caller and an
// input from scoreInputs.ts's parsers; this service authorises
// (auth/access.ts), registers the lesson for the flusher, counts and caches.
//
// Reads (boards, node totals, a student's ranks, a PK round) are one Redis
// round trip on a miss and none when warm. Awards come too often to announce
// each one: the first award in a room within ORGENGINE_SCORE_NOTICE_MS
// publishes `score:<roomId>` on the lesson channel (as do PK starts and ends
// and repairs), and each notice retires the lesson's cached score reads at once
// and again one interval later, so an award of the interval is seen within
// about one interval. ORGENGINE_SCORE_CACHE_TTL_MS is the backstop for a lost notice.
import type { Counter, Registry } from 'prom-client';
import { authorizeAward, authorizeLessonRead, authorizePk, authorizeStudentRead } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import type { ScoresConfig, WriteBehindConfig } from '../config.js';
import { backendError } from '../errors.js';
import { GenCache, SingleFlight } from '../localcache/genCache.js';
import { counter, registerMetrics } from '../metrics.js';
import { scopeOf } from '../model/scores.js';
import type { ChannelMessage } from '../store/redis/channel.js';
import type { RedisClient } from '../store/redis/client.js';
import { durabilityOf } from '../store/redis/durability.js';
import { writeBehindRegistryKey } from '../store/redis/keys.js';
import type { LessonChannels } from '../store/redis/lessonChannels.js';
import { ScoreStore, type AwardResult, type Board, type PkRound, type ScoreEvent, type StudentScores } from '../store/redis/scoreStore.js';
import { LessonRegistry } from '../writebehind/registry.js';
import { registeredWrite } from './registeredWrite.js';
import type { PkEndInput, PkScopeInput, PkStartInput } from './scoreInputs.js';

export type { AwardResult, PkRound };

/** A students' board: a room's (roomId) or the whole lesson's (roomId null). */
export interface UserBoardView {
  lessonId: number;
  roomId: string | null;
  total: number;
  entries: Array<{ uid: number; points: number; rank: number }>;
}

/** An org node's rolled-up total and the board of its children (one level of the tree). */
export interface NodeScoresView {
  lessonId: number;
  nodeId: string;
  points: number;
  total: number;
  children: Array<{ nodeId: string; points: number; rank: number }>;
}

/** A student's totals and ranks (rank 0 is first; null where it has none). */
export interface StudentScoresView extends StudentScores {
  lessonId: number;
  uid: number;
  roomId: string | null;
}

/** A PK round with its result: the winner once it is over ('a', 'b' or 'tie'; null while it runs). */
export interface PkRoundView extends PkRound {
  sessionId: string | null;
  winner: 'a' | 'b' | 'tie' | null;
  winnerSide: string | null;
}

/** What the score service needs. */
export interface ScoreServiceOptions {
  redis: RedisClient;
  keyPrefix: string;
  ttlSeconds: number;
  scores: ScoresConfig;
  wb: Pick<WriteBehindConfig, 'maxStreamLength' | 'registerEverySeconds'> & Partial<Pick<WriteBehindConfig, 'durability' | 'durabilityReplicas' | 'durabilityTimeoutMs'>>;
  /** The lesson channels that invalidate cached score reads; without them nothing is cached. */
  channels?: LessonChannels | null;
  /** Lessons whose score reads are cached (and channels held) at once; past it the first used goes (default 20,000). */
  maxLessons?: number;
  registry?: LessonRegistry;
  now?: () => number;
  metrics?: Registry;
}

/** Score events, totals, boards and PK rounds of every lesson, for one Redis (or Cluster). */
export class ScoreService {
  readonly store: ScoreStore;
  /** The configured bounds (points range, board sizes, PK duration) the input parsers apply. */
  readonly bounds: ScoresConfig;
  /** The flusher's registry: a lesson is registered before its first write (and again when due). */
  private readonly registries: readonly LessonRegistry[];
  private readonly now: () => number;
  private readonly counter: Counter | null;
  private readonly cache: GenCache<object>;
  private readonly flights = new SingleFlight<object>();
  /** Per lesson: the generation cached reads must carry (moved by `score:` messages). */
  private readonly gens = new Map<number, number>();
  private gen = 0;
  /** Lessons whose trailing retirement (one notice interval after a notice) is scheduled. */
  private readonly trailing = new Map<number, NodeJS.Timeout>();
  private readonly unlisten: (() => void) | null;
  /** Score reads answered from the local cache, and loaded from Redis. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(private readonly o: ScoreServiceOptions) {
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1) throw new RangeError('ScoreService: ttlSeconds must be a positive integer');
    this.now = o.now ?? Date.now;
    this.bounds = o.scores;
    this.store = new ScoreStore({
      redis: o.redis,
      keyPrefix: o.keyPrefix,
      ttlSeconds: o.ttlSeconds,
      maxStreamLength: o.wb.maxStreamLength,
      noticeMs: o.scores.noticeMs,
      durability: durabilityOf(o.wb),
    });
    this.registries = [o.registry ?? new LessonRegistry(o.redis, writeBehindRegistryKey(o.keyPrefix), o.wb.registerEverySeconds * 1000, this.now)];
    this.counter = o.metrics
      ? registerMetrics(o.metrics, { scores: counter({ name: 'orgengine_score_ops_total', help: 'score writes by operation and outcome (ok, replayed, error code)', labelNames: ['op', 'outcome'] }) }).scores
      : null;
    const channels = o.channels ?? null;
    // Bounded by entries; the byte bound follows from the largest board one read may ask for.
    const maxEntries = o.scores.cacheMaxEntries;
    this.cache = new GenCache<object>({ maxEntries, maxBytes: maxEntries * entryBytes(o.scores.boardMax), ttlMs: channels ? o.scores.cacheTtlMs : 0, now: this.now });
    this.unlisten =
      channels?.listen({
        onMessage: (lessonId, m) => this.onMessage(lessonId, m),
        // Messages may be lost while the connection is down: a read already in flight
        // must not be cached either, so every lesson's generation moves on.
        onDown: () => this.retireAll(),
      }) ?? null;
  }

  /** Stops listening to the lesson channels (the connection belongs to the caller). */
  close(): void {
    this.unlisten?.();
    for (const t of this.trailing.values()) clearTimeout(t);
    this.trailing.clear();
    for (const id of this.gens.keys()) this.o.channels?.remove(id);
    this.gens.clear();
    this.cache.clear();
  }

  /** Drops every cached score read and outdates every read in flight. */
  private retireAll(): void {
    for (const id of this.gens.keys()) this.gens.set(id, ++this.gen);
    this.cache.clear();
  }

  /** Applies one channel message (exposed for tests). */
  onMessage(lessonId: number, m: ChannelMessage): void {
    if (!this.gens.has(lessonId)) return;
    if (m.kind === 'version' || m.kind === 'lesson') this.gens.set(lessonId, ++this.gen);
    if (m.kind !== 'score') return;
    this.gens.set(lessonId, ++this.gen);
    // Awards later in the notice interval announce nothing: retire once more when it is over.
    // The interval runs from the newest notice, so an earlier notice's timer is replaced (it
    // would fire inside the new interval and miss the awards that come after it).
    const pending = this.trailing.get(lessonId);
    if (pending !== undefined) clearTimeout(pending);
    const t = setTimeout(() => {
      this.trailing.delete(lessonId);
      if (this.gens.has(lessonId)) this.gens.set(lessonId, ++this.gen);
    }, this.o.scores.noticeMs);
    t.unref();
    this.trailing.set(lessonId, t);
  }

  /** Appends a score event to the ledger and applies it to every live total (teachers, tutors, services). */
  async award(caller: Caller, e: ScoreEvent): Promise<AwardResult> {
    authorizeAward(caller, e.lessonId);
    const r = await this.write('award', e.lessonId, () => this.store.award(e, this.now(), caller.uid));
    if (r.replayed) this.counter?.inc({ op: 'award', outcome: 'replayed' });
    return r;
  }

  /** Starts a PK round in a session or room (one at a time per scope). */
  async startPk(caller: Caller, p: PkStartInput): Promise<PkRoundView> {
    authorizePk(caller, p.lessonId);
    const r = await this.write('pk_start', p.lessonId, () => this.store.startPk(p, this.now(), caller.uid));
    return view(r, p.sessionId);
  }

  /** Ends a running PK round now, with its result. */
  async endPk(caller: Caller, p: PkEndInput): Promise<PkRoundView> {
    authorizePk(caller, p.lessonId);
    const r = await this.write('pk_end', p.lessonId, () => this.store.endPk(p.lessonId, scopeOf(p.roomId, p.sessionId), p.roundId, this.now(), caller.uid));
    return view(r, p.sessionId);
  }

  /** A scope's current (or last) PK round: running with its totals so far, or over with its result. Any role of the lesson. */
  pk(caller: Caller, p: PkScopeInput): PkRoundView | Promise<PkRoundView> {
    authorizeLessonRead(caller, p.lessonId);
    const scope = scopeOf(p.roomId, p.sessionId);
    // Cached only briefly as well: whether it runs depends on the clock.
    return this.cached(p.lessonId, `pk:${scope}`, async () => view(await this.store.readPk(p.lessonId, scope, this.now()), p.sessionId));
  }

  /** The top students of a room (roomId) or of the whole lesson (null). Any role of the lesson. */
  userBoard(caller: Caller, lessonId: number, roomId: string | null, limit: number): UserBoardView | Promise<UserBoardView> {
    authorizeLessonRead(caller, lessonId);
    return this.cached(lessonId, `u:${roomId ?? ''}:${limit}`, async () => {
      const b: Board = await this.store.readUserBoard(lessonId, roomId, limit);
      return { lessonId, roomId, total: b.total, entries: b.entries.map((e) => ({ uid: Number(e.id), points: e.points, rank: e.rank })) };
    });
  }

  /** An org node's rolled-up total and the top of its children (groups of a team, teams of a tutor). Any role of the lesson. */
  nodeScores(caller: Caller, lessonId: number, nodeId: string, limit: number): NodeScoresView | Promise<NodeScoresView> {
    authorizeLessonRead(caller, lessonId);
    return this.cached(lessonId, `n:${nodeId}:${limit}`, async () => {
      const r = await this.store.readNodeBoard(lessonId, nodeId, limit);
      return { lessonId, nodeId, points: r.points, total: r.children.total, children: r.children.entries.map((e) => ({ nodeId: e.id, points: e.points, rank: e.rank })) };
    });
  }

  /** A student's totals and ranks in the lesson (and a room); a student reads only its own. */
  student(caller: Caller, lessonId: number, uid: number, roomId: string | null): StudentScoresView | Promise<StudentScoresView> {
    authorizeStudentRead(caller, lessonId, uid);
    return this.cached(lessonId, `s:${uid}:${roomId ?? ''}`, async () => ({ lessonId, uid, roomId, ...(await this.store.readStudent(lessonId, uid, roomId)) }));
  }

  /** Cached read: warm from the local cache, else one Redis round trip shared by concurrent misses. */
  private cached<T extends object>(lessonId: number, what: string, load: () => Promise<T>): T | Promise<T> {
    let gen = this.gens.get(lessonId);
    if (gen === undefined) {
      gen = ++this.gen;
      this.gens.set(lessonId, gen);
      this.o.channels?.add(lessonId);
      if (this.gens.size > (this.o.maxLessons ?? 20_000)) {
        // Map order is first use: the oldest lesson gives its subscription back (its entries just stop matching).
        const oldest = this.gens.keys().next().value as number;
        this.gens.delete(oldest);
        this.o.channels?.remove(oldest);
      }
    }
    const key = `${lessonId}:${what}`;
    const hit = this.cache.get(key, gen) as T | undefined;
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const subscribed = this.o.channels?.isSubscribed(lessonId) ?? false;
    return this.flights.run(key, async () => {
      try {
        const v = await load();
        // Cached only when the lesson's notices flowed the whole time: subscribed before and after, no notice or loss meanwhile.
        if (subscribed && this.gens.get(lessonId) === gen && this.o.channels?.isSubscribed(lessonId)) this.cache.set(key, v, gen, entryBytes(boardSize(v)));
        return v;
      } catch (e) {
        throw backendError(e);
      }
    }) as Promise<T>;
  }

  /** Registers the lesson for the flusher if due, runs the write, counts the outcome; failures go through backendError. */
  private write<T>(op: string, lessonId: number, call: () => Promise<T>): Promise<T> {
    return registeredWrite(this.registries, this.counter, op, lessonId, call);
  }
}

/** Estimated bytes of a cached score read with `n` board entries. */
const entryBytes = (n: number): number => 256 + 64 * n;

/** Board entries a cached read holds (0 for a student's scores or a round). */
function boardSize(v: object): number {
  const x = v as { entries?: unknown[]; children?: unknown[] };
  return x.entries?.length ?? x.children?.length ?? 0;
}

/** A round as answered, with its winner once it is over. */
function view(r: PkRound, sessionId: string | null): PkRoundView {
  const winner = r.running ? null : r.pointsA > r.pointsB ? 'a' : r.pointsB > r.pointsA ? 'b' : 'tie';
  return { ...r, sessionId, winner, winnerSide: winner === 'a' ? r.a : winner === 'b' ? r.b : null };
}
