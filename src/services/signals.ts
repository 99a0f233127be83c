// Courseware signals: a teacher (or tutor, or a platform service) publishes
// into a room's log; every student reads the log after the last seq it saw.
// Reads go through the gateway's local per-room cache when it is on (Redis
// sees O(signals) requests, not O(reads)); off, each read is one Redis round
// trip through the same script, which is what the benchmark compares against.
// The cache learns about new signals from the gateway's one LessonChannels
// connection, which it shares with the entity cache of the read service.
import { durabilityOf, type Durability } from '../store/redis/durability.js';
import { authorizeLessonRead, authorizePublish } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import type { Config, WriteBehindConfig } from '../config.js';
import { backendError, isOrgError, OrgError } from '../errors.js';
import { parseEntityId, parseLimit } from '../model/input.js';
import type { Signal } from '../model/signal.js';
import { SignalCache, type SignalPage } from '../skiplist/signalCache.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import type { LessonChannels } from '../store/redis/lessonChannels.js';
import { publishSignal, readSignalTail } from '../store/redis/signalStore.js';
import type { LessonRegistry } from '../writebehind/registry.js';

export type { SignalPage } from '../skiplist/signalCache.js';

/** The part of the configuration the signal service reads (named apart from config.ts's SignalConfig, one of its parts). */
export type SignalServiceOptions = Pick<Config, 'keyPrefix' | 'ttlSeconds' | 'signals'> & {
  writeBehind: Pick<WriteBehindConfig, 'maxStreamLength'> & Partial<Pick<WriteBehindConfig, 'durability' | 'durabilityReplicas' | 'durabilityTimeoutMs'>>;
};

/** What the signal service needs. */
export interface SignalServiceDeps {
  redis: RedisClient;
  /** The connection publishes go through (default `redis`): with replica durability a separate one, so WAIT never stalls reads. */
  writeRedis?: RedisClient;
  config: SignalServiceOptions;
  /** The local cache, or null to read Redis on every call. */
  cache: SignalCache | null;
  /**
   * The process's write-behind registry: a publish registers its lesson first, as
   * mutations do, so the flusher watches lessons that only ever publish signals.
   * Without one, such a lesson is found by the flusher's periodic MySQL sweep.
   */
  registry?: LessonRegistry | null;
  now?: () => number;
}

const DIGITS = /^[0-9]{1,16}$/;

