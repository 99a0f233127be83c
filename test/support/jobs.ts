// Helpers for the distributed-preload suites: a config with a unique key prefix,
// queue prefix and database, key cleanup by prefix, and polling.
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { TEST_REDIS_URL, testClusterNodes } from './env.js';

/** Environment of a test run: unique prefixes and a database URL; `mode` picks the Redis. */
export function testEnv(dbUrl: string, mode: 'single' | 'cluster', extra: Record<string, string> = {}): Record<string, string> {
  const tag = randomUUID().slice(0, 8);
  return {
    ORGENGINE_MYSQL_URL: dbUrl,
    ORGENGINE_KEY_PREFIX: `t:jobs:${tag}:`,
    ORGENGINE_QUEUE_PREFIX: `{tq-${tag}}`,
    ...(mode === 'single' ? { ORGENGINE_REDIS_URL: TEST_REDIS_URL } : { ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(',') }),
    ORGENGINE_JOB_LOCK_MS: '2000',
    ORGENGINE_PRELOAD_BACKOFF_MS: '100',
    ORGENGINE_CHECK_DELAY_MS: '100',
    ORGENGINE_EXPECTED_BASE_MS: '60000',
    ORGENGINE_WORKER_METRICS_PORT: '0',
    ORGENGINE_LOG_LEVEL: 'silent',
    ...extra,
  };
}

/** The config of a test environment. */
export function testConfig(env: Record<string, string>): Config {
  return loadConfig(env);
}

/** Deletes every key matching `pattern` (a unique test prefix) on every master. */
export async function deleteKeys(client: RedisClient, pattern: string): Promise<void> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) await client.unlink(k);
    } while (cursor !== '0');
  }
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T>, timeoutMs = 30_000, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
