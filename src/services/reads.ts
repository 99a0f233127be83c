// The read service behind HTTP and gRPC: lesson, room, org node, position,
// members, online counts and enter. Each read authorises its caller first
// (auth/access.ts), so every transport applies the same rules. Every miss is
// one Redis round trip; a warm read is none. Cached entries are stamped with
// their lesson's generation, which moves whenever the lesson's shard channel
// announces a change, so one message retires every affected entry without a
// scan. No request waits on the TTL: an entry read past its soft TTL is served
// while one background load (single-flight per key, a bounded number per
// worker) replaces it; only an entry past the hard TTL, or retired by a
// message, makes a request wait. The soft TTL plus one round trip bounds
// staleness if a message is ever lost (the hard TTL when the refresh budget is
// spent), and a lost subscriber connection retires everything.
// The channel connection is the gateway's one LessonChannels, shared with the
// signal cache; signal messages are not entity changes and are ignored here.
import { authorizeLessonRead, authorizeStudentRead, enterUid } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import { backendError, OrgError, isOrgError } from '../errors.js';
import { GenCache, SingleFlight, type CacheEntry, type CacheStats } from '../localcache/genCache.js';
import { enterJson, notesOf, preEncodedJson, withJson } from '../model/preEncoded.js';
import type { NodeKind, OrgNode, Room, RoomSlot } from '../model/topology.js';
import type { ChannelMessage } from '../store/redis/channel.js';
import type { RedisClient } from '../store/redis/client.js';
import { readEnter, readEnterShared, readMembersPage, readNodeView, readOnline, type EnterSharedRead, type MemberRead, type NodeRead } from '../store/redis/edgeReads.js';
import { lessonKeys, type LessonKeys } from '../store/redis/keys.js';
import { readLesson, readPosition, readRoom, type StoredLesson } from '../store/redis/lessonReader.js';
import type { LessonChannels } from '../store/redis/lessonChannels.js';
import type { ApiConfig } from '../config.js';

/** The lesson as served: the stored record without storage details (not model/source.ts's LessonInfo, the source system's lesson). */
export type ServedLesson = Omit<StoredLesson, 'posBuckets'>;

/** GET lesson: the lesson and all its rooms. */
export interface LessonView {
  lesson: ServedLesson;
  rooms: Room[];
}

/** The source-system entity an org node stands for (itself, or its nearest ancestor that has one). */
export interface NodeSource {
  nodeId: string;
  kind: NodeKind;
  sourceId: string;
  /** Which business system provides the entity. */
  system: 'sales' | 'tutoring' | 'supervision';
}

/** GET node: the node and, on request, its children, parent and source node. */
export interface NodeView {
  node: OrgNode;
  children: OrgNode[];
  parent: OrgNode | null;
  source: NodeSource | null;
}

/** GET position. */
export interface PositionView {
  lessonId: number;
  uid: number;
  nodeId: string;
  rooms: RoomSlot[];
}

/** GET members: one page, and the cursor of the next (null at the end). */
export interface MembersPage {
  lessonId: number;
  roomId: string;
  members: MemberRead[];
  nextCursor: string | null;
}

/** GET online. */
export interface OnlineView {
  lessonId: number;
  roomId: string;
  online: number;
  windowMs: number;
  /** Online members per member partition (sums to `online`). */
  partitions: number[];
}

/** One room of a student, with the member partition that holds it. */
export interface EnterRoom {
  room: Room;
  partition: number;
}

/** Everything a client needs to join a room. */
export interface EnterView {
  lessonId: number;
  uid: number;
  version: number;
  /** The room entered. */
  roomId: string;
  lesson: ServedLesson;
  rooms: EnterRoom[];
  /** The org node the preload placed the student at (with its path). */
  node: OrgNode | null;
  /** The group the student picked in class, if any. */
  group: OrgNode | null;
  muted: boolean;
  /** 'self' when the student itself is muted, else the muted org node on its path. */
  mutedBy: string | null;
  signedInAt: number | null;
}

