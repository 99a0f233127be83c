// Test lessons: put a synthetic lesson into Redis the way preload does (begin,
// write a version, switch, end) without MySQL, so API tests start in a second;
// or seed its source rows in MySQL for tests that run the real preload. And
// remove every key a lesson left behind in the shared Redis.
import { randomUUID } from 'node:crypto';
import type { Pool } from 'mysql2/promise';
import { compileLesson } from '../../src/model/compile.js';
import { validatePolicyConf } from '../../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../../src/model/synthetic.js';
import type { Room, Topology } from '../../src/model/topology.js';
import { installBuiltinPolicies } from '../../src/preload/seed.js';
import { bindPolicy } from '../../src/store/mysql/policies.js';
import { writeLessonSource } from '../../src/store/mysql/source.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { unpack } from '../../src/store/redis/codec.js';
import { lessonKeys, writeBehindRegistryKey } from '../../src/store/redis/keys.js';
import { dropVersion, writeVersion } from '../../src/store/redis/lessonWriter.js';
import { beginPreload, endPreload, switchVersion } from '../../src/store/redis/preloadLock.js';

/** Lesson start of every synthetic test lesson. */
export const START = Date.UTC(2026, 10, 21, 10);

/** Parameters of a test lesson. */
export interface TestLesson {
  lessonId: number;
  students: number;
  tutors: number;
  policy: string;
  seed: number;
  /** Overrides the policy's partition size (min 100) to get several partitions. */
  partitionSize?: number;
}

/** Compiles the synthetic lesson. */
export function compileTestLesson(p: TestLesson): Topology {
  const builtin = BUILTIN_POLICIES.find((b) => b.name === p.policy);
  if (!builtin) throw new Error(`no builtin policy ${p.policy}`);
  const conf = validatePolicyConf({ ...builtin.conf, ...(p.partitionSize ? { partitionSize: p.partitionSize } : {}) });
  const src = syntheticLesson({ lessonId: p.lessonId, ordinal: p.lessonId % 1000, students: p.students, tutors: p.tutors, seed: p.seed, startTime: START });
  return compileLesson(src, conf, { policyId: 1 });
}

/** Writes `topo` as a new readable version of its lesson; returns the version. */
export async function loadTopology(redis: RedisClient, prefix: string, topo: Topology, ttlSeconds = 3600): Promise<number> {
  const lk = lessonKeys(prefix, topo.lesson.lessonId);
  const token = randomUUID();
  const now = Date.now();
  const { version: v } = await beginPreload(redis, lk, { token, lockMs: 60_000, runId: 1, now, ttlSeconds });
  await writeVersion(redis, lk, topo, v, { ttlSeconds, fieldsPerCommand: 1000, commandsPerPipeline: 64, mode: 'full' });
  const prev = await switchVersion(redis, lk, { version: v, token, runId: 1, now: Date.now(), ttlSeconds });
  if (prev > 0) await dropVersion(redis, lk, prev);
  await endPreload(redis, lk, token, false, Date.now());
  return v;
}

/** Marks a lesson as being preloaded for the first time (no readable version yet). */
export async function beginOnly(redis: RedisClient, prefix: string, lessonId: number): Promise<void> {
  const lk = lessonKeys(prefix, lessonId);
  await beginPreload(redis, lk, { token: randomUUID(), lockMs: 60_000, runId: 1, now: Date.now(), ttlSeconds: 3600 });
}

/** Removes a test lesson's keys (versions through their index, then head, counters, state). */
export async function dropLesson(redis: RedisClient, prefix: string, lessonId: number, extraKeys: string[] = []): Promise<void> {
  const lk = lessonKeys(prefix, lessonId);
  const v = Number((await redis.hget(lk.head, 'version')) ?? 0);
  if (v > 0) await dropVersion(redis, lk, v);
  await redis.unlink(lk.head, lk.versionSeq, lk.lock, lk.stateGroup, lk.stateSignIn, lk.stateDynamicNodes, ...extraKeys);
}

/** Compiles a synthetic lesson with a built-in policy and makes it readable; returns its topology. */
export async function loadSyntheticLesson(
  redis: RedisClient,
  prefix: string,
  lessonId: number,
  opts: { students?: number; tutors?: number; policy?: string; ttlSeconds?: number } = {},
): Promise<Topology> {
  const topo = compileTestLesson({ lessonId, students: opts.students ?? 40, tutors: opts.tutors ?? 2, policy: opts.policy ?? 'group', seed: lessonId });
  await loadTopology(redis, prefix, topo, opts.ttlSeconds ?? 600);
  return topo;
}

