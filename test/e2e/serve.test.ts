// Serving behaviour beyond single reads: back pressure (503 OVERLOADED), the
// drain on close, and `orgengine serve --workers N` / `orgengine token` as real
// processes (one port shared by the workers, merged metrics, SIGTERM exit).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startGateway } from '../../src/gateway.js';
import type { Topology } from '../../src/model/topology.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { scriptCommand } from '../../src/store/redis/scripts.js';
import { call } from '../support/clients.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { compileTestLesson, dropLesson, loadTopology } from '../support/lesson.js';
import { spawnServe } from '../support/serve.js';

const SECRET = 'serve-secret-0123456789-abcdefghijklmno';
const LESSON = 7201;
const ENTER = scriptCommand('enter');
const root = fileURLToPath(new URL('../..', import.meta.url));
const log = pino({ level: 'silent' });

describe('serving', () => {
  const prefix = uniquePrefix('serve');
  let redis: RedisClient;
  let topo: Topology;
  let token: string;

  beforeAll(async () => {
    redis = createRedis({ mode: 'single', url: TEST_REDIS_URL });
    topo = compileTestLesson({ lessonId: LESSON, students: 200, tutors: 1, policy: 'group', seed: 9 });
    await loadTopology(redis, prefix, topo);
    token = new TokenVerifier({ secret: SECRET, cacheEntries: 10 }).mint({ uid: 1, role: 'service', lesson: '*', exp: Math.floor(Date.now() / 1000) + 600 });
  });

  afterAll(async () => {
    await dropLesson(redis, prefix, LESSON);
    redis.disconnect();
  });

  /** A gateway whose enter round trips wait for `open()`. */
  async function gatedGateway(env: Record<string, string>) {
    const client = createRedis({ mode: 'single', url: TEST_REDIS_URL });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const orig = client[ENTER].bind(client);
    (client as { [ENTER]: typeof orig })[ENTER] = (async (...a: Parameters<typeof orig>) => {
      await gate;
      return orig(...a);
    }) as typeof orig;
    const config = loadConfig({ ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ...env });
    const gw = await startGateway(config, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false, redis: client });
    return { gw, open, client, base: `http://127.0.0.1:${gw.httpPort}` };
  }

  it('answers 503 OVERLOADED beyond the in-flight limit and serves the rest', async () => {
    const { gw, open, client, base } = await gatedGateway({ ORGENGINE_MAX_IN_FLIGHT: '2', ORGENGINE_CACHE_TTL_MS: '0' });
    const uids = topo.positions.slice(0, 2).map((p) => p.uid);
    const held = uids.map((u) => call(base, `/v1/lessons/${LESSON}/enter?uid=${u}`, { token }));
    while (gw.metrics.inFlight < 2) await new Promise((r) => setTimeout(r, 2));
    const over = await call(base, `/v1/lessons/${LESSON}/enter?uid=${topo.positions[2]!.uid}`, { token });
    expect([over.status, over.body.error.code]).toEqual([503, 'OVERLOADED']);
    open();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    await gw.close();
    client.disconnect();
  });

  it('finishes in-flight requests on close and stops accepting', async () => {
    const { gw, open, client, base } = await gatedGateway({ ORGENGINE_CACHE_TTL_MS: '0' });
    const pending = call(base, `/v1/lessons/${LESSON}/enter?uid=${topo.positions[0]!.uid}`, { token });
    while (gw.metrics.inFlight < 1) await new Promise((r) => setTimeout(r, 2));
    const closed = gw.close();
    setTimeout(open, 50);
    const r = await pending;
    expect(r.status).toBe(200);
    await closed;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    client.disconnect();
  });

  it('reports readiness of Redis and of a configured lesson, and 503 (never 500) when Redis is down', async () => {
    const start = async (env: Record<string, string>) => {
      const config = loadConfig({ ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ...env });
      const gw = await startGateway(config, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false });
      return { gw, base: `http://127.0.0.1:${gw.httpPort}` };
    };
    const ready = await start({ ORGENGINE_READY_LESSON: String(LESSON) });
    expect((await call(ready.base, '/readyz')).body).toEqual({ status: 'ready', checks: { redis: 'ok', subscriber: expect.any(String), lesson: 'ok' } });
    await ready.gw.close();
    const missing = await start({ ORGENGINE_READY_LESSON: '424242' });
    const r = await call(missing.base, '/readyz');
    expect([r.status, r.body.checks.lesson]).toEqual([503, 'lesson 424242 is not preloaded']);
    await missing.gw.close();
    const down = await start({ ORGENGINE_REDIS_URL: 'redis://127.0.0.1:1' });
    expect((await call(down.base, '/readyz')).status).toBe(503);
    const read = await call(down.base, `/v1/lessons/${LESSON}/rooms/main`, { token });
    expect([read.status, read.body.error.code]).toEqual([503, 'BACKEND_UNAVAILABLE']);
    await down.gw.close();
  });

  it('names the variable when the signal cache refuses its bounds (a full room must fit a bucket)', async () => {
    const refused = async (env: Record<string, string>) => {
      const config = loadConfig({ ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ...env });
      const e = await startGateway(config, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false }).then(
        (gw) => gw.close().then(() => null),
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    };
    const small = await refused({ ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET: '100000' });
    expect(small.variable).toBe('ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET');
    expect(small.message).toContain('ORGENGINE_SIGNAL_RETAIN and ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES');
    const big = await refused({ ORGENGINE_SIGNAL_RETAIN: '100000', ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES: '65535' });
    expect(big.variable).toBe('ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET');
  });

  it('refuses to start on the pure-JS uWS fallback', async () => {
    const c = spawn(process.execPath, ['bin/orgengine.js', 'serve', '--port', '0'], { cwd: root, env: { ...process.env, ORGENGINE_TOKEN_SECRET: SECRET, UWS_USE_FALLBACK: '1' } });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => c.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toContain('refusing to serve');
  });

  it('runs N worker processes on one port, merges their metrics, and exits on SIGTERM', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_LOG_LEVEL: 'warn' };
    delete env.ORGENGINE_REDIS_CLUSTER_NODES;
    const served = await spawnServe(env, ['--workers', '2']);
    const base = `http://127.0.0.1:${served.httpPort}`;
    const n = 12;
    for (let i = 0; i < n; i++) {
      // A fresh connection each time, so the kernel may pick either worker.
      const r = await fetch(`${base}/v1/lessons/${LESSON}/rooms/main`, { headers: { authorization: `Bearer ${token}`, connection: 'close' } });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    const m = await call(base, '/metrics');
    expect(m.body).toContain(`orgengine_requests_total{transport="http",route="room",status="200"} ${n}`);
    expect(await served.stop()).toBe(0);
  });

  const run = (args: string[], extra: Record<string, string | undefined> = {}) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/orgengine.js', ...args], { cwd: root, env: { ...process.env, ...extra } });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.once('exit', (code) => resolve({ code, out, err }));
    });

  it("answers `serve --help` with its own usage, and exits 2 on an unknown command's --help", async () => {
    const help = await run(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: orgengine serve --port P/);
    expect(help.out).toContain('--grpc-port G');
    const unknown = await run(['nosuchcmd', '--help']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "nosuchcmd"');
  });

  it('mints tokens from the command line and refuses to serve or mint without a secret', async () => {
    const minted = await run(['token', '--uid', '42', '--role', 'student', '--lesson', String(LESSON), '--ttl', '60'], { ORGENGINE_TOKEN_SECRET: SECRET });
    expect(minted.code).toBe(0);
    const claims = new TokenVerifier({ secret: SECRET, cacheEntries: 1 }).verify(minted.out.trim());
    expect(claims).toMatchObject({ uid: 42, role: 'student', lesson: LESSON });
    const noSecret = await run(['serve', '--port', '0'], { ORGENGINE_TOKEN_SECRET: '' });
    expect(noSecret.code).toBe(2);
    expect(noSecret.err).toContain('ORGENGINE_TOKEN_SECRET');
    const short = await run(['token', '--uid', '1', '--role', 'service', '--lesson', '*'], { ORGENGINE_TOKEN_SECRET: 'short' });
    expect(short.code).toBe(2);
    expect(short.err).toContain('at least 32 bytes');
  });
});