/** Options of a node read. */
export interface NodeReadOptions {
  children: boolean;
  parent: boolean;
  source: boolean;
}

/** Where a members page starts. */
export interface MembersQuery {
  /** Restrict the page to one partition (null: continue across partitions). */
  partition: number | null;
  cursor: { partition: number; order: number } | null;
  limit: number;
}

/** Bounds and switches of the read service. */
export type ReadServiceOptions = Pick<ApiConfig, 'cacheTtlMs' | 'cacheMaxEntries' | 'cacheMaxBytes' | 'cacheMaxLessons' | 'onlineCacheMs' | 'onlineWindowMs'> &
  Partial<Pick<ApiConfig, 'cacheSoftTtlMs' | 'cacheRefreshMaxInFlight'>> & {
  keyPrefix: string;
  now?: () => number;
};

/** What the cache is asked for, for hit/miss accounting. */
export const CACHE_KINDS = ['lesson', 'room', 'node', 'position', 'members', 'online', 'enter'] as const;
/** One of CACHE_KINDS. */
export type CacheKind = (typeof CACHE_KINDS)[number];

/** Counters the metrics module reads. */
export interface ReadStats {
  hits: Record<CacheKind, number>;
  misses: Record<CacheKind, number>;
  /** Channel messages by kind (signal messages are not invalidations), and connection resets. */
  invalidations: Record<Exclude<ChannelMessage['kind'], 'signal' | 'broadcast' | 'revoke' | 'score' | 'interaction'> | 'reset', number>;
  /** Background refreshes of entries past their soft TTL: started, failed, not started because the budget was spent, and those that found the entry unchanged (the cache's renewals). */
  refreshes: { started: number; failed: number; skipped: number; readonly unchanged: number };
  /** Loads of a lesson's shared enter part, and those that failed. */
  sharedLoads: number;
  sharedFailures: number;
  cache: CacheStats;
}

/** What the cache keeps per lesson to know whether its entries may be served. */
interface LessonCacheState {
  lessonId: number;
  lk: LessonKeys;
  /** Generation entries of this lesson must carry to be served. */
  gen: number;
  /** Bumped by every per-student state message; a load that saw one in flight is not stored. */
  stateSeq: number;
  /** The shard channel subscription is confirmed on the current connection: messages will arrive. */
  ready: boolean;
  /** Its subscription was lost and is not confirmed again yet: held entries retire on confirmation. */
  lost: boolean;
  /** A lesson-level error (not ready / not found) remembered for this generation. */
  error: OrgError | null;
  errorGen: number;
  errorAt: number;
  /** A version whose lesson-level part is over the shared bound (not loaded again). */
  sharedTooBig: number;
}

type Cached = object;

const SYSTEM_OF: Partial<Record<NodeKind, NodeSource['system']>> = {
  lesson: 'sales',
  tutor: 'tutoring',
  class: 'tutoring',
  lpc: 'supervision',
  wechatGroup: 'supervision',
};

/** Rough bytes of a decoded object per byte of its msgpack form (for cache accounting). */
const DECODED_FACTOR = 4;

function servedLesson(l: StoredLesson): ServedLesson {
  return {
    lessonId: l.lessonId,
    courseId: l.courseId,
    title: l.title,
    teacherUid: l.teacherUid,
    startTime: l.startTime,
    endTime: l.endTime,
    policyId: l.policyId,
    bizType: l.bizType,
    streamPolicy: l.streamPolicy,
    orgPolicy: l.orgPolicy,
    preloadMode: l.preloadMode,
    partitionSize: l.partitionSize,
    studentCount: l.studentCount,
    roomCount: l.roomCount,
    nodeCount: l.nodeCount,
    version: l.version,
  };
}

/** The node's own source entity, or its nearest ancestor's. */
export function sourceOf(node: OrgNode, ancestors: readonly OrgNode[]): NodeSource | null {
  for (let i = ancestors.length; i >= 0; i--) {
    const n = i === ancestors.length ? node : ancestors[i]!;
    const system = SYSTEM_OF[n.kind];
    if (n.sourceId !== null && system) return { nodeId: n.nodeId, kind: n.kind, sourceId: n.sourceId, system };
  }
  return null;
}

