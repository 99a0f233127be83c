// The gateway's local copy of hot rooms' signal logs, so 30k students polling
// one room cost Redis O(signals) requests, not O(polls).
//
// Rooms are spread over buckets by a hash of (lesson, room); each bucket keeps
// its rooms in LRU order and is bounded in rooms and bytes. A room holds a
// contiguous window of its log in a SkipList keyed by seq. Redis is asked only
// for the tail after the last seq held, with at most one fetch in flight per
// room however many readers wait on it. Fetches are triggered by
// notifications (notify()), by a reader finding its room older than
// maxStalenessMs (the backstop for notifications lost to a reconnect or a Redis
// restart), or by a miss. No timers: time is read through the injected now().
import { isOrgError, OrgError, type ErrorCode } from '../errors.js';
import type { Signal } from '../model/signal.js';
import { roomBytesBound, ROOM_OVERHEAD_BYTES, signalValueBytes } from './sizing.js';
import { SkipList, type ScoreBound } from './skiplist.js';

/** A room's log after a seq, as one fetch from the shared store saw it. */
export interface FetchedTail {
  /** The room's counter: highest seq handed out (0 before the first). */
  lastSeq: number;
  /** Lowest seq the store retains (lastSeq + 1 when none). */
  firstSeq: number;
  /** Signals with seq > after, ascending and contiguous. */
  signals: Signal[];
  /** Bytes received, for the metrics. */
  bytes: number;
}

/** Fetches a room's signals with seq > after (at most limit) in one round trip; throws OrgError for unknown lessons/rooms. */
export type FetchTail = (lessonId: number, roomId: string, after: number, limit: number) => Promise<FetchedTail>;

/** Construction options of SignalCache. */
export interface SignalCacheOptions {
  fetchTail: FetchTail;
  /** Number of buckets rooms are hashed into. */
  buckets: number;
  /** Rooms one bucket holds before evicting its least recently read. */
  roomsPerBucket: number;
  /** Bytes (approxBytes estimate) one bucket holds before evicting; must fit one full room. */
  bytesPerBucket: number;
  /** A reader never gets data whose last check against the store started longer ago than this. */
  maxStalenessMs: number;
  /** Signals kept per room; the store keeps the same number. */
  retain: number;
  /** Largest payload, used to check that a full room fits in a bucket. */
  maxPayloadBytes: number;
  now?: () => number;
  /** Called when the first room of a lesson enters the cache (subscribe to its channel). */
  onLessonCached?: (lessonId: number) => void;
  /** Called when the last room of a lesson leaves the cache (unsubscribe). */
  onLessonDropped?: (lessonId: number) => void;
}

/** One answer to a read; shared between readers asking the same of the same window, so never modified. */
export interface SignalPage {
  /** Signals with seq > after, ascending, at most limit. */
  signals: Signal[];
  /** Highest seq this answer knows of; below the caller's `after` it means the room's log restarted. */
  lastSeq: number;
  /** Lowest seq still retained (lastSeq + 1 when none). */
  firstSeq: number;
  /** True when signals after `after` were trimmed away before firstSeq: the caller missed some for good. */
  truncated: boolean;
  /** True when signals after the last one returned exist (ask again from there). */
  more: boolean;
}

/** Counters of one bucket (or of all). */
export interface SignalCacheStats {
  /** Reads served. */
  reads: number;
  /** Reads answered from the cache without waiting for Redis. */
  hits: number;
  /** Reads that waited for a fetch (started one or joined the one in flight). */
  misses: number;
  /** Round trips to Redis. */
  tailFetches: number;
  /** Signals received from Redis. */
  entriesFetched: number;
  /** Bytes received from Redis. */
  bytesFetched: number;
  /** Reads minus round trips: the Redis requests the cache spared (negative if it fetched for nobody). */
  redisRequestsSaved: number;
  /** Rooms dropped to stay within the bounds. */
  evictions: number;
  /** Fetches that failed with something other than a typed answer (connection, timeout). */
  fetchErrors: number;
  /** Notifications that found their room cached and behind. */
  notifications: number;
  /** Times a room's log restarted in Redis (counter below what the cache had). */
  resets: number;
  /** Rooms held now. */
  rooms: number;
  /** Bytes held now (estimate). */
  bytes: number;
}

