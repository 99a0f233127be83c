// The edge API end to end over real sockets (uWS HTTP and gRPC) against a
// synthetic lesson preloaded into a real single Redis and a real Redis Cluster.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Position, Topology } from '../../src/model/topology.js';
import { formatChannelMessage } from '../../src/store/redis/channel.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { ACCEPTS, call, grpcClients, rpc } from '../support/clients.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { beginOnly, compileTestLesson, dropLesson, loadTopology } from '../support/lesson.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const LESSON = 7001;
const NOT_READY = 7002;
const log = pino({ level: 'silent' });
const hour = () => Math.floor(Date.now() / 1000) + 3600;

/** Polls `probe` until `done` holds (or 5 s pass); returns the ms it took, or -1. */
async function until<T>(probe: () => Promise<T>, done: (t: T) => boolean): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < 5000) {
    if (done(await probe())) return performance.now() - t0;
  }
  return -1;
}

const modes: Array<[string, () => Record<string, string>]> = [
  ['single Redis', () => ({ ORGENGINE_REDIS_URL: TEST_REDIS_URL })],
  ['Redis Cluster', () => ({ ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(',') })],
];

describe.each(modes)('edge API on %s', (mode, target) => {
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let topo: Topology;
  let base: string;
  let grpcc: ReturnType<typeof grpcClients>;
  let tokens: TokenVerifier;
  let student: Position;
  let studentToken: string;
  let service: string;
  const extraKeys: string[] = [];

  beforeAll(async () => {
    prefix = uniquePrefix('api');
    config = loadConfig({
      ...target(),
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      // Long backstop: anything seen to change in these tests changed through invalidation.
      ORGENGINE_CACHE_TTL_MS: '60000',
      ORGENGINE_HTTP_MAX_BODY_BYTES: '256',
      ORGENGINE_MEMBERS_PAGE_MAX: '500',
      ORGENGINE_ONLINE_CACHE_MS: '0',
    });
    redis = createRedis(config.redis);
    topo = compileTestLesson({ lessonId: LESSON, students: 2000, tutors: 4, policy: 'group', seed: 3, partitionSize: 500 });
    await loadTopology(redis, prefix, topo);
    await beginOnly(redis, prefix, NOT_READY);
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
    base = `http://127.0.0.1:${gw.httpPort}`;
    grpcc = grpcClients(gw.grpcPort!);
    tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 100 });
    student = topo.positions[17]!;
    studentToken = tokens.mint({ uid: student.uid, role: 'student', lesson: LESSON, exp: hour() });
    service = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
    const lk = lessonKeys(prefix, LESSON);
    extraKeys.push(lk.stateMuted('main'), lk.stateMutedNodes('main'), lk.stateOnline('main', 0), lk.stateOnline('main', 1));
  });

  afterAll(async () => {
    grpcc?.close();
    await gw?.close();
    await dropLesson(redis, prefix, LESSON, extraKeys);
    await dropLesson(redis, prefix, NOT_READY);
    redis.disconnect();
  });

  it('serves every read over HTTP, the same data in JSON, msgpack and protobuf, and the same over gRPC', async () => {
    const tutorNode = student.nodeId;
    const reads: Array<[string, string, string, object]> = [
      [`/v1/lessons/${LESSON}`, 'LessonView', 'GetLesson', { lessonId: LESSON }],
      [`/v1/lessons/${LESSON}/rooms/main`, 'Room', 'GetRoom', { lessonId: LESSON, roomId: 'main' }],
      [`/v1/lessons/${LESSON}/nodes/${tutorNode}?children=1&parent=1&source=1`, 'NodeView', 'GetNode', { lessonId: LESSON, nodeId: tutorNode, children: true, parent: true, source: true }],
      [`/v1/lessons/${LESSON}/students/${student.uid}/position`, 'PositionView', 'GetPosition', { lessonId: LESSON, uid: student.uid }],
      [`/v1/lessons/${LESSON}/rooms/main/members?limit=7`, 'MembersPage', 'ListMembers', { lessonId: LESSON, roomId: 'main', limit: 7 }],
      [`/v1/lessons/${LESSON}/rooms/main/online`, 'OnlineView', 'GetOnline', { lessonId: LESSON, roomId: 'main' }],
      [`/v1/lessons/${LESSON}/enter?room=main&uid=${student.uid}`, 'EnterView', 'Enter', { lessonId: LESSON, uid: student.uid, roomId: 'main' }],
    ];
    for (const [path, proto, method, req] of reads) {
      const json = await call(base, path, { token: service });
      expect(json.status, path).toBe(200);
      for (const accept of ['msgpack', 'proto'] as const) {
        const other = await call(base, path, { token: service, accept, proto: `orgengine.v1.${proto}` });
        expect(other.contentType).toBe(ACCEPTS[accept]);
        expect(other.body, `${path} as ${accept}`).toEqual(json.body);
      }
      const g = await rpc(grpcc.read, method, req, service);
      expect(g.error, method).toBeUndefined();
      expect(g.value, method).toEqual(json.body);
    }
  });

  it('returns what the preload compiled', async () => {
    const l = await call(base, `/v1/lessons/${LESSON}`, { token: studentToken });
    expect(l.body.lesson).toMatchObject({ lessonId: LESSON, bizType: 'group', streamPolicy: 'rtc+longconn', studentCount: 2000 });
    expect(l.body.rooms.map((r: { roomId: string }) => r.roomId).sort()).toEqual(topo.rooms.map((r) => r.roomId).sort());

    const root = await call(base, `/v1/lessons/${LESSON}/nodes/root?children=1`, { token: studentToken });
    expect(root.body.children.map((n: { nodeId: string }) => n.nodeId)).toEqual(topo.nodes.find((n) => n.nodeId === 'root')!.childIds);
    expect(root.body.parent).toBeNull();

    // A group's source node is its tutor: groups are made in class, tutors come from the tutoring system.
    const group = topo.nodes.find((n) => n.kind === 'group')!;
    const g = await call(base, `/v1/lessons/${LESSON}/nodes/${group.nodeId}?parent=1&source=1`, { token: studentToken });
    expect(g.body.parent.nodeId).toBe(group.parentId);
    expect(g.body.source).toEqual({ nodeId: group.path.split('/')[2], kind: 'tutor', sourceId: group.path.split('/')[2]!.slice(1), system: 'tutoring' });

    const e = await call(base, `/v1/lessons/${LESSON}/enter`, { token: studentToken });
    expect(e.status).toBe(200);
    expect(e.body).toMatchObject({ uid: student.uid, roomId: 'main', group: null, muted: false, mutedBy: null, signedInAt: null });
    expect(e.body.node.nodeId).toBe(student.nodeId);
    expect(e.body.node.path).toBe(topo.nodes.find((n) => n.nodeId === student.nodeId)!.path);
    expect(e.body.rooms.map((r: { room: { roomId: string }; partition: number }) => [r.room.roomId, r.partition])).toEqual(student.rooms.map((s) => [s.roomId, s.partition]));
  });

  it('pages members across partitions with a cursor, in join order', async () => {
    const want = topo.positions.filter((p) => p.rooms.some((s) => s.roomId === 'main')).sort((a, b) => a.order - b.order).map((p) => p.uid);
    const got: number[] = [];
    const parts = new Set<number>();
    let cursor: string | null = null;
    for (let i = 0; i < 20; i++) {
      const r = await call(base, `/v1/lessons/${LESSON}/rooms/main/members?limit=300${cursor ? `&cursor=${cursor}` : ''}`, { token: service });
      expect(r.status).toBe(200);
      for (const m of r.body.members) {
        got.push(m.uid);
        parts.add(m.partition);
      }
      cursor = r.body.nextCursor;
      if (!cursor) break;
    }
    expect(got).toEqual(want);
    expect(parts.size).toBe(4);
    const one = await call(base, `/v1/lessons/${LESSON}/rooms/main/members?partition=2&limit=500`, { token: service });
    expect(one.body.members.every((m: { partition: number }) => m.partition === 2)).toBe(true);
    expect(one.body.members).toHaveLength(500);
    expect(one.body.nextCursor).toBeNull();
  });

  it('counts members online within the heartbeat window', async () => {
    const lk = lessonKeys(prefix, LESSON);
    const now = Date.now();
    await redis.zadd(lk.stateOnline('main', 0), now, '1', now - 1000, '2', now - 3_600_000, '3');
    await redis.zadd(lk.stateOnline('main', 1), now, '4');
    const r = await call(base, `/v1/lessons/${LESSON}/rooms/main/online`, { token: service });
    expect(r.body.online).toBe(3);
  });

  it('refuses missing, forged and expired tokens (401) and reads outside the token scope (403)', async () => {
    const p = `/v1/lessons/${LESSON}`;
    const code = async (path: string, token?: string, headers?: Record<string, string>) => {
      const r = await call(base, path, { token, headers });
      return [r.status, r.body.error?.code];
    };
    expect(await code(p)).toEqual([401, 'UNAUTHENTICATED']);
    expect(await code(p, undefined, { authorization: 'Basic abc' })).toEqual([401, 'UNAUTHENTICATED']);
    const forged = new TokenVerifier({ secret: 'another-secret-0123456789-abcdefghij', cacheEntries: 10 }).mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
    expect(await code(p, forged)).toEqual([401, 'UNAUTHENTICATED']);
    expect(await code(p, `${studentToken.slice(0, -3)}abc`)).toEqual([401, 'UNAUTHENTICATED']);
    const expired = tokens.mint({ uid: student.uid, role: 'student', lesson: LESSON, exp: Math.floor(Date.now() / 1000) - 1 });
    expect(await code(p, expired)).toEqual([401, 'UNAUTHENTICATED']);
    const otherLesson = tokens.mint({ uid: student.uid, role: 'student', lesson: LESSON + 1, exp: hour() });
    expect(await code(p, otherLesson)).toEqual([403, 'FORBIDDEN']);
    const other = topo.positions[18]!.uid;
    expect(await code(`/v1/lessons/${LESSON}/students/${other}/position`, studentToken)).toEqual([403, 'FORBIDDEN']);
    expect(await code(`/v1/lessons/${LESSON}/enter?uid=${other}`, studentToken)).toEqual([403, 'FORBIDDEN']);
    const tutor = tokens.mint({ uid: 5, role: 'tutor', lesson: LESSON, exp: hour() });
    expect(await code(`/v1/lessons/${LESSON}/students/${other}/position`, tutor)).toEqual([200, undefined]);
    expect(await code(`/v1/lessons/${LESSON}/enter`, tutor)).toEqual([400, 'BAD_REQUEST']);

    const none = await rpc(grpcc.read, 'GetLesson', { lessonId: LESSON });
    expect(none.error).toMatchObject({ code: 16, orgCode: 'UNAUTHENTICATED' });
    const asStudent = await rpc(grpcc.read, 'GetLesson', { lessonId: LESSON }, studentToken);
    expect(asStudent.error).toMatchObject({ code: 7, orgCode: 'FORBIDDEN' });
    const scoped = tokens.mint({ uid: 2, role: 'service', lesson: LESSON + 1, exp: hour() });
    expect((await rpc(grpcc.read, 'GetLesson', { lessonId: LESSON }, scoped)).error).toMatchObject({ code: 7 });
  });

  it('answers malformed and oversized input with 4xx codes, unknown ids with 404, unready lessons with 409', async () => {
    const expectCode = async (path: string, status: number, code: string, o: { method?: string; body?: string } = {}) => {
      const r = await call(base, path, { token: service, ...o });
      expect([path, r.status, r.body.error?.code]).toEqual([path, status, code]);
    };
    const L = `/v1/lessons/${LESSON}`;
    await expectCode('/v1/lessons/abc', 400, 'BAD_REQUEST');
    await expectCode('/v1/lessons/99999999999999999999', 400, 'BAD_REQUEST');
    await expectCode(`${L}/rooms/${'x'.repeat(65)}`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/rooms/a%2Fb`, 400, 'BAD_REQUEST');
    await expectCode(`${L}?foo=1`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/rooms/main/members?limit=501`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/rooms/main/members?limit=-1`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/rooms/main/members?cursor=zzz`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/rooms/main/members?partition=1&cursor=2.5`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/nodes/root?children=maybe`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/students/0/position`, 400, 'BAD_REQUEST');
    await expectCode(`${L}/enter`, 400, 'BAD_REQUEST', { method: 'POST', body: '{"room":' });
    await expectCode(`${L}/enter`, 400, 'BAD_REQUEST', { method: 'POST', body: '{"uid":"x"}' });
    await expectCode(`${L}/enter`, 413, 'PAYLOAD_TOO_LARGE', { method: 'POST', body: JSON.stringify({ room: 'main', pad: 'x'.repeat(400) }) });
    await expectCode('/v2/anything', 404, 'NOT_FOUND');
    await expectCode(L, 404, 'NOT_FOUND', { method: 'DELETE' });
    await expectCode('/v1/lessons/123456789', 404, 'LESSON_NOT_FOUND');
    await expectCode(`${L}/rooms/nope`, 404, 'ROOM_NOT_FOUND');
    await expectCode(`${L}/nodes/nope`, 404, 'NODE_NOT_FOUND');
    await expectCode(`${L}/students/42/position`, 404, 'STUDENT_NOT_FOUND');
    await expectCode(`${L}/enter?uid=42`, 404, 'STUDENT_NOT_FOUND');
    await expectCode(`${L}/enter?uid=${student.uid}&room=nope`, 404, 'ROOM_NOT_FOUND');
    const foreignRoom = topo.rooms.find((r) => r.roomType !== 'main' && !student.rooms.some((s) => s.roomId === r.roomId))!;
    await expectCode(`${L}/enter?uid=${student.uid}&room=${foreignRoom.roomId}`, 403, 'ROOM_NOT_MEMBER');
    await expectCode(`/v1/lessons/${NOT_READY}`, 409, 'LESSON_NOT_READY');
    await expectCode(`/v1/lessons/${NOT_READY}/enter?uid=1`, 409, 'LESSON_NOT_READY');
    // The POST form of enter works with a small body.
    const ok = await call(base, `${L}/enter`, { token: studentToken, method: 'POST', body: '{"room":"main"}' });
    expect(ok.status).toBe(200);
    const bad = await rpc(grpcc.read, 'GetRoom', { lessonId: LESSON, roomId: '../x' }, service);
    expect(bad.error).toMatchObject({ code: 3, orgCode: 'BAD_REQUEST' });
    const missing = await rpc(grpcc.read, 'GetNode', { lessonId: LESSON, nodeId: 'nope' }, service);
    expect(missing.error).toMatchObject({ code: 5, orgCode: 'NODE_NOT_FOUND' });
    const unready = await rpc(grpcc.read, 'GetLesson', { lessonId: NOT_READY }, service);
    expect(unready.error).toMatchObject({ code: 9, orgCode: 'LESSON_NOT_READY' });
  });

  it('serves warm reads from the local cache and sees in-class changes published on the lesson channel', async () => {
    const lk = lessonKeys(prefix, LESSON);
    const path = `/v1/lessons/${LESSON}/enter?room=main`;
    const enter = () => call(base, path, { token: studentToken }).then((r) => r.body);
    // Warm up: the first reads subscribe; once confirmed, a read fills the cache and the next is a hit.
    const hitsBefore = gw.reads.stats.hits.enter;
    expect(await until(enter, () => gw.reads.stats.hits.enter > hitsBefore)).toBeGreaterThanOrEqual(0);
    const missesWarm = gw.reads.stats.misses.enter;
    for (let i = 0; i < 5; i++) await enter();
    expect(gw.reads.stats.misses.enter).toBe(missesWarm);

    // A state change applied and announced atomically, the way mutation scripts do it.
    const publish = (lua: string, keys: string[], args: Array<string | number>) => redis.eval(lua, keys.length, ...keys, ...args);
    const group = topo.nodes.find((n) => n.kind === 'group' && n.path.startsWith(topo.nodes.find((x) => x.nodeId === student.nodeId)!.path))!;
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const at = 1_800_000_000_000 + i;
      await publish("redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); redis.call('SPUBLISH', KEYS[2], ARGV[3])", [lk.stateSignIn, lk.channel], [student.uid, at, formatChannelMessage({ kind: 'state', uid: student.uid })]);
      const ms = await until(enter, (b) => b.signedInAt === at);
      expect(ms).toBeGreaterThanOrEqual(0);
      samples.push(ms);
    }
    await publish("redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); redis.call('SPUBLISH', KEYS[2], ARGV[3])", [lk.stateGroup, lk.channel], [student.uid, group.nodeId, `state:${student.uid}`]);
    expect(await until(enter, (b) => b.group?.nodeId === group.nodeId)).toBeGreaterThanOrEqual(0);
    // Muting the student's team mutes it through its group's path.
    await publish("redis.call('SADD', KEYS[1], ARGV[1]); redis.call('SPUBLISH', KEYS[2], ARGV[2])", [lk.stateMutedNodes('main'), lk.channel], [group.parentId!, 'mute:main']);
    expect(await until(enter, (b) => b.muted && b.mutedBy === group.parentId)).toBeGreaterThanOrEqual(0);
    await publish("redis.call('SADD', KEYS[1], ARGV[1]); redis.call('SPUBLISH', KEYS[2], ARGV[2])", [lk.stateMuted('main'), lk.channel], [student.uid, `state:${student.uid}`]);
    expect(await until(enter, (b) => b.mutedBy === 'self')).toBeGreaterThanOrEqual(0);
    samples.sort((a, b) => a - b);
    console.log(`[${mode}] invalidation: SPUBLISH -> new value served in p50 ${samples[5]!.toFixed(2)} ms, max ${samples[9]!.toFixed(2)} ms (n=10, TTL backstop 60 s)`);
  });

  it('serves a re-preloaded version once the switch is announced', async () => {
    const before = await call(base, `/v1/lessons/${LESSON}`, { token: service });
    await call(base, `/v1/lessons/${LESSON}`, { token: service }); // warm
    const t0 = performance.now();
    const v = await loadTopology(redis, prefix, topo);
    const loadMs = performance.now() - t0;
    expect(v).toBeGreaterThan(before.body.lesson.version);
    const ms = await until(() => call(base, `/v1/lessons/${LESSON}`, { token: service }), (r) => r.body.lesson?.version === v);
    expect(ms).toBeGreaterThanOrEqual(0);
    console.log(`[${mode}] re-preload (${loadMs.toFixed(0)} ms) -> version ${v} served ${ms.toFixed(2)} ms after the switch returned`);
    expect(gw.reads.stats.invalidations.version).toBeGreaterThan(0);
  });

  it('exposes health, readiness, metrics and the gRPC health service', async () => {
    expect((await call(base, '/healthz')).status).toBe(200);
    const ready = await call(base, '/readyz');
    expect(ready.body).toMatchObject({ status: 'ready', checks: { redis: 'ok' } });
    const m = await call(base, '/metrics');
    expect(m.body).toMatch(/orgengine_requests_total\{transport="http",route="enter",status="200"\} \d+/);
    expect(m.body).toMatch(/orgengine_cache_hit_ratio \d/);
    expect(m.body).toMatch(/orgengine_request_seconds_bucket/);
    const h = await new Promise<any>((resolve) => grpcc.health.Check({ service: '' }, (_e: unknown, v: unknown) => resolve(v)));
    expect(h).toEqual({ status: 'SERVING' });
    const unknown = await new Promise<any>((resolve) => grpcc.health.Check({ service: 'nope' }, (e: unknown) => resolve(e)));
    expect(unknown.code).toBe(5);
  });
});
