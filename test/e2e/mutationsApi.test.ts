// In-class mutations through the edge API end to end, over real sockets (uWS
// HTTP and gRPC), on a real single Redis and a real Redis Cluster, with the
// gateway's in-process flusher writing to a real MariaDB: every mutation over
// both transports, reads that see each change over the lesson channel (cache
// TTL 60 s, so nothing else could explain it), bad input that writes nothing,
// and back pressure.
import { randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Topology } from '../../src/model/topology.js';
import type { Caller } from '../../src/auth/caller.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { call, grpcClients, rpc } from '../support/clients.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, inClassSnapshot, loadSyntheticLesson } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { hour, until } from '../support/wait.js';
import { GATEWAY_REDIS_MODES } from '../support/redis.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const log = pino({ level: 'silent' });
type Rows = RowDataPacket[];


describe.each(GATEWAY_REDIS_MODES)('mutations API on %s', (mode, target) => {
  const GROUP = 820_000 + Math.floor(Math.random() * 80_000);
  const PLAIN = GROUP + 1;
  const tag = `m${randomUUID().slice(0, 8)}`;
  let db: TestDb;
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let base: string;
  let grpcc: ReturnType<typeof grpcClients>;
  let topo: Topology;
  let plain: Topology;
  let tokens: TokenVerifier;
  /** Students of the group lesson by tutor node ('t<uid>'), in position order. */
  const byTutor = new Map<string, number[]>();
  let tutorA: string;
  let tutorB: string;
  const tok: Record<'teacher' | 'service' | 'otherLesson' | 'plainService', string> = {} as never;
  const studentTok = (uid: number, lesson = GROUP) => tokens.mint({ uid, role: 'student', lesson, exp: hour() });
  const tutorTok = (node: string) => tokens.mint({ uid: Number(node.slice(1)), role: 'tutor', lesson: GROUP, exp: hour() });
  const L = (lesson = GROUP) => `/v1/lessons/${lesson}`;
  const teacher: Caller = { uid: 9001, role: 'teacher', lesson: 0 };
  const service: Caller = { uid: 1, role: 'service', lesson: '*' };
  const lk = () => lessonKeys(prefix, GROUP);

  beforeAll(async () => {
    db = await createTestDb(`mutapi_${mode.startsWith('single') ? 's' : 'c'}`);
    prefix = uniquePrefix('mutapi');
    config = loadConfig({
      ...target(),
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      ORGENGINE_MYSQL_URL: db.url,
      ORGENGINE_FLUSH_IN_GATEWAY: 'true',
      // Long backstop: a change seen here arrived over the lesson channel.
      ORGENGINE_CACHE_TTL_MS: '60000',
      ORGENGINE_ONLINE_CACHE_MS: '0',
      ORGENGINE_HTTP_MAX_BODY_BYTES: '256',
      ORGENGINE_WB_MAX_STREAM_LENGTH: '100',
      ORGENGINE_WB_POLL_MS: '5',
      ORGENGINE_WB_IDLE_POLL_MAX_MS: '20',
    });
    teacher.lesson = GROUP;
    redis = createRedis(config.redis);
    topo = await loadSyntheticLesson(redis, prefix, GROUP, { students: 40, tutors: 2, policy: 'group' });
    plain = await loadSyntheticLesson(redis, prefix, PLAIN, { students: 10, tutors: 1, policy: 'three-screen' });
    for (const p of topo.positions) byTutor.set(p.nodeId, [...(byTutor.get(p.nodeId) ?? []), p.uid]);
    [tutorA, tutorB] = [...byTutor.keys()] as [string, string];
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false, connectionTag: tag });
    base = `http://127.0.0.1:${gw.httpPort}`;
    grpcc = grpcClients(gw.grpcPort!);
    tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1000 });
    tok.teacher = tokens.mint({ uid: 9001, role: 'teacher', lesson: GROUP, exp: hour() });
    tok.service = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
    tok.otherLesson = tokens.mint({ uid: 9001, role: 'teacher', lesson: GROUP + 7, exp: hour() });
    tok.plainService = tok.service;
  });

  afterAll(async () => {
    grpcc?.close();
    await gw?.close();
    if (redis) {
      await dropLessonKeys(redis, prefix, [GROUP, PLAIN]);
      redis.disconnect();
    }
    await db?.drop();
  });

  const post = (path: string, token: string, body?: string, accept?: 'json' | 'proto', proto?: string) =>
    call(base, path, { token, method: 'POST', body, accept, proto });
  const mysqlRows = async (sql: string, args: unknown[]) => (await db.pool.query<Rows>(sql, args))[0];
  /** Waits until the in-gateway flusher has written everything (the stream is empty). */
  const flushed = () => until('the flusher to drain the stream', async () => ((await redis.xlen(lk().writeBehind)) === 0 ? true : undefined), 10_000);

  it('runs every mutation over HTTP (JSON and protobuf alike), and the gateway writes them behind to MySQL', async () => {
    const [s1, s2] = byTutor.get(tutorA)! as [number, number];
    const g1 = `${tutorA}.g1`;
    const g2 = `${tutorA}.g2`;
    const team = `${tutorA}.m1`;

    const auto = await post(`${L()}/students/${s1}/group`, studentTok(s1), '{}');
    expect(auto.status).toBe(200);
    expect(auto.body).toEqual({ lessonId: GROUP, uid: s1, groupId: g1, previousGroupId: null, changed: true, createdGroupIds: [], version: expect.any(Number) });
    const again = await post(`${L()}/students/${s1}/group`, studentTok(s1));
    expect(again.body).toMatchObject({ groupId: g1, changed: false, version: null });
    const moved = await post(`${L()}/students/${s1}/group`, studentTok(s1), JSON.stringify({ groupId: g2 }));
    expect(moved.body).toMatchObject({ groupId: g2, previousGroupId: g1, changed: true });
    expect(moved.body.version).toBeGreaterThan(auto.body.version);

    const muteStudent = (method: string) => call(base, `${L()}/rooms/main/students/${s2}/mute`, { token: tok.teacher, method });
    expect((await muteStudent('PUT')).body).toEqual({ lessonId: GROUP, roomId: 'main', uid: s2, nodeId: null, muted: true, changed: true, version: expect.any(Number) });
    expect((await muteStudent('PUT')).body).toMatchObject({ changed: false, version: null });
    expect((await muteStudent('DELETE')).body).toMatchObject({ muted: false, changed: true });

    // A tutor mutes a whole team of its own in its in-class room.
    const muteNode = (method: string) => call(base, `${L()}/rooms/${tutorA}.in/nodes/${team}/mute`, { token: tutorTok(tutorA), method });
    expect((await muteNode('PUT')).body).toEqual({ lessonId: GROUP, roomId: `${tutorA}.in`, uid: null, nodeId: team, muted: true, changed: true, version: expect.any(Number) });
    expect((await muteNode('DELETE')).body).toMatchObject({ muted: false, changed: true });
    expect((await muteNode('PUT')).body).toMatchObject({ muted: true, changed: true });

    const signIn = await post(`${L()}/students/${s1}/sign-in`, studentTok(s1));
    expect(signIn.body).toMatchObject({ lessonId: GROUP, uid: s1, first: true });
    const signedAt = signIn.body.signedInAt as number;
    const asProto = await post(`${L()}/students/${s1}/sign-in`, studentTok(s1), undefined, 'proto', 'orgengine.v1.SignInResult');
    expect(asProto.contentType).toBe('application/x-protobuf');
    expect(asProto.body).toEqual({ lessonId: GROUP, uid: s1, signedInAt: signedAt, first: false, version: null });

    const before = await call(base, `${L()}/rooms/main/online`, { token: tok.teacher });
    const hb = await post(`${L()}/rooms/main/students/${s1}/heartbeat`, studentTok(s1));
    expect(hb.body).toMatchObject({ lessonId: GROUP, uid: s1, roomId: 'main', partition: 0, cameOnline: true });
    const after = await call(base, `${L()}/rooms/main/online`, { token: tok.teacher });
    expect(after.body.online).toBe(before.body.online + 1);
    expect(after.body.partitions.reduce((a: number, b: number) => a + b, 0)).toBe(after.body.online);

    // A signal is a recorded change too: registered, flushed to signal_log.
    const sig = await post(`${L()}/rooms/main/signals`, tok.teacher, JSON.stringify({ data: '{"page":1}' }));
    expect(sig.status).toBe(201);

    await flushed();
    const row = async (sql: string, args: unknown[]) => (await mysqlRows(sql, args))[0];
    expect(await row('SELECT group_id FROM state_group WHERE lesson_id = ? AND uid = ?', [GROUP, s1])).toMatchObject({ group_id: g2 });
    expect(await row('SELECT muted FROM state_mute WHERE lesson_id = ? AND room_id = ? AND uid = ?', [GROUP, 'main', s2])).toMatchObject({ muted: 0 });
    expect(await row('SELECT muted FROM state_mute_node WHERE lesson_id = ? AND room_id = ? AND node_id = ?', [GROUP, `${tutorA}.in`, team])).toMatchObject({ muted: 1 });
    const si = await row('SELECT signed_in_at FROM state_signin WHERE lesson_id = ? AND uid = ?', [GROUP, s1]);
    expect((si!.signed_in_at as Date).getTime()).toBe(signedAt);
    const on = await row('SELECT last_seen_at, partition_no FROM state_online WHERE lesson_id = ? AND room_id = ? AND uid = ?', [GROUP, 'main', s1]);
    expect((on!.last_seen_at as Date).getTime()).toBe(hb.body.lastSeenAt);
    expect(await row('SELECT by_uid, data FROM signal_log WHERE lesson_id = ? AND room_id = ? AND seq = ?', [GROUP, 'main', sig.body.seq])).toMatchObject({ by_uid: 9001, data: '{"page":1}' });

    const metrics = await call(base, '/metrics');
    expect(metrics.body).toMatch(/orgengine_mutations_total\{op="pickGroup",outcome="ok"\} [1-9]/);
    expect(metrics.body).toMatch(/orgengine_wb_records_total [1-9]/);
    expect(metrics.body).toMatch(/orgengine_wb_flush_lag_seconds_count [1-9]/);
  });

  it('serves the same mutations over gRPC MutationService, in the same shapes as HTTP', async () => {
    const s3 = byTutor.get(tutorA)![2]!;
    const pick = await rpc(grpcc.mutations, 'PickGroup', { lessonId: GROUP, uid: s3 }, tok.service);
    expect(pick.value).toEqual({ lessonId: GROUP, uid: s3, groupId: `${tutorA}.g1`, previousGroupId: null, changed: true, createdGroupIds: [], version: expect.any(Number) });
    // A repeat answers the same over both transports.
    const g = await rpc(grpcc.mutations, 'PickGroup', { lessonId: GROUP, uid: s3, groupId: `${tutorA}.g1` }, tok.service);
    const h = await post(`${L()}/students/${s3}/group`, tok.service, JSON.stringify({ groupId: `${tutorA}.g1` }));
    expect(g.value).toEqual(h.body);
    expect(g.value).toMatchObject({ changed: false, version: null });

    const mute = await rpc(grpcc.mutations, 'Mute', { lessonId: GROUP, roomId: 'main', uid: s3, muted: true }, tok.service);
    expect(mute.value).toEqual({ lessonId: GROUP, roomId: 'main', uid: s3, nodeId: null, muted: true, changed: true, version: expect.any(Number) });
    const node = await rpc(grpcc.mutations, 'Mute', { lessonId: GROUP, roomId: 'main', nodeId: tutorA, muted: true }, tok.service);
    expect(node.value).toMatchObject({ uid: null, nodeId: tutorA, changed: true });
    expect((await rpc(grpcc.mutations, 'Mute', { lessonId: GROUP, roomId: 'main', nodeId: tutorA, muted: false }, tok.service)).value).toMatchObject({ muted: false, changed: true });
    const si = await rpc(grpcc.mutations, 'SignIn', { lessonId: GROUP, uid: s3 }, tok.service);
    expect(si.value).toMatchObject({ lessonId: GROUP, uid: s3, first: true, version: expect.any(Number) });
    const hb = await rpc(grpcc.mutations, 'Heartbeat', { lessonId: GROUP, uid: s3, roomId: `${tutorA}.in` }, tok.service);
    expect(hb.value).toMatchObject({ lessonId: GROUP, uid: s3, roomId: `${tutorA}.in`, cameOnline: true });
    // gRPC is for platform services.
    const denied = await rpc(grpcc.mutations, 'SignIn', { lessonId: GROUP, uid: s3 }, studentTok(s3));
    expect(denied.error).toMatchObject({ code: 7, orgCode: 'FORBIDDEN' });
  });

  it('reads see each change over the lesson channel: mute, node mute, pick, and groups created in class', async () => {
    const [, , , s4, s5, s6] = byTutor.get(tutorA)! as [number, number, number, number, number, number];
    const enter = (uid: number) => call(base, `${L()}/enter?uid=${uid}`, { token: tok.service });
    // Warm: a stored entry is served without a Redis round trip (hit counter moves).
    const warm = async (uid: number) => {
      await until(`a warm enter of ${uid}`, async () => {
        const h = gw.reads.stats.hits.enter;
        await enter(uid);
        return gw.reads.stats.hits.enter > h ? true : undefined;
      });
      return (await enter(uid)).body;
    };
    const seen = async (what: string, uid: number, ok: (v: any) => boolean): Promise<number> => {
      const t0 = performance.now();
      await until(what, async () => (ok((await enter(uid)).body) ? true : undefined));
      return performance.now() - t0;
    };
    const lat: Record<string, number> = {};

    expect((await warm(s4)).muted).toBe(false);
    await gw.mutations.mute(teacher, { lessonId: GROUP, roomId: 'main', uid: s4, muted: true });
    lat.mute = await seen('muted in enter', s4, (v) => v.muted === true && v.mutedBy === 'self');

    expect((await warm(s5)).muted).toBe(false);
    await gw.mutations.mute(teacher, { lessonId: GROUP, roomId: 'main', nodeId: tutorA, muted: true });
    lat.muteNode = await seen('node mute in enter', s5, (v) => v.muted === true && v.mutedBy === tutorA);
    await gw.mutations.mute(teacher, { lessonId: GROUP, roomId: 'main', nodeId: tutorA, muted: false });
    lat.unmuteNode = await seen('node unmute in enter', s5, (v) => v.muted === false);

    expect((await warm(s6)).group).toBeNull();
    const picked = await gw.mutations.pickGroup(service, { lessonId: GROUP, uid: s6, groupId: null });
    lat.pick = await seen('group in enter', s6, (v) => v.group?.nodeId === picked.groupId);

    // Tutor B's one team (4 groups x 6 seats) grows once fewer than 6 seats are free.
    const team = `${tutorB}.m1`;
    const teamPath = `${L()}/nodes/${team}?children=1`;
    await until('a warm team node', async () => {
      const h = gw.reads.stats.hits.node;
      await call(base, teamPath, { token: tok.service });
      return gw.reads.stats.hits.node > h ? true : undefined;
    });
    const before = (await call(base, teamPath, { token: tok.service })).body;
    const created: string[] = [];
    for (const uid of byTutor.get(tutorB)!) {
      const r = await rpc(grpcc.mutations, 'PickGroup', { lessonId: GROUP, uid }, tok.service);
      expect(r.error).toBeUndefined();
      created.push(...(r.value.createdGroupIds as string[]));
      if (created.length > 0) break;
    }
    expect(created.length).toBeGreaterThan(0);
    const t0 = performance.now();
    const grown = await until('the created group among the team children', async () => {
      const v = (await call(base, teamPath, { token: tok.service })).body;
      return v.node.childIds.includes(created[0]) ? v : undefined;
    });
    lat.createdGroup = performance.now() - t0;
    expect(grown.node.childIds).toEqual([...before.node.childIds, ...created]);
    expect(grown.children.map((c: { nodeId: string }) => c.nodeId)).toEqual(grown.node.childIds);
    const dyn = grown.children.find((c: { nodeId: string }) => c.nodeId === created[0]);
    expect(dyn).toMatchObject({ kind: 'group', parentId: team, capacity: 6, path: `${before.node.path}/${created[0]}` });
    const alone = await call(base, `${L()}/nodes/${created[0]}?parent=1&source=1`, { token: tok.service });
    expect(alone.body).toMatchObject({ node: { nodeId: created[0] }, parent: { nodeId: team }, source: { nodeId: tutorB, system: 'tutoring' } });

    // A student who picks a group that exists only in class enters with it.
    const last = byTutor.get(tutorB)!.at(-1)!;
    await warm(last);
    const moved = await post(`${L()}/students/${last}/group`, studentTok(last), JSON.stringify({ groupId: created[0] }));
    expect(moved.body).toMatchObject({ groupId: created[0], changed: true });
    lat.pickCreated = await seen('the created group in enter', last, (v) => v.group?.nodeId === created[0] && v.group.parentId === team);
    // Muting that group mutes its member.
    await call(base, `${L()}/rooms/main/nodes/${created[0]}/mute`, { token: tok.teacher, method: 'PUT' });
    lat.muteCreated = await seen('created-group mute in enter', last, (v) => v.muted === true && v.mutedBy === created[0]);
    console.log(`[${mode}] mutation -> read served (ms): ${Object.entries(lat).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} (TTL backstop 60 s)`);
  });

  it('answers bad input with a 4xx code over HTTP and gRPC and writes nothing', async () => {
    const a = byTutor.get(tutorA)!;
    const b = byTutor.get(tutorB)!;
    // A full group: tutor A's g3 filled to its 6 seats.
    const full = `${tutorA}.g3`;
    for (const uid of a.slice(10, 16)) await gw.mutations.pickGroup(service, { lessonId: GROUP, uid, groupId: full });
    await flushed();
    const snapshot = async () => ({
      ...(await inClassSnapshot(redis, prefix, GROUP)),
      plainStream: await redis.xlen(lessonKeys(prefix, PLAIN).writeBehind),
      groupRows: (await mysqlRows('SELECT COUNT(*) AS n FROM state_group', []))[0]!.n,
    });
    const before = await snapshot();
    const s = a[16]!;
    const plainUid = plain.positions[0]!.uid;
    const big = JSON.stringify({ groupId: 'x'.repeat(300) });
    const cases: Array<[string, number, string, string, { token?: string; method?: string; body?: string }]> = [
      ['unknown group', 404, 'NODE_NOT_FOUND', `${L()}/students/${s}/group`, { token: studentTok(s), body: '{"groupId":"t1.g99"}' }],
      ['a team is not a group', 400, 'NOT_A_GROUP', `${L()}/students/${s}/group`, { token: studentTok(s), body: `{"groupId":"${tutorA}.m1"}` }],
      ["another tutor's group", 409, 'GROUP_NOT_IN_TEAM', `${L()}/students/${s}/group`, { token: studentTok(s), body: `{"groupId":"${tutorB}.g1"}` }],
      ['a full group', 409, 'GROUP_FULL', `${L()}/students/${s}/group`, { token: studentTok(s), body: `{"groupId":"${full}"}` }],
      ['unknown student', 404, 'STUDENT_NOT_FOUND', `${L()}/students/42/group`, { token: tok.service }],
      ['lesson without groups', 409, 'GROUPS_NOT_ENABLED', `${L(PLAIN)}/students/${plainUid}/group`, { token: studentTok(plainUid, PLAIN) }],
      ['unknown lesson', 404, 'LESSON_NOT_FOUND', `${L(GROUP + 5)}/students/${s}/group`, { token: tok.service }],
      ['a student picking for another', 403, 'FORBIDDEN', `${L()}/students/${b[0]}/group`, { token: studentTok(s) }],
      ['another lesson', 403, 'FORBIDDEN', `${L()}/students/${s}/group`, { token: tok.otherLesson }],
      ['no token', 401, 'UNAUTHENTICATED', `${L()}/students/${s}/group`, {}],
      ['a student muting', 403, 'FORBIDDEN', `${L()}/rooms/main/students/${b[0]}/mute`, { token: studentTok(s), method: 'PUT' }],
      ['a student muting a node', 403, 'FORBIDDEN', `${L()}/rooms/main/nodes/${tutorA}/mute`, { token: studentTok(s), method: 'PUT' }],
      ['mute an unknown student', 404, 'STUDENT_NOT_FOUND', `${L()}/rooms/main/students/42/mute`, { token: tok.teacher, method: 'PUT' }],
      ['mute an unknown team', 404, 'NODE_NOT_FOUND', `${L()}/rooms/main/nodes/${tutorA}.m9/mute`, { token: tok.teacher, method: 'PUT' }],
      ['mute in an unknown room', 404, 'ROOM_NOT_FOUND', `${L()}/rooms/nope/students/${s}/mute`, { token: tok.teacher, method: 'PUT' }],
      ['mute a student outside the room', 404, 'STUDENT_NOT_IN_ROOM', `${L()}/rooms/${tutorB}.in/students/${s}/mute`, { token: tok.teacher, method: 'PUT' }],
      ['mute a node outside the room', 409, 'NODE_NOT_IN_ROOM', `${L()}/rooms/${tutorB}.in/nodes/${tutorA}.m1/mute`, { token: tok.teacher, method: 'PUT' }],
      ['sign in an unknown student', 404, 'STUDENT_NOT_FOUND', `${L()}/students/42/sign-in`, { token: tok.service }],
      ['a student signing in another', 403, 'FORBIDDEN', `${L()}/students/${b[0]}/sign-in`, { token: studentTok(s) }],
      ['heartbeat in an unknown room', 404, 'ROOM_NOT_FOUND', `${L()}/rooms/nope/students/${s}/heartbeat`, { token: studentTok(s) }],
      ['a teacher sending heartbeats', 403, 'FORBIDDEN', `${L()}/rooms/main/students/${s}/heartbeat`, { token: tok.teacher }],
      ['a malformed uid', 400, 'BAD_REQUEST', `${L()}/students/abc/group`, { token: tok.service }],
      ['a malformed lesson id', 400, 'BAD_REQUEST', `/v1/lessons/0/students/${s}/sign-in`, { token: tok.service }],
      ['a body that is not JSON', 400, 'BAD_REQUEST', `${L()}/students/${s}/group`, { token: studentTok(s), body: '{groupId' }],
      ['an unknown body field', 400, 'BAD_REQUEST', `${L()}/students/${s}/group`, { token: studentTok(s), body: '{"group":"t1.g1"}' }],
      ['a group id that is not a string', 400, 'BAD_REQUEST', `${L()}/students/${s}/group`, { token: studentTok(s), body: '{"groupId":5}' }],
      ['a body where none is taken', 400, 'BAD_REQUEST', `${L()}/students/${s}/sign-in`, { token: studentTok(s), body: '{"at":1}' }],
      ['a body over the limit', 413, 'PAYLOAD_TOO_LARGE', `${L()}/students/${s}/group`, { token: studentTok(s), body: big }],
      ['an unknown query parameter', 400, 'BAD_REQUEST', `${L()}/students/${s}/sign-in?now=1`, { token: studentTok(s) }],
    ];
    const got = [];
    for (const [what, , , path, o] of cases) {
      const r = await call(base, path, { method: 'POST', ...o });
      got.push([what, r.status, r.body?.error?.code]);
    }
    expect(got).toEqual(cases.map(([what, status, code]) => [what, status, code]));

    const grpcCases: Array<[string, number, string, string, object, string?]> = [
      ['unknown group', 5, 'NODE_NOT_FOUND', 'PickGroup', { lessonId: GROUP, uid: s, groupId: 'nope' }],
      ['a full group', 9, 'GROUP_FULL', 'PickGroup', { lessonId: GROUP, uid: s, groupId: full }],
      ['lesson without groups', 9, 'GROUPS_NOT_ENABLED', 'PickGroup', { lessonId: PLAIN, uid: plainUid }],
      ['uid and node at once', 3, 'BAD_REQUEST', 'Mute', { lessonId: GROUP, roomId: 'main', uid: s, nodeId: tutorA, muted: true }],
      ['neither uid nor node', 3, 'BAD_REQUEST', 'Mute', { lessonId: GROUP, roomId: 'main', muted: true }],
      ['unknown team', 5, 'NODE_NOT_FOUND', 'Mute', { lessonId: GROUP, roomId: 'main', nodeId: `${tutorB}.m7`, muted: true }],
      ['no lesson id', 3, 'BAD_REQUEST', 'SignIn', { uid: s }],
      ['unknown student', 5, 'STUDENT_NOT_FOUND', 'Heartbeat', { lessonId: GROUP, uid: 42, roomId: 'main' }],
      ['a teacher token', 7, 'FORBIDDEN', 'SignIn', { lessonId: GROUP, uid: s }, tok.teacher],
    ];
    const gotGrpc = [];
    for (const [what, , , method, req, token] of grpcCases) {
      const r = await rpc(grpcc.mutations, method, req, token ?? tok.service);
      gotGrpc.push([what, r.error?.code, r.error?.orgCode]);
    }
    expect(gotGrpc).toEqual(grpcCases.map(([what, code, orgCode]) => [what, code, orgCode]));
    expect(await snapshot()).toEqual(before);
  });

  it('refuses mutations with 503 BACKPRESSURE (gRPC UNAVAILABLE) while the stream is at its bound, writing nothing, and serves again once flushed', async () => {
    const uid = byTutor.get(tutorA)![17]!;
    await gw.flusher!.stop();
    try {
      // Fill the lesson's stream to its bound (100) with heartbeats, one record each.
      for (let i = 0; i < 200; i++) {
        const full = await gw.mutations.heartbeat(service, { lessonId: GROUP, uid, roomId: 'main' }).then(
          () => false,
          (e: { code?: string }) => e.code === 'BACKPRESSURE',
        );
        if (full) break;
      }
      const k = lk();
      expect(await redis.xlen(k.writeBehind)).toBe(config.writeBehind.maxStreamLength);
      const ver = await redis.get(k.stateVersion);
      const r = await post(`${L()}/students/${uid}/sign-in`, studentTok(uid));
      expect([r.status, r.body.error?.code]).toEqual([503, 'BACKPRESSURE']);
      const g = await rpc(grpcc.mutations, 'Mute', { lessonId: GROUP, roomId: 'main', uid, muted: true }, tok.service);
      expect([g.error?.code, g.error?.orgCode]).toEqual([14, 'BACKPRESSURE']);
      expect([await redis.xlen(k.writeBehind), await redis.get(k.stateVersion), await redis.hexists(k.stateSignIn, String(uid))]).toEqual([100, ver, 0]);
    } finally {
      gw.flusher!.start();
    }
    await flushed();
    const ok = await post(`${L()}/students/${uid}/sign-in`, studentTok(uid));
    expect([ok.status, ok.body.first]).toEqual([200, true]);
  });
});
