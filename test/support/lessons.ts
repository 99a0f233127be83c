// Seeds synthetic lessons for in-class tests (source rows in MySQL, a bound
// built-in policy) and removes their Redis keys afterwards.
import type { Pool } from 'mysql2/promise';
import type { Room } from '../../src/model/topology.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { unpack } from '../../src/store/redis/codec.js';
import { lessonKeys, writeBehindRegistryKey } from '../../src/store/redis/keys.js';
import { readHead } from '../../src/store/redis/lessonReader.js';
import { dropVersion } from '../../src/store/redis/lessonWriter.js';
import { syntheticLesson } from '../../src/model/synthetic.js';
import { installBuiltinPolicies } from '../../src/preload/seed.js';
import { bindPolicy } from '../../src/store/mysql/policies.js';
import { writeLessonSource } from '../../src/store/mysql/source.js';

/** Lesson start used by in-class tests. */
export const START = Date.UTC(2026, 10, 21, 10);

/** Writes a synthetic lesson's source rows and binds it to a built-in policy; returns the source. */
export async function seedLesson(pool: Pool, lessonId: number, policy: string, students: number, tutors: number) {
  await installBuiltinPolicies(pool);
  const src = syntheticLesson({ lessonId, ordinal: lessonId % 1000, students, tutors, seed: 5, startTime: START });
  await writeLessonSource(pool, src, 1000);
  await bindPolicy(pool, lessonId, policy);
  return src;
}

/** uid -> tutor uid of a synthetic lesson. */
export function tutorOf(src: ReturnType<typeof syntheticLesson>): Map<number, number> {
  return new Map(src.tutorAssignments.map((a) => [a.studentUid, a.tutorUid]));
}

/**
 * Deletes every key of the given lessons under `prefix` (version data through
 * its index, in-class state, stream) and the write-behind registry, so runs
 * leave nothing behind in the shared Redis.
 */
export async function dropLessonKeys(redis: RedisClient, prefix: string, lessonIds: readonly number[]): Promise<void> {
  for (const id of lessonIds) {
    const lk = lessonKeys(prefix, id);
    const head = await readHead(redis, lk);
    const keys = [lk.head, lk.versionSeq, lk.lock, lk.stateGroup, lk.stateSeats, lk.stateDynamicNodes, lk.stateDynamicChildren, lk.stateDynamicSeq, lk.stateVersion, lk.stateSignIn, lk.stateOnlineCount, lk.writeBehind];
    if (head.version > 0) {
      for (const blob of Object.values(await redis.hgetallBuffer(lk.version(head.version).rooms))) {
        const room = unpack<Room>(blob);
        keys.push(lk.stateMuted(room.roomId), lk.stateMutedNodes(room.roomId));
        for (let p = 0; p < room.partitions; p++) keys.push(lk.stateOnline(room.roomId, p));
      }
      await dropVersion(redis, lk, head.version);
    }
    // One slot per lesson, so one UNLINK per chunk works on Cluster too.
    for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
  }
  await redis.unlink(writeBehindRegistryKey(prefix));
}