/** Per-bucket and total counters. */
export interface SignalCacheSnapshot {
  buckets: SignalCacheStats[];
  total: SignalCacheStats;
}

const COUNTERS = ['reads', 'hits', 'misses', 'tailFetches', 'entriesFetched', 'bytesFetched', 'evictions', 'fetchErrors', 'notifications', 'resets'] as const;
type CounterName = (typeof COUNTERS)[number];

// Answers that are facts about the lesson, not failures: cached like data for
// maxStalenessMs so a flood of reads for an unknown room costs one fetch.
const CACHEABLE_ERRORS: ReadonlySet<ErrorCode> = new Set(['LESSON_NOT_FOUND', 'LESSON_NOT_READY', 'ROOM_NOT_FOUND']);

// Fetches one refresh may make: the first, one more when a notification or an
// undelivered tail arrived meanwhile, one after a log restart. Beyond that the
// staleness backstop takes over, so a refresh always ends.
const MAX_FETCHES_PER_REFRESH = 3;

const POS_INF: ScoreBound = { value: Number.POSITIVE_INFINITY };

// Recent answers kept per room and handed out again while its window is
// unchanged: a hot room's thousands of pollers ask the same few questions
// (after = one of the last seqs), so the same page object comes back and the
// transport's per-object encoding memo applies. Only small pages are kept, so
// a room's memo stays around PAGE_MEMO * MEMO_MAX_SIGNALS references.
const PAGE_MEMO = 8;
const MEMO_MAX_SIGNALS = 16;

class RoomEntry {
  list: SkipList<Signal> | null = null;
  /** Highest seq of the contiguous window held (0 = none yet). */
  lastSeq = 0;
  firstSeq = 1;
  loaded = false;
  error: OrgError | null = null;
  /** When the last successful check against the store started. */
  checkedAt = Number.NEGATIVE_INFINITY;
  /** Highest seq a notification announced; above lastSeq means a fetch is due. */
  wantSeq = 0;
  inflight: Promise<void> | null = null;
  lastReadAt: number;
  bytes = ROOM_OVERHEAD_BYTES;
  evicted = false;
  /** Page memo (see PAGE_MEMO): the window it belongs to, then (after, limit) -> page slots. */
  memoFirst = 0;
  memoLast = -1;
  memoNext = 0;
  readonly memoAfter = new Float64Array(PAGE_MEMO).fill(-1);
  readonly memoLimit = new Float64Array(PAGE_MEMO);
  readonly memoPages: Array<SignalPage | null> = new Array<SignalPage | null>(PAGE_MEMO).fill(null);
  prev: RoomEntry | null = null;
  next: RoomEntry | null = null;

  constructor(
    readonly lessonId: number,
    readonly roomId: string,
    readonly bucket: number,
    now: number,
  ) {
    this.lastReadAt = now;
  }
}

class Bucket {
  readonly lessons = new Map<number, Map<string, RoomEntry>>();
  /** Least recently read. */
  head: RoomEntry | null = null;
  /** Most recently read. */
  tail: RoomEntry | null = null;
  rooms = 0;
  bytes = 0;

  get(lessonId: number, roomId: string): RoomEntry | undefined {
    return this.lessons.get(lessonId)?.get(roomId);
  }
}

/** A SignalCache option out of range; names the option (and the others the rule involves) so the caller can name its own setting. */
export class SignalCacheOptionError extends RangeError {
  constructor(
    readonly option: keyof SignalCacheOptions,
    message: string,
    readonly related: ReadonlyArray<keyof SignalCacheOptions> = [],
  ) {
    super(`signalCache: ${message}`);
    this.name = 'SignalCacheOptionError';
  }
}

function checkInt(name: keyof SignalCacheOptions, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new SignalCacheOptionError(name, `${name} must be an integer >= ${min}, got ${v}`);
}

