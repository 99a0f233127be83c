// The org nodes muted in a room (st:mutenode:<room>), read whole: live push
// recomputes every local student's mute from it, one read per node mute and
// gateway instead of one enter per student.
import type { RedisClient } from './client.js';
import type { LessonKeys } from './keys.js';

/** The ids of the org nodes muted in a room. */
export async function readMutedNodes(redis: RedisClient, lk: LessonKeys, roomId: string): Promise<Set<string>> {
  return new Set(await redis.smembers(lk.stateMutedNodes(roomId)));
}
