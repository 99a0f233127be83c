// Signals through the edge API end to end, over real sockets (uWS HTTP and
// gRPC), on a real single Redis and a real Redis Cluster: publish and read in
// every encoding, bad input, delivery to warm readers over the one lesson
// channel subscription the entity cache shares, metrics, and shutdown.
import { randomUUID } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { SignalService } from '../../src/services/signals.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { ACCEPTS, call, grpcClients, rpc } from '../support/clients.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, loadSyntheticLesson } from '../support/lesson.js';
import { hour, until } from '../support/wait.js';
import { GATEWAY_REDIS_MODES } from '../support/redis.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const log = pino({ level: 'silent' });


describe.each(GATEWAY_REDIS_MODES)('signals API on %s', (_mode, target) => {
  const LESSON = 810_000 + Math.floor(Math.random() * 90_000);
  const tag = `t${randomUUID().slice(0, 8)}`;
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let base: string;
  let grpcc: ReturnType<typeof grpcClients>;
  let rooms: string[];
  let tokens: TokenVerifier;
  const tok: Record<'student' | 'teacher' | 'tutor' | 'service' | 'otherLesson', string> = {} as never;
  const path = (room = 'main', q = '') => `/v1/lessons/${LESSON}/rooms/${room}/signals${q}`;
  const post = (data: unknown, token = tok.teacher, room = 'main') => call(base, path(room), { token, method: 'POST', body: JSON.stringify({ data }) });

  /** Connections of this test's gateways (by their tagged names) on every server, with their shard subscription counts. */
  async function connections(t: string): Promise<Array<{ name: string; ssub: number }>> {
    const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis as Redis];
    const out: Array<{ name: string; ssub: number }> = [];
    for (const n of nodes) {
      for (const line of ((await n.client('LIST')) as string).split('\n')) {
        const name = / name=(\S*)/.exec(line)?.[1] ?? '';
        if (name.includes(t)) out.push({ name, ssub: Number(/ ssub=(\d+)/.exec(line)?.[1] ?? 0) });
      }
    }
    return out;
  }

  beforeAll(async () => {
    prefix = uniquePrefix('sigapi');
    config = loadConfig({
      ...target(),
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      // Long backstops: anything seen to change here arrived over the lesson channel.
      ORGENGINE_CACHE_TTL_MS: '60000',
      ORGENGINE_SIGNAL_MAX_STALENESS_MS: '60000',
      ORGENGINE_SIGNAL_READ_LIMIT_MAX: '50',
      ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES: '128',
      ORGENGINE_HTTP_MAX_BODY_BYTES: '512',
    });
    redis = createRedis(config.redis);
    rooms = (await loadSyntheticLesson(redis, prefix, LESSON, { students: 40, tutors: 2 })).rooms.map((r) => r.roomId);
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false, connectionTag: tag });
    base = `http://127.0.0.1:${gw.httpPort}`;
    grpcc = grpcClients(gw.grpcPort!);
    tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 100 });
    tok.student = tokens.mint({ uid: 5001, role: 'student', lesson: LESSON, exp: hour() });
    tok.teacher = tokens.mint({ uid: 9001, role: 'teacher', lesson: LESSON, exp: hour() });
    tok.tutor = tokens.mint({ uid: 9002, role: 'tutor', lesson: LESSON, exp: hour() });
    tok.service = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
    tok.otherLesson = tokens.mint({ uid: 9001, role: 'teacher', lesson: LESSON + 1, exp: hour() });
  });

  afterAll(async () => {
    grpcc?.close();
    await gw?.close();
    if (redis) {
      await dropLessonKeys(redis, prefix, LESSON, rooms ?? []);
      redis.disconnect();
    }
  });

  it('publishes over HTTP and gRPC and serves the log the same in JSON, msgpack, protobuf and over gRPC', async () => {
    const room = rooms.find((r) => r.endsWith('.in'))!;
    const published: Array<{ seq: number; at: number }> = [];
    for (const [data, token] of [['{"page":1}', tok.teacher], ['{"page":2}', tok.teacher], ['{"quiz":"start"}', tok.tutor]] as const) {
      const r = await post(data, token, room);
      expect(r.status).toBe(201);
      published.push(r.body);
    }
    const g = await rpc(grpcc.signals, 'PublishSignal', { lessonId: LESSON, roomId: room, data: 'from a service' }, tok.service);
    expect(g.error).toBeUndefined();
    published.push(g.value);
    expect(published.map((p) => p.seq)).toEqual([1, 2, 3, 4]);
    expect(published.every((p) => Math.abs(p.at - Date.now()) < 60_000)).toBe(true);

    const all = await call(base, path(room), { token: tok.student });
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      signals: [
        { seq: 1, at: published[0]!.at, by: 9001, data: '{"page":1}' },
        { seq: 2, at: published[1]!.at, by: 9001, data: '{"page":2}' },
        { seq: 3, at: published[2]!.at, by: 9002, data: '{"quiz":"start"}' },
        { seq: 4, at: published[3]!.at, by: 1, data: 'from a service' },
      ],
      lastSeq: 4,
      firstSeq: 1,
      truncated: false,
      more: false,
    });
    for (const [q, req] of [
      ['', { after: 0 }],
      ['?after=1&limit=2', { after: 1, limit: 2 }],
      ['?after=4', { after: 4 }],
      ['?limit=0', { after: 0, limit: 0 }],
    ] as const) {
      const json = await call(base, path(room, q), { token: tok.student });
      expect(json.status, q).toBe(200);
      for (const accept of ['msgpack', 'proto'] as const) {
        const other = await call(base, path(room, q), { token: tok.student, accept, proto: 'orgengine.v1.SignalPage' });
        expect(other.contentType).toBe(ACCEPTS[accept]);
        expect(other.body, `${q} as ${accept}`).toEqual(json.body);
      }
      const r = await rpc(grpcc.signals, 'ReadSignals', { lessonId: LESSON, roomId: room, ...req }, tok.service);
      expect(r.error, q).toBeUndefined();
      expect(r.value, q).toEqual(json.body);
    }
    const page = await call(base, path(room, '?after=1&limit=2'), { token: tok.student });
    expect(page.body).toMatchObject({ lastSeq: 4, more: true });
    expect(page.body.signals.map((s: { seq: number }) => s.seq)).toEqual([2, 3]);
    const probe = await call(base, path(room, '?limit=0'), { token: tok.student });
    expect(probe.body).toMatchObject({ signals: [], lastSeq: 4 });
  });

  it('delivers signals published elsewhere to warm readers over the one subscription the entity cache shares, leaving entity entries cached', async () => {
    // Warm the entity cache (its first reads subscribe; once confirmed, a read is stored and the next hits).
    const lessonHits = () => gw.reads.stats.hits.lesson;
    await until('a warm lesson read', async () => {
      const h = lessonHits();
      await call(base, `/v1/lessons/${LESSON}`, { token: tok.student });
      return lessonHits() > h ? true : undefined;
    });
    const first = await call(base, path(), { token: tok.student });
    await gw.channels!.settled();
    expect(gw.channels!.lessons()).toEqual([LESSON]);

    // Another gateway publishes: only the lesson channel can tell this one (staleness bound 60 s).
    const elsewhere = new SignalService({ redis, config: { ...config, signals: { ...config.signals, cache: false } }, cache: null });
    const teacher = { uid: 9001, role: 'teacher' as const, lesson: LESSON };
    const misses = gw.reads.stats.misses.lesson;
    const invalidations = { ...gw.reads.stats.invalidations };
    let after = first.body.lastSeq as number;
    for (let i = 1; i <= 5; i++) {
      const s = await elsewhere.publish(teacher, LESSON, 'main', `{"page":${i}}`);
      const got = await until(`signal ${s.seq} at the reader`, async () => {
        const r = await call(base, path('main', `?after=${after}`), { token: tok.student });
        return r.body.signals.length > 0 ? r.body.signals : undefined;
      });
      expect(got.map((x: { seq: number; data: string }) => [x.seq, x.data])).toEqual([[s.seq, `{"page":${i}}`]]);
      after = s.seq;
    }
    const snap = gw.signals.cache!.snapshot().total;
    expect(snap.notifications).toBeGreaterThanOrEqual(5);
    expect(snap.fetchErrors).toBe(0);
    // Five signal messages on the lesson channel retired nothing the entity cache held.
    const lesson = await call(base, `/v1/lessons/${LESSON}`, { token: tok.student });
    expect(lesson.status).toBe(200);
    expect(gw.reads.stats.misses.lesson).toBe(misses);
    expect(gw.reads.stats.invalidations).toEqual(invalidations);
    // One subscriber connection for both caches, subscribed to this lesson's shard channel.
    const subs = (await connections(`orgengine-sub-${tag}`)).filter((c) => c.ssub > 0);
    expect(subs).toHaveLength(1);
    expect(subs[0]!.ssub).toBe(1);
  });

  it('answers bad input, missing rights and unknown rooms with 4xx codes over HTTP and gRPC', async () => {
    const expectCode = async (p: string, status: number, code: string, o: { token?: string; method?: string; body?: string } = {}) => {
      const r = await call(base, p, { token: tok.student, ...o });
      expect([p, o.body?.slice(0, 40), r.status, r.body.error?.code]).toEqual([p, o.body?.slice(0, 40), status, code]);
    };
    for (const q of ['?after=-1', '?after=abc', '?after=1.5', '?after=9007199254740993', '?after=99999999999999999999', '?limit=51', '?limit=-1', '?limit=x', '?since=3', '?after=1&after=2']) {
      await expectCode(path('main', q), 400, 'BAD_REQUEST');
    }
    await expectCode(path('no.such.room'), 404, 'ROOM_NOT_FOUND');
    await expectCode(path('a%2Fb'), 400, 'BAD_REQUEST');
    // One room id language on every route: a colon is an id character, so this is an unknown room, as on GET /rooms/:roomId.
    await expectCode(path('no:such'), 404, 'ROOM_NOT_FOUND');
    await expectCode(`/v1/lessons/${LESSON}/rooms/no:such`, 404, 'ROOM_NOT_FOUND');
    await expectCode(`/v1/lessons/${LESSON + 1}/rooms/main/signals`, 403, 'FORBIDDEN');
    await expectCode(path(), 401, 'UNAUTHENTICATED', { token: '' });
    await expectCode(`/v1/lessons/123456789/rooms/main/signals`, 404, 'LESSON_NOT_FOUND', { token: tok.service });
    // Read Redis itself (cache off), as another gateway would.
    const direct = new SignalService({ redis, config: { ...config, signals: { ...config.signals, cache: false } }, cache: null });
    const lastSeq = async () => (await direct.read({ uid: 1, role: 'service', lesson: '*' }, LESSON, 'main', 0, 0)).lastSeq;
    const before = await lastSeq();
    const POST = (body: string, token = tok.teacher, room = 'main') => ({ token, method: 'POST', body, room });
    for (const [body, status, code, token] of [
      ['{"data":"x"}', 403, 'FORBIDDEN', tok.student],
      ['{"data":"x"}', 403, 'FORBIDDEN', tok.otherLesson],
      ['{"data":', 400, 'BAD_REQUEST', tok.teacher],
      ['[]', 400, 'BAD_REQUEST', tok.teacher],
      ['{}', 400, 'BAD_REQUEST', tok.teacher],
      ['{"data":""}', 400, 'BAD_REQUEST', tok.teacher],
      ['{"data":{"page":1}}', 400, 'BAD_REQUEST', tok.teacher],
      ['{"data":"x","room":"main"}', 400, 'BAD_REQUEST', tok.teacher],
      [JSON.stringify({ data: 'x'.repeat(129) }), 413, 'PAYLOAD_TOO_LARGE', tok.teacher],
      [JSON.stringify({ data: 'x'.repeat(600) }), 413, 'PAYLOAD_TOO_LARGE', tok.teacher],
    ] as const) {
      const o = POST(body, token);
      await expectCode(path(o.room), status, code, o);
    }
    await expectCode(path('no.such.room'), 404, 'ROOM_NOT_FOUND', POST('{"data":"x"}'));

    const g = (method: string, req: object, token = tok.service) => rpc(grpcc.signals, method, req, token).then((r) => [r.error?.code, r.error?.orgCode]);
    expect(await g('ReadSignals', { lessonId: LESSON, roomId: 'main', after: -1 })).toEqual([3, 'BAD_REQUEST']);
    expect(await g('ReadSignals', { lessonId: LESSON, roomId: 'main', limit: 51 })).toEqual([3, 'BAD_REQUEST']);
    expect(await g('ReadSignals', { lessonId: LESSON, roomId: 'main', limit: -1 })).toEqual([3, 'BAD_REQUEST']);
    expect(await g('ReadSignals', { lessonId: LESSON, roomId: '../x' })).toEqual([3, 'BAD_REQUEST']);
    expect(await g('ReadSignals', { lessonId: LESSON, roomId: 'nope' })).toEqual([5, 'ROOM_NOT_FOUND']);
    expect(await g('ReadSignals', { lessonId: LESSON, roomId: 'main' }, tok.student)).toEqual([7, 'FORBIDDEN']);
    expect(await g('PublishSignal', { lessonId: LESSON, roomId: 'main', data: 'x' }, tok.student)).toEqual([7, 'FORBIDDEN']);
    expect(await g('PublishSignal', { lessonId: LESSON, roomId: 'main', data: '' })).toEqual([3, 'BAD_REQUEST']);
    expect(await g('PublishSignal', { lessonId: LESSON, roomId: 'main', data: 'x'.repeat(129) })).toEqual([8, 'PAYLOAD_TOO_LARGE']);
    // Nothing refused was written.
    expect(await lastSeq()).toBe(before);
  });

  it('exports the signal cache counters and the signal routes on /metrics', async () => {
    await call(base, path(), { token: tok.student });
    const m = await call(base, '/metrics');
    const total = gw.signals.cache!.snapshot().total;
    expect(m.body).toMatch(/orgengine_signal_cache_reads_total\{bucket="all"\} \d+/);
    expect(Number(/orgengine_signal_cache_reads_total\{bucket="all"\} (\d+)/.exec(m.body)![1])).toBeGreaterThanOrEqual(total.reads - 1);
    expect(m.body).toMatch(/orgengine_signal_cache_redis_requests_saved\{bucket="all"\} -?\d+/);
    expect(m.body).toMatch(/orgengine_signal_cache_tail_fetches_total\{bucket="0"\} \d+/);
    expect(m.body).toMatch(/orgengine_requests_total\{transport="http",route="signals",status="200"\} \d+/);
    expect(m.body).toMatch(/orgengine_requests_total\{transport="http",route="publish_signal",status="201"\} \d+/);
    expect(m.body).toMatch(/orgengine_requests_total\{transport="grpc",route="ReadSignals",status="0"\} \d+/);
  });

  it('releases the signal cache and closes its one subscriber connection on shutdown', async () => {
    const tag2 = `t${randomUUID().slice(0, 8)}`;
    const gw2 = await startGateway(config, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false, connectionTag: tag2 });
    const r = await call(`http://127.0.0.1:${gw2.httpPort}`, path(), { token: tok.student });
    expect(r.status).toBe(200);
    await gw2.channels!.settled();
    expect((await connections(`orgengine-sub-${tag2}`)).filter((c) => c.ssub > 0)).toHaveLength(1);
    await gw2.close();
    expect(gw2.channels!.lessons()).toEqual([]);
    await until('its connections to close', async () => ((await connections(tag2)).length === 0 ? true : undefined));
  });
});
