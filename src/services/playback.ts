// Playback (回放) of a room's courseware signals: the history Redis no longer
// keeps (it retains only the last ORGENGINE_SIGNAL_RETAIN per room) read from
// MySQL's signal_log, by seq or time range, paged in seq order, with a
// cache-aside copy of full pages in Redis. A full page is immutable — the
// flusher writes each room's log to MySQL as a prefix in seq order — so it is
// cached for its TTL; the last, partial page of a class still running is not.
import { authorizeLessonRead } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import type { ApiConfig } from '../config.js';
import { backendError, OrgError } from '../errors.js';
import { parseEntityId, parseId, parseLimit } from '../model/input.js';
import type { Signal } from '../model/signal.js';
import type { Pool } from '../store/mysql/pool.js';
import { readSignalLog } from '../store/mysql/signalLog.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import { getPlaybackPage, putPlaybackPage } from '../store/redis/playbackCache.js';
import { parseAfter } from './signals.js';

/** One page of a room's history; `nextAfter` continues it (null: nothing more now). */
export interface PlaybackPage {
  lessonId: number;
  roomId: string;
  signals: Signal[];
  nextAfter: number | null;
}

/** A playback request as the transports take it (raw text or numbers; validated here). */
export interface PlaybackQuery {
  after?: unknown;
  from?: unknown;
  to?: unknown;
  limit?: unknown;
}

/** What playback needs. */
export interface PlaybackDeps {
  pool: Pool;
  redis: RedisClient;
  keyPrefix: string;
  api: Pick<ApiConfig, 'playbackCacheTtlSeconds' | 'playbackPageMax'>;
}

/** Counters of the cache-aside copy. */
export interface PlaybackStats {
  cacheHits: number;
  cacheMisses: number;
}

const parseTime = (name: string, raw: unknown): number | null => {
  if (raw === undefined || raw === null || raw === '') return null;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new OrgError('BAD_REQUEST', `${name} must be epoch milliseconds (an integer >= 0), got ${JSON.stringify(raw)}`);
  return n;
};

/** Reads of a room's signal history, any role of the lesson. */
export class PlaybackService {
  readonly stats: PlaybackStats = { cacheHits: 0, cacheMisses: 0 };

  constructor(private readonly deps: PlaybackDeps) {}

  /** A page of signals with seq > after (and published in [from, to) when given), in seq order. */
  async read(caller: Caller, lessonId: number, roomId: string, q: PlaybackQuery): Promise<PlaybackPage> {
    parseId(lessonId, 'lesson id');
    authorizeLessonRead(caller, lessonId);
    parseEntityId('roomId', roomId);
    const after = parseAfter(q.after);
    const fromMs = parseTime('from', q.from);
    const toMs = parseTime('to', q.to);
    if (fromMs !== null && toMs !== null && toMs <= fromMs) throw new OrgError('BAD_REQUEST', `to (${toMs}) must be after from (${fromMs})`);
    const limit = parseLimit(q.limit, { max: this.deps.api.playbackPageMax });
    const lk = lessonKeys(this.deps.keyPrefix, lessonId);
    const key = `${after}:${fromMs ?? ''}:${toMs ?? ''}:${limit}`;
    const ttl = this.deps.api.playbackCacheTtlSeconds;
    let signals: Signal[] | null = null;
    try {
      if (ttl > 0) signals = await getPlaybackPage(this.deps.redis, lk, roomId, key);
      if (signals) this.stats.cacheHits++;
      else {
        this.stats.cacheMisses++;
        signals = await readSignalLog(this.deps.pool, lessonId, roomId, { after, fromMs, toMs, limit });
        if (ttl > 0 && signals.length === limit) await putPlaybackPage(this.deps.redis, lk, roomId, key, signals, ttl);
      }
    } catch (e) {
      throw backendError(e);
    }
    return { lessonId, roomId, signals, nextAfter: signals.length === limit ? signals[signals.length - 1]!.seq : null };
  }
}
