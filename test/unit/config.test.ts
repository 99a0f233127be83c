import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.redis).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379' });
    expect(c.keyPrefix).toBe('oe:');
    expect(c.ttlSeconds).toBe(7 * 86400);
    expect(c.defaultPartitionSize).toBe(5000);
    expect(c.writeBehind).toMatchObject({ maxStreamLength: 100_000, registerEverySeconds: 60, retireAfterSeconds: 3600 });
  });

  it('switches to cluster mode on ORGENGINE_REDIS_CLUSTER_NODES', () => {
    const c = loadConfig({ ORGENGINE_REDIS_CLUSTER_NODES: '127.0.0.1:7000, [::1]:7001' });
    expect(c.redis).toEqual({ mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '::1', port: 7001 }] });
  });

  it.each([
    ['ORGENGINE_REDIS_URL', 'http://x'],
    ['ORGENGINE_REDIS_CLUSTER_NODES', 'localhost'],
    ['ORGENGINE_MYSQL_URL', 'mysql://root@127.0.0.1:3306'],
    ['ORGENGINE_KEY_PREFIX', 'a{b}'],
    ['ORGENGINE_TTL_DAYS', 'soon'],
    ['ORGENGINE_TTL_DAYS', '400'],
    ['ORGENGINE_PARTITION_SIZE', '12.5'],
    ['ORGENGINE_MYSQL_BATCH_ROWS', '0'],
    ['ORGENGINE_LOG_LEVEL', 'loud'],
    ['ORGENGINE_WB_MAX_STREAM_LENGTH', '10'],
    ['ORGENGINE_WB_READ_COUNT', '0'],
    ['ORGENGINE_WB_RETIRE_AFTER_SECONDS', '300'],
  ])('names %s when it is %j', (name, value) => {
    const e = failure({ [name]: value });
    expect(e.variable).toBe(name);
    expect(e.message.startsWith(`${name}:`)).toBe(true);
  });
});
