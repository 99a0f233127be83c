// Puts a synthetic lesson into Redis the way preload does (begin, write a
// version, switch, end) without MySQL, so API tests start in a second.
import { randomUUID } from 'node:crypto';
import { compileLesson } from '../../src/model/compile.js';
import { validatePolicyConf } from '../../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../../src/model/synthetic.js';
import type { Topology } from '../../src/model/topology.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { dropVersion, writeVersion } from '../../src/store/redis/lessonWriter.js';

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
  const src = syntheticLesson({ lessonId: p.lessonId, ordinal: p.lessonId % 1000, students: p.students, tutors: p.tutors, seed: p.seed, startTime: Date.UTC(2026, 10, 21, 10) });
  return compileLesson(src, conf, { policyId: 1 });
}

/** Writes `topo` as a new readable version of its lesson; returns the version. */
export async function loadTopology(redis: RedisClient, prefix: string, topo: Topology, ttlSeconds = 3600): Promise<number> {
  const lk = lessonKeys(prefix, topo.lesson.lessonId);
  const token = randomUUID();
  const now = Date.now();
  const [code, v] = await redis.oeBeginPreload1(lk.head, lk.lock, lk.versionSeq, token, 60_000, 1, now, ttlSeconds);
  if (code !== 0) throw new Error(`lesson ${topo.lesson.lessonId} is locked`);
  await writeVersion(redis, lk, topo, v, { ttlSeconds, fieldsPerCommand: 1000, commandsPerPipeline: 64, mode: 'full' });
  const [sw, prev] = await redis.oeSwitchVersion1(lk.head, lk.lock, v, token, 1, Date.now(), ttlSeconds, lk.channel);
  if (sw !== 0) throw new Error(`switch failed with ${sw}`);
  if (prev > 0) await dropVersion(redis, lk, prev);
  await redis.oeEndPreload1(lk.head, lk.lock, token, 0, Date.now());
  return v;
}

/** Marks a lesson as being preloaded for the first time (no readable version yet). */
export async function beginOnly(redis: RedisClient, prefix: string, lessonId: number): Promise<void> {
  const lk = lessonKeys(prefix, lessonId);
  await redis.oeBeginPreload1(lk.head, lk.lock, lk.versionSeq, randomUUID(), 60_000, 1, Date.now(), 3600);
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

/** Deletes a lesson's keys plus the signal and write-behind keys of its rooms. */
export async function dropLessonKeys(redis: RedisClient, prefix: string, lessonId: number, roomIds: string[]): Promise<void> {
  const lk = lessonKeys(prefix, lessonId);
  await dropLesson(redis, prefix, lessonId, [lk.writeBehind, lk.stateVersion, ...roomIds.flatMap((r) => [lk.signals(r), lk.signalSeq(r)])]);
}