/** The per-room, hash-bucketed local cache of signal logs. */
export class SignalCache {
  private readonly fetchTail: FetchTail;
  private readonly now: () => number;
  private readonly bucketCount: number;
  private readonly roomsPerBucket: number;
  private readonly bytesPerBucket: number;
  private readonly maxStalenessMs: number;
  private readonly retain: number;
  private readonly onLessonCached: ((lessonId: number) => void) | undefined;
  private readonly onLessonDropped: ((lessonId: number) => void) | undefined;
  private readonly buckets: Bucket[];
  private readonly stats: Record<CounterName, Float64Array>;
  private readonly lessonRooms = new Map<number, number>();
  // Read scratch: one bound collector instead of a closure per read.
  private out: Signal[] = [];
  private readonly collect = (_m: string, _s: number, v: Signal): void => {
    this.out.push(v);
  };
  private readonly afterBound: ScoreBound = { value: 0, exclusive: true };

  constructor(options: SignalCacheOptions) {
    const o = options;
    checkInt('buckets', o.buckets, 1);
    checkInt('roomsPerBucket', o.roomsPerBucket, 1);
    checkInt('retain', o.retain, 1);
    checkInt('maxPayloadBytes', o.maxPayloadBytes, 1);
    checkInt('maxStalenessMs', o.maxStalenessMs, 0);
    checkInt('bytesPerBucket', o.bytesPerBucket, 1);
    // A room is cached whole or not at all, so a full one must fit a bucket.
    const full = roomBytesBound(o.retain, o.maxPayloadBytes);
    if (o.bytesPerBucket < full) {
      throw new SignalCacheOptionError(
        'bytesPerBucket',
        `bytesPerBucket ${o.bytesPerBucket} cannot hold one full room (${o.retain} signals of ${o.maxPayloadBytes} bytes needs ${full})`,
        ['retain', 'maxPayloadBytes'],
      );
    }
    this.fetchTail = o.fetchTail;
    this.now = o.now ?? Date.now;
    this.bucketCount = o.buckets;
    this.roomsPerBucket = o.roomsPerBucket;
    this.bytesPerBucket = o.bytesPerBucket;
    this.maxStalenessMs = o.maxStalenessMs;
    this.retain = o.retain;
    this.onLessonCached = o.onLessonCached;
    this.onLessonDropped = o.onLessonDropped;
    this.buckets = Array.from({ length: o.buckets }, () => new Bucket());
    const stats = {} as Record<CounterName, Float64Array>;
    for (const c of COUNTERS) stats[c] = new Float64Array(o.buckets);
    this.stats = stats;
  }

  /** Bucket of a room: FNV-1a over the room id, seeded with the lesson id. */
  bucketOf(lessonId: number, roomId: string): number {
    let h = (0x811c9dc5 ^ Math.imul(lessonId | 0, 0x9e3779b1) ^ Math.floor(lessonId / 0x100000000)) >>> 0;
    for (let i = 0; i < roomId.length; i++) h = Math.imul(h ^ roomId.charCodeAt(i), 0x01000193);
    return (h >>> 0) % this.bucketCount;
  }

  /**
   * Signals of a room with seq > after, at most limit. A fresh room answers at
   * once (synchronously: a hit allocates no promise); otherwise the reader
   * waits for the room's one fetch. Rejects with the store's OrgError for an
   * unknown lesson or room (cached like data); never throws synchronously.
   */
  read(lessonId: number, roomId: string, after: number, limit: number): SignalPage | Promise<SignalPage> {
    const b = this.bucketOf(lessonId, roomId);
    const bucket = this.buckets[b]!;
    const t = this.now();
    this.stats.reads[b]!++;
    let room = bucket.get(lessonId, roomId);
    if (room) {
      this.touch(bucket, room);
      room.lastReadAt = t;
      if (room.inflight === null && room.wantSeq <= room.lastSeq && t - room.checkedAt <= this.maxStalenessMs) {
        this.stats.hits[b]!++;
        if (room.error) return Promise.reject(room.error);
        return this.page(room, after, limit);
      }
    } else {
      room = this.insert(bucket, b, lessonId, roomId, t);
    }
    this.stats.misses[b]!++;
    return this.readAfterRefresh(room, after, limit);
  }

