// Test Redis clients: the single server and the local cluster, behind one list
// so store-level suites run against both.
import type { RedisTarget } from '../../src/config.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { TEST_REDIS_URL, testClusterNodes } from './env.js';

/** The two Redis modes every store-level suite runs against. */
export const REDIS_MODES = ['single', 'cluster'] as const;

/** The target for a mode. */
export function redisTarget(mode: (typeof REDIS_MODES)[number]): RedisTarget {
  if (mode === 'single') return { mode: 'single', url: TEST_REDIS_URL };
  return {
    mode: 'cluster',
    nodes: testClusterNodes().map((n) => {
      const i = n.lastIndexOf(':');
      return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
    }),
  };
}

/** A connected client for a mode. */
export function testRedis(mode: (typeof REDIS_MODES)[number]): RedisClient {
  return createRedis(redisTarget(mode));
}

/** The environment that points a gateway at each Redis mode, for end-to-end suites (describe.each). */
export const GATEWAY_REDIS_MODES: Array<[string, () => Record<string, string>]> = [
  ['single Redis', () => ({ ORGENGINE_REDIS_URL: TEST_REDIS_URL })],
  ['Redis Cluster', () => ({ ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(',') })],
];
