// Scores through the edge API end to end, over real sockets (uWS HTTP and
// gRPC), on a real single Redis and a real Redis Cluster, with the gateway's
// in-process flusher writing the ledger to a real MariaDB: awards in JSON and
// protobuf, boards and ranks, PK rounds, refusals with their codes (and
// nothing written), warm score reads and their invalidation over the lesson
// channel.
import { randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Topology } from '../../src/model/topology.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { call, grpcClients, rpc } from '../support/clients.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, loadSyntheticLesson } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { GATEWAY_REDIS_MODES } from '../support/redis.js';
import { connectWs } from '../support/ws.js';
import { hour, until } from '../support/wait.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const log = pino({ level: 'silent' });
type Rows = RowDataPacket[];

describe.each(GATEWAY_REDIS_MODES)('scores API on %s', (mode, target) => {
  const LESSON = 840_000 + Math.floor(Math.random() * 80_000);
  const tag = `s${randomUUID().slice(0, 8)}`;
  let db: TestDb;
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let base: string;
  let grpcc: ReturnType<typeof grpcClients>;
  let topo: Topology;
  let tokens: TokenVerifier;
  let teacherTok: string;
  let serviceTok: string;
  const L = `/v1/lessons/${LESSON}`;
  const lk = () => lessonKeys(prefix, LESSON);

  beforeAll(async () => {
    db = await createTestDb(`scoreapi_${mode.startsWith('single') ? 's' : 'c'}`);
    prefix = uniquePrefix('scoreapi');
    config = loadConfig({
      ...target(),
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      ORGENGINE_MYSQL_URL: db.url,
      ORGENGINE_FLUSH_IN_GATEWAY: 'true',
      // Long: a fresh score read within it came through an invalidation on the lesson channel.
      ORGENGINE_SCORE_CACHE_TTL_MS: '60000',
      ORGENGINE_SCORE_MAX_POINTS: '100',
      ORGENGINE_WB_POLL_MS: '5',
      ORGENGINE_WB_IDLE_POLL_MAX_MS: '20',
    });
    redis = createRedis(config.redis);
    topo = await loadSyntheticLesson(redis, prefix, LESSON, { students: 40, tutors: 2, policy: 'group' });
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false, connectionTag: tag });
    base = `http://127.0.0.1:${gw.httpPort}`;
    grpcc = grpcClients(gw.grpcPort!);
    tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1000 });
    teacherTok = tokens.mint({ uid: 9001, role: 'teacher', lesson: LESSON, exp: hour() });
    serviceTok = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
  });

  afterAll(async () => {
    grpcc?.close();
    await gw?.close();
    if (redis) {
      await dropLessonKeys(redis, prefix, [LESSON]);
      redis.disconnect();
    }
    await db?.drop();
  });

  const post = (path: string, token: string, body: object | string | undefined, accept: 'json' | 'proto' = 'json', proto?: string) =>
    call(base, path, { token, method: 'POST', body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body), accept, proto });
  const get = (path: string, token: string, accept: 'json' | 'proto' = 'json', proto?: string) => call(base, path, { token, accept, proto });
  // The version counter, not the stream: the gateway's flusher empties the stream meanwhile, while every write takes a version.
  const state = async () => ({ ver: await redis.get(lk().stateVersion), idem: await redis.hlen(lk().scoreIdem), users: await redis.zrange(lk().scoreUsers, 0, -1, 'WITHSCORES') });

  it('awards over HTTP (JSON and protobuf) and gRPC, idempotently, and writes the ledger behind to MySQL', async () => {
    const [u1, u2] = topo.positions.map((p) => p.uid) as [number, number];
    const a = await post(`${L}/scores`, teacherTok, { key: 'h-1', roomId: 'main', uid: u1, kind: 'reward', points: 5 });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ lessonId: LESSON, key: 'h-1', replayed: false, uid: u1, points: 5, userTotal: 5, roomTotal: 5 });
    const again = await post(`${L}/scores`, teacherTok, { key: 'h-1', roomId: 'main', uid: u1, kind: 'reward', points: 5 }, 'proto', 'orgengine.v1.AwardResult');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ key: 'h-1', replayed: true, version: a.body.version, userTotal: 5 });
    const g = await rpc(grpcc.scores, 'Award', { lessonId: LESSON, key: 'g-1', roomId: 'main', uid: u2, kind: 'gift', points: 7 }, serviceTok);
    expect(g.value).toMatchObject({ replayed: false, uid: u2, userTotal: 7 });
    const node = await rpc(grpcc.scores, 'Award', { lessonId: LESSON, key: 'g-2', roomId: 'main', nodeId: topo.positions[0]!.nodeId, kind: 'adjust', points: -2 }, serviceTok);
    expect(node.value).toMatchObject({ uid: null, userTotal: null, nodeId: topo.positions[0]!.nodeId });
    await until('the ledger in MySQL', async () => {
      const rows = (await db.pool.query<Rows>('SELECT idem_key, uid, points, kind, by_uid FROM score_ledger WHERE lesson_id = ? ORDER BY idem_key', [LESSON]))[0];
      return rows.length === 3 ? rows : undefined;
    }, 10_000).then((rows) =>
      expect(rows.map((r) => [r.idem_key, r.uid === null ? null : Number(r.uid), r.points, r.kind, Number(r.by_uid)])).toEqual([
        ['g-1', u2, 7, 'gift', 1],
        ['g-2', null, -2, 'adjust', 1],
        ['h-1', u1, 5, 'reward', 9001],
      ]),
    );
  });

  it('refuses with the error table codes and writes nothing: a student awarding 403, points out of range 400, unknown student 404, unknown field 400', async () => {
    const uid = topo.positions[3]!.uid;
    const before = await state();
    const studentTok = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour() });
    const body = { key: 'x-1', roomId: 'main', uid, kind: 'reward', points: 5 };
    expect((await post(`${L}/scores`, studentTok, body)).body.error.code).toBe('FORBIDDEN');
    const range = await post(`${L}/scores`, teacherTok, { ...body, points: 101 });
    expect([range.status, range.body.error.code, range.body.error.details.field]).toEqual([400, 'BAD_REQUEST', 'points']);
    const nobody = await post(`${L}/scores`, teacherTok, { ...body, uid: 123_456_789_012 });
    expect([nobody.status, nobody.body.error.code]).toEqual([404, 'STUDENT_NOT_FOUND']);
    expect((await post(`${L}/scores`, teacherTok, { ...body, bonus: 1 })).status).toBe(400);
    const grpcRange = await rpc(grpcc.scores, 'Award', { lessonId: LESSON, key: 'x-2', roomId: 'main', uid, kind: 'reward', points: 1000 }, serviceTok);
    expect(grpcRange.error?.orgCode).toBe('BAD_REQUEST');
    expect(await state()).toEqual(before);
    // A student reads boards, and its own ranks but not another's.
    expect((await get(`${L}/rooms/main/scores`, studentTok)).status).toBe(200);
    expect((await get(`${L}/students/${uid}/scores?room=main`, studentTok)).status).toBe(200);
    expect((await get(`${L}/students/${topo.positions[4]!.uid}/scores`, studentTok)).body.error.code).toBe('FORBIDDEN');
  });

  it('PK rounds over HTTP: 201 on start, 409 for a second one, the result with the winner on end; room subscribers are told', async () => {
    const tutors = topo.nodes.filter((n) => n.kind === 'tutor').map((n) => n.nodeId);
    const ws = await connectWs(base, teacherTok);
    ws.send({ type: 'subscribe', room: 'main' });
    await ws.next((m) => m.type === 'subscribed');
    const start = await post(`${L}/rooms/main/pk`, teacherTok, { kind: 'node', a: tutors[0], b: tutors[1], durationSeconds: 600 });
    expect(start.status).toBe(201);
    expect(start.body).toMatchObject({ running: true, a: tutors[0], b: tutors[1], scope: 'r:main', winner: null });
    expect(await ws.next((m) => m.type === 'scores', 15_000)).toEqual({ type: 'scores', lessonId: LESSON, room: 'main' });
    const seen = ws.messages.length;
    const second = await post(`${L}/rooms/main/pk`, teacherTok, { kind: 'seat', durationSeconds: 60 });
    expect([second.status, second.body.error.code]).toEqual([409, 'PK_ROUND_RUNNING']);
    const ua = topo.positions.find((p) => p.nodeId === tutors[0])!.uid;
    const award = await post(`${L}/scores`, teacherTok, { key: 'pk-1', roomId: 'main', uid: ua, kind: 'answer', points: 3, roundId: start.body.roundId });
    expect(award.body).toMatchObject({ side: 'a', sideTotal: 3 });
    const end = await post(`${L}/rooms/main/pk/${start.body.roundId}/end`, teacherTok, undefined);
    expect(end.status).toBe(200);
    expect(end.body).toMatchObject({ running: false, pointsA: 3, pointsB: 0, winner: 'a', winnerSide: tutors[0] });
    await ws.next((m) => m.type === 'scores', 15_000, seen);
    ws.close();
    const late = await post(`${L}/scores`, teacherTok, { key: 'pk-2', roomId: 'main', uid: ua, kind: 'answer', points: 3, roundId: start.body.roundId });
    expect([late.status, late.body.error.code]).toEqual([409, 'PK_ROUND_CLOSED']);
    const read = await rpc(grpcc.scores, 'GetPk', { lessonId: LESSON, roomId: 'main' }, serviceTok);
    expect(read.value).toMatchObject({ roundId: start.body.roundId, winner: 'a', pointsA: 3 });
  });

  it('boards are served warm from the gateway cache; an award retires them through a notice on the lesson channel, and the room is told', async () => {
    const uid = topo.positions[5]!.uid;
    const board = async () => (await get(`${L}/rooms/main/scores?limit=50`, teacherTok)).body as { entries: Array<{ uid: number; points: number }> };
    await board();
    await until('the lesson channel subscription', async () => (gw.channels.isSubscribed(LESSON) ? true : undefined), 15_000);
    // Warm: repeated reads are answered from the cache, no Redis round trip (once the notices of earlier
    // writes, each retiring the cache twice one interval apart, have gone by).
    await until('warm board reads', async () => {
      await board();
      const hits = gw.scores.stats.hits;
      await board();
      await board();
      return gw.scores.stats.hits - hits === 2 ? true : undefined;
    }, 15_000);
    const ws = await connectWs(base, teacherTok);
    ws.send({ type: 'subscribe', room: 'main' });
    await ws.next((m) => m.type === 'subscribed');
    const seen = ws.messages.length;
    const awarded = await post(`${L}/scores`, teacherTok, { key: 'warm-1', roomId: 'main', uid, kind: 'reward', points: 50 });
    expect(awarded.status, JSON.stringify(awarded.body)).toBeLessThan(300);
    // The cache TTL is a minute: seeing the award sooner means the notice retired the cached board.
    // A liveness bound, not a timing goal: the notice crosses the lesson channel of a busy machine.
    await until('the board to show the award', async () => ((await board()).entries.find((e) => e.uid === uid)?.points === 50 ? true : undefined), 30_000);
    expect(await ws.next((m) => m.type === 'scores', 30_000, seen)).toEqual({ type: 'scores', lessonId: LESSON, room: 'main' });
    ws.close();
    const proto = await get(`${L}/nodes/root/scores?limit=5`, teacherTok, 'proto', 'orgengine.v1.NodeScores');
    expect(proto.status).toBe(200);
    expect(proto.body.points).toBe(Number(await redis.hget(lk().scoreNodes, 'root')));
  });
});