  private async readAfterRefresh(room: RoomEntry, after: number, limit: number): Promise<SignalPage> {
    await this.refresh(room);
    if (room.error) throw room.error;
    return this.page(room, after, limit);
  }

  /**
   * A notification that a room's log reached `seq`. A cached room that is
   * behind is marked due; if someone read it within the staleness window the
   * fetch starts now, so the next readers find it done.
   */
  notify(lessonId: number, roomId: string, seq: number): void {
    const b = this.bucketOf(lessonId, roomId);
    const room = this.buckets[b]!.get(lessonId, roomId);
    if (!room || seq <= room.lastSeq || seq <= room.wantSeq) return;
    this.stats.notifications[b]!++;
    room.wantSeq = seq;
    if (room.inflight === null && this.now() - room.lastReadAt <= this.maxStalenessMs) {
      // Errors reach the readers that wait on this fetch; nobody waits on this call.
      this.refresh(room).catch(() => undefined);
    }
  }

  /**
   * A signal this gateway published itself: appended at once when it directly
   * follows the window held (saves the fetch its own notification would cause).
   */
  notePublished(lessonId: number, roomId: string, signal: Signal): void {
    const b = this.bucketOf(lessonId, roomId);
    const room = this.buckets[b]!.get(lessonId, roomId);
    if (!room || !room.loaded || room.error || signal.seq !== room.lastSeq + 1) return;
    this.appendContiguous(room, [signal], 0);
    this.account(room);
  }

  /** Makes every cached room of a lesson check the store on its next read (a new version may have dropped rooms). */
  invalidateLesson(lessonId: number): void {
    for (const bucket of this.buckets) {
      const rooms = bucket.lessons.get(lessonId);
      if (rooms) for (const room of rooms.values()) room.checkedAt = Number.NEGATIVE_INFINITY;
    }
  }

  /** Makes every cached room check the store on its next read (notifications may have been lost). */
  invalidateAll(): void {
    for (const bucket of this.buckets) {
      for (let r = bucket.head; r !== null; r = r.next) r.checkedAt = Number.NEGATIVE_INFINITY;
    }
  }

  /** Lessons with at least one cached room. */
  cachedLessons(): number[] {
    return [...this.lessonRooms.keys()];
  }

  /** Whether a room is cached now (for tests and diagnostics). */
  has(lessonId: number, roomId: string): boolean {
    return this.buckets[this.bucketOf(lessonId, roomId)]!.get(lessonId, roomId) !== undefined;
  }

  /** Number of buckets. */
  get bucketTotal(): number {
    return this.bucketCount;
  }

  /** Counters per bucket and in total. */
  snapshot(): SignalCacheSnapshot {
    const zero = (): SignalCacheStats => ({
      reads: 0, hits: 0, misses: 0, tailFetches: 0, entriesFetched: 0, bytesFetched: 0, redisRequestsSaved: 0,
      evictions: 0, fetchErrors: 0, notifications: 0, resets: 0, rooms: 0, bytes: 0,
    });
    const total = zero();
    const buckets: SignalCacheStats[] = [];
    for (let b = 0; b < this.bucketCount; b++) {
      const s = zero();
      for (const c of COUNTERS) s[c] = this.stats[c][b]!;
      s.redisRequestsSaved = s.reads - s.tailFetches;
      s.rooms = this.buckets[b]!.rooms;
      s.bytes = this.buckets[b]!.bytes;
      for (const k of Object.keys(s) as Array<keyof SignalCacheStats>) total[k] += s[k];
      buckets.push(s);
    }
    return { buckets, total };
  }

  // --- fetching ---

  private refresh(room: RoomEntry): Promise<void> {
    if (room.inflight) return room.inflight;
    const p = this.runFetches(room).finally(() => {
      room.inflight = null;
    });
    room.inflight = p;
    return p;
  }

