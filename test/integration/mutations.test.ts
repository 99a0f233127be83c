import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { isOrgError, type ErrorCode } from '../../src/errors.js';
import { prng } from '../../src/model/synthetic.js';
import type { OrgNode } from '../../src/model/topology.js';
import { preloadLesson } from '../../src/preload/preload.js';
import type { Caller } from '../../src/auth/caller.js';
import { MutationService } from '../../src/services/mutations.js';
import { reconcileLesson } from '../../src/services/reconcile.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { unpack } from '../../src/store/redis/codec.js';
import { readOnline } from '../../src/store/redis/edgeReads.js';
import { lessonKeys, writeBehindRegistryKey } from '../../src/store/redis/keys.js';
import { Flusher } from '../../src/writebehind/flusher.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, inClassSnapshot, seedLesson, tutorOf } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { Cluster, Redis } from 'ioredis';
import { REDIS_MODES, redisTarget, testRedis } from '../support/redis.js';
import { outcomeOf } from '../support/errors.js';

const GROUP_LESSON = 501;
const PLAIN_LESSON = 502;
const UNKNOWN_LESSON = 503;
const STUDENTS = 5000;
const TUTORS = 10;

const service: Caller = { uid: 1, role: 'service', lesson: '*' };
const teacher: Caller = { uid: 2, role: 'teacher', lesson: GROUP_LESSON };
const student = (uid: number, lesson: number = GROUP_LESSON): Caller => ({ uid, role: 'student', lesson });