/** A node read with its composed views, one per combination of options. */
interface NodeEntry {
  read: NodeRead;
  views: Array<NodeView | undefined>;
}

/**
 * The lesson-level part of enter for one lesson version and change sequence:
 * the same for every student, so held once per lesson and checked against
 * Redis by every cold enter that uses it.
 */
type SharedPart = Omit<EnterSharedRead, 'lesson' | 'bytes'> & { lesson: ServedLesson };

/** Unused shared parts are let go after this long (they are never served stale: every use is checked). */
const SHARED_TTL_MS = 10 * 60_000;

/** Estimated decoded bytes per room or node of a shared part, to refuse one over the bound before loading it. */
const SHARED_BYTES_PER_ITEM = 1024;

/** Enter views of one student, by room asked for ('' = default room). */
interface EnterEntry {
  views: Map<string, EnterView>;
}

/** The one view `e` holds (under one or two room keys), or undefined when it holds none or several. */
function onlyView(e: EnterEntry | undefined): EnterView | undefined {
  if (e === undefined) return undefined;
  let held: EnterView | undefined;
  for (const v of e.views.values()) {
    if (held === undefined) held = v;
    else if (v !== held) return undefined;
  }
  return held;
}

let genCounter = 0;
const nextGen = (): number => ++genCounter;

/** Serves reads from the local cache or one Redis round trip. */
export class ReadService {
  private readonly cache: GenCache<Cached>;
  /** Lesson-level parts of enter (`S:<lessonId>`), checked against Redis on every use, so no generation applies. */
  private readonly shared: GenCache<SharedPart>;
  private readonly sharedMaxBytes: number;
  private readonly lessons: Map<number, LessonCacheState> = new Map();
  /** The lesson last in `lessons` (most recently used), so a repeat use skips the re-insert. */
  private mru: LessonCacheState | null = null;
  private readonly flights = new SingleFlight<unknown>();
  /** Background refreshes running now, and their bound. */
  private refreshing = 0;
  private readonly refreshMax: number;
  private readonly now: () => number;
  private readonly opts: ReadServiceOptions;
  readonly stats: ReadStats;
  private unlisten: (() => void) | null;

  constructor(
    private readonly redis: RedisClient,
    private readonly channels: LessonChannels | null,
    options: ReadServiceOptions,
  ) {
    this.opts = { ...options };
    if (!Number.isInteger(this.opts.cacheMaxLessons) || this.opts.cacheMaxLessons < 1) {
      throw new RangeError(`cacheMaxLessons must be a positive integer, got ${this.opts.cacheMaxLessons}`);
    }
    this.now = options.now ?? Date.now;
    // Without a subscription nothing could invalidate entries, so nothing is cached.
    const ttl = channels ? this.opts.cacheTtlMs : 0;
    // Up to a quarter off each entry's soft TTL: a class that entered together must not refresh together.
    this.cache = new GenCache<Cached>({
      maxEntries: this.opts.cacheMaxEntries,
      maxBytes: this.opts.cacheMaxBytes,
      ttlMs: ttl,
      softTtlMs: ttl === 0 ? 0 : Math.min(this.opts.cacheSoftTtlMs ?? ttl, ttl),
      ttlJitter: 0.25,
      now: this.now,
    });
    this.refreshMax = this.opts.cacheRefreshMaxInFlight ?? 64;
    // A quarter of the cache's byte bound holds shared parts, one per lesson at most. They
    // are held even with the entity cache off: every use is checked against Redis.
    this.sharedMaxBytes = Math.floor(this.opts.cacheMaxBytes / 4);
    this.shared = new GenCache<SharedPart>({ maxEntries: this.opts.cacheMaxLessons, maxBytes: Math.max(1, this.sharedMaxBytes), ttlMs: SHARED_TTL_MS, now: this.now });
    if (!Number.isInteger(this.refreshMax) || this.refreshMax < 0) throw new RangeError(`cacheRefreshMaxInFlight must be an integer >= 0, got ${this.refreshMax}`);
    const zero = () => Object.fromEntries(CACHE_KINDS.map((k) => [k, 0])) as Record<CacheKind, number>;
    const cacheStats = this.cache.stats;
    this.stats = {
      hits: zero(),
      misses: zero(),
      invalidations: { version: 0, state: 0, pos: 0, node: 0, mute: 0, room: 0, lesson: 0, reset: 0 },
      refreshes: {
        started: 0,
        failed: 0,
        skipped: 0,
        get unchanged() {
          return cacheStats.renewals;
        },
      },
      sharedLoads: 0,
      sharedFailures: 0,
      cache: cacheStats,
    };
    this.unlisten =
      channels?.listen({
        onMessage: (lessonId, m) => this.onMessage(lessonId, m),
        onSubscribed: (lessonId) => {
          const st = this.lessons.get(lessonId);
          if (!st) return;
          st.ready = true;
          // Messages may have been missed while away: what was held is retired now.
          if (st.lost) {
            st.lost = false;
            st.gen = nextGen();
          }
        },
        onDown: (_reason, lessons) => this.onReset(lessons),
      }) ?? null;
  }

