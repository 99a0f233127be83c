// A console started in-process for a test file: its own database, key and queue
// prefixes, tokens of every role, and a JSON client for its API.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { TokenVerifier } from '../../src/auth/tokens.js';
import type { Config } from '../../src/config.js';
import { startConsole, type RunningConsole } from '../../src/console/index.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { deleteKeys, testConfig, testEnv } from './jobs.js';
import { createTestDb, type TestDb } from './mysql.js';

/** A console under test. */
export interface TestConsole {
  db: TestDb;
  config: Config;
  env: Record<string, string>;
  console: RunningConsole;
  base: string;
  redis: RedisClient;
  tokens: { operator: string; student: string; service: string; teacher: string };
  call(method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Starts a console on a free port over a fresh database (alarms evaluated only when `alarms`). */
export async function startTestConsole(tag: string, extra: Record<string, string> = {}, o: { alarms?: boolean } = {}): Promise<TestConsole> {
  const db = await createTestDb(tag);
  const secret = randomBytes(32).toString('hex');
  const env = testEnv(db.url, 'single', { ORGENGINE_TOKEN_SECRET: secret, ...extra });
  const config = testConfig(env);
  const c = await startConsole(config, { port: 0, host: '127.0.0.1', log: pino({ level: 'silent' }), alarms: o.alarms ?? false });
  const redis = createRedis(config.redis);
  const t = new TokenVerifier({ secret, cacheEntries: 10 });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const tokens = {
    operator: t.mint({ uid: 7, role: 'operator', lesson: '*', exp }),
    service: t.mint({ uid: 8, role: 'service', lesson: '*', exp }),
    student: t.mint({ uid: 9, role: 'student', lesson: 1, exp }),
    teacher: t.mint({ uid: 10, role: 'teacher', lesson: 1, exp }),
  };
  const base = `http://127.0.0.1:${c.port}`;
  return {
    db,
    config,
    env,
    console: c,
    base,
    redis,
    tokens,
    async call(method, path, token, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON: kept as text */
      }
      return { status: res.status, body: parsed };
    },
    async close() {
      await c.close();
      await deleteKeys(redis, `${config.keyPrefix}*`);
      await deleteKeys(redis, `${config.jobs.prefix}*`);
      await redis.quit();
      await db.drop();
    },
  };
}
