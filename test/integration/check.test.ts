import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { isOrgError, type OrgError } from '../../src/errors.js';
import { checkLesson, runCheck, type CheckDeps } from '../../src/preload/check.js';
import { diffPolicies } from '../../src/preload/diff.js';
import { preloadLesson } from '../../src/preload/preload.js';
import { seedDay } from '../../src/preload/seed.js';
import { BUILTIN_POLICIES } from '../../src/model/synthetic.js';
import { bindPolicy, putPolicy } from '../../src/store/mysql/policies.js';
import { listChecks } from '../../src/store/mysql/preloadChecks.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { pack, unpack } from '../../src/store/redis/codec.js';
import { lessonKeys, positionBucket } from '../../src/store/redis/keys.js';
import type { OrgNode } from '../../src/model/topology.js';
import { deleteKeys, testConfig, testEnv } from '../support/jobs.js';
import { createTestDb, type TestDb } from '../support/mysql.js';

async function failure(p: Promise<unknown>): Promise<OrgError> {
  try {
    await p;
  } catch (e) {
    if (isOrgError(e)) return e;
    throw e;
  }
  throw new Error('expected an OrgError');
}

describe.each(['single', 'cluster'] as const)('check on %s Redis', (mode) => {
  let db: TestDb;
  let config: Config;
  let redis: RedisClient;
  let deps: CheckDeps;
  let ids: number[];

  beforeAll(async () => {
    db = await createTestDb(`check_${mode}`);
    config = testConfig(testEnv(db.url, mode));
    redis = createRedis(config.redis);
    deps = { pool: db.pool, redis, config };
    ids = (await seedDay(db.pool, { lessons: 2, students: 600, tutors: 4, policy: 'group', seed: 21, date: '2026-11-21', batchRows: 1000 })).lessonIds;
    // Small partitions for the first lesson: several position buckets and member partitions.
    const group = BUILTIN_POLICIES.find((p) => p.name === 'group')!;
    await putPolicy(db.pool, 'group-p100', { ...group.conf, partitionSize: 100 });
    await bindPolicy(db.pool, ids[0]!, 'group-p100');
    for (const id of ids) await preloadLesson({ pool: db.pool, redis, config }, id);
  });

  afterAll(async () => {
    if (redis) {
      await deleteKeys(redis, `${config.keyPrefix}*`).catch(() => undefined);
      await redis.quit();
    }
    await db?.drop();
  });

  it('passes on a fresh preload and stores the report', async () => {
    const r = await runCheck(deps, ids[0]!);
    expect(r).toMatchObject({ status: 'passed', mismatches: 0, passes: 1 });
    expect(r.counts.positions).toBe(600);
    expect(r.counts.members).toBe(r.counts.roomUsers);
    const [row] = await listChecks(db.pool, ids[0]!, 1);
    expect(row).toMatchObject({ checkId: r.checkId, status: 'passed', version: r.version, runId: r.runId, mismatches: 0 });
  });

  it('catches corruption in Redis and in MySQL, names each difference, fails loudly and stores the report', async () => {
    const id = ids[1]!;
    const lk = lessonKeys(config.keyPrefix, id);
    const v = Number(await redis.hget(lk.head, 'version'));
    const vk = lk.version(v);
    const buckets = Number(await redis.hget(vk.lesson, 'posBuckets'));
    // One position deleted, one node's size changed, one member removed from a room partition.
    const [uid] = await redis.hkeys(vk.positions(0));
    const victim = Number(uid);
    expect(await redis.hdel(vk.positions(positionBucket(victim, buckets)), String(victim))).toBe(1);
    const tutorId = (await redis.hkeys(vk.nodes)).find((n) => /^t\d+$/.test(n))!;
    const node = unpack<OrgNode>((await redis.hgetBuffer(vk.nodes, tutorId))!);
    await redis.hset(vk.nodes, tutorId, pack({ ...node, size: node.size + 1 }));
    const [member] = await redis.zrange(vk.members('main', 0), 0, 0);
    expect(await redis.zrem(vk.members('main', 0), member!)).toBe(1);
    // One room_user row gone in MySQL.
    await db.pool.query("DELETE FROM room_user WHERE lesson_id = ? AND room_id = 'main' ORDER BY uid LIMIT 1", [id]);

    const err = await failure(runCheck(deps, id, { confirmDelayMs: 10 }));
    expect(err.code).toBe('CHECK_FAILED');
    const [row] = await listChecks(db.pool, id, 1);
    expect(row!.status).toBe('failed');
    const report = row!.report as { passes: number; mismatches: number; differences: { byKind: Record<string, number>; samples: Array<{ kind: string; id: string; field: string; expected: unknown; actual: unknown; between: string }> } };
    expect(report.passes).toBe(2);
    expect(report.differences.byKind).toEqual({ 'source/redis:position': 1, 'source/redis:node': 1, 'source/redis:member': 1, 'source/mysql:position': 1, 'source/mysql:member': 1 });
    const s = report.differences.samples;
    expect(s).toContainEqual(expect.objectContaining({ between: 'source/redis', kind: 'position', id: String(victim), field: 'missing' }));
    expect(s).toContainEqual({ between: 'source/redis', kind: 'node', id: tutorId, field: 'size', expected: node.size, actual: node.size + 1 });
    expect(s).toContainEqual(expect.objectContaining({ between: 'source/redis', kind: 'member', id: `main/${member}`, field: 'missing' }));
    expect(s).toContainEqual(expect.objectContaining({ between: 'source/mysql', kind: 'member', field: 'missing' }));
    expect(report.mismatches).toBe(err.details?.mismatches);
  });

  it('reports a position in the wrong bucket (readers cannot find it) and one that should not exist', async () => {
    const id = ids[0]!;
    const lk = lessonKeys(config.keyPrefix, id);
    const vk = lk.version(Number(await redis.hget(lk.head, 'version')));
    const buckets = Number(await redis.hget(vk.lesson, 'posBuckets'));
    expect(buckets).toBe(6);
    const [uid] = await redis.hkeys(vk.positions(2));
    const blob = (await redis.hgetBuffer(vk.positions(2), uid!))!;
    await redis.hdel(vk.positions(2), uid!);
    await redis.hset(vk.positions(3), uid!, blob);
    await redis.hset(vk.positions(0), '7', pack({ n: 'root', r: [['main', 0]] }));
    const r = await checkLesson(deps, id, { confirmDelayMs: 10, targets: ['redis'] });
    expect(r.status).toBe('failed');
    expect(r.differences.samples).toEqual([
      expect.objectContaining({ kind: 'position', id: uid, field: 'bucket', expected: 2, actual: 3 }),
      expect.objectContaining({ kind: 'position', id: '7', field: 'extra' }),
    ]);
    await redis.hdel(vk.positions(3), uid!);
    await redis.hdel(vk.positions(0), '7');
    await redis.hset(vk.positions(2), uid!, blob);
    expect((await checkLesson(deps, id)).status).toBe('passed');
  });

  it('diff: the same policy twice differs in nothing; two policies differ, in scratch places that are removed', async () => {
    const same = await diffPolicies({ pool: db.pool, redis, config }, ids[0]!, 'group', 'group');
    expect(same.differences.count).toBe(0);
    expect(same.a.counts).toEqual(same.b.counts);
    const other = await diffPolicies({ pool: db.pool, redis, config }, ids[0]!, 'group', 'small-class');
    expect(other.differences.count).toBeGreaterThan(0);
    expect(other.differences.byKind['a/b redis:room']).toBe(other.a.counts.rooms - other.b.counts.rooms);
    expect(other.differences.samples).toContainEqual(expect.objectContaining({ kind: 'lesson', field: 'orgPolicy', expected: '/lesson/tutor/team/group', actual: '/lesson/tutor/class' }));
    const [dbs] = (await db.pool.query('SHOW DATABASES LIKE ?', [`%_diff_%${other.a.database.slice(-8)}`])) as unknown as [unknown[]];
    expect(dbs).toHaveLength(0);
    expect(await redis.exists(lessonKeys(other.a.keyPrefix, ids[0]!).head)).toBe(0);
  });
});
