import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { ErrorCode } from '../../src/errors.js';
import { compileLesson } from '../../src/model/compile.js';
import { validatePolicyConf } from '../../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../../src/model/synthetic.js';
import type { OrgNode, Room, Topology } from '../../src/model/topology.js';
import { preloadLesson, type PreloadDeps } from '../../src/preload/preload.js';
import { installBuiltinPolicies } from '../../src/preload/seed.js';
import { bindPolicy } from '../../src/store/mysql/policies.js';
import { listRuns } from '../../src/store/mysql/preloadRuns.js';
import { writeLessonSource } from '../../src/store/mysql/source.js';
import { readStoredTopology } from '../../src/store/mysql/topology.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { unpack } from '../../src/store/redis/codec.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { readMembersPage, readNodeView } from '../../src/store/redis/edgeReads.js';
import { decodePosition, readHead, readLesson, readPosition, readRoom } from '../../src/store/redis/lessonReader.js';
import { uniquePrefix } from '../support/env.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { REDIS_MODES, testRedis } from '../support/redis.js';
import { codeOf } from '../support/errors.js';

const START = Date.UTC(2026, 10, 21, 10);

describe.each(REDIS_MODES)('preload on %s Redis', (mode) => {
  let db: TestDb;
  let redis: RedisClient;
  let deps: PreloadDeps;
  let nextLesson = 1;

  beforeAll(async () => {
    db = await createTestDb(`preload_${mode}`);
    redis = testRedis(mode);
    const config = { ...loadConfig({ ORGENGINE_KEY_PREFIX: uniquePrefix(mode).slice(0, 30) }), mysqlBatchRows: 500, redisFieldsPerCommand: 200, redisCommandsPerPipeline: 16 };
    deps = { pool: db.pool, redis, config };
    await installBuiltinPolicies(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
    await redis?.quit();
  });

  /** Seeds a fresh lesson bound to `policy`; returns its id and source. */
  async function seedLesson(policy: string, students = 1500, tutors = 4) {
    const lessonId = nextLesson++;
    const src = syntheticLesson({ lessonId, ordinal: lessonId, students, tutors, seed: 3, startTime: START });
    await writeLessonSource(db.pool, src, 500);
    await bindPolicy(db.pool, lessonId, policy);
    return { lessonId, src };
  }

  const expected = (policy: string, src: ReturnType<typeof syntheticLesson>, policyId: number): Topology =>
    compileLesson(src, validatePolicyConf(BUILTIN_POLICIES.find((p) => p.name === policy)!.conf), { policyId });

  it('round trip: Redis and MySQL hold exactly what was compiled', async () => {
    const { lessonId, src } = await seedLesson('group', 1500, 4);
    const r = await preloadLesson(deps, lessonId);
    const topo = expected('group', src, r.policyId);
    expect(r.counts).toEqual(topo.counts);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);

    const { lesson, rooms } = await readLesson(redis, lk);
    expect(lesson).toMatchObject({ ...topo.lesson, version: r.version });
    const byId = (a: Room[]) => [...a].sort((x, y) => x.roomId.localeCompare(y.roomId));
    expect(byId(rooms)).toEqual(byId(topo.rooms));
    expect(await readRoom(redis, lk, topo.rooms[1]!.roomId)).toEqual(topo.rooms[1]);

    const vk = lk.version(r.version);
    const nodesFlat = await redis.hgetallBuffer(vk.nodes);
    const nodes = Object.values(nodesFlat).map((b) => unpack<OrgNode>(b));
    expect(nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId))).toEqual([...topo.nodes].sort((a, b) => a.nodeId.localeCompare(b.nodeId)));

    // Every position, through the one-round-trip reader.
    for (const p of topo.positions) {
      const got = await readPosition(redis, lk, p.uid);
      expect(got).toEqual({ nodeId: p.nodeId, rooms: p.rooms.map((s) => ({ ...s })) });
    }
    // Every member partition, paged by cursor, in join order.
    for (const room of topo.rooms) {
      const want = topo.positions.filter((p) => p.rooms.some((s) => s.roomId === room.roomId)).map((p) => ({ uid: p.uid, order: p.order }));
      const got: Array<{ uid: number; order: number }> = [];
      for (let part = 0; part < room.partitions; part++) {
        let cursor: number | null = null;
        for (;;) {
          const page = await readMembersPage(redis, lk, room.roomId, part, cursor, 333, true);
          got.push(...page.members.map((m) => ({ uid: m.uid, order: m.order })));
          if (!page.more) break;
          cursor = page.members[page.members.length - 1]!.order;
        }
      }
      expect(got).toEqual(want);
    }
    const tutor = topo.nodes.find((n) => n.kind === 'tutor')!;
    const withKids = await readNodeView(redis, lk, tutor.nodeId);
    expect(withKids.children.map((c) => c.nodeId)).toEqual(tutor.childIds);
    expect(withKids.ancestors.map((a) => a.nodeId)).toEqual(['root']);

    const stored = await readStoredTopology(db.pool, lessonId);
    expect(stored?.status).toBe('ready');
    expect(stored?.version).toBe(r.version);
    expect(stored?.rooms).toEqual(byId(topo.rooms));
    expect(stored?.nodes.length).toBe(topo.nodes.length);
    expect(stored?.roomUsers.length).toBe(topo.counts.roomUsers);
    const mysqlPos = new Map<number, string>();
    for (const u of stored!.roomUsers) mysqlPos.set(u.uid, u.nodeId);
    for (const p of topo.positions) expect(mysqlPos.get(p.uid)).toBe(p.nodeId);

    const [run] = await listRuns(db.pool, lessonId, 1);
    expect(run).toMatchObject({ status: 'succeeded', version: r.version, counts: topo.counts, errorCode: null });
  });

  it('re-running is idempotent, drops the old version and keeps in-class state', async () => {
    const { lessonId } = await seedLesson('small-class', 600, 2);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);
    const first = await preloadLesson(deps, lessonId);
    const before = await readLesson(redis, lk);
    const uid = (await redis.hkeys(lk.version(first.version).positions(0)))[0]!;

    // In-class state written by mutations lives outside the versioned keys.
    await redis.hset(lk.stateGroup, uid, 'some-group');
    await redis.sadd(lk.stateMuted('main'), uid);
    await redis.hset(lk.stateSignIn, uid, '1700000000000');

    const second = await preloadLesson(deps, lessonId);
    expect(second.version).toBe(first.version + 1);
    expect(second.previousVersion).toBe(first.version);
    expect(second.counts).toEqual(first.counts);
    const after = await readLesson(redis, lk);
    expect({ ...after.lesson, version: 0 }).toEqual({ ...before.lesson, version: 0 });
    expect(after.rooms).toEqual(before.rooms);
    expect(await redis.exists(lk.version(first.version).index, lk.version(first.version).lesson, lk.version(first.version).positions(0))).toBe(0);

    expect(await redis.hget(lk.stateGroup, uid)).toBe('some-group');
    expect(await redis.sismember(lk.stateMuted('main'), uid)).toBe(1);
    expect(await redis.hget(lk.stateSignIn, uid)).toBe('1700000000000');
    const stored = await readStoredTopology(db.pool, lessonId);
    expect(stored?.roomUsers.length).toBe(first.counts.roomUsers);
    expect(stored?.version).toBe(second.version);
  });

  it('every key of a version expires', async () => {
    const { lessonId } = await seedLesson('group', 300, 2);
    const r = await preloadLesson(deps, lessonId);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);
    const names = await redis.smembers(lk.version(r.version).index);
    expect(names.length).toBeGreaterThan(5);
    for (const k of [...names, lk.head]) {
      const ttl = await redis.ttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(deps.config.ttlSeconds);
    }
  });

  it('a reader during the first preload sees "not ready", never part of the lesson', async () => {
    const { lessonId, src } = await seedLesson('group', 600, 2);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);
    expect(await codeOf(readLesson(redis, lk))).toBe('LESSON_NOT_FOUND');
    const uid = src.enrolments[0]!.studentUid;
    const seen: ErrorCode[] = [];
    await preloadLesson(deps, lessonId, {
      onStage: async (stage) => {
        if (stage === 'switched') return;
        seen.push(await codeOf(readLesson(redis, lk)), await codeOf(readPosition(redis, lk, uid)), await codeOf(readRoom(redis, lk, 'main')));
      },
    });
    expect(new Set(seen)).toEqual(new Set(['LESSON_NOT_READY']));
    expect(seen.length).toBe(9);
    expect((await readPosition(redis, lk, uid)).rooms[0]!.roomId).toBe('main');
  });

  it('a reader during a re-run keeps reading the complete old version', async () => {
    const { lessonId, src } = await seedLesson('group', 600, 2);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);
    const first = await preloadLesson(deps, lessonId);
    const uid = src.enrolments[5]!.studentUid;
    const want = await readPosition(redis, lk, uid);
    await preloadLesson(deps, lessonId, {
      onStage: async (stage) => {
        if (stage === 'switched') return;
        expect((await readLesson(redis, lk)).lesson.version).toBe(first.version);
        expect(await readPosition(redis, lk, uid)).toEqual(want);
      },
    });
    expect((await readHead(redis, lk)).version).toBe(first.version + 1);
  });

  it('a failure after writing leaves the old version readable and nothing of the new', async () => {
    const { lessonId } = await seedLesson('three-screen', 300, 2);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);
    const first = await preloadLesson(deps, lessonId);
    const code = await codeOf(
      preloadLesson(deps, lessonId, {
        onStage: (stage) => {
          if (stage === 'mysql-written') throw new Error('disk on fire');
        },
      }),
    );
    expect(code).toBe('INTERNAL');
    const head = await readHead(redis, lk);
    expect(head).toEqual({ status: 'ready', version: first.version });
    const failedVersion = first.version + 1;
    expect(await redis.exists(lk.version(failedVersion).index, lk.version(failedVersion).lesson, lk.version(failedVersion).rooms)).toBe(0);
    expect((await readLesson(redis, lk)).lesson.version).toBe(first.version);
    const [run] = await listRuns(db.pool, lessonId, 1);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'INTERNAL', errorMessage: 'disk on fire' });
    expect(await redis.exists(lk.lock)).toBe(0);
  });

  it('a second preload of the same lesson at the same time is refused', async () => {
    const { lessonId } = await seedLesson('group', 600, 2);
    let second: Promise<ErrorCode> | undefined;
    await preloadLesson(deps, lessonId, {
      onStage: (stage) => {
        if (stage === 'compiled') second = codeOf(preloadLesson(deps, lessonId));
      },
    });
    expect(await second).toBe('PRELOAD_IN_PROGRESS');
  });

  it('modes: minimal writes no positions, simple no member sets', async () => {
    const { lessonId, src } = await seedLesson('group', 300, 2);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);
    const uid = src.enrolments[0]!.studentUid;
    const minimal = await preloadLesson(deps, lessonId, { mode: 'minimal' });
    expect(minimal.mode).toBe('minimal');
    expect(await codeOf(readPosition(redis, lk, uid))).toBe('STUDENT_NOT_FOUND');
    expect((await readNodeView(redis, lk, 'root')).children.length).toBe(2);
    expect((await readStoredTopology(db.pool, lessonId))?.roomUsers.length).toBe(0);

    const simple = await preloadLesson(deps, lessonId, { mode: 'simple' });
    expect((await readPosition(redis, lk, uid)).nodeId).toMatch(/^t\d+$/);
    expect((await readMembersPage(redis, lk, 'main', 0, null, 10, false)).members).toEqual([]);
    expect((await readStoredTopology(db.pool, lessonId))?.roomUsers.length).toBe(simple.counts.roomUsers);
  });

  describe('bad input: a clear code, a failed run, nothing readable', () => {
    async function expectFailed(lessonId: number, code: ErrorCode) {
      expect(await codeOf(preloadLesson(deps, lessonId))).toBe(code);
      const [run] = await listRuns(db.pool, lessonId, 1);
      expect(run).toMatchObject({ status: 'failed', errorCode: code });
      expect(run!.errorMessage).toBeTruthy();
      const lk = lessonKeys(deps.config.keyPrefix, lessonId);
      expect(['LESSON_NOT_FOUND', 'LESSON_NOT_READY']).toContain(await codeOf(readLesson(redis, lk)));
      expect(await redis.exists(lk.version(1).index, lk.version(1).lesson, lk.version(1).nodes, lk.lock)).toBe(0);
    }

    it('unknown lesson', async () => {
      await expectFailed(987_654, 'LESSON_NOT_FOUND');
    });

    it('lesson with no bound policy', async () => {
      const { lessonId } = await seedLesson('group', 100, 1);
      await db.pool.query('DELETE FROM lesson_policy WHERE lesson_id = ?', [lessonId]);
      await expectFailed(lessonId, 'POLICY_NOT_BOUND');
    });

    it('malformed policy JSON', async () => {
      const { lessonId } = await seedLesson('group', 100, 1);
      await db.pool.query("INSERT INTO policy (name, conf) VALUES ('broken', '{\"bizType\": ')");
      await bindPolicy(db.pool, lessonId, 'broken');
      await expectFailed(lessonId, 'POLICY_INVALID');
      const [run] = await listRuns(db.pool, lessonId, 1);
      expect(run!.errorMessage).toContain('broken');
    });

    it('source rows referencing a missing tutor', async () => {
      const { lessonId, src } = await seedLesson('group', 200, 2);
      await db.pool.query('UPDATE src_tutor_assignment SET tutor_uid = 1 WHERE lesson_id = ? AND student_uid = ?', [lessonId, src.enrolments[0]!.studentUid]);
      await expectFailed(lessonId, 'SOURCE_MISSING_TUTOR');
      const [lesson] = await db.pool.query<import('mysql2/promise').RowDataPacket[]>('SELECT status FROM lesson WHERE lesson_id = ?', [lessonId]);
      expect(lesson[0]!.status).toBe('failed');
    });

    it('source rows referencing a missing class', async () => {
      const { lessonId, src } = await seedLesson('small-class', 200, 2);
      await db.pool.query('UPDATE src_tutor_assignment SET class_id = 1 WHERE lesson_id = ? AND student_uid = ?', [lessonId, src.enrolments[0]!.studentUid]);
      await expectFailed(lessonId, 'SOURCE_MISSING_CLASS');
    });
  });

  it('decodes positions that many students share without copying per student', async () => {
    const { lessonId } = await seedLesson('three-screen', 200, 1);
    const r = await preloadLesson(deps, lessonId);
    const lk = lessonKeys(deps.config.keyPrefix, lessonId);
    const blobs = await redis.hgetallBuffer(lk.version(r.version).positions(0));
    const decoded = Object.values(blobs).map(decodePosition);
    expect(decoded.length).toBe(200);
    expect(new Set(decoded.map((d) => JSON.stringify(d))).size).toBe(1);
  });
});