  private async runFetches(room: RoomEntry): Promise<void> {
    const b = room.bucket;
    for (let i = 0; i < MAX_FETCHES_PER_REFRESH; i++) {
      const started = this.now();
      const after = room.loaded ? room.lastSeq : 0;
      this.stats.tailFetches[b]!++;
      let tail: FetchedTail;
      try {
        tail = await this.fetchTail(room.lessonId, room.roomId, after, this.retain);
      } catch (e) {
        if (isOrgError(e) && CACHEABLE_ERRORS.has(e.code)) {
          this.setError(room, e, started);
          return;
        }
        this.stats.fetchErrors[b]!++;
        // A loaded room keeps answering from what it has; a room never loaded has nothing to say.
        if (room.loaded) return;
        throw e;
      }
      this.stats.entriesFetched[b]! += tail.signals.length;
      this.stats.bytesFetched[b]! += tail.bytes;
      if (room.loaded && tail.lastSeq < room.lastSeq) {
        // The counter went back: the log expired or was lost with Redis. The
        // old window belongs to a log that no longer exists; load the new one.
        this.stats.resets[b]!++;
        this.clearRoom(room);
        continue;
      }
      room.error = null;
      this.apply(room, tail);
      room.loaded = true;
      room.checkedAt = started;
      this.account(room);
      // Another round only if the log is known to be ahead of what arrived.
      if (room.wantSeq <= room.lastSeq && tail.lastSeq <= room.lastSeq) break;
    }
    // Whatever is still announced is left to the staleness backstop, so a
    // notification for a seq the store does not have cannot cause a loop.
    room.wantSeq = 0;
  }

  private apply(room: RoomEntry, tail: FetchedTail): void {
    const sigs = tail.signals;
    let i = 0;
    while (i < sigs.length && sigs[i]!.seq <= room.lastSeq) i++;
    if (i < sigs.length) {
      // Trimmed past the window held: the old part is no longer contiguous with the new.
      if (sigs[i]!.seq !== room.lastSeq + 1) this.clearList(room);
      this.appendContiguous(room, sigs, i);
    } else if (tail.lastSeq > room.lastSeq && tail.firstSeq > tail.lastSeq) {
      // The store retains nothing after what is held, yet its counter moved on.
      this.clearList(room);
      room.lastSeq = tail.lastSeq;
      room.firstSeq = tail.lastSeq + 1;
    }
  }

  private appendContiguous(room: RoomEntry, sigs: Signal[], from: number): void {
    let list = room.list;
    if (list === null) {
      list = new SkipList<Signal>({ maxEntries: this.retain, sizeOf: (s) => signalValueBytes(s.data.length) });
      room.list = list;
    }
    for (let i = from; i < sigs.length; i++) {
      const s = sigs[i]!;
      list.add(String(s.seq), s.seq, s);
    }
    room.lastSeq = sigs[sigs.length - 1]!.seq;
    room.firstSeq = list.size > 0 ? list.first()!.score : room.lastSeq + 1;
  }

  private clearList(room: RoomEntry): void {
    room.list?.clear();
    room.firstSeq = room.lastSeq + 1;
  }

  private clearRoom(room: RoomEntry): void {
    room.list?.clear();
    room.lastSeq = 0;
    room.firstSeq = 1;
    // A restarted log may reuse seqs with other payloads: the memo's window stamp is not enough.
    room.memoLast = -1;
    room.loaded = false;
    room.wantSeq = 0;
  }

  private setError(room: RoomEntry, e: OrgError, started: number): void {
    this.clearRoom(room);
    room.list = null;
    room.error = e;
    room.checkedAt = started;
    this.account(room);
  }

