// The interaction center against real Redis (single and Cluster) and real
// MariaDB: the seed's flow, errors that write nothing, every permission refused
// for the wrong role, RTC events duplicated and out of order, races on seats
// and on a busy user, timeouts with an injected clock and a killed checker,
// RTC reconciliation, and a seeded random walk over every operation whose
// invariants are checked along the way and against MySQL after the drain.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/auth/caller.js';
import { loadConfig, type Config } from '../../src/config.js';
import { isOrgError, type ErrorCode } from '../../src/errors.js';
import { ACTIVE_STATES, canTransition, LINK_ORIGINS, stateRank, type LinkState, type SessionView } from '../../src/model/interaction.js';
import { prng } from '../../src/model/synthetic.js';
import type { Topology } from '../../src/model/topology.js';
import { InteractionService } from '../../src/services/interaction.js';
import { InteractionChecker } from '../../src/services/interactionChecker.js';
import { readSeatEvents, readStoredInteractions } from '../../src/store/mysql/stateTables.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { interactionRegistryKey, lessonKeys } from '../../src/store/redis/keys.js';
import { Flusher } from '../../src/writebehind/flusher.js';
import { reconcileLesson } from '../../src/services/reconcile.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { compileTestLesson, dropLessonKeys, loadSyntheticLesson, loadTopology, START } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { REDIS_MODES, testRedis } from '../support/redis.js';
import { expectSeatInvariants } from '../support/seats.js';
import { outcomeOf } from '../support/errors.js';

const service: Caller = { uid: 1, role: 'service', lesson: '*' };


