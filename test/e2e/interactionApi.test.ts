// The interaction center through the edge API end to end, over real sockets
// (uWS HTTP and gRPC), on a real single Redis and a real Redis Cluster, with
// the gateway's in-process flusher writing to a real MariaDB: the seed's flow
// over HTTP, UniversalInfo served warm from the gateway cache and refreshed
// through the lesson channel (backstop TTL 60 s, so nothing else explains
// it), identical concurrent requests sharing one Redis read, the gRPC service
// with its error mapping, and bad input refused before anything is written.
import { randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Topology } from '../../src/model/topology.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { interactionRegistryKey, lessonKeys } from '../../src/store/redis/keys.js';
import { call, grpcClients, rpc } from '../support/clients.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, loadSyntheticLesson } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { GATEWAY_REDIS_MODES } from '../support/redis.js';
import { hour, until } from '../support/wait.js';
import { connectWs } from '../support/ws.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const log = pino({ level: 'silent' });

describe.each(GATEWAY_REDIS_MODES)('interaction API on %s', (mode, target) => {
  const LESSON = 840_000 + Math.floor(Math.random() * 80_000);
  const tag = `i${randomUUID().slice(0, 8)}`;
  let db: TestDb;
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let base: string;
  let grpcc: ReturnType<typeof grpcClients>;
  let topo: Topology;
  let tokens: TokenVerifier;
  let serviceTok: string;
  let students: number[];
  const studentTok = (uid: number) => tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour() });
  const P = `/v1/lessons/${LESSON}`;

  beforeAll(async () => {
    db = await createTestDb(`iaapi_${mode.startsWith('single') ? 's' : 'c'}`);
    prefix = uniquePrefix('iaapi');
    config = loadConfig({
      ...target(),
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      ORGENGINE_MYSQL_URL: db.url,
      ORGENGINE_FLUSH_IN_GATEWAY: 'true',
      ORGENGINE_IA_INFO_CACHE_MS: '60000',
      ORGENGINE_WB_POLL_MS: '5',
      ORGENGINE_WB_IDLE_POLL_MAX_MS: '20',
    });
    redis = createRedis(config.redis);
    topo = await loadSyntheticLesson(redis, prefix, LESSON, { students: 40, tutors: 2, policy: 'group' });
    students = topo.positions.map((p) => p.uid);
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false, connectionTag: tag });
    base = `http://127.0.0.1:${gw.httpPort}`;
    grpcc = grpcClients(gw.grpcPort!);
    tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1000 });
    serviceTok = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
  });

  afterAll(async () => {
    grpcc?.close();
    await gw?.close();
    if (redis) {
      const k = lessonKeys(prefix, LESSON);
      const n = Number((await redis.get(k.iaSeq)) ?? 0);
      const keys = [k.iaSeq, k.iaBusy, k.iaActive, k.iaChannels, k.iaDeadlines, k.iaRoomVersion, k.iaRoom('main')];
      for (let i = 1; i <= n; i++) keys.push(k.iaSession(`s${i}`), k.iaLinks(`s${i}`), k.iaRtc(`s${i}`), k.iaRtcEvents(`s${i}`));
      await redis.unlink(...keys);
      await redis.zrem(interactionRegistryKey(prefix), String(LESSON));
      await dropLessonKeys(redis, prefix, LESSON);
      redis.disconnect();
    }
    await db?.drop();
  });

  const post = (path: string, token: string, body: object) => call(base, `${P}${path}`, { token, method: 'POST', body: JSON.stringify(body) });

  it("runs the seed's flow over HTTP; UniversalInfo is served warm and follows every change through the lesson channel; MySQL gets it all", async () => {
    const [A, B, C, D] = students as [number, number, number, number];
    const created = await post('/rooms/main/interactions', studentTok(A), { kind: 'multi', invitee: B });
    expect(created.status).toBe(201);
    const sid: string = created.body.sessionId;
    const channelId: string = created.body.channelId;
    let n = 0;
    const rtc = (uid: number, event: string) => post('/rtc-events', serviceTok, { channelId, uid, event, eventId: `e${n++}`, at: Date.now() + n });
    const steps = [
      () => post(`/interactions/${sid}/handle`, studentTok(B), { accept: true }),
      () => rtc(A, 'joined'),
      () => rtc(B, 'joined'),
      () => post(`/interactions/${sid}/apply`, studentTok(C), {}),
      () => post(`/interactions/${sid}/handle`, studentTok(A), { uid: C, accept: true }),
      () => rtc(C, 'joined'),
      () => post(`/interactions/${sid}/invite`, studentTok(A), { uid: D }),
      () => post(`/interactions/${sid}/handle`, studentTok(D), { accept: true }),
      () => rtc(D, 'joined'),
    ];
    let last = created.body.version as number;
    for (const [i, step] of steps.entries()) {
      const r = await step();
      expect(r.status, `step ${i}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body.version, `step ${i}`).toBeGreaterThan(last);
      last = r.body.version;
    }
    // Warm: the second read is the cached object; it shows the newest version.
    const info = () => call(base, `${P}/rooms/main/interactions`, { token: studentTok(A) });
    const first = await info();
    expect(first.status).toBe(200);
    expect(first.body.version).toBe(last);
    expect(first.body.sessions[0].links.map((l: { state: string }) => l.state)).toEqual(['connected', 'connected', 'connected', 'connected']);
    // The first read subscribed the lesson's channel; once confirmed, a read fills the cache and the next is a hit.
    await gw.channels.settled();
    await info();
    const hits = gw.interaction.infoStats.hits;
    expect((await info()).body).toEqual(first.body);
    expect(gw.interaction.infoStats.hits).toBe(hits + 1);
    // A change reaches the cache through the lesson channel (the TTL is a minute).
    const left = await rtc(A, 'left');
    expect(left.body).toMatchObject({ outcome: 'applied', state: 'left' });
    await until('UniversalInfo to drop the ended session', async () => ((await info()).body.version === left.body.version ? true : undefined), 10_000);
    expect((await info()).body.sessions).toEqual([]);
    // Written behind: the session, its four links and the ledger.
    await until('the flusher to drain', async () => ((await redis.xlen(lessonKeys(prefix, LESSON).writeBehind)) === 0 ? true : undefined), 10_000);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status, end_reason, version FROM ia_session WHERE lesson_id = ? AND session_id = ?', [LESSON, sid]);
    expect(rows.map((r) => [r.status, r.end_reason, Number(r.version)])).toEqual([['ended', 'creator_left', left.body.version]]);
    const [links] = await db.pool.query<RowDataPacket[]>('SELECT state FROM ia_link WHERE lesson_id = ? AND session_id = ? ORDER BY uid', [LESSON, sid]);
    expect(links.map((r) => r.state).sort()).toEqual(['ended', 'ended', 'ended', 'left']);
  });

  it('pushes every change on the room topic with its version, in order', async () => {
    const [, , , , , , , , , , , , L1, L2] = students as number[];
    const ws = await connectWs(base, studentTok(L1!));
    try {
      ws.send({ type: 'subscribe', id: 'sub', room: 'main', after: null });
      await ws.next((m) => m.id === 'sub');
      const from = ws.messages.length;
      const c = await post('/rooms/main/interactions', studentTok(L1!), { kind: 'duo', invitee: L2 });
      const h = await post(`/interactions/${c.body.sessionId}/handle`, studentTok(L2!), { accept: false });
      expect(h.body).toMatchObject({ state: 'rejected', sessionStatus: 'ended' });
      const pushed = await ws.next((m) => m.type === 'interaction' && m.version === h.body.version, 10_000, from);
      expect(pushed).toEqual({ type: 'interaction', lessonId: LESSON, room: 'main', sessionId: c.body.sessionId, version: h.body.version });
      const versions = ws.messages.slice(from).filter((m) => m.type === 'interaction').map((m) => m.version);
      expect(versions).toEqual([c.body.version, h.body.version]);
    } finally {
      ws.close();
    }
  });

  it('identical concurrent UniversalInfo requests for one room share one Redis read', async () => {
    // A room nobody has read or changed yet (no invalidation can be on its way): one read, shared or cached.
    const room = topo.rooms.find((r) => r.roomId !== 'main')!.roomId;
    const [, , , , E] = students as number[];
    // Any read subscribes the lesson's channel; once confirmed, answers may be cached.
    await call(base, `${P}/rooms/main/interactions`, { token: studentTok(E!) });
    await gw.channels.settled();
    const before = { ...gw.interaction.infoStats };
    const replies = await Promise.all(Array.from({ length: 20 }, () => call(base, `${P}/rooms/${room}/interactions`, { token: studentTok(E!) })));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(new Set(replies.map((r) => JSON.stringify(r.body))).size).toBe(1);
    const after = gw.interaction.infoStats;
    expect(after.misses - before.misses).toBe(1);
    expect(after.shared - before.shared + (after.hits - before.hits)).toBe(19);
  });

  it('bad input is 400 and permission 403 over HTTP; nothing is written', async () => {
    const [, , , , , , G, H] = students as number[];
    const k = lessonKeys(prefix, LESSON);
    const before = await redis.get(k.stateVersion);
    const bad: Array<[string, object, number, string]> = [
      ['/rooms/main/interactions', { kind: 'trio' }, 400, 'BAD_REQUEST'],
      ['/rooms/main/interactions', { kind: 'duo', capacity: 5 }, 400, 'BAD_REQUEST'],
      ['/rooms/main/interactions', { kind: 'multi', capacity: 10_000 }, 400, 'BAD_REQUEST'],
      ['/rooms/main/interactions', { kind: 'multi', color: 'red' }, 400, 'BAD_REQUEST'],
      ['/interactions/x1/invite', { uid: H }, 400, 'BAD_REQUEST'],
      ['/interactions/s1/handle', { accept: 'maybe' }, 400, 'BAD_REQUEST'],
      ['/interactions/s1/end', { by: H }, 403, 'FORBIDDEN'],
      ['/rtc-events', { channelId: 'c', uid: G, event: 'joined', eventId: 'e', at: 1 }, 403, 'FORBIDDEN'],
    ];
    for (const [path, body, status, code] of bad) {
      const r = await post(path, studentTok(G!), body);
      expect([r.status, r.body.error?.code], `${path} ${JSON.stringify(body)}`).toEqual([status, code]);
    }
    expect(await redis.get(k.stateVersion)).toBe(before);
  });

  it("a kick with revokeTokens (the lesson's teacher) also refuses the kicked student's tokens of the lesson; a student host may not, and its refused kick writes nothing", async () => {
    const M = students[14]!;
    const N = students[15]!;
    const teacherTok = tokens.mint({ uid: topo.lesson.teacherUid, role: 'teacher', lesson: LESSON, exp: hour() });
    const created = await post('/rooms/main/interactions', studentTok(M), { kind: 'multi', invitee: N });
    expect(created.status).toBe(201);
    const sid: string = created.body.sessionId;
    expect((await post(`/interactions/${sid}/handle`, studentTok(N), { accept: true })).status).toBe(200);
    const nTok = studentTok(N);
    const enter = (token: string) => call(base, `${P}/enter`, { token });
    expect((await enter(nTok)).status).toBe(200);
    const k = lessonKeys(prefix, LESSON);
    const before = await redis.get(k.stateVersion);
    // The student who hosts the session may kick from it, but not expel from class.
    const refused = await post(`/interactions/${sid}/kick`, studentTok(M), { uid: N, revokeTokens: true });
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    const noUid = await post(`/interactions/${sid}/kick`, teacherTok, { revokeTokens: true });
    expect([noUid.status, noUid.body.error?.code]).toEqual([400, 'BAD_REQUEST']);
    const notBool = await post(`/interactions/${sid}/kick`, teacherTok, { uid: N, revokeTokens: 'yes' });
    expect([notBool.status, notBool.body.error?.code]).toEqual([400, 'BAD_REQUEST']);
    expect(await redis.get(k.stateVersion)).toBe(before);
    expect((await enter(nTok)).status).toBe(200);

    const kicked = await post(`/interactions/${sid}/kick`, teacherTok, { uid: N, revokeTokens: true });
    expect(kicked.status, JSON.stringify(kicked.body)).toBe(200);
    expect(kicked.body).toMatchObject({ uid: N, state: 'kicked' });
    expect(kicked.body.tokensRevokedBefore).toBeGreaterThan(0);
    // Refused within the revocation bound (the channel, else the backstop re-read).
    const refusedAfter = await until('the kicked student refused', async () => {
      const r = await enter(nTok);
      return r.status === 401 ? r : undefined;
    }, 20_000, 20);
    expect(refusedAfter.body.error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'token revoked' });
    // The host's own token is untouched, and the student may come back with a token issued later.
    expect((await enter(studentTok(M))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 5));
    expect((await enter(studentTok(N))).status).toBe(200);
    // A plain kick (no revokeTokens) revokes nothing.
    const again = await post(`/interactions/${sid}/invite`, studentTok(M), { uid: N });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect((await post(`/interactions/${sid}/handle`, studentTok(N), { accept: true })).status).toBe(200);
    const plain = await post(`/interactions/${sid}/kick`, studentTok(M), { uid: N });
    expect(plain.status).toBe(200);
    expect(plain.body.tokensRevokedBefore).toBeUndefined();
    expect((await enter(studentTok(N))).status).toBe(200);
  });

  it('serves orgengine.v1.InteractionService over gRPC with the error table mapping', async () => {
    const [, , , , , , , , I, J, K] = students as number[];
    const c = await rpc(grpcc.interaction, 'FastCreate', { lessonId: LESSON, roomId: 'main', kind: 'duo', invitee: J, by: I }, serviceTok);
    expect(c.error).toBeUndefined();
    const sid = c.value.sessionId as string;
    const h = await rpc(grpcc.interaction, 'Handle', { lessonId: LESSON, sessionId: sid, uid: J, accept: true }, serviceTok);
    expect(h.value).toMatchObject({ state: 'connecting', sessionStatus: 'active' });
    expect(h.value.version).toBeGreaterThan(c.value.version);
    const busy = await rpc(grpcc.interaction, 'Invite', { lessonId: LESSON, sessionId: sid, uid: J, by: I }, serviceTok);
    expect([busy.error?.code, busy.error?.orgCode]).toEqual([9, 'USER_BUSY']);
    const full = await rpc(grpcc.interaction, 'Invite', { lessonId: LESSON, sessionId: sid, uid: K, by: I }, serviceTok);
    expect([full.error?.code, full.error?.orgCode]).toEqual([8, 'SESSION_FULL']);
    const illegal = await rpc(grpcc.interaction, 'Cancel', { lessonId: LESSON, sessionId: sid, uid: J }, serviceTok);
    expect(illegal.error?.orgCode).toBe('INVALID_TRANSITION');
    expect(illegal.error?.details).toContain('from connecting to cancelled');
    const info = await rpc(grpcc.interaction, 'UniversalInfo', { lessonId: LESSON, roomId: 'main' }, serviceTok);
    const s = info.value.sessions.find((x: { sessionId: string }) => x.sessionId === sid);
    expect(s.links.map((l: { uid: number; state: string }) => [l.uid, l.state])).toEqual([
      [I, 'connecting'],
      [J, 'connecting'],
    ].sort((a, b) => Number(a[0]) - Number(b[0])));
    const end = await rpc(grpcc.interaction, 'End', { lessonId: LESSON, sessionId: sid }, serviceTok);
    expect(end.value.version).toBeGreaterThan(h.value.version);
    const noUid = await rpc(grpcc.interaction, 'Kick', { lessonId: LESSON, sessionId: sid, revokeTokens: true }, serviceTok);
    expect([noUid.error?.code, noUid.error?.orgCode]).toEqual([3, 'BAD_REQUEST']);
    const gone = await rpc(grpcc.interaction, 'Kick', { lessonId: LESSON, sessionId: 's99999', uid: J }, serviceTok);
    expect([gone.error?.code, gone.error?.orgCode]).toEqual([5, 'SESSION_NOT_FOUND']);
  });

  it('mic seats over HTTP and gRPC: templates listed, seats in UniversalInfo, each change pushed with its version, capabilities and layout switches enforced', async () => {
    const [A, B, C] = students.slice(20, 23) as [number, number, number];
    const list = await call(base, '/v1/seat-templates', { token: studentTok(A) });
    expect(list.status).toBe(200);
    expect(list.body.templates.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining(['voice', 'video', 'duo', 'pk-4']));
    const voice = await call(base, '/v1/seat-templates/voice', { token: studentTok(A) });
    expect([voice.body.seats.length, voice.body.seats[0].hostOnly, voice.body.seats[1].video]).toEqual([9, true, false]);
    expect((await call(base, '/v1/seat-templates/nope', { token: studentTok(A) })).body.error.code).toBe('TEMPLATE_NOT_FOUND');
    const ws = await connectWs(base, studentTok(C));
    try {
      ws.send({ type: 'subscribe', id: 'seats', room: 'main', after: null });
      await ws.next((m) => m.id === 'seats');
      const from = ws.messages.length;
      const c = await post('/rooms/main/interactions', studentTok(A), { kind: 'multi', invitee: B, templateId: 'voice' });
      expect(c.status).toBe(201);
      const sid: string = c.body.sessionId;
      const h = await post(`/interactions/${sid}/handle`, studentTok(B), { accept: true });
      const mv = await post(`/interactions/${sid}/seats/move`, studentTok(B), { seat: 4 });
      expect([mv.status, mv.body.seat]).toEqual([200, 4]);
      expect(mv.body.version).toBeGreaterThan(h.body.version);
      const cam = await post(`/interactions/${sid}/seats/unmute`, studentTok(A), { seat: 4, media: 'cam' });
      expect([cam.status, cam.body.error.code]).toEqual([409, 'SEAT_CAPABILITY']);
      const mute = await post(`/interactions/${sid}/seats/mute`, studentTok(A), { seat: 4, media: 'mic' });
      expect(mute.status).toBe(200);
      const forbidden = await post(`/interactions/${sid}/seats/lock`, studentTok(B), { seat: 2 });
      expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'FORBIDDEN']);
      const badSeat = await post(`/interactions/${sid}/seats/move`, studentTok(B), { seat: -1 });
      expect([badSeat.status, badSeat.body.error.code]).toEqual([400, 'BAD_REQUEST']);
      const sw = await post(`/interactions/${sid}/layout`, studentTok(A), { templateId: 'video' });
      expect(sw.status).toBe(200);
      const pushed = await ws.next((m) => m.type === 'interaction' && m.version === sw.body.version, 10_000, from);
      expect(pushed).toMatchObject({ sessionId: sid, version: sw.body.version });
      const versions = ws.messages.slice(from).filter((m) => m.type === 'interaction').map((m) => m.version);
      expect(versions).toEqual([c.body.version, h.body.version, mv.body.version, mute.body.version, sw.body.version]);
      await until('UniversalInfo to show the new layout', async () => {
        const info = await call(base, `${P}/rooms/main/interactions`, { token: studentTok(C) });
        const s = info.body.sessions.find((x: { sessionId: string }) => x.sessionId === sid);
        return s?.template === 'video' ? s : undefined;
      }, 10_000).then((s) => {
        // The host keeps the host-only seat; the guest keeps seat 4 (it exists and fits), its mic still muted, its camera on.
        expect(s.seats.map((q: { uid?: number | null }) => q.uid ?? null)).toEqual([A, null, null, null, B]);
        expect(s.seats[4]).toMatchObject({ mic: false, cam: true, video: true });
      });
      // gRPC: the same operations and the error table's mapping.
      const g = await rpc(grpcc.interaction, 'SwitchLayout', { lessonId: LESSON, sessionId: sid, templateId: 'duo', by: A }, serviceTok);
      expect(g.error).toBeUndefined();
      const full = await rpc(grpcc.interaction, 'TakeSeat', { lessonId: LESSON, sessionId: sid, uid: C, by: A }, serviceTok);
      expect([full.error?.code, full.error?.orgCode]).toEqual([9, 'NO_SEATED_LINK']);
      const swap = await rpc(grpcc.interaction, 'SwapSeats', { lessonId: LESSON, sessionId: sid, seat: 0, other: 1, by: A }, serviceTok);
      expect(swap.error?.orgCode).toBe('SEAT_HOST_ONLY');
      const tpl = await rpc(grpcc.interaction, 'ListSeatTemplates', {}, serviceTok);
      expect(tpl.value.templates.length).toBeGreaterThanOrEqual(11);
    } finally {
      ws.close();
    }
  });
});
