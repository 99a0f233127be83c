// A single Redis stopped and started under the gateway: requests needing it
// answer 503 BACKEND_UNAVAILABLE with Retry-After and a plain message at once
// (the breaker, not ioredis' reconnect back-off), cached reads keep being
// served within the cache's TTL, /readyz answers from held state and names the
// failing check, and everything recovers without a restart. The server is a
// private redis-server this file kills; the shared Redis is never touched.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Topology } from '../../src/model/topology.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { call, grpcClients, rpc } from '../support/clients.js';
import { uniquePrefix } from '../support/env.js';
import { compileTestLesson, loadTopology } from '../support/lesson.js';
import { throwawayRedis, type RedisProc } from '../support/throwawayRedis.js';
import { until } from '../support/wait.js';

const SECRET = 'failover-secret-0123456789-abcdefghijk';
const LESSON = 7301;
const log = pino({ level: 'silent' });

describe('single Redis stopped and started', () => {
  const prefix = uniquePrefix('fo1');
  let proc: RedisProc & { stop(): Promise<void> };
  let admin: RedisClient;
  let topo: Topology;
  let gw: Gateway;
  let base: string;
  let token: string;

  beforeAll(async () => {
    proc = await throwawayRedis();
    admin = createRedis({ mode: 'single', url: proc.url });
    admin.on('error', () => undefined);
    topo = compileTestLesson({ lessonId: LESSON, students: 100, tutors: 1, policy: 'group', seed: 3 });
    await loadTopology(admin, prefix, topo);
    const config = loadConfig({
      ORGENGINE_REDIS_URL: proc.url,
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      ORGENGINE_CACHE_TTL_MS: '20000',
      ORGENGINE_READY_LESSON: String(LESSON),
      ORGENGINE_READY_CHECK_MS: '100',
    });
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
    base = `http://127.0.0.1:${gw.httpPort}`;
    token = new TokenVerifier({ secret: SECRET, cacheEntries: 10 }).mint({ uid: 1, role: 'service', lesson: '*', exp: Math.floor(Date.now() / 1000) + 600 });
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    admin?.disconnect();
    await proc?.stop();
  });

  it('fails fast while Redis is away, serves what it cached, and recovers without a restart', async () => {
    const cached = `/v1/lessons/${LESSON}/rooms/main`;
    // Cached once the lesson's channel is confirmed: read until a read is a cache hit.
    const hits = gw.reads.stats.hits.room;
    await until('room cached', async () => ((await call(base, cached, { token })).status === 200 && gw.reads.stats.hits.room > hits ? true : undefined), 5000, 10);
    await until('ready', async () => ((await call(base, '/readyz')).status === 200 ? true : undefined), 5000, 20);

    await proc.kill9();
    // The lost connection opens the breaker; readiness says so without waiting on Redis.
    const notReady = await until('readyz names redis', async () => {
      const r = await call(base, '/readyz');
      // 'not connected' first, then the breaker once its probe confirmed the loss.
      return r.status === 503 && /^unreachable: breaker open/.test(r.body.checks.redis) ? r : undefined;
    }, 5000, 10);
    expect(notReady.body.checks.redis).toMatch(/^unreachable: breaker open/);

    const times: number[] = [];
    for (let k = 0; k < 20; k++) {
      const uid = topo.positions[k]!.uid;
      const t0 = performance.now();
      const r = await call(base, `/v1/lessons/${LESSON}/students/${uid}/position`, { token });
      times.push(performance.now() - t0);
      expect([r.status, r.body.error.code]).toEqual([503, 'BACKEND_UNAVAILABLE']);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.body.error.message).not.toMatch(/ioredis|retries|enableOfflineQueue|Stream/i);
    }
    times.sort((a, b) => a - b);
    // The gRPC twin: UNAVAILABLE with the code and retry-after in the trailers.
    const g = grpcClients(gw.grpcPort!);
    const rpcErr = (await rpc(g.read, 'GetPosition', { lessonId: LESSON, uid: topo.positions[30]!.uid }, token)).error!;
    g.close();
    expect([rpcErr.code, rpcErr.orgCode, rpcErr.retryAfter]).toEqual([14, 'BACKEND_UNAVAILABLE', '1']);
    // Generous: the point is no reconnect back-off (seconds before the breaker).
    expect(times[times.length - 1]).toBeLessThan(300);
    // Readiness answers from held state.
    const t0 = performance.now();
    await call(base, '/readyz');
    expect(performance.now() - t0).toBeLessThan(300);
    // The cached room is served while Redis is away (within the cache TTL).
    expect((await call(base, cached, { token })).status).toBe(200);

    await proc.start();
    await loadTopology(admin, prefix, topo);
    const back = await until("reads recover", async () => {
      const r = await call(base, `/v1/lessons/${LESSON}/students/${topo.positions[0]!.uid}/position`, { token });
      return r.status === 200 ? r : undefined;
    }, 10_000, 20);
    expect(back.body.uid).toBe(topo.positions[0]!.uid);
    await until('ready again', async () => ((await call(base, '/readyz')).status === 200 ? true : undefined), 5000, 20);
  }, 60_000);
});