  /** Stops listening and releases every lesson's subscription (the connection belongs to the caller). */
  close(): void {
    this.unlisten?.();
    this.unlisten = null;
    for (const id of this.lessons.keys()) this.channels?.remove(id);
    this.lessons.clear();
    this.mru = null;
  }

  /** Entries and estimated bytes held, and lessons tracked. */
  cacheSize(): { entries: number; bytes: number; lessons: number } {
    return { entries: this.cache.size, bytes: this.cache.bytes, lessons: this.lessons.size };
  }

  // ---- invalidation ----

  /** Applies one channel message (exposed for tests). */
  onMessage(lessonId: number, m: ChannelMessage): void {
    // A room's signal log moved, a broadcast to WebSocket clients, a token revocation, scores, an interaction change: nothing the entity cache holds changed.
    if (m.kind === 'signal' || m.kind === 'broadcast' || m.kind === 'revoke' || m.kind === 'score' || m.kind === 'interaction') return;
    const st = this.lessons.get(lessonId);
    if (!st) return;
    this.stats.invalidations[m.kind]++;
    if (m.kind === 'state') {
      st.stateSeq++;
      this.cache.delete(`E:${lessonId}:${m.uid}`);
    } else if (m.kind === 'pos') {
      // A moved student: only its own position and enter views show the position.
      st.stateSeq++;
      this.cache.delete(`E:${lessonId}:${m.uid}`);
      this.cache.delete(`P:${lessonId}:${m.uid}`);
    } else {
      st.gen = nextGen();
    }
  }

  /**
   * The subscriber lost the connection carrying these lessons (null: all).
   * Nothing new is cached for them until each is confirmed again, and then
   * what they held is retired. Until then entries already held are served up
   * to their TTL, the cache's stated staleness bound for a lost message: a
   * Redis that is away keeps its lessons' warm reads answering.
   */
  private onReset(lessons: number[] | null): void {
    this.stats.invalidations.reset++;
    const mark = (st: LessonCacheState | undefined): void => {
      if (!st) return;
      st.ready = false;
      st.lost = true;
    };
    if (lessons === null) for (const st of this.lessons.values()) mark(st);
    else for (const id of lessons) mark(this.lessons.get(id));
  }