describe.each(REDIS_MODES)('interaction center on %s Redis', (mode) => {
  const L = mode === 'single' ? 1401 : 1402;
  let db: TestDb;
  let redis: RedisClient;
  let config: Config;
  let topo: Topology;
  let svc: InteractionService;
  let flusher: Flusher;
  let clock = START;
  /** Students of the main room, in a stable order; tutors and their own students. */
  let students: number[] = [];
  let tutors: number[] = [];
  const studentsOf = new Map<number, number[]>();
  let teacher: Caller;
  const student = (uid: number): Caller => ({ uid, role: 'student', lesson: L });
  const tutor = (uid: number): Caller => ({ uid, role: 'tutor', lesson: L });
  let next = 0;
  /** Students no test used yet (every test takes fresh ones: a user busy in one test stays busy). */
  const fresh = (n: number): number[] => {
    const out = students.slice(next, next + n);
    next += n;
    if (out.length < n) throw new Error('test lesson ran out of students');
    return out;
  };
  const lk = () => lessonKeys(config.keyPrefix, L);
  /** What any write changes: the stream and the version counter. */
  const writes = async () => ({ stream: await redis.xlen(lk().writeBehind), ver: await redis.get(lk().stateVersion) });

  beforeAll(async () => {
    db = await createTestDb(`ia_${mode}`);
    redis = testRedis(mode);
    config = loadConfig({ ORGENGINE_KEY_PREFIX: uniquePrefix(`ia${mode[0]}`).slice(0, 30) });
    topo = await loadSyntheticLesson(redis, config.keyPrefix, L, { students: 400, tutors: 4, policy: 'group' });
    teacher = { uid: topo.lesson.teacherUid, role: 'teacher', lesson: L };
    const nodes = new Map(topo.nodes.map((n) => [n.nodeId, n]));
    for (const p of topo.positions) {
      const t = /\/t(\d+)(\/|$)/.exec(nodes.get(p.nodeId)!.path);
      if (t) studentsOf.set(Number(t[1]), [...(studentsOf.get(Number(t[1])) ?? []), p.uid]);
    }
    tutors = [...studentsOf.keys()];
    students = topo.positions.filter((p) => p.rooms.some((r) => r.roomId === 'main')).map((p) => p.uid);
    // Tutors' own students are taken from the end, the tests' fresh students from the start.
    svc = new InteractionService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, ia: config.interaction, now: () => clock });
    flusher = new Flusher({ redis, pool: db.pool, keyPrefix: config.keyPrefix, wb: { ...config.writeBehind, claimIdleMs: 1000 }, batchRows: 500, lessons: [L] });
  });

  afterAll(async () => {
    if (redis && config) {
      const n = Number((await redis.get(lk().iaSeq)) ?? 0);
      const keys = [lk().iaSeq, lk().iaBusy, lk().iaActive, lk().iaChannels, lk().iaDeadlines, lk().iaRoomVersion, lk().iaLease, lk().iaAdmins('main')];
      for (let i = 1; i <= n; i++) keys.push(lk().iaSession(`s${i}`), lk().iaLinks(`s${i}`), lk().iaRtc(`s${i}`), lk().iaRtcEvents(`s${i}`));
      for (const r of topo.rooms) keys.push(lk().iaRoom(r.roomId), lk().iaAdmins(r.roomId));
      for (let i = 0; i < keys.length; i += 200) await redis.unlink(...keys.slice(i, i + 200));
      await redis.zrem(interactionRegistryKey(config.keyPrefix), String(L));
      await dropLessonKeys(redis, config.keyPrefix, L);
    }
    await redis?.quit();
    await db?.drop();
  });

  /** Sessions in Redis equal sessions in MySQL (after a drain): status, reason, version, every link. */
  async function expectMysqlEqualsRedis(): Promise<void> {
    expect(await flusher.drain(30_000, [L])).toBe(true);
    const inRedis = await svc.store.allSessions(L);
    const stored = await readStoredInteractions(db.pool, L);
    expect(stored.sessions.map((s) => [s.sessionId, s.status, s.endReason, s.version, s.kind, s.capacity, s.creator, s.channelId])).toEqual(
      inRedis.map((s) => [s.sessionId, s.status, s.endReason, s.version, s.kind, s.capacity, s.creator, s.channelId]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const linksRedis = inRedis.flatMap((s) => s.links.map((l) => [s.sessionId, l.uid, l.generation, l.state, l.origin, l.by]));
    const linksMysql = stored.links.map((l) => [l.sessionId, l.uid, l.generation, l.state, l.origin, l.by]);
    const key = (x: unknown[]) => `${x[0]}:${x[1]}`;
    expect(new Map(linksMysql.map((x) => [key(x), x]))).toEqual(new Map(linksRedis.map((x) => [key(x), x])));
    // The ledger replays into each link's current state, one legal step at a time.
    const replay = new Map<string, { g: number; st: string }>();
    for (const e of stored.events) {
      const k = `${e.sessionId}:${e.uid}`;
      const cur = replay.get(k);
      if (e.from === '') expect(cur === undefined || cur.g === e.generation - 1, `${k} new generation ${e.generation}`).toBe(true);
      else {
        expect(cur?.g, `${k} event generation`).toBe(e.generation);
        expect(cur?.st, `${k} event from`).toBe(e.from);
        expect(canTransition(e.from as LinkState, e.to as LinkState), `${k} ${e.from} -> ${e.to}`).toBe(true);
      }
      replay.set(k, { g: e.generation, st: e.to });
    }
    for (const l of stored.links) expect(replay.get(`${l.sessionId}:${l.uid}`), `${l.sessionId}:${l.uid}`).toEqual({ g: l.generation, st: l.state });
    // The seat ledger replays into each session's current seats, and MySQL names each session's layout.
    const seatRows = await readSeatEvents(db.pool, L);
    for (const s of inRedis) {
      const seats = new Map<number, string>();
      for (const e of seatRows.filter((x) => x.sessionId === s.sessionId)) seats.set(e.seat, `${e.uid}|${e.locked}|${e.mic}|${e.cam}`);
      const want = s.seats.map((q) => `${q.uid ?? 0}|${q.locked ? 1 : 0}|${q.mic ? 1 : 0}|${q.cam ? 1 : 0}`);
      expect(s.seats.map((q) => seats.get(q.seat) ?? '0|0|0|0'), `${s.sessionId} seats from the ledger`).toEqual(want);
    }
    expect(new Map(stored.sessions.map((s) => [s.sessionId, s.template]))).toEqual(new Map(inRedis.map((s) => [s.sessionId, s.template])));
  }

  /** Invariants over every session of the lesson in Redis. */
  async function expectInvariants(): Promise<SessionView[]> {
    const all = await svc.store.allSessions(L);
    const activeOf = new Map<number, string>();
    for (const s of all) {
      for (const l of s.links) {
        if (!ACTIVE_STATES.includes(l.state)) continue;
        expect(s.status, `${s.sessionId}: an ended session keeps no active link (${l.uid} ${l.state})`).toBe('active');
        expect(activeOf.has(l.uid), `user ${l.uid} active in ${activeOf.get(l.uid)} and ${s.sessionId}`).toBe(false);
        activeOf.set(l.uid, s.sessionId);
      }
      const seated = s.links.filter((l) => l.state === 'connecting' || l.state === 'connected').length;
      expect(seated, `${s.sessionId} seats`).toBeLessThanOrEqual(s.capacity);
      expectSeatInvariants(s);
      if (s.kind === 'duo' && s.links.some((l) => !ACTIVE_STATES.includes(l.state) && l.state !== 'ended')) {
        expect(s.status, `duo ${s.sessionId} ends when one side goes`).toBe('ended');
      }
    }
    // The mutual-exclusion index is exactly the users with an active link.
    const busy = await redis.hgetall(lk().iaBusy);
    expect(new Map(Object.entries(busy).map(([u, s]) => [Number(u), s]))).toEqual(activeOf);
    return all;
  }

  it("runs the seed's flow: create+invite, accept, joins, apply, invite, and the creator leaving ends the session", async () => {
    const [A, B, C, D] = fresh(4);
    const versions: number[] = [];
    const v = <T extends { version: number | null }>(r: T): T => {
      versions.push(r.version!);
      return r;
    };
    const c = v(await svc.fastCreate(student(A!), { lessonId: L, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: B!, by: null }));
    const rtc = (uid: number, event: 'joined' | 'left', id: string) => svc.rtcEvent(service, { lessonId: L, channelId: c.channelId, uid, event, eventId: `${c.sessionId}-${id}`, at: clock++ });
    expect(v(await svc.handle(student(B!), { lessonId: L, sessionId: c.sessionId, uid: null, accept: true, by: null })).state).toBe('connecting');
    expect(v(await rtc(A!, 'joined', '1')).state).toBe('connected');
    expect(v(await rtc(B!, 'joined', '2')).outcome).toBe('applied');
    expect(v(await svc.apply(student(C!), { lessonId: L, sessionId: c.sessionId, uid: null, by: null })).state).toBe('initiated');
    expect(v(await svc.handle(student(A!), { lessonId: L, sessionId: c.sessionId, uid: C!, accept: true, by: null })).state).toBe('connecting');
    v(await rtc(C!, 'joined', '3'));
    expect(v(await svc.invite(student(A!), { lessonId: L, sessionId: c.sessionId, uid: D!, by: null })).state).toBe('initiated');
    v(await svc.handle(student(D!), { lessonId: L, sessionId: c.sessionId, uid: null, accept: true, by: null }));
    v(await rtc(D!, 'joined', '4'));

    const info = await svc.universalInfo(student(C!), L, 'main');
    const s = info.sessions.find((x) => x.sessionId === c.sessionId)!;
    expect(s.links.map((l) => [l.uid, l.state, l.origin]).sort()).toEqual(
      [
        [A, 'connected', 'creator'],
        [B, 'connected', 'invitation'],
        [C, 'connected', 'application'],
        [D, 'connected', 'invitation'],
      ].sort(),
    );
    expect(s.links.find((l) => l.uid === A)!.roles).toEqual(['initiator', 'participant', 'audience']);
    expect(info.version).toBe(s.version);
    expect(s.version).toBe(versions.at(-1));

    const endByCreator = v(await rtc(A!, 'left', '5'));
    expect(endByCreator.state).toBe('left');
    // The rest of the flow arrives after the session ended: accepted, nothing changes.
    for (const [i, u] of [B!, C!, D!].entries()) expect((await rtc(u, 'left', `${6 + i}`)).outcome).toBe('ended');
    for (let i = 1; i < versions.length; i++) expect(versions[i]!, `step ${i}`).toBeGreaterThan(versions[i - 1]!);

    const after = (await svc.store.session(L, c.sessionId))!;
    expect([after.status, after.endReason]).toEqual(['ended', 'creator_left']);
    expect(after.links.map((l) => l.state).sort()).toEqual(['ended', 'ended', 'ended', 'left']);
    expect((await svc.universalInfo(student(C!), L, 'main')).sessions.some((x) => x.sessionId === c.sessionId)).toBe(false);
    await expectInvariants();
    await expectMysqlEqualsRedis();
  });

  it('a duo ends when either side goes; the invitee busy elsewhere is USER_BUSY; errors name what is wrong and write nothing', async () => {
    const [A, B, C, X] = fresh(4);
    const duo = await svc.fastCreate(student(A!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: `pk-${L}-${mode}`, invitee: B!, by: null });
    await svc.handle(student(B!), { lessonId: L, sessionId: duo.sessionId, uid: null, accept: true, by: null });
    const before = await writes();
    const cases: Array<[() => Promise<unknown>, ErrorCode, Record<string, unknown>?]> = [
      // B holds an active link: nobody may invite it, it may not apply or create.
      [() => svc.fastCreate(student(C!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: null, invitee: B!, by: null }), 'USER_BUSY', { uid: B, sessionId: duo.sessionId }],
      [() => svc.fastCreate(student(B!), { lessonId: L, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: null, by: null }), 'USER_BUSY'],
      // A duo seats two.
      [() => svc.invite(student(A!), { lessonId: L, sessionId: duo.sessionId, uid: C!, by: null }), 'SESSION_FULL', { seated: 2, capacity: 2 }],
      // A connecting link cannot be cancelled; an unknown session, user, room, link; a channel in use.
      [() => svc.cancel(student(A!), { lessonId: L, sessionId: duo.sessionId, uid: B!, by: null }), 'INVALID_TRANSITION', { from: 'connecting', to: 'cancelled' }],
      [() => svc.invite(student(A!), { lessonId: L, sessionId: 's999999', uid: C!, by: null }), 'SESSION_NOT_FOUND'],
      [() => svc.fastCreate(student(X!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: null, invitee: 999_999_999, by: null }), 'USER_NOT_FOUND'],
      [() => svc.fastCreate(student(X!), { lessonId: L, roomId: 'nope', kind: 'duo', capacity: null, channelId: null, invitee: C!, by: null }), 'ROOM_NOT_FOUND'],
      [() => svc.kick(teacher, { lessonId: L, sessionId: duo.sessionId, uid: C!, by: null }), 'LINK_NOT_FOUND'],
      [() => svc.fastCreate(student(X!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: `pk-${L}-${mode}`, invitee: C!, by: null }), 'CHANNEL_IN_USE'],
      [() => svc.rtcEvent(service, { lessonId: L, channelId: 'no-such-channel', uid: A!, event: 'joined', eventId: 'x', at: 1 }), 'SESSION_NOT_FOUND'],
    ];
    for (const [p, code, details] of cases) {
      const e = await p().then(
        () => null,
        (x: unknown) => x,
      );
      expect(isOrgError(e, code), `${code}: got ${String(e)}`).toBe(true);
      if (details) expect((e as { details: Record<string, unknown> }).details).toMatchObject(details);
    }
    expect(await writes()).toEqual(before);

    // Either side going ends the duo, with the reason.
    const r = await svc.leave(student(B!), { lessonId: L, sessionId: duo.sessionId, uid: null, by: null });
    expect([r.state, r.sessionStatus]).toEqual(['left', 'ended']);
    const s = (await svc.store.session(L, duo.sessionId))!;
    expect([s.endReason, s.links.find((l) => l.uid === A)!.state]).toEqual(['peer_left', 'ended']);
    const ended = await writes();
    expect(await outcomeOf(svc.invite(student(A!), { lessonId: L, sessionId: duo.sessionId, uid: C!, by: null }))).toBe('SESSION_ENDED');
    expect(await writes()).toEqual(ended);
    // Both are free again: a new session reuses the channel.
    expect((await svc.fastCreate(student(A!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: `pk-${L}-${mode}`, invitee: B!, by: null })).channelId).toBe(`pk-${L}-${mode}`);
    await expectInvariants();
  });

  it('refuses every permission to the wrong role; the teacher, a tutor in its room or over its students, a granted admin and services may', async () => {
    const [A, B, C, D, E] = fresh(5);
    const c = await svc.fastCreate(student(A!), { lessonId: L, roomId: 'main', kind: 'multi', capacity: 6, channelId: null, invitee: B!, by: null });
    const sid = c.sessionId;
    await svc.handle(student(B!), { lessonId: L, sessionId: sid, uid: null, accept: true, by: null });
    await svc.apply(student(D!), { lessonId: L, sessionId: sid, uid: null, by: null });
    await svc.invite(student(A!), { lessonId: L, sessionId: sid, uid: E!, by: null });
    const link = (uid: number | null, by: number | null = null) => ({ lessonId: L, sessionId: sid, uid, by });
    const before = await writes();
    const refused: Array<[string, () => Promise<unknown>]> = [
      // C: audience only.
      ['audience invites', () => svc.invite(student(C!), link(C!))],
      ['audience kicks', () => svc.kick(student(C!), link(B!))],
      ['audience ends', () => svc.end(student(C!), { lessonId: L, sessionId: sid, by: null })],
      ['audience accepts an application', () => svc.handle(student(C!), { ...link(D!), accept: true })],
      ['audience rejects an application', () => svc.handle(student(C!), { ...link(D!), accept: false })],
      ['answering an invitation addressed to another', () => svc.handle(student(C!), { ...link(E!), accept: true })],
      ['cancelling an invitation made by another', () => svc.cancel(student(C!), link(E!))],
      ['applying for another', () => svc.apply(student(C!), link(E!))],
      ['leaving for another', () => svc.leave(student(C!), link(B!))],
      ['acting as another user', () => svc.leave(student(C!), link(null, B!))],
      // B: participant.
      ['participant invites', () => svc.invite(student(B!), link(C!))],
      ['participant kicks', () => svc.kick(student(B!), link(A!))],
      ['participant ends', () => svc.end(student(B!), { lessonId: L, sessionId: sid, by: null })],
      ['participant accepts an application', () => svc.handle(student(B!), { ...link(D!), accept: true })],
      // A tutor over a student that is not its own, in a room that is not its own.
      ['tutor over another tutor’s student', () => svc.kick(tutor(tutors[0]!), link(studentsOf.get(tutors[0]!)!.includes(B!) ? A! : B!))],
      ['the creator is not kicked', () => svc.kick(teacher, link(A!))],
      ['a student reports RTC events', () => svc.rtcEvent(student(A!), { lessonId: L, channelId: c.channelId, uid: A!, event: 'joined', eventId: 'p1', at: 1 })],
      ['a student grants room admins', () => svc.setAdmin(student(A!), { lessonId: L, roomId: 'main', uid: C!, granted: true })],
      ['a caller of another lesson', () => svc.end({ uid: topo.lesson.teacherUid, role: 'teacher', lesson: L + 1000 }, { lessonId: L, sessionId: sid, by: null })],
    ];
    for (const [what, p] of refused) expect(await outcomeOf(p()), what).toBe('FORBIDDEN');
    expect(await writes()).toEqual(before);

    // The creator accepts D; a tutor kicks its own student; a granted room admin invites; the teacher ends.
    expect((await svc.handle(student(A!), { ...link(D!), accept: true })).state).toBe('connecting');
    const own = studentsOf.get(tutors[1]!)!.at(-1)!;
    await svc.invite(teacher, link(own));
    await svc.handle(student(own), { ...link(null), accept: true });
    expect(await outcomeOf(svc.kick(tutor(tutors[0]!), link(own))), 'another tutor').toBe(studentsOf.get(tutors[0]!)!.includes(own) ? 'ok' : 'FORBIDDEN');
    expect((await svc.kick(tutor(tutors[1]!), link(own))).state).toBe('kicked');
    expect(await outcomeOf(svc.invite(student(C!), link(C!)))).toBe('FORBIDDEN');
    expect((await svc.setAdmin(teacher, { lessonId: L, roomId: 'main', uid: C!, granted: true })).changed).toBe(true);
    const asAdmin = await svc.universalInfo(teacher, L, 'main');
    expect(asAdmin.admins).toContain(C!);
    expect((await svc.kick(student(C!), link(B!))).state).toBe('kicked');
    await svc.setAdmin(service, { lessonId: L, roomId: 'main', uid: C!, granted: false });
    expect(await outcomeOf(svc.kick(student(C!), link(D!)))).toBe('FORBIDDEN');
    // A service acts for anyone: here it cancels E's invitation made by A.
    expect((await svc.cancel(service, link(E!))).state).toBe('cancelled');
    expect((await svc.end(teacher, { lessonId: L, sessionId: sid, by: null })).version).toBeGreaterThan(0);
    // A tutor in its own room is admin there.
    const [F, G] = fresh(2);
    const inRoom = topo.rooms.find((r) => r.teacherUid === tutors[2]! && r.roomType === 'tutor_in');
    if (inRoom) {
      const c2 = await svc.fastCreate(service, { lessonId: L, roomId: inRoom.roomId, kind: 'multi', capacity: null, channelId: null, invitee: G!, by: F! });
      await svc.handle(student(G!), { lessonId: L, sessionId: c2.sessionId, uid: null, accept: true, by: null });
      expect((await svc.kick(tutor(tutors[2]!), { lessonId: L, sessionId: c2.sessionId, uid: G!, by: null })).state).toBe('kicked');
      expect(await outcomeOf(svc.kick(tutor(tutors[3]!), { lessonId: L, sessionId: c2.sessionId, uid: F!, by: null }))).toBe('FORBIDDEN');
      await svc.end(service, { lessonId: L, sessionId: c2.sessionId, by: null });
    }
    await expectInvariants();
  });

  it('RTC events: a duplicate changes nothing, a left that arrives before its joined never brings the link back', async () => {
    const [A, B] = fresh(2);
    const c = await svc.fastCreate(student(A!), { lessonId: L, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: B!, by: null });
    await svc.handle(student(B!), { lessonId: L, sessionId: c.sessionId, uid: null, accept: true, by: null });
    const ev = (uid: number, event: 'joined' | 'left', eventId: string, at: number) => svc.rtcEvent(service, { lessonId: L, channelId: c.channelId, uid, event, eventId, at });
    const j = await ev(A!, 'joined', 'a-j', 100);
    expect(j.outcome).toBe('applied');
    const w = await writes();
    expect(await ev(A!, 'joined', 'a-j', 100)).toMatchObject({ outcome: 'duplicate', version: null, sessionVersion: j.version });
    expect(await writes()).toEqual(w);
    // B's left (at 300) overtakes its joined (at 200).
    expect(await ev(B!, 'left', 'b-l', 300)).toMatchObject({ outcome: 'applied', state: 'left' });
    expect(await ev(B!, 'joined', 'b-j', 200)).toMatchObject({ outcome: 'stale', state: 'left' });
    expect((await svc.store.session(L, c.sessionId))!.links.find((l) => l.uid === B)!.state).toBe('left');
    // A stranger in the channel is reported, not linked.
    const [S] = fresh(1);
    expect((await ev(S!, 'joined', 's-j', 400)).outcome).toBe('unlinked');
    const check = await svc.rtcCheck(L, clock, 100);
    expect(check.strays).toContainEqual({ sessionId: c.sessionId, uid: S });
    // A's RTC reports stop: after the grace period reconciliation moves it to left, which ends the session.
    clock += config.interaction.rtcGraceMs + 1;
    const late = await svc.rtcCheck(L, clock, 100);
    expect(late.moved).toBeGreaterThanOrEqual(1);
    const s = (await svc.store.session(L, c.sessionId))!;
    expect([s.status, s.endReason, s.links.find((l) => l.uid === A)!.state]).toEqual(['ended', 'creator_left', 'left']);
    await expectInvariants();
  });

  it('races: many users apply and are accepted at once and the seats hold; two hosts invite one user at once and one wins', async () => {
    const [A, ...rest] = fresh(31);
    const c = await svc.fastCreate(student(A!), { lessonId: L, roomId: 'main', kind: 'multi', capacity: 5, channelId: null, invitee: null, by: null });
    const applied = await Promise.all(rest.map((u) => outcomeOf(svc.apply(student(u), { lessonId: L, sessionId: c.sessionId, uid: null, by: null }))));
    expect(applied.every((x) => x === 'ok')).toBe(true);
    const accepted = await Promise.all(rest.map((u) => outcomeOf(svc.handle(student(A!), { lessonId: L, sessionId: c.sessionId, uid: u, accept: true, by: null }))));
    expect(accepted.filter((x) => x === 'ok')).toHaveLength(4);
    expect(accepted.filter((x) => x === 'SESSION_FULL')).toHaveLength(rest.length - 4);
    const s = (await svc.store.session(L, c.sessionId))!;
    expect(s.links.filter((l) => l.state === 'connecting').length).toBe(5);

    const [H1, H2, X] = fresh(3);
    const s1 = await svc.fastCreate(student(H1!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: null, invitee: null, by: null });
    const s2 = await svc.fastCreate(student(H2!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: null, invitee: null, by: null });
    const both = await Promise.all([s1, s2].map((s, i) => outcomeOf(svc.invite(student([H1!, H2!][i]!), { lessonId: L, sessionId: s.sessionId, uid: X!, by: null }))));
    expect(both.sort()).toEqual(['USER_BUSY', 'ok']);
    await expectInvariants();
  });

  it('timeouts on an injected clock: invitations and connections expire once, by any checker, and a killed checker is taken over', async () => {
    const [A, B, C, D] = fresh(4);
    const t0 = clock;
    const duo = await svc.fastCreate(student(A!), { lessonId: L, roomId: 'main', kind: 'duo', capacity: null, channelId: null, invitee: B!, by: null });
    // A joins its channel (no connect deadline left for it); B never answers.
    await svc.rtcEvent(service, { lessonId: L, channelId: duo.channelId, uid: A!, event: 'joined', eventId: 't-a', at: clock });
    const multi = await svc.fastCreate(student(C!), { lessonId: L, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: D!, by: null });
    await svc.handle(student(D!), { lessonId: L, sessionId: multi.sessionId, uid: null, accept: true, by: null });
    const ia = { checkEveryMs: 1000, checkBatch: 100, checkLeaseMs: 10_000 };
    const mk = (holder: string) => new InteractionChecker({ redis, service: svc, keyPrefix: config.keyPrefix, ia, ttlSeconds: 3600, holder, now: () => clock });
    const first = mk('checker-1');
    const second = mk('checker-2');
    // Nothing is due yet (C's own connect deadline included); checker-1 takes the lesson's lease and then dies.
    clock = t0 + config.interaction.connectTimeoutMs - 1;
    await first.runOnce();
    const early = (await svc.store.session(L, multi.sessionId))!;
    expect([early.status, early.links.find((l) => l.uid === C)!.state, (await svc.store.session(L, duo.sessionId))!.links.find((l) => l.uid === B)!.state]).toEqual([
      'active',
      'connecting',
      'initiated',
    ]);
    clock = t0 + config.interaction.inviteTimeoutMs;
    expect((await second.runOnce()).skipped).toBeGreaterThanOrEqual(1);
    expect((await svc.store.session(L, duo.sessionId))!.status).toBe('active');
    // Past checker-1's lease, checker-2 takes the lesson over and applies every due deadline once.
    clock = t0 + config.interaction.inviteTimeoutMs + ia.checkLeaseMs;
    const round = await second.runOnce();
    expect(round.lessons).toBeGreaterThanOrEqual(1);
    const d = (await svc.store.session(L, duo.sessionId))!;
    expect([d.status, d.endReason, d.links.find((l) => l.uid === B)!.state]).toEqual(['ended', 'peer_left', 'timed_out']);
    const m = (await svc.store.session(L, multi.sessionId))!;
    expect(m.links.find((l) => l.uid === C)!.state).toBe('connect_timed_out');
    expect([m.status, m.endReason]).toEqual(['ended', 'creator_left']);
    const w = await writes();
    expect((await second.runOnce()).timedOut).toBe(0);
    expect((await svc.expire(L, clock, 100)).moved).toBe(0);
    expect(await writes()).toEqual(w);
    await expectInvariants();
  });

  it("a lesson's policy overrides the global invitation timeout (the preload writes it into the lesson record)", async () => {
    const P = L + 10;
    const t = compileTestLesson({ lessonId: P, students: 20, tutors: 1, policy: 'group', seed: P });
    await loadTopology(redis, config.keyPrefix, { ...t, interaction: { inviteTimeoutMs: 1000, connectTimeoutMs: null } });
    try {
      const [A, B, C] = t.positions.map((p) => p.uid);
      const s = await svc.fastCreate(service, { lessonId: P, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: B!, by: A! });
      await svc.invite(service, { lessonId: P, sessionId: s.sessionId, uid: C!, by: A! });
      expect((await svc.expire(P, clock + 999, 100)).moved).toBe(0);
      expect((await svc.expire(P, clock + 1000, 100)).moved).toBe(2);
      const v = (await svc.store.session(P, s.sessionId))!;
      expect(v.links.filter((l) => l.state === 'timed_out').map((l) => l.uid).sort()).toEqual([B, C].sort());
      // The connect timeout is the global one: the creator is still connecting.
      expect(v.links.find((l) => l.uid === A)!.state).toBe('connecting');
    } finally {
      const k = lessonKeys(config.keyPrefix, P);
      await redis.unlink(k.iaSeq, k.iaBusy, k.iaActive, k.iaChannels, k.iaDeadlines, k.iaRoomVersion, k.iaSession('s1'), k.iaLinks('s1'), k.iaRoom('main'), k.writeBehind, k.stateVersion);
      await redis.zrem(interactionRegistryKey(config.keyPrefix), String(P));
      await dropLessonKeys(redis, config.keyPrefix, P);
    }
  });

  it('kill -9 of a process mid-flow loses no acknowledged transition or seat change: each one is in its ledger in MySQL', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const env = {
      ...process.env,
      ORGENGINE_KEY_PREFIX: config.keyPrefix,
      ORGENGINE_MYSQL_URL: db.url,
      ...(mode === 'single' ? { ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_REDIS_CLUSTER_NODES: '' } : { ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(',') }),
      ORGENGINE_LOG_LEVEL: 'error',
    };
    const acks: string[] = [];
    const seatAcks: string[] = [];
    let partial = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/interactionChild.ts', String(L), fresh(24).join(',')], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith('ack ')) acks.push(l);
        else if (l.startsWith('seat ')) seatAcks.push(l.slice(5));
      }
    });
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && acks.length < 600) await new Promise((r) => setTimeout(r, 20));
      expect(acks.length).toBeGreaterThanOrEqual(600);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
    // Sessions left active by the kill keep their users busy: end them so later tests are not affected.
    await expectMysqlEqualsRedis();
    const stored = await readStoredInteractions(db.pool, L);
    const ledger = new Set(stored.events.map((e) => `${e.sessionId} ${e.uid} ${e.to} ${e.version}`));
    const missing = acks.map((a) => a.slice(4)).filter((a) => !ledger.has(a));
    expect(missing).toEqual([]);
    // Every acknowledged mic seat change is in the seat ledger with its version.
    expect(seatAcks.length).toBeGreaterThan(0);
    const seatLedger = new Set((await readSeatEvents(db.pool, L)).map((e) => `${e.sessionId} ${e.seat} ${e.version}`));
    expect(seatAcks.filter((a) => !seatLedger.has(a))).toEqual([]);
    for (const s of await svc.store.allSessions(L)) if (s.status === 'active') await svc.end(service, { lessonId: L, sessionId: s.sessionId, by: null });
    await expectInvariants();
  });

  it('a seeded random walk over every operation and RTC event keeps the invariants, and MySQL equals Redis after the drain', async () => {
    const rnd = prng(mode === 'single' ? 21 : 22);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const users = fresh(20);
    const rooms = ['main', ...topo.rooms.filter((r) => r.roomType === 'tutor_in').slice(0, 1).map((r) => r.roomId)];
    const lastVersion = new Map<string, number>();
    const seen = new Map<string, { g: number; rank: number }>();
    const sent: Array<{ lessonId: number; channelId: string; uid: number; event: 'joined' | 'left'; eventId: string; at: number }> = [];
    const outcomes = new Map<string, number>();
    let n = 0;
    const note = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    const track = (sessionId: string, version: number | null) => {
      if (version === null) return;
      const prev = lastVersion.get(sessionId) ?? 0;
      expect(version, `${sessionId} version`).toBeGreaterThan(prev);
      lastVersion.set(sessionId, version);
    };
    for (let step = 0; step < 600; step++) {
      clock += Math.floor(rnd() * 2000);
      const live = (await svc.universalInfo(service, L, pick(rooms))).sessions;
      const s = live.length > 0 && rnd() < 0.85 ? pick(live) : null;
      const u = pick(users);
      const who = rnd() < 0.1 ? teacher : rnd() < 0.1 ? service : student(u);
      const by = who.role === 'service' ? u : null;
      const op = rnd();
      let p: Promise<{ version: number | null; sessionId: string } | null>;
      let seatStep = false;
      if (!s || op < 0.08) {
        p = svc.fastCreate(student(u), { lessonId: L, roomId: pick(rooms), kind: rnd() < 0.5 ? 'duo' : 'multi', capacity: rnd() < 0.5 ? null : 3, channelId: null, invitee: rnd() < 0.7 ? pick(users) : null, by: null });
      } else {
        const target = rnd() < 0.7 && s.links.length > 0 ? pick(s.links).uid : pick(users);
        const link = { lessonId: L, sessionId: s.sessionId, uid: target, by };
        const k = Math.floor(rnd() * 13);
        if (k === 0) p = svc.invite(rnd() < 0.5 ? student(s.creator) : who, link);
        else if (k === 1) p = svc.apply(student(target), { ...link, by: null });
        else if (k === 2) p = svc.handle(rnd() < 0.5 ? student(target) : student(s.creator), { ...link, by: null, accept: rnd() < 0.7 });
        else if (k === 3) p = svc.cancel(who, link);
        else if (k === 4) p = svc.kick(rnd() < 0.5 ? student(s.creator) : who, link);
        else if (k === 5) p = svc.leave(student(target), { ...link, by: null });
        else if (k === 6 && rnd() < 0.3) p = svc.end(who, { lessonId: L, sessionId: s.sessionId, by });
        else if (k >= 10) {
          seatStep = true;
          // Mic seats: own and others' seats, locks, mutes and layout switches, by the creator, the user or anyone.
          const seatOp = pick(['take', 'take', 'leave', 'move', 'swap', 'lock', 'unlock', 'mute', 'unmute', 'switch'] as const);
          const actor = rnd() < 0.4 ? student(s.creator) : rnd() < 0.5 ? student(target) : who;
          const seat = Math.floor(rnd() * 10);
          if (seatOp === 'switch') p = svc.switchTemplate(actor, { lessonId: L, sessionId: s.sessionId, templateId: pick(['voice', 'video', 'duo', 'pk-2', 'pk-3']), by });
          else {
            const own = seatOp === 'take' || seatOp === 'leave' || seatOp === 'move';
            p = svc.seat(actor, seatOp, {
              lessonId: L,
              sessionId: s.sessionId,
              uid: own && rnd() < 0.5 ? target : null,
              seat: seatOp === 'leave' || (seatOp === 'take' && rnd() < 0.5) ? null : seat,
              other: seatOp === 'swap' ? (seat + 1 + Math.floor(rnd() * 4)) % 10 : null,
              media: seatOp === 'mute' || seatOp === 'unmute' ? pick(['mic', 'cam'] as const) : null,
              by: actor.role === 'service' ? by : null,
            });
          }
        } else if (k === 7 && sent.length > 0) {
          // Replay an event already sent (duplicate), or send an old one late (out of order).
          const old = pick(sent);
          p = svc.rtcEvent(service, rnd() < 0.5 ? old : { ...old, eventId: `late-${n++}`, at: old.at - 1 });
        } else {
          const e = { lessonId: L, channelId: s.channelId, uid: target, event: rnd() < 0.6 ? ('joined' as const) : ('left' as const), eventId: `e-${n++}`, at: clock };
          sent.push(e);
          p = svc.rtcEvent(service, e);
        }
      }
      try {
        const r = await p;
        if (r) track(r.sessionId, r.version);
        note(seatStep && r?.version ? 'seat changed' : 'ok');
      } catch (e) {
        if (!isOrgError(e) || e.code === 'INTERNAL') throw e;
        note(e.code);
      }
      if (step % 20 === 19) {
        clock += 5000;
        await svc.expire(L, clock, 100);
        for (const sv of await expectInvariants()) {
          for (const l of sv.links) {
            const key = `${sv.sessionId}:${l.uid}`;
            const prev = seen.get(key);
            // Within a generation a state only moves forward; a new generation starts after a finished one.
            if (prev && prev.g === l.generation) expect(stateRank(l.state), `${key} moved back`).toBeGreaterThanOrEqual(prev.rank);
            else if (prev) expect(l.generation).toBeGreaterThan(prev.g);
            seen.set(key, { g: l.generation, rank: stateRank(l.state) });
          }
        }
      }
    }
    // The walk exercised successes and refusals of several kinds.
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(50);
    expect(outcomes.get('seat changed') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(10);
    expect([...outcomes.keys()].length).toBeGreaterThan(4);
    expect(Object.keys(LINK_ORIGINS)).toHaveLength(3);
    await expectInvariants();
    await expectMysqlEqualsRedis();

    // reconcile covers sessions and links: a lost MySQL row is found and repaired from Redis.
    const deps = { redis, pool: db.pool, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, batchRows: 500 };
    const clean = await reconcileLesson(deps, L);
    expect(clean.interaction.differing).toBe(0);
    expect(clean.interaction.links).toBeGreaterThan(10);
    await db.pool.query('DELETE FROM ia_link WHERE lesson_id = ? LIMIT 1', [L]);
    await db.pool.query('UPDATE ia_session SET status = ? WHERE lesson_id = ? ORDER BY session_id LIMIT 1', ['active', L]);
    const found = await reconcileLesson(deps, L);
    expect(found.interaction.differing).toBeGreaterThanOrEqual(1);
    const repaired = await reconcileLesson(deps, L, { repair: true });
    expect(repaired.interaction.rejournaled).toBeGreaterThanOrEqual(1);
    expect(repaired.remaining).toBe(0);
    await expectMysqlEqualsRedis();

    // Room admins live in MySQL and are served from Redis: a grant Redis lost is found and granted again.
    const [X] = fresh(1);
    await svc.setAdmin(teacher, { lessonId: L, roomId: rooms[0]!, uid: X!, granted: true });
    expect(await flusher.drain(30_000, [L])).toBe(true);
    await redis.unlink(lk().iaAdmins(rooms[0]!));
    const lost = await reconcileLesson(deps, L);
    expect(lost.interaction.differences).toContainEqual({ sessionId: `admin:${rooms[0]}`, uid: null, redis: '', mysql: String(X) });
    const back = await reconcileLesson(deps, L, { repair: true, from: 'mysql' });
    expect(back.remaining).toBe(0);
    expect((await svc.universalInfo(service, L, rooms[0]!)).admins).toContain(X!);
  });
});