describe.each(REDIS_MODES)('in-class mutations on %s Redis', (mode) => {
  // MySQL state tables are per lesson, so each Redis mode gets its own database.
  let db: TestDb;
  let src: Awaited<ReturnType<typeof seedLesson>>;
  let redis: RedisClient;
  let config: Config;
  let svc: MutationService;
  let flusher: Flusher;
  const tutor = new Map<number, number>();
  /** Preloaded nodes of the group lesson. */
  const nodes = new Map<string, OrgNode>();
  const lk = () => lessonKeys(config.keyPrefix, GROUP_LESSON);

  beforeAll(async () => {
    db = await createTestDb(`mutations_${mode}`);
    src = await seedLesson(db.pool, GROUP_LESSON, 'group', STUDENTS, TUTORS);
    await seedLesson(db.pool, PLAIN_LESSON, 'three-screen', 200, 2);
    redis = testRedis(mode);
    config = loadConfig({ ORGENGINE_KEY_PREFIX: uniquePrefix(`mut${mode[0]}`).slice(0, 30) });
    const deps = { pool: db.pool, redis, config };
    const r = await preloadLesson(deps, GROUP_LESSON);
    await preloadLesson(deps, PLAIN_LESSON);
    for (const [k, v] of Object.entries(await redis.hgetallBuffer(lk().version(r.version).nodes))) nodes.set(k, unpack<OrgNode>(v));
    for (const [u, t] of tutorOf(src)) tutor.set(u, t);
    svc = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind });
    flusher = new Flusher({
      redis,
      pool: db.pool,
      keyPrefix: config.keyPrefix,
      wb: { ...config.writeBehind, claimIdleMs: 1000 },
      batchRows: 500,
      registryRefreshMs: 50,
    });
  });

  afterAll(async () => {
    if (redis && config) await dropLessonKeys(redis, config.keyPrefix, [GROUP_LESSON, PLAIN_LESSON]);
    await redis?.quit();
    await db?.drop();
  });

  /** Preloaded group ids under a tutor, in tree order. */
  const groupsOf = (tutorUid: number): string[] =>
    nodes.get(`t${tutorUid}`)!.childIds.flatMap((team) => nodes.get(team)!.childIds);

  /** Everything a mutation could write in the group lesson. */
  function snapshot() {
    return inClassSnapshot(redis, config.keyPrefix, GROUP_LESSON);
  }

  it(`${STUDENTS} students picking at once: capacity holds, one group each, teams expand, MySQL equals Redis after the flush`, async () => {
    const rnd = prng(mode === 'single' ? 11 : 12);
    const uids = src.enrolments.map((e) => e.studentUid);
    const results = await Promise.all(
      uids.map(async (uid) => {
        const me = student(uid);
        const groups = groupsOf(tutor.get(uid)!);
        // Half choose a group (popular ones fill up first), half let the engine place them.
        let r;
        if (rnd() < 0.5) {
          const want = groups[Math.floor(rnd() * rnd() * groups.length)]!;
          r = await svc.pickGroup(me, { lessonId: GROUP_LESSON, uid, groupId: want }).catch(async (e: unknown) => {
            if (!isOrgError(e, 'GROUP_FULL')) throw e;
            return svc.pickGroup(me, { lessonId: GROUP_LESSON, uid, groupId: null });
          });
        } else {
          r = await svc.pickGroup(me, { lessonId: GROUP_LESSON, uid, groupId: null });
        }
        // Some change their mind: moving must free the old seat.
        if (rnd() < 0.1) {
          const other = groups[Math.floor(rnd() * groups.length)]!;
          const moved = await svc.pickGroup(me, { lessonId: GROUP_LESSON, uid, groupId: other }).catch((e: unknown) => {
            if (isOrgError(e, 'GROUP_FULL')) return null;
            throw e;
          });
          if (moved) r = moved;
        }
        return r;
      }),
    );
    expect(results.every((r) => r.groupId !== '')).toBe(true);

    const k = lk();
    const picked = await redis.hgetall(k.stateGroup);
    const seats = await redis.hgetall(k.stateSeats);
    const dyn = new Map(Object.entries(await redis.hgetallBuffer(k.stateDynamicNodes)).map(([id, b]) => [id, unpack<OrgNode>(b)]));
    expect(Object.keys(picked)).toHaveLength(STUDENTS);
    for (const r of results) expect(picked[r.uid]).toBe(r.groupId);

    // Seats equal the students recorded in each group and never exceed capacity.
    const members = new Map<string, number>();
    for (const [uid, g] of Object.entries(picked)) {
      members.set(g, (members.get(g) ?? 0) + 1);
      const node = nodes.get(g) ?? dyn.get(g);
      expect(node?.kind).toBe('group');
      expect(node!.path.startsWith(`/root/t${tutor.get(Number(uid))}/`)).toBe(true);
    }
    for (const [g, n] of Object.entries(seats)) {
      expect(Number(n)).toBe(members.get(g) ?? 0);
      expect(Number(n)).toBeLessThanOrEqual((nodes.get(g) ?? dyn.get(g))!.capacity!);
    }
    for (const [g, n] of members) expect(Number(seats[g])).toBe(n);

    // Expansion happened, and every created group hangs under a team of its tutor.
    expect(dyn.size).toBeGreaterThan(0);
    const kids = await redis.hgetallBuffer(k.stateDynamicChildren);
    const listed = Object.entries(kids).flatMap(([team, b]) => unpack<string[]>(b).map((id) => [team, id] as const));
    expect(listed.map(([, id]) => id).sort()).toEqual([...dyn.keys()].sort());
    for (const [team, id] of listed) {
      expect(dyn.get(id)!.parentId).toBe(team);
      expect(nodes.get(team)!.kind).toBe('team');
      expect(dyn.get(id)!.path).toBe(`${nodes.get(team)!.path}/${id}`);
    }

    // The flusher finds the lesson through the registry the service filled.
    expect(await redis.zscore(writeBehindRegistryKey(config.keyPrefix), String(GROUP_LESSON))).not.toBeNull();
    expect(await flusher.drain(30_000)).toBe(true);
    expect(flusher.watched()).toContain(GROUP_LESSON);
    const report = await reconcileLesson(
      { redis, pool: db.pool, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, batchRows: 500 },
      GROUP_LESSON,
    );
    expect(report.unflushed).toBe(0);
    expect(report.compared.group).toBe(STUDENTS);
    expect(report.compared.node).toBe(dyn.size);
    expect(report.differences).toEqual([]);
    expect(report.seatMismatches).toEqual([]);
  }, 60_000);

  it('picking again is idempotent and moving updates both groups', async () => {
    const uid = src.enrolments[0]!.studentUid;
    const me = student(uid);
    const before = await svc.pickGroup(me, { lessonId: GROUP_LESSON, uid, groupId: null });
    expect(before.changed).toBe(false);
    const again = await svc.pickGroup(me, { lessonId: GROUP_LESSON, uid, groupId: before.groupId });
    expect(again).toMatchObject({ changed: false, version: null, groupId: before.groupId });

    const seats = await redis.hgetall(lk().stateSeats);
    const target = groupsOf(tutor.get(uid)!).find((g) => g !== before.groupId && Number(seats[g] ?? 0) < nodes.get(g)!.capacity!);
    const target2 = target ?? [...Object.keys(await redis.hgetall(lk().stateDynamicNodes))].find((g) => g.startsWith(`t${tutor.get(uid)}.`) && Number(seats[g] ?? 0) < 6);
    expect(target2).toBeDefined();
    const moved = await svc.pickGroup(me, { lessonId: GROUP_LESSON, uid, groupId: target2! });
    expect(moved).toMatchObject({ changed: true, previousGroupId: before.groupId, groupId: target2 });
    const after = await redis.hgetall(lk().stateSeats);
    expect(Number(after[before.groupId])).toBe(Number(seats[before.groupId]) - 1);
    expect(Number(after[target2!])).toBe(Number(seats[target2!] ?? 0) + 1);
    expect(await redis.hget(lk().stateGroup, String(uid))).toBe(target2);
  });

  it('bad input answers a typed error and writes nothing', async () => {
    const uids = src.enrolments.map((e) => e.studentUid);
    const a = uids[1]!;
    const b = uids.find((u) => tutor.get(u) !== tutor.get(a))!;
    const seats = await redis.hgetall(lk().stateSeats);
    const full = Object.keys(seats).find((g) => nodes.has(g) && Number(seats[g]) >= nodes.get(g)!.capacity! && nodes.get(g)!.path.startsWith(`/root/t${tutor.get(a)}/`));
    expect(full).toBeDefined();
    const plainUid = (await redis.hkeys(lessonKeys(config.keyPrefix, PLAIN_LESSON).version(1).positions(0)))[0]!;
    const teamOfA = nodes.get(`t${tutor.get(a)}`)!.childIds[0]!;
    const groupOfB = groupsOf(tutor.get(b)!)[0]!;
    const inRoomOfB = `t${tutor.get(b)}.in`;
    const before = await snapshot();
    const cases: Array<[string, ErrorCode, () => Promise<unknown>]> = [
      ['unknown group', 'NODE_NOT_FOUND', () => svc.pickGroup(student(a), { lessonId: GROUP_LESSON, uid: a, groupId: 'nope.g1' })],
      ['a team is not a group', 'NOT_A_GROUP', () => svc.pickGroup(student(a), { lessonId: GROUP_LESSON, uid: a, groupId: teamOfA })],
      ["another tutor's group", 'GROUP_NOT_IN_TEAM', () => svc.pickGroup(student(a), { lessonId: GROUP_LESSON, uid: a, groupId: groupOfB })],
      ['a full group', 'GROUP_FULL', () => svc.pickGroup(student(a), { lessonId: GROUP_LESSON, uid: a, groupId: full! })],
      ['unknown student', 'STUDENT_NOT_FOUND', () => svc.pickGroup(service, { lessonId: GROUP_LESSON, uid: 42, groupId: null })],
      ['lesson without groups', 'GROUPS_NOT_ENABLED', () => svc.pickGroup(service, { lessonId: PLAIN_LESSON, uid: Number(plainUid), groupId: null })],
      ['lesson not preloaded', 'LESSON_NOT_FOUND', () => svc.pickGroup(service, { lessonId: UNKNOWN_LESSON, uid: a, groupId: null })],
      ['a student picking for another', 'FORBIDDEN', () => svc.pickGroup(student(a), { lessonId: GROUP_LESSON, uid: b, groupId: null })],
      ['a lesson out of scope', 'FORBIDDEN', () => svc.pickGroup(student(a, PLAIN_LESSON), { lessonId: GROUP_LESSON, uid: a, groupId: null })],
      ['a student muting', 'FORBIDDEN', () => svc.mute(student(a), { lessonId: GROUP_LESSON, roomId: 'main', uid: b, muted: true })],
      ['mute in an unknown room', 'ROOM_NOT_FOUND', () => svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'nope', uid: a, muted: true })],
      ['mute an unknown student', 'STUDENT_NOT_FOUND', () => svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', uid: 42, muted: true })],
      ['mute a student outside the room', 'STUDENT_NOT_IN_ROOM', () => svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: inRoomOfB, uid: a, muted: true })],
      ['mute an unknown node', 'NODE_NOT_FOUND', () => svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', nodeId: 'nope', muted: true })],
      ['mute a node outside the room', 'NODE_NOT_IN_ROOM', () => svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: inRoomOfB, nodeId: teamOfA, muted: true })],
      ['sign in an unknown student', 'STUDENT_NOT_FOUND', () => svc.signIn(service, { lessonId: GROUP_LESSON, uid: 42 })],
      ['a student signing in another', 'FORBIDDEN', () => svc.signIn(student(a), { lessonId: GROUP_LESSON, uid: b })],
      ['heartbeat in an unknown room', 'ROOM_NOT_FOUND', () => svc.heartbeat(student(a), { lessonId: GROUP_LESSON, uid: a, roomId: 'nope' })],
      ['heartbeat outside the room', 'STUDENT_NOT_IN_ROOM', () => svc.heartbeat(student(a), { lessonId: GROUP_LESSON, uid: a, roomId: inRoomOfB })],
      ['a teacher sending heartbeats', 'FORBIDDEN', () => svc.heartbeat(teacher, { lessonId: GROUP_LESSON, uid: a, roomId: 'main' })],
    ];
    const got = [];
    for (const [what, , call] of cases) got.push([what, await outcomeOf(call())]);
    expect(got).toEqual(cases.map(([what, code]) => [what, code]));
    expect(await snapshot()).toEqual(before);
  });

  it('back pressure: a full stream refuses mutations with BACKPRESSURE and writes nothing', async () => {
    const uids = src.enrolments.map((e) => e.studentUid);
    await svc.signIn(service, { lessonId: GROUP_LESSON, uid: uids[2]! }); // leaves one record unflushed
    const len = await redis.xlen(lk().writeBehind);
    expect(len).toBeGreaterThan(0);
    const tight = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: { ...config.writeBehind, maxStreamLength: len } });
    const before = await snapshot();
    const codes = [
      await outcomeOf(tight.signIn(service, { lessonId: GROUP_LESSON, uid: uids[3]! })),
      await outcomeOf(tight.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', uid: uids[3]!, muted: true })),
      await outcomeOf(tight.heartbeat(service, { lessonId: GROUP_LESSON, uid: uids[3]!, roomId: 'main' })),
      await outcomeOf(tight.pickGroup(service, { lessonId: GROUP_LESSON, uid: uids[3]!, groupId: groupsOf(tutor.get(uids[3]!)!).at(-1)! })),
    ];
    expect(codes).toEqual(['BACKPRESSURE', 'BACKPRESSURE', 'BACKPRESSURE', 'BACKPRESSURE']);
    expect(await snapshot()).toEqual(before);
    // A change that would write nothing still answers.
    expect((await tight.signIn(service, { lessonId: GROUP_LESSON, uid: uids[2]! })).first).toBe(false);
  });

  it('mute and unmute a student or a whole node; sign-in keeps the first arrival', async () => {
    const uid = src.enrolments[10]!.studentUid;
    const t = tutor.get(uid)!;
    const team = nodes.get(`t${t}`)!.childIds[0]!;
    const m1 = await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', uid, muted: true });
    const m2 = await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', uid, muted: true });
    expect([m1.changed, m2.changed, m2.version]).toEqual([true, false, null]);
    expect(await redis.sismember(lk().stateMuted('main'), String(uid))).toBe(1);
    expect((await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', uid, muted: false })).changed).toBe(true);
    expect(await redis.sismember(lk().stateMuted('main'), String(uid))).toBe(0);

    const n = await svc.mute({ uid: t, role: 'tutor', lesson: GROUP_LESSON }, { lessonId: GROUP_LESSON, roomId: `t${t}.in`, nodeId: team, muted: true });
    expect(n).toMatchObject({ changed: true, nodeId: team, uid: null });
    expect(await redis.smembers(lk().stateMutedNodes(`t${t}.in`))).toEqual([team]);
    // The main room's root is the lesson root, so every node is in it.
    expect((await svc.mute(service, { lessonId: GROUP_LESSON, roomId: 'main', nodeId: team, muted: true })).changed).toBe(true);

    let clock = 1_800_000_000_000;
    const timed = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, now: () => clock });
    const s1 = await timed.signIn(student(uid), { lessonId: GROUP_LESSON, uid });
    clock += 5000;
    const s2 = await timed.signIn(student(uid), { lessonId: GROUP_LESSON, uid });
    expect(s1).toMatchObject({ first: true, signedInAt: 1_800_000_000_000 });
    expect(s2).toMatchObject({ first: false, signedInAt: 1_800_000_000_000, version: null });
    // Versions rise strictly, even within one microsecond of server time.
    expect(m1.version!).toBeLessThan(n.version!);
    expect(n.version!).toBeLessThan(s1.version!);
  });

  it('heartbeats: partitioned online sets, exact counts within the window, last-seen never moves back', async () => {
    const window = config.api.onlineWindowMs;
    let clock = 1_900_000_000_000;
    const hb = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, onlineWindowMs: window, now: () => clock });
    const [a, b, c] = src.enrolments.slice(20, 23).map((e) => e.studentUid) as [number, number, number];
    // The read API's one online reader, asked at the injected clock.
    const online = (roomId: string) => readOnline(redis, lk(), roomId, clock - window);
    const count = async () => (await online('main')).online;
    expect(await count()).toBe(0);
    const ra = await hb.heartbeat(student(a), { lessonId: GROUP_LESSON, uid: a, roomId: 'main' });
    await hb.heartbeat(student(b), { lessonId: GROUP_LESSON, uid: b, roomId: 'main' });
    expect(ra).toMatchObject({ cameOnline: true, lastSeenAt: clock, partition: 0 });
    expect(await count()).toBe(2);
    clock += 1000;
    expect((await hb.heartbeat(student(a), { lessonId: GROUP_LESSON, uid: a, roomId: 'main' })).cameOnline).toBe(false);
    // A late heartbeat stamped earlier (another gateway's clock) keeps the newer last-seen.
    clock -= 500;
    expect((await hb.heartbeat(student(a), { lessonId: GROUP_LESSON, uid: a, roomId: 'main' })).lastSeenAt).toBe(1_900_000_001_000);
    clock += 500;
    clock += window; // b is stale now (last seen window + 1 s ago); a was seen exactly `window` ago
    expect(await count()).toBe(1);
    const rc = await hb.heartbeat(service, { lessonId: GROUP_LESSON, uid: c, roomId: `t${tutor.get(c)}.in` });
    expect(rc.cameOnline).toBe(true);
    expect((await hb.heartbeat(student(b), { lessonId: GROUP_LESSON, uid: b, roomId: 'main' })).cameOnline).toBe(true);
    expect(await count()).toBe(2);
    const main = await online('main');
    expect(main.partitions.reduce((x, y) => x + y, 0)).toBe(main.online);
    expect(await outcomeOf(online('nope'))).toBe('ROOM_NOT_FOUND');
  });

  it('publishes state:<uid> and mute:<room> on the lesson shard channel, exactly for changes', async () => {
    const target = redisTarget(mode);
    const sub = target.mode === 'single' ? new Redis(target.url) : new Cluster(target.nodes, { shardedSubscribers: true });
    const got: string[] = [];
    sub.on('smessage', (_ch: string, msg: string) => got.push(msg));
    try {
      await sub.ssubscribe(lk().channel);
      const [u1, u2] = src.enrolments.slice(40, 42).map((e) => e.studentUid) as [number, number];
      const team = nodes.get(`t${tutor.get(u1)}`)!.childIds[1]!;
      await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', uid: u1, muted: true });
      await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', uid: u1, muted: true }); // no change, no message
      await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', nodeId: team, muted: false }); // not muted: no message
      await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: 'main', nodeId: team, muted: true });
      await svc.signIn(service, { lessonId: GROUP_LESSON, uid: u2 });
      await svc.signIn(service, { lessonId: GROUP_LESSON, uid: u2 });
      // A group created in class is a node like any other.
      const dynId = (await redis.hkeys(lk().stateDynamicNodes)).sort()[0]!;
      const room = `${dynId.split('.')[0]}.in`;
      await svc.mute(teacher, { lessonId: GROUP_LESSON, roomId: room, nodeId: dynId, muted: true });
      const deadline = Date.now() + 5000;
      while (got.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      // A heartbeat changes nothing a cached read shows: no message.
      await svc.heartbeat(service, { lessonId: GROUP_LESSON, uid: u2, roomId: 'main' });
      expect(got).toEqual([`state:${u1}`, 'mute:main', `state:${u2}`, `mute:${room}`]);
    } finally {
      sub.disconnect();
    }
  });

  it('reconcile finds what MySQL lost or got wrong and repairs it through the stream', async () => {
    expect(await flusher.drain(30_000)).toBe(true);
    const deps = { redis, pool: db.pool, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, batchRows: 500 };
    expect((await reconcileLesson(deps, GROUP_LESSON)).differences).toEqual([]);
    const [u1, u2, u3] = src.enrolments.slice(30, 33).map((e) => e.studentUid) as [number, number, number];
    await svc.signIn(service, { lessonId: GROUP_LESSON, uid: u2 });
    expect(await flusher.drain(30_000)).toBe(true);
    await db.pool.query('UPDATE state_group SET group_id = ?, version = version + 1 WHERE lesson_id = ? AND uid = ?', ['t1.g1', GROUP_LESSON, u1]);
    await db.pool.query('DELETE FROM state_signin WHERE lesson_id = ? AND uid = ?', [GROUP_LESSON, u2]);
    await db.pool.query('INSERT INTO state_mute (lesson_id, room_id, uid, muted, updated_at, version) VALUES (?, ?, ?, 1, NOW(3), 1)', [GROUP_LESSON, 'main', u3]);

    const found = await reconcileLesson(deps, GROUP_LESSON);
    expect(found.differences.map((d) => [d.entity, d.roomId, d.key]).sort()).toEqual(
      [['group', null, String(u1)], ['mute', 'main', String(u3)], ['signin', null, String(u2)]].sort(),
    );
    const fixed = await reconcileLesson(deps, GROUP_LESSON, { repair: true });
    expect(fixed.rejournaled).toBe(3);
    expect(fixed.remaining).toBe(0);
    const [rows] = await db.pool.query<import('mysql2/promise').RowDataPacket[]>('SELECT group_id FROM state_group WHERE lesson_id = ? AND uid = ?', [GROUP_LESSON, u1]);
    expect(rows[0]!.group_id).toBe(await redis.hget(lk().stateGroup, String(u1)));
  });
});