  /** The state of a lesson, created (and subscribed) on first use; evicts the least recent beyond the bound. */
  private lesson(lessonId: number): LessonCacheState {
    let st = this.lessons.get(lessonId);
    if (st) {
      // Map order is insertion order: re-inserting keeps the most recent last
      // (skipped when it is last already: the common case of one busy lesson).
      if (st !== this.mru) {
        this.lessons.delete(lessonId);
        this.lessons.set(lessonId, st);
        this.mru = st;
      }
    } else {
      st = { lessonId, lk: lessonKeys(this.opts.keyPrefix, lessonId), gen: nextGen(), stateSeq: 0, ready: false, lost: false, error: null, errorGen: 0, errorAt: 0, sharedTooBig: 0 };
      this.lessons.set(lessonId, st);
      this.mru = st;
      if (this.channels) {
        this.channels.add(lessonId);
        // Already confirmed when another consumer (the signal cache) holds the lesson.
        st.ready = this.channels.isSubscribed(lessonId);
      }
      if (this.lessons.size > this.opts.cacheMaxLessons) {
        const oldest = this.lessons.values().next().value as LessonCacheState;
        this.lessons.delete(oldest.lessonId);
        if (oldest === this.mru) this.mru = null;
        this.channels?.remove(oldest.lessonId);
      }
    }
    return st;
  }

  /**
   * Runs `load` once per key at a time; stores its result only if nothing was
   * invalidated meanwhile. As a background refresh (`refresh`: an entry past its
   * soft TTL is being served meanwhile) it counts no miss, takes a slot of the
   * refresh budget, and a failure leaves the held entry to its hard TTL.
   */
  private miss<T extends Cached>(
    st: LessonCacheState,
    kind: CacheKind,
    key: string,
    load: () => Promise<{ value: T; bytes: number }>,
    opts: { perStudent?: boolean; ttlMs?: number; store?: (value: T, bytes: number, gen: number) => void } = {},
    refresh = false,
  ): Promise<T> {
    if (refresh) {
      this.stats.refreshes.started++;
      this.refreshing++;
    } else {
      this.stats.misses[kind]++;
      if (st.error && st.errorGen === st.gen && this.now() - st.errorAt < this.cache.softTtlMs) return Promise.reject(st.error);
    }
    const p = this.flights.run(key, async () => {
      const gen = st.gen;
      const seq = st.stateSeq;
      const cacheable = st.ready;
      try {
        const { value, bytes } = await load();
        if (cacheable && st.gen === gen && (!opts.perStudent || st.stateSeq === seq)) {
          if (opts.store) opts.store(value, bytes, gen);
          else this.cache.set(key, value, gen, bytes, opts.ttlMs);
        }
        return value;
      } catch (e) {
        if (cacheable && st.gen === gen && (isOrgError(e, 'LESSON_NOT_READY') || isOrgError(e, 'LESSON_NOT_FOUND'))) {
          st.error = e as OrgError;
          st.errorGen = gen;
          st.errorAt = this.now();
        }
        throw backendError(e);
      }
    }) as Promise<T>;
    if (refresh) {
      p.then(
        () => this.refreshing--,
        () => {
          this.refreshing--;
          this.stats.refreshes.failed++;
        },
      );
    }
    return p;
  }

  /** A hit of `kind`, counted. */
  private hit<T extends Cached>(st: LessonCacheState, kind: CacheKind, key: string): CacheEntry<T> | undefined {
    const e = this.cache.lookup(key, st.gen) as CacheEntry<T> | undefined;
    if (e !== undefined) this.stats.hits[kind]++;
    return e;
  }

  /**
   * Whether a held entry is to be refreshed in the background now: it is past
   * its soft TTL, no load of its key is running (one refresh per key), and the
   * budget has room (else it is served until its hard TTL or a later read).
   */
  private dueRefresh(e: CacheEntry<Cached>, flightKey: string): boolean {
    if (!this.cache.due(e) || this.flights.has(flightKey)) return false;
    if (this.refreshing >= this.refreshMax) {
      this.stats.refreshes.skipped++;
      return false;
    }
    return true;
  }

  // ---- reads ----

