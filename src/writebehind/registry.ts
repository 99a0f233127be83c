// Which lessons have a write-behind stream to flush. On Redis Cluster a
// mutation script cannot touch a key outside its lesson's slot, so a mutating
// process adds the lesson to a global sorted set *before* its first mutation
// (and again every `everyMs`), and the flusher watches that set.
import type { RedisClient } from '../store/redis/client.js';

/** The mutating side of the registry: registers lessons before writing to them. */
export class LessonRegistry {
  private readonly seen = new Map<number, number>();
  /** Registrations that failed (the change went ahead; the next change of the lesson tries again). */
  failures = 0;

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
    private readonly onError: (e: unknown, lessonId: number) => void = () => undefined,
  ) {}

  /**
   * Null when the lesson was registered within `everyMs` (no round trip);
   * otherwise a promise that registers it, to await before the mutation.
   * It never rejects: the registry is one key on one Cluster shard, and that
   * shard being away must not refuse changes of lessons on healthy shards. A
   * change made unregistered is still in its lesson's stream (nothing is
   * lost): the lesson's next change registers it, and the flushers' sweep
   * finds streams the registry misses.
   */
  ensure(lessonId: number): Promise<void> | null {
    const t = this.now();
    const at = this.seen.get(lessonId);
    if (at !== undefined && t - at < this.everyMs) return null;
    return this.redis.zadd(this.key, t, String(lessonId)).then(
      () => {
        if (this.seen.size >= this.maxTracked) this.seen.clear();
        this.seen.set(lessonId, t);
      },
      (e: unknown) => {
        this.failures++;
        this.onError(e, lessonId);
      },
    );
  }
}