  // Pages are shared between readers (memo): callers must not modify them.
  private page(room: RoomEntry, after: number, limit: number): SignalPage {
    // Within one log, a window [firstSeq, lastSeq] always holds the same signals.
    if (room.memoLast !== room.lastSeq || room.memoFirst !== room.firstSeq) {
      room.memoAfter.fill(-1);
      room.memoPages.fill(null);
      room.memoLast = room.lastSeq;
      room.memoFirst = room.firstSeq;
    }
    for (let i = 0; i < PAGE_MEMO; i++) {
      if (room.memoAfter[i] === after && room.memoLimit[i] === limit) return room.memoPages[i]!;
    }
    const out: Signal[] = [];
    if (room.list !== null && limit > 0 && after < room.lastSeq) {
      this.out = out;
      this.afterBound.value = after;
      room.list.forEachByScore(this.afterBound, POS_INF, 0, limit, this.collect);
      this.out = [];
    }
    const upTo = out.length > 0 ? out[out.length - 1]!.seq : after;
    const page: SignalPage = {
      signals: out,
      lastSeq: room.lastSeq,
      firstSeq: room.firstSeq,
      truncated: after < room.firstSeq - 1,
      more: upTo < room.lastSeq,
    };
    if (out.length <= MEMO_MAX_SIGNALS) {
      const k = room.memoNext;
      room.memoAfter[k] = after;
      room.memoLimit[k] = limit;
      room.memoPages[k] = page;
      room.memoNext = (k + 1) % PAGE_MEMO;
    }
    return page;
  }

  // --- buckets: LRU order and bounds ---

  private insert(bucket: Bucket, b: number, lessonId: number, roomId: string, t: number): RoomEntry {
    const room = new RoomEntry(lessonId, roomId, b, t);
    let rooms = bucket.lessons.get(lessonId);
    if (!rooms) bucket.lessons.set(lessonId, (rooms = new Map()));
    rooms.set(roomId, room);
    this.linkMru(bucket, room);
    bucket.rooms++;
    bucket.bytes += room.bytes;
    const n = this.lessonRooms.get(lessonId) ?? 0;
    this.lessonRooms.set(lessonId, n + 1);
    if (n === 0) this.onLessonCached?.(lessonId);
    this.enforceBounds(bucket, room);
    return room;
  }

  // Re-measures a room after its window changed and evicts others to fit.
  private account(room: RoomEntry): void {
    if (room.evicted) return;
    const bucket = this.buckets[room.bucket]!;
    const bytes = ROOM_OVERHEAD_BYTES + (room.list?.approxBytes() ?? 0);
    bucket.bytes += bytes - room.bytes;
    room.bytes = bytes;
    this.enforceBounds(bucket, room);
  }

  private enforceBounds(bucket: Bucket, keep: RoomEntry): void {
    while (bucket.rooms > this.roomsPerBucket || bucket.bytes > this.bytesPerBucket) {
      let victim = bucket.head;
      if (victim === keep) victim = keep.next;
      if (victim === null) return; // only `keep` is left, and a full room fits by construction
      this.remove(bucket, victim);
      this.stats.evictions[victim.bucket]!++;
    }
  }

  private remove(bucket: Bucket, room: RoomEntry): void {
    const rooms = bucket.lessons.get(room.lessonId);
    rooms?.delete(room.roomId);
    if (rooms?.size === 0) bucket.lessons.delete(room.lessonId);
    this.unlink(bucket, room);
    bucket.rooms--;
    bucket.bytes -= room.bytes;
    // Readers waiting on its fetch still get their answer from the entry; it is just no longer shared.
    room.evicted = true;
    const n = (this.lessonRooms.get(room.lessonId) ?? 1) - 1;
    if (n === 0) {
      this.lessonRooms.delete(room.lessonId);
      this.onLessonDropped?.(room.lessonId);
    } else {
      this.lessonRooms.set(room.lessonId, n);
    }
  }

  private touch(bucket: Bucket, room: RoomEntry): void {
    if (bucket.tail === room) return;
    this.unlink(bucket, room);
    this.linkMru(bucket, room);
  }

  private linkMru(bucket: Bucket, room: RoomEntry): void {
    room.prev = bucket.tail;
    room.next = null;
    if (bucket.tail) bucket.tail.next = room;
    else bucket.head = room;
    bucket.tail = room;
  }

  private unlink(bucket: Bucket, room: RoomEntry): void {
    if (room.prev) room.prev.next = room.next;
    else bucket.head = room.next;
    if (room.next) room.next.prev = room.prev;
    else bucket.tail = room.prev;
    room.prev = null;
    room.next = null;
  }
}
