// Puts a small synthetic lesson into Redis the way a preload does (version
// write, then the switch script), without MySQL: for tests and benches of the
// read and signal paths that only need a readable lesson.
import { randomUUID } from 'node:crypto';
import { compileLesson } from '../../src/model/compile.js';
import { validatePolicyConf } from '../../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../../src/model/synthetic.js';
import type { Topology } from '../../src/model/topology.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { writeVersion } from '../../src/store/redis/lessonWriter.js';

/** Compiles a synthetic lesson with a built-in policy and makes it readable; returns its topology. */
export async function loadSyntheticLesson(
  redis: RedisClient,
  prefix: string,
  lessonId: number,
  opts: { students?: number; tutors?: number; policy?: string; ttlSeconds?: number } = {},
): Promise<Topology> {
  const policy = BUILTIN_POLICIES.find((p) => p.name === (opts.policy ?? 'group'));
  if (!policy) throw new Error(`no built-in policy ${opts.policy}`);
  const conf = validatePolicyConf(policy.conf);
  const src = syntheticLesson({ lessonId, ordinal: 1, students: opts.students ?? 40, tutors: opts.tutors ?? 2, seed: lessonId, startTime: Date.UTC(2026, 10, 21, 10) });
  const topo = compileLesson(src, conf, { policyId: 1 });
  const lk = lessonKeys(prefix, lessonId);
  const ttl = opts.ttlSeconds ?? 600;
  const token = randomUUID();
  const [code, version] = await redis.oeBeginPreload1(lk.head, lk.lock, lk.versionSeq, token, 60_000, 1, Date.now(), ttl);
  if (code !== 0) throw new Error(`begin preload answered ${code}`);
  await writeVersion(redis, lk, topo, version, { ttlSeconds: ttl, fieldsPerCommand: 1000, commandsPerPipeline: 64, mode: 'full' });
  const [sw] = await redis.oeSwitchVersion1(lk.head, lk.lock, version, token, 1, Date.now(), ttl, lk.channel);
  if (sw !== 0) throw new Error(`switch answered ${sw}`);
  await redis.oeEndPreload1(lk.head, lk.lock, token, 0, Date.now());
  return topo;
}

/** Deletes a lesson's keys written by loadSyntheticLesson plus the signal and write-behind keys of its rooms. */
export async function dropLessonKeys(redis: RedisClient, prefix: string, lessonId: number, roomIds: string[]): Promise<void> {
  const lk = lessonKeys(prefix, lessonId);
  const version = Number(await redis.hget(lk.head, 'version'));
  const keys: string[] = [lk.head, lk.versionSeq, lk.lock, lk.writeBehind, lk.stateVersion];
  if (version > 0) {
    const index = await redis.smembers(lk.version(version).index);
    keys.push(...index);
  }
  for (const r of roomIds) keys.push(lk.signals(r), lk.signalSeq(r));
  // Same hash tag: one DEL per chunk is single-slot on a Cluster too.
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}
