// Playback end to end: a class publishes signals through a real gateway (the
// flusher in the gateway writes them behind to a throwaway MySQL database);
// the whole history, including what Redis already trimmed, reads back in order,
// paged, by seq and by time, over HTTP and gRPC, with full pages served from
// the Redis cache-aside copy. Single Redis and the Cluster.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { call, grpcClients, rpc } from '../support/clients.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, loadSyntheticLesson } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { GATEWAY_REDIS_MODES } from '../support/redis.js';
import { hour, until } from '../support/wait.js';

const SECRET = 'playback-secret-0123456789-abcdefghijk';
const log = pino({ level: 'silent' });

describe.each(GATEWAY_REDIS_MODES)('playback on %s', (mode, target) => {
  const LESSON = 530_000 + Math.floor(Math.random() * 90_000);
  let db: TestDb;
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let base: string;
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 100 });
  const student = () => tokens.mint({ uid: 123, role: 'student', lesson: LESSON, exp: hour() });
  const published: Array<{ seq: number; at: number; data: string }> = [];
  const path = (q: string) => `/v1/lessons/${LESSON}/rooms/main/playback${q}`;

  beforeAll(async () => {
    db = await createTestDb(`pb_${mode.startsWith('single') ? 's' : 'c'}_${randomUUID().slice(0, 4)}`);
    prefix = uniquePrefix('pb');
    config = loadConfig({
      ...target(),
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      ORGENGINE_MYSQL_URL: db.url,
      ORGENGINE_FLUSH_IN_GATEWAY: 'true',
      ORGENGINE_WB_POLL_MS: '5',
      ORGENGINE_WB_IDLE_POLL_MAX_MS: '20',
      ORGENGINE_SIGNAL_RETAIN: '10',
      ORGENGINE_PLAYBACK_PAGE_MAX: '10',
    });
    redis = createRedis(config.redis);
    await loadSyntheticLesson(redis, prefix, LESSON, { students: 10, tutors: 1 });
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
    base = `http://127.0.0.1:${gw.httpPort}`;
    const teacher = tokens.mint({ uid: 9001, role: 'teacher', lesson: LESSON, exp: hour() });
    for (let i = 0; i < 25; i++) {
      const data = JSON.stringify({ page: i });
      const r = await call(base, `/v1/lessons/${LESSON}/rooms/main/signals`, { token: teacher, method: 'POST', body: JSON.stringify({ data }) });
      published.push({ seq: r.body.seq, at: r.body.at, data });
    }
    await until('flushed', async () => ((await db.pool.query('SELECT COUNT(*) AS n FROM signal_log WHERE lesson_id = ?', [LESSON]))[0] as Array<{ n: number }>)[0]!.n === 25 ? true : undefined, 15_000, 50);
  });

  afterAll(async () => {
    await gw?.close();
    await dropLessonKeys(redis, prefix, LESSON);
    redis?.disconnect();
    await db?.drop();
  });

  it('reads the whole history back in order, paged, although Redis keeps only the last 10', async () => {
    const got: typeof published = [];
    let after = 0;
    for (let i = 0; i < 10; i++) {
      const r = await call(base, path(`?after=${after}`), { token: student() });
      expect(r.status).toBe(200);
      got.push(...r.body.signals.map((s: { seq: number; at: number; data: string }) => ({ seq: s.seq, at: s.at, data: s.data })));
      if (r.body.nextAfter === null) break;
      after = r.body.nextAfter;
    }
    expect(got).toEqual(published);
    const live = await call(base, `/v1/lessons/${LESSON}/rooms/main/signals?after=0`, { token: student() });
    expect(live.body.truncated).toBe(true);
  });

  it('serves full pages from the Redis cache-aside copy and never caches the open last page', async () => {
    const hits = gw.playback?.stats.cacheHits ?? 0;
    await call(base, path('?after=0'), { token: student() });
    const again = await call(base, path('?after=0'), { token: student() });
    expect(again.body.signals).toHaveLength(10);
    expect(gw.playback.stats.cacheHits).toBeGreaterThan(hits);
    const lk = lessonKeys(prefix, LESSON);
    expect(await redis.exists(lk.playbackPage('main', '0:::10'))).toBe(1);
    expect(await redis.exists(lk.playbackPage('main', '20:::10'))).toBe(0);
    await redis.unlink(lk.playbackPage('main', '0:::10'), lk.playbackPage('main', '10:::10'));
  });

  it('filters by time, validates input, and answers the same over gRPC', async () => {
    const from = published[7]!.at;
    const to = published[15]!.at + 1;
    const r = await call(base, path(`?from=${from}&to=${to}&limit=10`), { token: student() });
    expect(r.body.signals.map((s: { seq: number }) => s.seq)).toEqual(published.filter((p) => p.at >= from && p.at < to).slice(0, 10).map((p) => p.seq));
    for (const q of ['?after=-1', '?from=x', `?from=${to}&to=${from}`, '?limit=11', '?what=1']) expect((await call(base, path(q), { token: student() })).status).toBe(400);
    const other = tokens.mint({ uid: 1, role: 'student', lesson: LESSON + 1, exp: hour() });
    expect((await call(base, path(''), { token: other })).status).toBe(403);
    const g = grpcClients(gw.grpcPort!);
    try {
      const svc = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
      const p = await rpc(g.signals, 'ReadSignalLog', { lessonId: LESSON, roomId: 'main', after: 20 }, svc);
      expect(p.value.signals.map((s: { seq: number | string }) => Number(s.seq))).toEqual([21, 22, 23, 24, 25]);
    } finally {
      g.close();
    }
  });
});
