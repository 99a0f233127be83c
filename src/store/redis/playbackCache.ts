// The Redis cache-aside copy of playback pages: a full page of a room's log
// never changes (the flusher writes each room's log as a prefix in seq order),
// so it is kept as msgpack for a TTL and served without MySQL.
import type { Signal } from '../../model/signal.js';
import type { RedisClient } from './client.js';
import { pack, unpack } from './codec.js';
import type { LessonKeys } from './keys.js';

/** The cached page, or null on a miss. */
export async function getPlaybackPage(redis: RedisClient, lk: LessonKeys, roomId: string, query: string): Promise<Signal[] | null> {
  const b = await redis.getBuffer(lk.playbackPage(roomId, query));
  return b ? unpack<Signal[]>(b) : null;
}

/** Stores a page for `ttlSeconds`. */
export async function putPlaybackPage(redis: RedisClient, lk: LessonKeys, roomId: string, query: string, page: readonly Signal[], ttlSeconds: number): Promise<void> {
  await redis.set(lk.playbackPage(roomId, query), pack(page), 'EX', ttlSeconds);
}
