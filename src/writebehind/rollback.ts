// Rollback detection: a lesson's in-class state in Redis older than what MySQL
// already holds. Every write-behind version is handed out by Redis (INCR on
// the lesson's counter) before MySQL can see it, so MySQL's newest version can
// exceed Redis's counter only if Redis lost writes: a node restarted from an
// old snapshot, a failover to a replica that had not copied them, or data lost
// outright (the counter gone while MySQL has state).
import { maxStateVersion } from '../store/mysql/stateTables.js';
import type { Pool } from '../store/mysql/pool.js';
import type { RedisClient } from '../store/redis/client.js';
import { stateVersion } from '../store/redis/inClassState.js';
import type { LessonKeys } from '../store/redis/keys.js';

/** What one comparison found. */
export interface RollbackCheck {
  lessonId: number;
  /** Redis's version counter (null: none). */
  redisVersion: number | null;
  /** The newest version among MySQL's state rows (0: none). */
  mysqlVersion: number;
  rolledBack: boolean;
}

/** The rule, pure: MySQL holds a version Redis never reached (or Redis holds none while MySQL has state). */
export function isRollback(redisVersion: number | null, mysqlVersion: number): boolean {
  return mysqlVersion > 0 && (redisVersion === null || redisVersion < mysqlVersion);
}

/** Compares a lesson's version counter in Redis with MySQL's newest state version. */
export async function detectRollback(redis: RedisClient, pool: Pool, lk: LessonKeys): Promise<RollbackCheck> {
  // MySQL first: every version it holds was handed out by Redis before, so a
  // change landing in between only raises Redis's side and never fakes a rollback.
  const mysqlVersion = await maxStateVersion(pool, lk.lessonId);
  const redisVersion = await stateVersion(redis, lk);
  return { lessonId: lk.lessonId, redisVersion, mysqlVersion, rolledBack: isRollback(redisVersion, mysqlVersion) };
}