  /** The lesson and all its rooms. */
  lessonView(caller: Caller, lessonId: number): Promise<LessonView> | LessonView {
    authorizeLessonRead(caller, lessonId);
    const st = this.lesson(lessonId);
    const key = `L:${lessonId}`;
    const e = this.hit<LessonView>(st, 'lesson', key);
    if (e !== undefined && !this.dueRefresh(e, key)) return e.value;
    const p = this.miss<LessonView>(
      st,
      'lesson',
      key,
      async () => {
        const r = await readLesson(this.redis, st.lk);
        const view: LessonView = { lesson: servedLesson(r.lesson), rooms: r.rooms };
        return { value: view, bytes: 512 + r.rooms.length * 256 };
      },
      {
        store: (view, bytes, gen) => {
          this.cache.set(key, view, gen, bytes);
          for (const room of view.rooms) this.cache.set(`R:${lessonId}:${room.roomId}`, room, gen, 256);
        },
      },
      e !== undefined,
    );
    return e !== undefined ? e.value : p;
  }

  /** One room. */
  room(caller: Caller, lessonId: number, roomId: string): Promise<Room> | Room {
    authorizeLessonRead(caller, lessonId);
    const st = this.lesson(lessonId);
    const key = `R:${lessonId}:${roomId}`;
    const e = this.hit<Room>(st, 'room', key);
    if (e !== undefined && !this.dueRefresh(e, key)) return e.value;
    const p = this.miss<Room>(st, 'room', key, async () => ({ value: await readRoom(this.redis, st.lk, roomId), bytes: 256 }), {}, e !== undefined);
    return e !== undefined ? e.value : p;
  }

  /** One org node with, as asked, children, parent and source node. */
  node(caller: Caller, lessonId: number, nodeId: string, o: NodeReadOptions): Promise<NodeView> | NodeView {
    authorizeLessonRead(caller, lessonId);
    const st = this.lesson(lessonId);
    const key = `N:${lessonId}:${nodeId}`;
    const flags = (o.children ? 1 : 0) | (o.parent ? 2 : 0) | (o.source ? 4 : 0);
    const e = this.hit<NodeEntry>(st, 'node', key);
    if (e !== undefined && !this.dueRefresh(e, key)) return this.nodeView(e.value, flags);
    const p = this.miss<NodeEntry>(
      st,
      'node',
      key,
      async () => {
        const read = await readNodeView(this.redis, st.lk, nodeId);
        return { value: { read, views: [] }, bytes: read.bytes * DECODED_FACTOR };
      },
      {},
      e !== undefined,
    );
    return e !== undefined ? this.nodeView(e.value, flags) : p.then((v) => this.nodeView(v, flags));
  }

  private nodeView(e: NodeEntry, flags: number): NodeView {
    let v = e.views[flags];
    if (!v) {
      const { node, children, ancestors } = e.read;
      v = {
        node,
        children: flags & 1 ? children : [],
        parent: flags & 2 ? (ancestors[ancestors.length - 1] ?? null) : null,
        source: flags & 4 ? sourceOf(node, ancestors) : null,
      };
      e.views[flags] = v;
    }
    return v;
  }

  /** A student's position (a student reads only its own). */
  position(caller: Caller, lessonId: number, uid: number): Promise<PositionView> | PositionView {
    authorizeStudentRead(caller, lessonId, uid);
    const st = this.lesson(lessonId);
    const key = `P:${lessonId}:${uid}`;
    const e = this.hit<PositionView>(st, 'position', key);
    if (e !== undefined && !this.dueRefresh(e, key)) return e.value;
    const p = this.miss<PositionView>(
      st,
      'position',
      key,
      async () => {
        const r = await readPosition(this.redis, st.lk, uid);
        return { value: { lessonId, uid, nodeId: r.nodeId, rooms: r.rooms }, bytes: 96 + r.rooms.length * 48 };
      },
      { perStudent: true },
      e !== undefined,
    );
    return e !== undefined ? e.value : p;
  }

