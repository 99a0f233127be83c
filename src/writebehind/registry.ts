// Which lessons have a write-behind stream to flush. On Redis Cluster a
// mutation script cannot touch a key outside its lesson's slot, so a mutating
// process adds the lesson to a global sorted set *before* its first mutation
// (and again every `everyMs`), and the flusher watches that set.
import type { RedisClient } from '../store/redis/client.js';

/** The mutating side of the registry: registers lessons before writing to them. */
export class LessonRegistry {
  private readonly seen = new Map<number, number>();

  /**
   * @param key registry sorted set (writeBehindRegistryKey)
   * @param everyMs re-register a lesson this often, so an idle-retired lesson comes back
   * @param maxTracked lessons remembered at most (forgetting only costs a re-registration)
   */
  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxTracked = 100_000,
  ) {}

  /**
   * Null when the lesson was registered within `everyMs` (no round trip);
   * otherwise a promise that registers it, to await before the mutation.
   */
  ensure(lessonId: number): Promise<void> | null {
    const t = this.now();
    const at = this.seen.get(lessonId);
    if (at !== undefined && t - at < this.everyMs) return null;
    return this.redis.zadd(this.key, t, String(lessonId)).then(() => {
      if (this.seen.size >= this.maxTracked) this.seen.clear();
      this.seen.set(lessonId, t);
    });
  }
}