/** Parses `after` from a query string or a number: a seq >= 0 (absent = 0). */
export function parseAfter(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 0;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && DIGITS.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new OrgError('BAD_REQUEST', `after must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function checkLessonId(lessonId: number): void {
  if (!Number.isSafeInteger(lessonId) || lessonId < 1) throw new OrgError('BAD_REQUEST', `lesson id must be a positive integer, got ${JSON.stringify(lessonId)}`);
}

/** Publish and read of room signals, with authorisation and input checks. */
export class SignalService {
  private readonly redis: RedisClient;
  private readonly writeRedis: RedisClient;
  private readonly config: SignalServiceDeps['config'];
  private readonly cache: SignalCache | null;
  private readonly registry: LessonRegistry | null;
  private readonly now: () => number;
  private readonly durability: Durability;

  constructor(deps: SignalServiceDeps) {
    this.durability = durabilityOf(deps.config.writeBehind);
    this.redis = deps.redis;
    this.writeRedis = deps.writeRedis ?? deps.redis;
    this.config = deps.config;
    this.cache = deps.cache;
    this.registry = deps.registry ?? null;
    this.now = deps.now ?? Date.now;
  }

  /** Appends a signal to a room (teacher, tutor or service only); returns it with its seq. */
  async publish(caller: Caller, lessonId: number, roomId: string, payload: unknown): Promise<Signal> {
    checkLessonId(lessonId);
    authorizePublish(caller, lessonId);
    parseEntityId('roomId', roomId);
    if (typeof payload !== 'string' || payload.length === 0) throw new OrgError('BAD_REQUEST', 'signal payload must be a non-empty string');
    // A lone surrogate has no UTF-8 form; Redis would store U+FFFD instead of what was sent.
    if (!(payload as string & { isWellFormed(): boolean }).isWellFormed()) throw new OrgError('BAD_REQUEST', 'signal payload is not well-formed Unicode');
    const max = this.config.signals.maxPayloadBytes;
    const bytes = Buffer.byteLength(payload);
    if (bytes > max) throw new OrgError('PAYLOAD_TOO_LARGE', `signal payload is ${bytes} bytes, the limit is ${max}`, { bytes, max });
    const lk = lessonKeys(this.config.keyPrefix, lessonId);
    let signal: Signal;
    try {
      const reg = this.registry?.ensure(lessonId);
      if (reg) await reg;
      signal = await publishSignal(this.writeRedis, lk, roomId, payload, caller.uid, this.now(), {
        retain: this.config.signals.retain,
        ttlSeconds: this.config.ttlSeconds,
        maxPayloadBytes: max,
        maxStreamLength: this.config.writeBehind.maxStreamLength,
        durability: this.durability,
      });
    } catch (e) {
      throw backendError(e);
    }
    this.cache?.notePublished(lessonId, roomId, signal);
    return signal;
  }

  /**
   * Signals of a room with seq > after, at most limit (any role of the lesson).
   * `after` and `limit` are taken raw (query strings or numbers) and validated here.
   * A cache hit answers synchronously; every failure, bad input included, is a rejected promise.
   */
  read(caller: Caller, lessonId: number, roomId: string, after?: unknown, limit?: unknown): SignalPage | Promise<SignalPage> {
    let a: number;
    let n: number;
    try {
      checkLessonId(lessonId);
      authorizeLessonRead(caller, lessonId);
      parseEntityId('roomId', roomId);
      a = parseAfter(after);
      // 0 is a real limit here: a page with no signals that still says lastSeq.
      n = parseLimit(limit, { max: this.config.signals.maxReadLimit, min: 0 });
    } catch (e) {
      return Promise.reject(e);
    }
    const r = this.cache ? this.cache.read(lessonId, roomId, a, n) : this.readDirect(lessonId, roomId, a, n);
    return r instanceof Promise ? r.catch((e: unknown) => Promise.reject(backendError(e))) : r;
  }

  // The cache-off path: the same script and the same page semantics, every time.
  private async readDirect(lessonId: number, roomId: string, after: number, limit: number): Promise<SignalPage> {
    const tail = await readSignalTail(this.redis, lessonKeys(this.config.keyPrefix, lessonId), roomId, after, limit);
    const signals = limit > 0 ? tail.signals : [];
    const upTo = signals.length > 0 ? signals[signals.length - 1]!.seq : after;
    return { signals, lastSeq: tail.lastSeq, firstSeq: tail.firstSeq, truncated: after < tail.firstSeq - 1, more: upTo < tail.lastSeq };
  }
}

/** Everything signals need at run time: the service and its cache, fed by the shared lesson channels. */
export interface SignalRuntime {
  service: SignalService;
  cache: SignalCache | null;
  /** Stops listening and releases the cache's lesson subscriptions (the channel connection belongs to the caller). */
  close(): void;
}

/** Options of createSignalRuntime. */
export interface SignalRuntimeDeps {
  redis: RedisClient;
  /** See SignalServiceDeps.writeRedis. */
  writeRedis?: RedisClient;
  config: SignalServiceOptions;
  /** See SignalServiceDeps.registry. */
  registry?: LessonRegistry | null;
  /** The gateway's lesson channel subscriptions; required when the cache is on. */
  channels: LessonChannels | null;
  now?: () => number;
}

/**
 * Builds the service with the cache configured in `config.signals`: the cache
 * fetches tails with read_signals.lua and learns about new signals from the
 * channels of the lessons it holds (subscribed while it holds any of their rooms).
 */
export function createSignalRuntime(deps: SignalRuntimeDeps): SignalRuntime {
  const { redis, config, channels } = deps;
  const sc = config.signals;
  if (!sc.cache) {
    return { service: new SignalService({ redis, writeRedis: deps.writeRedis, config, cache: null, registry: deps.registry, now: deps.now }), cache: null, close: () => undefined };
  }
  if (!channels) throw new Error('createSignalRuntime: the signal cache needs the lesson channels');
  let closed = false;
  const cache = new SignalCache({
    fetchTail: (lessonId, roomId, after, limit) => readSignalTail(redis, lessonKeys(config.keyPrefix, lessonId), roomId, after, limit),
    buckets: sc.cacheBuckets,
    roomsPerBucket: sc.cacheRoomsPerBucket,
    bytesPerBucket: sc.cacheBytesPerBucket,
    maxStalenessMs: sc.maxStalenessMs,
    retain: sc.retain,
    maxPayloadBytes: sc.maxPayloadBytes,
    now: deps.now,
    onLessonCached: (lessonId) => {
      if (!closed) channels.add(lessonId);
    },
    onLessonDropped: (lessonId) => {
      if (!closed) channels.remove(lessonId);
    },
  });
  const unlisten = channels.listen({
    onMessage: (lessonId, m) => {
      if (m.kind === 'signal') cache.notify(lessonId, m.roomId, m.seq);
      // A new version may have dropped rooms; `lesson` means anything may have changed.
      else if (m.kind === 'version' || m.kind === 'lesson') cache.invalidateLesson(lessonId);
    },
    // What a lost subscription may have missed: the lessons named, or all.
    onResync: (lessons) => {
      if (lessons === null) cache.invalidateAll();
      else for (const id of lessons) cache.invalidateLesson(id);
    },
  });
  return {
    service: new SignalService({ redis, writeRedis: deps.writeRedis, config, cache, registry: deps.registry, now: deps.now }),
    cache,
    close() {
      if (closed) return;
      closed = true;
      unlisten();
      for (const lessonId of cache.cachedLessons()) channels.remove(lessonId);
    },
  };
}