  /** One page of a room's members in join order. */
  members(caller: Caller, lessonId: number, roomId: string, q: MembersQuery): Promise<MembersPage> | MembersPage {
    authorizeLessonRead(caller, lessonId);
    const st = this.lesson(lessonId);
    const c = q.cursor;
    const key = `M:${lessonId}:${roomId}:${q.partition ?? '*'}:${c ? `${c.partition}.${c.order}` : ''}:${q.limit}`;
    const e = this.hit<MembersPage>(st, 'members', key);
    if (e !== undefined && !this.dueRefresh(e, key)) return e.value;
    const p = this.miss<MembersPage>(
      st,
      'members',
      key,
      async () => {
        const start = c ? c.partition : (q.partition ?? 0);
        const r = await readMembersPage(this.redis, st.lk, roomId, start, c ? c.order : null, q.limit, q.partition !== null);
        const last = r.members[r.members.length - 1];
        const nextCursor = r.more && last ? `${last.partition}.${last.order}` : null;
        return { value: { lessonId, roomId, members: r.members, nextCursor }, bytes: 64 + r.members.length * 64 };
      },
      {},
      e !== undefined,
    );
    return e !== undefined ? e.value : p;
  }

  /** Members of a room online now (cached for onlineCacheMs, never served older; counts carry no invalidation). */
  online(caller: Caller, lessonId: number, roomId: string): Promise<OnlineView> | OnlineView {
    authorizeLessonRead(caller, lessonId);
    const st = this.lesson(lessonId);
    const key = `O:${lessonId}:${roomId}`;
    const windowMs = this.opts.onlineWindowMs;
    const e = this.hit<OnlineView>(st, 'online', key);
    if (e !== undefined) return e.value;
    return this.miss<OnlineView>(
      st,
      'online',
      key,
      async () => {
        const r = await readOnline(this.redis, st.lk, roomId, this.now() - windowMs);
        return { value: { lessonId, roomId, online: r.online, windowMs, partitions: r.partitions }, bytes: 64 + 8 * r.partitions.length };
      },
      { ttlMs: this.opts.onlineCacheMs },
    );
  }

