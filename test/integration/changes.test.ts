import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { prng } from '../../src/model/synthetic.js';
import type { OrgNode } from '../../src/model/topology.js';
import { changeLessonTime, changeTeacher, moveStudents, type ChangeDeps, type StudentMove } from '../../src/preload/changes.js';
import { checkLesson, type CheckDeps } from '../../src/preload/check.js';
import { preloadLesson } from '../../src/preload/preload.js';
import { seedDay } from '../../src/preload/seed.js';
import { listRuns } from '../../src/store/mysql/preloadRuns.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { unpack } from '../../src/store/redis/codec.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { readLesson, readPosition } from '../../src/store/redis/lessonReader.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { deleteKeys, testConfig, testEnv } from '../support/jobs.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { codeOf } from '../support/errors.js';

const DATE = '2026-11-21';

describe.each(['single', 'cluster'] as const)('changes on %s Redis', (mode) => {
  let db: TestDb;
  let config: Config;
  let redis: RedisClient;
  let deps: ChangeDeps & CheckDeps;
  let seq = 30;

  beforeAll(async () => {
    db = await createTestDb(`changes_${mode}`);
    config = testConfig(testEnv(db.url, mode));
    redis = createRedis(config.redis);
    deps = { pool: db.pool, redis, config };
  });

  afterAll(async () => {
    if (redis) {
      await deleteKeys(redis, `${config.keyPrefix}*`).catch(() => undefined);
      await redis.quit();
    }
    await db?.drop();
  });

  async function preloaded(policy: string, students: number, tutors: number) {
    const id = (await seedDay(db.pool, { lessons: 1, students, tutors, policy, seed: seq++, date: DATE, batchRows: 1000 })).lessonIds[0]!;
    await preloadLesson({ pool: db.pool, redis, config }, id);
    const [staff] = (await db.pool.query('SELECT staff_uid, role FROM src_lesson_staff ls JOIN src_staff s USING (staff_uid) WHERE ls.lesson_id = ? ORDER BY staff_uid', [id])) as unknown as [
      Array<{ staff_uid: number; role: string }>,
    ];
    const [students_] = (await db.pool.query('SELECT student_uid FROM src_enrolment WHERE lesson_id = ? ORDER BY student_uid', [id])) as unknown as [Array<{ student_uid: number }>];
    return { id, tutors: staff.filter((s) => s.role === 'tutor').map((s) => s.staff_uid), students: students_.map((s) => s.student_uid) };
  }

  async function tutorCounts(id: number): Promise<Map<number, number>> {
    const [rows] = (await db.pool.query('SELECT tutor_uid, COUNT(*) AS n FROM src_tutor_assignment WHERE lesson_id = ? GROUP BY tutor_uid', [id])) as unknown as [Array<{ tutor_uid: number; n: number }>];
    return new Map(rows.map((r) => [Number(r.tutor_uid), Number(r.n)]));
  }

  it('concurrent move batches end in the tree a fresh compile of the changed source gives (groups grown and shrunk)', async () => {
    const { id, tutors, students } = await preloaded('group', 600, 5);
    const lk = lessonKeys(config.keyPrefix, id);
    const sub = mode === 'single' ? new Redis(TEST_REDIS_URL) : null;
    const published = new Set<string>();
    sub?.on('smessage', (_c: string, m: string) => published.add(m));
    await sub?.ssubscribe(lk.channel);

    // 8 batches of 50 overlapping moves, most of them to the first tutor: it needs more
    // groups, the others fewer. Later batches move some students again.
    const rnd = prng(99);
    const batches: StudentMove[][] = [];
    for (let b = 0; b < 8; b++) {
      const picked = new Set<number>();
      while (picked.size < 50) picked.add(students[Math.floor(rnd() * 240)]!);
      batches.push([...picked].map((uid) => ({ uid, tutorUid: rnd() < 0.6 ? tutors[0]! : tutors[Math.floor(rnd() * tutors.length)]! })));
    }
    const results = await Promise.all(batches.map((m) => moveStudents(deps, id, m)));
    expect(results.every((r) => r.applied === 'redis')).toBe(true);
    expect(results.reduce((n, r) => n + r.moved!, 0)).toBeGreaterThan(100);

    // Redis and MySQL hold exactly what the source compiles to now: rooms, member counts,
    // nodes (sizes, groups, teams), every position and member partition.
    const report = await checkLesson(deps, id, { maxSamples: 5 });
    expect(report.differences.samples).toEqual([]);
    expect(report.status).toBe('passed');

    const counts = await tutorCounts(id);
    expect(counts.get(tutors[0]!)).toBeGreaterThan(120);
    const vk = lk.version(Number(await redis.hget(lk.head, 'version')));
    const nodes = new Map(Object.entries(await redis.hgetallBuffer(vk.nodes)).map(([k, b]) => [k, unpack<OrgNode>(b)]));
    for (const t of tutors) {
      const node = nodes.get(`t${t}`)!;
      expect(node.size).toBe(counts.get(t) ?? 0);
      const groups = node.childIds.flatMap((teamId) => nodes.get(teamId)!.childIds);
      expect(groups).toHaveLength(Math.ceil((counts.get(t) ?? 0) / 6));
    }
    // Each student of the last batch is where its final source row says.
    const [rows] = (await db.pool.query('SELECT student_uid, tutor_uid FROM src_tutor_assignment WHERE lesson_id = ? AND student_uid IN (?)', [id, batches[7]!.map((m) => m.uid)])) as unknown as [
      Array<{ student_uid: number; tutor_uid: number }>,
    ];
    for (const r of rows) {
      const pos = await readPosition(redis, lk, Number(r.student_uid));
      expect(pos.nodeId).toBe(`t${r.tutor_uid}`);
      expect(pos.rooms.map((s) => s.roomId)).toEqual(['main', `t${r.tutor_uid}.before`, `t${r.tutor_uid}.in`, `t${r.tutor_uid}.after`]);
    }
    if (sub) {
      expect(published.has(`pos:${batches[0]![0]!.uid}`)).toBe(true);
      expect(published.has(`node:t${tutors[0]}`)).toBe(true);
      expect(published.has(`room:t${tutors[0]}.in`)).toBe(true);
      await sub.quit();
    }
    // Moving the same students to where they are changes nothing.
    const again = await moveStudents(deps, id, rows.map((r) => ({ uid: Number(r.student_uid), tutorUid: Number(r.tutor_uid) })));
    expect(again).toMatchObject({ moved: 0, unchanged: rows.length });
  });

  it('class moves are validated against the source; a bad batch changes nothing', async () => {
    const { id, tutors, students } = await preloaded('small-class', 200, 2);
    const [classes] = (await db.pool.query('SELECT class_id, tutor_uid FROM src_class WHERE lesson_id = ? ORDER BY class_id', [id])) as unknown as [Array<{ class_id: number; tutor_uid: number }>];
    const otherTutorClass = classes.find((c) => Number(c.tutor_uid) === tutors[1])!;
    const uid = students[0]!;
    const lk = lessonKeys(config.keyPrefix, id);
    const before = await readPosition(redis, lk, uid);
    const before1 = await readPosition(redis, lk, students[1]!);

    // The class belongs to the other tutor: refused, as a compile would refuse it.
    expect(await codeOf(moveStudents(deps, id, [{ uid: students[1]!, classId: Number(otherTutorClass.class_id) }, { uid, tutorUid: tutors[0]!, classId: Number(otherTutorClass.class_id) }]))).toBe('SOURCE_INCONSISTENT');
    expect(await codeOf(moveStudents(deps, id, [{ uid, tutorUid: 12345 }]))).toBe('SOURCE_MISSING_TUTOR');
    expect(await codeOf(moveStudents(deps, id, [{ uid: 1, tutorUid: tutors[0]! }]))).toBe('STUDENT_NOT_FOUND');
    expect(await readPosition(redis, lk, uid)).toEqual(before);
    expect(await readPosition(redis, lk, students[1]!)).toEqual(before1);
    expect((await checkLesson(deps, id)).status).toBe('passed');

    const r = await moveStudents(deps, id, [{ uid, tutorUid: tutors[1]!, classId: Number(otherTutorClass.class_id) }]);
    expect(r).toMatchObject({ applied: 'redis', moved: 1 });
    expect((await readPosition(redis, lk, uid)).nodeId).toBe(`c${otherTutorClass.class_id}`);
    expect((await checkLesson(deps, id)).status).toBe('passed');
  });

  it('teacher and time changes reach the lesson record and every room', async () => {
    const { id } = await preloaded('group', 60, 2);
    const lk = lessonKeys(config.keyPrefix, id);
    const { lesson } = await readLesson(redis, lk);
    await changeTeacher(deps, id, 777);
    const r = await changeLessonTime(deps, id, lesson.startTime + 3_600_000, lesson.endTime + 3_600_000);
    expect(r).toMatchObject({ applied: 'redis', roomsChanged: 7 });
    const after = await readLesson(redis, lk);
    expect(after.lesson).toMatchObject({ teacherUid: 777, startTime: lesson.startTime + 3_600_000 });
    expect(after.rooms.find((x) => x.roomId === 'main')).toMatchObject({ teacherUid: 777, endTime: lesson.endTime + 3_600_000 });
    expect((await checkLesson(deps, id)).status).toBe('passed');
  });

  it('a change landing while a preload compiles stops that preload from switching; the next preload carries it', async () => {
    const { id, tutors, students } = await preloaded('group', 120, 2);
    const lk = lessonKeys(config.keyPrefix, id);
    const uid = students[5]!;
    const target = (await readPosition(redis, lk, uid)).nodeId === `t${tutors[0]}` ? tutors[1]! : tutors[0]!;
    const v1 = Number(await redis.hget(lk.head, 'version'));
    const code = await codeOf(
      preloadLesson({ pool: db.pool, redis, config }, id, {
        onStage: async (stage) => {
          if (stage === 'compiled') await moveStudents(deps, id, [{ uid, tutorUid: target }]);
        },
      }),
    );
    expect(code).toBe('SOURCE_CHANGED');
    // Readers still see v1, with the move applied to it.
    expect(Number(await redis.hget(lk.head, 'version'))).toBe(v1);
    expect((await readPosition(redis, lk, uid)).nodeId).toBe(`t${target}`);
    const r = await preloadLesson({ pool: db.pool, redis, config }, id);
    expect(r.version).toBeGreaterThan(v1);
    expect((await readPosition(redis, lk, uid)).nodeId).toBe(`t${target}`);
    expect((await checkLesson(deps, id)).status).toBe('passed');
    expect((await listRuns(db.pool, id, 5)).map((x) => x.status)).toEqual(['succeeded', 'failed', 'succeeded']);
  });

  it('a lesson not preloaded yet takes moves in its source only', async () => {
    const id = (await seedDay(db.pool, { lessons: 1, students: 30, tutors: 2, policy: 'group', seed: seq++, date: DATE, batchRows: 1000 })).lessonIds[0]!;
    const [rows] = (await db.pool.query('SELECT student_uid, tutor_uid FROM src_tutor_assignment WHERE lesson_id = ? ORDER BY student_uid LIMIT 1', [id])) as unknown as [Array<{ student_uid: number; tutor_uid: number }>];
    const [staff] = (await db.pool.query("SELECT staff_uid FROM src_lesson_staff ls JOIN src_staff USING (staff_uid) WHERE ls.lesson_id = ? AND role = 'tutor' AND staff_uid <> ?", [id, rows[0]!.tutor_uid])) as unknown as [
      Array<{ staff_uid: number }>,
    ];
    const r = await moveStudents(deps, id, [{ uid: rows[0]!.student_uid, tutorUid: staff[0]!.staff_uid }]);
    expect(r).toMatchObject({ applied: 'source-only', version: null });
    await preloadLesson({ pool: db.pool, redis, config }, id);
    expect((await readPosition(redis, lessonKeys(config.keyPrefix, id), rows[0]!.student_uid)).nodeId).toBe(`t${staff[0]!.staff_uid}`);
  });
});
