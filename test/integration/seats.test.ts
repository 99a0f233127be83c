// Mic seats against real Redis (single and Cluster) and real MariaDB: seats
// follow links (auto seat on accept, freed on leave, cleared on end), seat
// invariants under concurrent takes, capability enforcement, layout switches
// and their rule, permissions refused for the wrong role, bad input that
// writes nothing, stored templates, and the seat ledger in MySQL after a drain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/auth/caller.js';
import { loadConfig, type Config } from '../../src/config.js';
import { isOrgError } from '../../src/errors.js';
import type { Topology } from '../../src/model/topology.js';
import { InteractionService } from '../../src/services/interaction.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { interactionRegistryKey, lessonKeys, seatTemplatesKey } from '../../src/store/redis/keys.js';
import { Flusher } from '../../src/writebehind/flusher.js';
import { reconcileLesson } from '../../src/services/reconcile.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/index.js';
import { dropLessonKeys, loadSyntheticLesson, START } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { REDIS_MODES, testRedis } from '../support/redis.js';
import { expectSeatInvariants } from '../support/seats.js';
import type { RowDataPacket } from 'mysql2/promise';
import { outcomeOf } from '../support/errors.js';


describe.each(REDIS_MODES)('mic seats on %s Redis', (mode) => {
  const L = mode === 'single' ? 1451 : 1452;
  let db: TestDb;
  let redis: RedisClient;
  let config: Config;
  let topo: Topology;
  let svc: InteractionService;
  let clock = START;
  let students: number[] = [];
  let teacher: Caller;
  const student = (uid: number): Caller => ({ uid, role: 'student', lesson: L });
  let next = 0;
  const fresh = (n: number): number[] => {
    const out = students.slice(next, next + n);
    next += n;
    if (out.length < n) throw new Error('test lesson ran out of students');
    return out;
  };
  const lk = () => lessonKeys(config.keyPrefix, L);
  const writes = async () => ({ stream: await redis.xlen(lk().writeBehind), ver: await redis.get(lk().stateVersion) });
  const session = async (sid: string) => (await svc.store.session(L, sid))!;
  /** A session of `host` with `guests` invited and accepted (each seated automatically while seats are free). */
  const staged = async (host: number, guests: number[], kind: 'duo' | 'multi', templateId: string | null = null) => {
    const c = await svc.fastCreate(student(host), { lessonId: L, roomId: 'main', kind, capacity: null, channelId: null, invitee: null, templateId, by: null });
    for (const g of guests) {
      clock += 1;
      await svc.invite(student(host), { lessonId: L, sessionId: c.sessionId, uid: g, by: null });
      await svc.handle(student(g), { lessonId: L, sessionId: c.sessionId, uid: g, accept: true, by: null });
    }
    return c.sessionId;
  };

  beforeAll(async () => {
    db = await createTestDb(`seat_${mode}`);
    redis = testRedis(mode);
    config = loadConfig({ ORGENGINE_KEY_PREFIX: uniquePrefix(`st${mode[0]}`).slice(0, 30) });
    topo = await loadSyntheticLesson(redis, config.keyPrefix, L, { students: 200, tutors: 2, policy: 'group' });
    teacher = { uid: topo.lesson.teacherUid, role: 'teacher', lesson: L };
    students = topo.positions.filter((p) => p.rooms.some((r) => r.roomId === 'main')).map((p) => p.uid);
    svc = new InteractionService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, ia: config.interaction, now: () => clock, pool: db.pool });
  });

  afterAll(async () => {
    if (redis && config) {
      const n = Number((await redis.get(lk().iaSeq)) ?? 0);
      const keys = [lk().iaSeq, lk().iaBusy, lk().iaActive, lk().iaChannels, lk().iaDeadlines, lk().iaRoomVersion];
      for (let i = 1; i <= n; i++) keys.push(lk().iaSession(`s${i}`), lk().iaLinks(`s${i}`));
      for (const r of topo.rooms) keys.push(lk().iaRoom(r.roomId), lk().iaAdmins(r.roomId));
      for (let i = 0; i < keys.length; i += 200) await redis.unlink(...keys.slice(i, i + 200));
      await redis.unlink(seatTemplatesKey(config.keyPrefix));
      await redis.zrem(interactionRegistryKey(config.keyPrefix), String(L));
      await dropLessonKeys(redis, config.keyPrefix, L);
    }
    await redis?.quit();
    await db?.drop();
  });

  it('seats follow links: the host on the host-only seat, accepted guests on the next free seats, in UniversalInfo with versions', async () => {
    const [A, B, C] = fresh(3);
    const sid = await staged(A!, [B!, C!], 'multi');
    const s = await session(sid);
    expect(s.template).toBe('voice');
    expect(s.seats).toHaveLength(9);
    expect(s.seats.slice(0, 3).map((q) => [q.uid, q.hostOnly, q.mic, q.cam, q.video])).toEqual([
      [A, true, true, false, false],
      [B, false, true, false, false],
      [C, false, true, false, false],
    ]);
    expectSeatInvariants(s);
    const info = await svc.universalInfo(teacher, L, 'main');
    const shown = info.sessions.find((x) => x.sessionId === sid)!;
    expect(shown.seats.map((q) => q.uid)).toEqual(s.seats.map((q) => q.uid));
    // A seat change bumps the session's version.
    const before = s.version;
    const r = await svc.seat(student(B!), 'move', { lessonId: L, sessionId: sid, uid: null, seat: 5, other: null, media: null, by: null });
    expect(r).toMatchObject({ seat: 5 });
    expect(r.version!).toBeGreaterThan(before);
    expect((await session(sid)).version).toBe(r.version);
    expect((await session(sid)).seats[5]!.uid).toBe(B);
    expect((await session(sid)).seats[1]!.uid).toBeNull();
  });

  it('concurrent takes of one seat: exactly one wins; concurrent free takes: every user on one distinct seat', async () => {
    const [H, ...G] = fresh(9);
    const sid = await staged(H!, G, 'multi');
    // Everyone gives the seat up, then all race for seat 4.
    for (const g of G) await svc.seat(student(g), 'leave', { lessonId: L, sessionId: sid, uid: null, seat: null, other: null, media: null, by: null });
    expect((await session(sid)).seats.filter((q) => q.uid !== null).map((q) => q.uid)).toEqual([H]);
    const race = await Promise.all(G.map((g) => outcomeOf(svc.seat(student(g), 'take', { lessonId: L, sessionId: sid, uid: null, seat: 4, other: null, media: null, by: null }))));
    expect(race.filter((c) => c === 'ok')).toHaveLength(1);
    expect(race.filter((c) => c === 'SEAT_TAKEN')).toHaveLength(G.length - 1);
    // Then all take any seat at once (twice each): 8 guests on 8 distinct non-host seats.
    const again = await Promise.all([...G, ...G].map((g) => outcomeOf(svc.seat(student(g), 'take', { lessonId: L, sessionId: sid, uid: null, seat: null, other: null, media: null, by: null }))));
    expect(again.every((c) => c === 'ok')).toBe(true);
    const s = await session(sid);
    expectSeatInvariants(s);
    expect(new Set(s.seats.map((q) => q.uid)).size).toBe(9);
    // Every seat taken: the session is full too.
    const [X] = fresh(1);
    expect(await outcomeOf(svc.invite(student(H!), { lessonId: L, sessionId: sid, uid: X!, by: null }))).toBe('SESSION_FULL');
  });

  it('capabilities: an audio-only seat cannot turn its camera on (409 SEAT_CAPABILITY), and a refusal writes nothing', async () => {
    const [A, B] = fresh(2);
    const sid = await staged(A!, [B!], 'multi');
    const w = await writes();
    const seatB = (await session(sid)).seats.find((q) => q.uid === B)!.seat;
    expect(await outcomeOf(svc.seat(student(A!), 'unmute', { lessonId: L, sessionId: sid, uid: null, seat: seatB, other: null, media: 'cam', by: null }))).toBe('SEAT_CAPABILITY');
    expect(await writes()).toEqual(w);
    // The host mutes and unmutes the mic; the guest may not mute anyone.
    expect(await outcomeOf(svc.seat(student(B!), 'mute', { lessonId: L, sessionId: sid, uid: null, seat: 0, other: null, media: 'mic', by: null }))).toBe('FORBIDDEN');
    expect(await writes()).toEqual(w);
    await svc.seat(student(A!), 'mute', { lessonId: L, sessionId: sid, uid: null, seat: seatB, other: null, media: 'mic', by: null });
    expect((await session(sid)).seats[seatB]!.mic).toBe(false);
    await svc.seat(teacher, 'unmute', { lessonId: L, sessionId: sid, uid: null, seat: seatB, other: null, media: 'mic', by: null });
    expect((await session(sid)).seats[seatB]!.mic).toBe(true);
    // Video seats carry a camera.
    const [C, D] = fresh(2);
    const vid = await staged(C!, [D!], 'multi', 'video');
    expect((await session(vid)).capacity).toBe(5);
    await svc.seat(student(C!), 'mute', { lessonId: L, sessionId: vid, uid: null, seat: 1, other: null, media: 'cam', by: null });
    await svc.seat(student(C!), 'unmute', { lessonId: L, sessionId: vid, uid: null, seat: 1, other: null, media: 'cam', by: null });
    expect((await session(vid)).seats[1]).toMatchObject({ uid: D, cam: true, video: true });
  });

  it('locks, swaps and the host-only seat', async () => {
    const [A, B, C] = fresh(3);
    const sid = await staged(A!, [B!], 'multi');
    await svc.seat(student(A!), 'lock', { lessonId: L, sessionId: sid, uid: null, seat: 2, other: null, media: null, by: null });
    expect(await outcomeOf(svc.seat(student(B!), 'move', { lessonId: L, sessionId: sid, uid: null, seat: 2, other: null, media: null, by: null }))).toBe('SEAT_LOCKED');
    expect(await outcomeOf(svc.seat(student(B!), 'move', { lessonId: L, sessionId: sid, uid: null, seat: 0, other: null, media: null, by: null }))).toBe('SEAT_TAKEN');
    expect(await outcomeOf(svc.seat(student(A!), 'swap', { lessonId: L, sessionId: sid, uid: null, seat: 0, other: 1, media: null, by: null }))).toBe('SEAT_HOST_ONLY');
    // A newly accepted guest skips the locked seat.
    await svc.invite(student(A!), { lessonId: L, sessionId: sid, uid: C!, by: null });
    await svc.handle(student(C!), { lessonId: L, sessionId: sid, uid: C!, accept: true, by: null });
    expect((await session(sid)).seats.find((q) => q.uid === C)!.seat).toBe(3);
    await svc.seat(student(A!), 'swap', { lessonId: L, sessionId: sid, uid: null, seat: 1, other: 3, media: null, by: null });
    const s = await session(sid);
    expect([s.seats[1]!.uid, s.seats[3]!.uid, s.seats[2]!.locked]).toEqual([C, B, true]);
    expectSeatInvariants(s);
    expect(await outcomeOf(svc.seat(student(B!), 'unlock', { lessonId: L, sessionId: sid, uid: null, seat: 2, other: null, media: null, by: null }))).toBe('FORBIDDEN');
    // With every free seat locked, a seatless user finds none; unlocking one lets it sit there.
    const at = (o: 'lock' | 'unlock', seat: number) => svc.seat(student(A!), o, { lessonId: L, sessionId: sid, uid: null, seat, other: null, media: null, by: null });
    await svc.seat(student(B!), 'leave', { lessonId: L, sessionId: sid, uid: null, seat: null, other: null, media: null, by: null });
    for (let q = 3; q < 9; q++) await at('lock', q);
    expect(await outcomeOf(svc.seat(student(B!), 'take', { lessonId: L, sessionId: sid, uid: null, seat: null, other: null, media: null, by: null }))).toBe('NO_FREE_SEAT');
    await at('unlock', 6);
    expect((await svc.seat(student(B!), 'take', { lessonId: L, sessionId: sid, uid: null, seat: null, other: null, media: null, by: null })).seat).toBe(6);
    // Locking again is no change: no new version.
    expect((await at('lock', 4)).version).toBeNull();
  });

  it('switching layout: duo -> video keeps the host on a host-only seat and the guest on its index; a layout too small is 409 and writes nothing', async () => {
    const [A, B] = fresh(2);
    const duo = await staged(A!, [B!], 'duo');
    let s = await session(duo);
    expect([s.template, s.kind, s.seats.map((q) => [q.uid, q.side])]).toEqual(['duo', 'duo', [[A, 'left'], [B, 'right']]]);
    expect(await outcomeOf(svc.switchTemplate(student(B!), { lessonId: L, sessionId: duo, templateId: 'video', by: null }))).toBe('FORBIDDEN');
    const r = await svc.switchTemplate(student(A!), { lessonId: L, sessionId: duo, templateId: 'video', by: null });
    s = await session(duo);
    expect(r.version).toBe(s.version);
    expect([s.template, s.kind, s.capacity]).toEqual(['video', 'multi', 5]);
    expect(s.seats.map((q) => q.uid)).toEqual([A, B, null, null, null]);
    expectSeatInvariants(s);
    // Now a multi: more guests may join (the duo could not take them).
    const [C, D, E] = fresh(3);
    for (const g of [C!, D!, E!]) {
      await svc.invite(student(A!), { lessonId: L, sessionId: duo, uid: g, by: null });
      await svc.handle(student(g), { lessonId: L, sessionId: duo, uid: g, accept: true, by: null });
    }
    expect((await session(duo)).seats.map((q) => q.uid)).toEqual([A, B, C, D, E]);
    const w = await writes();
    expect(await outcomeOf(svc.switchTemplate(student(A!), { lessonId: L, sessionId: duo, templateId: 'duo', by: null }))).toBe('SEATS_DO_NOT_FIT');
    expect(await outcomeOf(svc.switchTemplate(student(A!), { lessonId: L, sessionId: duo, templateId: 'pk-2', by: null }))).toBe('SEATS_DO_NOT_FIT');
    expect(await outcomeOf(svc.switchTemplate(student(A!), { lessonId: L, sessionId: duo, templateId: 'no-such', by: null }))).toBe('TEMPLATE_NOT_FOUND');
    expect(await writes()).toEqual(w);
    // pk-3: sides of 3; the host stays on the left's host seat, B..E keep their indexes where they exist.
    await svc.switchTemplate(teacher, { lessonId: L, sessionId: duo, templateId: 'pk-3', by: null });
    s = await session(duo);
    expect(s.seats.map((q) => [q.uid, q.side])).toEqual([[A, 'left'], [B, 'left'], [C, 'left'], [D, 'right'], [E, 'right'], [null, 'right']]);
    expectSeatInvariants(s);
  });

  it('a link leaving frees its seat; ending the session clears every seat', async () => {
    const [A, B, C] = fresh(3);
    const sid = await staged(A!, [B!, C!], 'multi');
    await svc.leave(student(B!), { lessonId: L, sessionId: sid, uid: null, by: null });
    let s = await session(sid);
    expect(s.seats.some((q) => q.uid === B)).toBe(false);
    expect(s.seats.filter((q) => q.uid !== null)).toHaveLength(2);
    await svc.end(student(A!), { lessonId: L, sessionId: sid, by: null });
    s = await session(sid);
    expect(s.status).toBe('ended');
    expect(s.seats.every((q) => q.uid === null)).toBe(true);
    expect(await outcomeOf(svc.seat(student(A!), 'take', { lessonId: L, sessionId: sid, uid: null, seat: null, other: null, media: null, by: null }))).toBe('SESSION_ENDED');
  });

  it('wrong roles and bad input are refused and write nothing', async () => {
    const [A, B, X] = fresh(3);
    const sid = await staged(A!, [B!], 'multi');
    const w = await writes();
    const op = (c: Caller, o: Parameters<InteractionService['seat']>[1], f: Partial<Parameters<InteractionService['seat']>[2]>) =>
      outcomeOf(svc.seat(c, o, { lessonId: L, sessionId: sid, uid: null, seat: null, other: null, media: null, by: null, ...f }));
    expect(await op(student(X!), 'take', {})).toBe('FORBIDDEN'); // audience: no seat permission
    expect(await op(student(B!), 'take', { uid: A! })).toBe('FORBIDDEN'); // seating someone else needs arrange
    expect(await op(student(B!), 'lock', { seat: 3 })).toBe('FORBIDDEN');
    expect(await op(student(B!), 'swap', { seat: 1, other: 2 })).toBe('FORBIDDEN');
    expect(await op(student(A!), 'take', { uid: X! })).toBe('NO_SEATED_LINK');
    expect(await op(student(B!), 'move', { seat: 99 })).toBe('SEAT_NOT_FOUND');
    expect(await op(student(A!), 'mute', { seat: 7, media: 'mic' })).toBe('SEAT_EMPTY');
    expect(await op(student(A!), 'leave', { uid: X! })).toBe('NOT_SEATED');
    expect(await op(student(A!), 'take', { seat: 0, uid: B! })).toBe('SEAT_TAKEN');
    expect(await outcomeOf(svc.seat(student(A!), 'take', { lessonId: L, sessionId: 's999999', uid: null, seat: null, other: null, media: null, by: null }))).toBe('SESSION_NOT_FOUND');
    expect(await writes()).toEqual(w);
  });

  it('stored templates: validated with the bad field named, served from Redis, used by create; the seat ledger reaches MySQL', async () => {
    let e: unknown = null;
    await svc.templates.put({ id: 'wide', name: 'x', kind: 'multi', seats: [{ video: true, audio: true }, { video: false, audio: false }] }).catch((x: unknown) => (e = x));
    expect(isOrgError(e, 'TEMPLATE_INVALID') && e.details?.field).toBe('seats[1].audio');
    await svc.templates.put({ id: 'wide', name: 'Wide', kind: 'multi', seats: [{ video: true, audio: true, hostOnly: true }, { video: true, audio: false }, { video: true, audio: true }] });
    expect((await svc.templates.list()).map((t) => t.template.id)).toContain('wide');
    const [A, B, C] = fresh(3);
    const sid = await staged(A!, [B!, C!], 'multi', 'wide');
    const s = await session(sid);
    expect([s.template, s.capacity, s.seats.map((q) => [q.uid, q.mic, q.cam])]).toEqual(['wide', 3, [[A, true, true], [B, false, true], [C, true, true]]]);
    expect(await outcomeOf(svc.seat(student(A!), 'unmute', { lessonId: L, sessionId: sid, uid: null, seat: 1, other: null, media: 'mic', by: null }))).toBe('SEAT_CAPABILITY');
    // Drain the write-behind stream: every seat change is one ledger row; the session row names its template.
    const flusher = new Flusher({ redis, pool: db.pool, keyPrefix: config.keyPrefix, wb: { ...config.writeBehind, claimIdleMs: 1000 }, batchRows: 500, lessons: [L] });
    expect(await flusher.drain(60_000)).toBe(true);
    await flusher.stop();
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT session_id, COUNT(*) AS n, MAX(seq) AS m FROM ia_seat_event WHERE lesson_id = ? GROUP BY session_id', [L]);
    const all = await svc.store.allSessions(L);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      const qn = Number(await redis.hget(lk().iaSession(String(r.session_id)), 'qn'));
      expect([Number(r.n), Number(r.m)], String(r.session_id)).toEqual([qn, qn]);
    }
    const [sess] = await db.pool.query<RowDataPacket[]>('SELECT session_id, template_id FROM ia_session WHERE lesson_id = ?', [L]);
    expect(new Map(sess.map((r) => [String(r.session_id), String(r.template_id)]))).toEqual(new Map(all.map((x) => [x.sessionId, x.template])));
    for (const x of all) expectSeatInvariants(x);
    // reconcile replays the seat ledger against Redis's seats: a lost row is found, and a repair re-journals the seats.
    const deps = { redis, pool: db.pool, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, batchRows: 500 };
    expect((await reconcileLesson(deps, L)).interaction.differing).toBe(0);
    await db.pool.query('DELETE FROM ia_seat_event WHERE lesson_id = ? AND session_id = ? ORDER BY seq DESC LIMIT 1', [L, sid]);
    const found = await reconcileLesson(deps, L);
    expect(found.interaction.differences.map((d) => d.sessionId)).toEqual([`seats:${sid}`]);
    const repaired = await reconcileLesson(deps, L, { repair: true });
    expect([repaired.interaction.rejournaled, repaired.remaining]).toEqual([1, 0]);
    expect((await reconcileLesson(deps, L)).interaction.differing).toBe(0);
  });

  it.runIf(mode === 'single')('orgengine template put / list / show / sync: validated, stored in MySQL, cached in Redis', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seat-tpl-'));
    const env = { ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_MYSQL_URL: db.url, ORGENGINE_KEY_PREFIX: config.keyPrefix };
    const cli = async (argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, { stdout: { write: (x: string) => (stdout += x) }, stderr: { write: (x: string) => (stderr += x) } }, env);
      return { code, stdout, stderr };
    };
    try {
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ id: 'trio', name: 'Trio', kind: 'multi', seats: [{ video: true, audio: true }, { video: true }] }));
      const bad = await cli(['template', 'put', '--file', join(dir, 'bad.json')]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('TEMPLATE_INVALID');
      expect(bad.stderr).toContain('seats[1].audio');
      writeFileSync(join(dir, 'trio.json'), JSON.stringify({ id: 'trio', name: 'Trio', kind: 'multi', seats: [{ video: true, audio: true, hostOnly: true }, { video: true, audio: true }, { video: true, audio: true }] }));
      expect((await cli(['template', 'put', '--file', join(dir, 'trio.json')])).code).toBe(0);
      const list = await cli(['template', 'list', '--json']);
      expect(list.code).toBe(0);
      expect(list.stdout).toContain('"trio"');
      expect(list.stdout).toContain('"voice"');
      const shown = await cli(['template', 'show', '--id', 'trio']);
      expect([shown.code, JSON.parse(shown.stdout).seats.length]).toEqual([0, 3]);
      // Redis lost its cache: sync copies MySQL's templates back.
      await redis.hdel(seatTemplatesKey(config.keyPrefix), 'trio');
      expect((await cli(['template', 'sync'])).code).toBe(0);
      expect(await redis.hexists(seatTemplatesKey(config.keyPrefix), 'trio')).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