  /**
   * Everything a student needs to join `roomId` ('' = its first room). A
   * student enters as itself (`asked` null or its own uid); staff and services
   * name the student they act for.
   */
  enter(caller: Caller, lessonId: number, asked: number | null, roomId: string): Promise<EnterView> | EnterView {
    const uid = enterUid(caller, lessonId, asked);
    const st = this.lesson(lessonId);
    const key = `E:${lessonId}:${uid}`;
    // A student's views of its rooms share one entry (one delete retires them all).
    const held = this.cache.lookup(key, st.gen) as CacheEntry<EnterEntry> | undefined;
    const found = held?.value.views.get(roomId);
    if (found !== undefined) {
      this.stats.hits.enter++;
      // A fresh hit returns before the flight key is built: a warm enter makes one string, not two.
      if (!this.cache.due(held!)) return found;
    }
    const flightKey = `${key}:${roomId}`;
    if (found !== undefined && !this.dueRefresh(held!, flightKey)) return found;
    const refresh = found !== undefined;
    const p = this.miss<EnterView>(
      st,
      'enter',
      flightKey,
      async () => {
        // The lesson-level part held for this lesson, if any: enter.lua confirms it is
        // still current (version and change sequence) and then sends only the student's part.
        const sh = this.shared.peek(`S:${lessonId}`, 0) as SharedPart | undefined;
        // A refresh of an entry that holds just this view hands its fingerprint back:
        // while nothing changed, Redis answers in a few bytes and the view is kept.
        const heldFp = refresh && onlyView(held!.value) === found ? (notesOf(found!)?.fingerprint ?? '') : '';
        const r = await readEnter(this.redis, st.lk, uid, roomId, sh ?? null, heldFp);
        if (r.unchanged) return { value: found!, bytes: (preEncodedJson(found!)?.length ?? 0) * DECODED_FACTOR };
        let lesson: ServedLesson | undefined;
        let rooms: EnterRoom[];
        let node: OrgNode | null;
        if (r.shared && sh) {
          lesson = sh.lesson;
          rooms = [];
          for (const slot of r.position.rooms) {
            const room = sh.rooms.get(slot.roomId);
            if (room) rooms.push({ room, partition: slot.partition });
          }
          node = r.node ?? sh.nodes.get(r.position.nodeId) ?? null;
        } else {
          lesson = r.lesson ? servedLesson(r.lesson) : undefined;
          if (!lesson) throw new OrgError('INTERNAL', `enter: lesson ${lessonId} record missing from the reply`);
          const slots = new Map(r.position.rooms.map((s) => [s.roomId, s.partition]));
          rooms = r.rooms.map((room) => ({ room, partition: slots.get(room.roomId) ?? 0 }));
          node = r.node;
          if (sh?.version !== r.version || sh.changeSeq !== r.changeSeq) this.loadShared(st, lesson, r.version);
        }
        const view: EnterView = {
          lessonId,
          uid,
          version: r.version,
          roomId: r.roomId,
          lesson,
          rooms,
          node,
          group: r.group,
          muted: r.mutedSelf || r.mutedNode !== null,
          mutedBy: r.mutedSelf ? 'self' : r.mutedNode,
          signedInAt: r.signedInAt,
        };
        // enter.lua's fingerprint of this answer is handed back when the view is refreshed.
        return { value: withJson(view, enterJson(view), r.fingerprint), bytes: (r.shared ? 512 + r.bytes : r.bytes) * DECODED_FACTOR };
      },
      {
        perStudent: true,
        store: (view, bytes, gen) => {
          // A refresh that loaded what the entry holds (Redis said unchanged, or the
          // same JSON; and the entry holds no other room's view, which this load did
          // not check) renews the entry as it is: the cache keeps its objects and
          // encoded answers instead of replacing them with equal new ones, which would
          // outlive young-generation collections and be copied and promoted.
          const heldView = refresh ? onlyView(this.cache.peek(key, gen) as EnterEntry | undefined) : undefined;
          if (heldView && (heldView === view || preEncodedJson(heldView) === preEncodedJson(view)) && this.cache.renew(key, gen)) {
            const notes = notesOf(heldView);
            if (heldView !== view && notes) notes.fingerprint = notesOf(view)?.fingerprint;
            return;
          }
          // A miss joins the student's entry in place, so it lives no longer than the
          // entry's oldest view may; a refresh starts the entry afresh with its own view.
          const old = refresh ? undefined : (this.cache.peek(key, gen) as EnterEntry | undefined);
          const e = old ?? { views: new Map<string, EnterView>() };
          e.views.set(roomId, view);
          if (roomId === '') e.views.set(view.roomId, view);
          if (!old) this.cache.set(key, e, gen, bytes * 2);
        },
      },
      refresh,
    );
    return refresh ? found! : p;
  }

  /**
   * Loads the lesson-level part of enter in the background (one per lesson at a
   * time), so later cold enters of the lesson fetch only the student's part. A
   * lesson whose part would exceed the shared bound is not held (its enters
   * stay full reads). Nothing waits on it; a failure is counted and retried by
   * a later enter.
   */
  private loadShared(st: LessonCacheState, lesson: ServedLesson, version: number): void {
    const key = `S:${st.lessonId}`;
    if (this.sharedMaxBytes === 0 || this.flights.has(key) || st.sharedTooBig === version) return;
    if ((lesson.nodeCount + lesson.roomCount) * SHARED_BYTES_PER_ITEM > this.sharedMaxBytes) {
      st.sharedTooBig = version;
      return;
    }
    this.stats.sharedLoads++;
    this.flights
      .run(key, async () => {
        const r = await readEnterShared(this.redis, st.lk);
        const part: SharedPart = { version: r.version, changeSeq: r.changeSeq, posBuckets: r.posBuckets, lesson: servedLesson(r.lesson), rooms: r.rooms, nodes: r.nodes };
        this.shared.set(key, part, 0, r.bytes * DECODED_FACTOR);
        return part;
      })
      .catch(() => this.stats.sharedFailures++);
  }

  /** Reads the lesson head (readiness probes): throws the lesson-level error if it cannot be read. */
  async probe(lessonId: number): Promise<void> {
    await readLesson(this.redis, lessonKeys(this.opts.keyPrefix, lessonId));
  }
}