/** Writes a synthetic lesson's source rows and binds it to a built-in policy; returns the source. */
export async function seedLesson(pool: Pool, lessonId: number, policy: string, students: number, tutors: number, startTime = START) {
  await installBuiltinPolicies(pool);
  const src = syntheticLesson({ lessonId, ordinal: lessonId % 1000, students, tutors, seed: 5, startTime });
  await writeLessonSource(pool, src, 1000);
  await bindPolicy(pool, lessonId, policy);
  return src;
}

/** uid -> tutor uid of a synthetic lesson. */
export function tutorOf(src: ReturnType<typeof syntheticLesson>): Map<number, number> {
  return new Map(src.tutorAssignments.map((a) => [a.studentUid, a.tutorUid]));
}

/**
 * Deletes every key of the given lessons under `prefix`: the readable version
 * (through its index), head and counters, in-class state (per room: mutes,
 * online partitions, signals), score totals and PK rounds, the write-behind
 * stream, and their entries in the write-behind registry. `roomIds` adds rooms the version no longer lists.
 */
export async function dropLessonKeys(redis: RedisClient, prefix: string, lessonIds: number | readonly number[], roomIds: readonly string[] = []): Promise<void> {
  const ids = typeof lessonIds === 'number' ? [lessonIds] : lessonIds;
  for (const id of ids) {
    const lk = lessonKeys(prefix, id);
    const rooms = new Map<string, number>(roomIds.map((r) => [r, 1]));
    const v = Number((await redis.hget(lk.head, 'version')) ?? 0);
    if (v > 0) {
      for (const blob of Object.values(await redis.hgetallBuffer(lk.version(v).rooms))) {
        const room = unpack<Room>(blob);
        rooms.set(room.roomId, Math.max(1, room.partitions));
      }
    }
    const keys = [
      lk.stateSeats, lk.stateDynamicChildren, lk.stateDynamicSeq, lk.stateVersion, lk.writeBehind,
      lk.scoreIdem, lk.scoreUsers, lk.scoreNodes, lk.scorePkSeq, lk.scoreScopes,
    ];
    // Score totals: a level board per node (preloaded or created in class), seats and PK rounds per scope.
    const nodeIds = [...(v > 0 ? await redis.hkeys(lk.version(v).nodes) : []), ...(await redis.hkeys(lk.stateDynamicNodes))];
    for (const n of nodeIds) keys.push(lk.scoreChildren(n));
    for (const scope of await redis.smembers(lk.scoreScopes)) keys.push(lk.scoreSeats(scope), lk.scorePk(scope));
    for (const [roomId, partitions] of rooms) {
      keys.push(lk.stateMuted(roomId), lk.stateMutedNodes(roomId), lk.signals(roomId), lk.signalSeq(roomId), lk.scoreRoom(roomId), lk.scorePk(`r:${roomId}`));
      for (let p = 0; p < partitions; p++) keys.push(lk.stateOnline(roomId, p));
    }
    // One slot per lesson, so one UNLINK per chunk works on Cluster too.
    for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
    await dropLesson(redis, prefix, id);
  }
  if (ids.length > 0) await redis.zrem(writeBehindRegistryKey(prefix), ...ids.map(String));
}

/** The in-class state a mutation could write in one lesson's main room (to show a refused one wrote nothing). */
export async function inClassSnapshot(redis: RedisClient, prefix: string, lessonId: number): Promise<Record<string, unknown>> {
  const k = lessonKeys(prefix, lessonId);
  return {
    stream: await redis.xlen(k.writeBehind),
    ver: await redis.get(k.stateVersion),
    group: await redis.hgetall(k.stateGroup),
    seats: await redis.hgetall(k.stateSeats),
    dynNodes: await redis.hgetall(k.stateDynamicNodes),
    dynChildren: await redis.hgetall(k.stateDynamicChildren),
    signIn: await redis.hgetall(k.stateSignIn),
    muted: (await redis.smembers(k.stateMuted('main'))).sort(),
    mutedNodes: (await redis.smembers(k.stateMutedNodes('main'))).sort(),
  };
}
