import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_SPEC, ConfigError, describeConfig, loadConfig, variableOf } from '../../src/config.js';

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

  it('reads the cluster nodes and ignores ORGENGINE_REDIS_URL when both are set', () => {
    expect(loadConfig({ ORGENGINE_REDIS_URL: 'not a url', ORGENGINE_REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).redis.mode).toBe('cluster');
  });

  it('lets a caller change a default, never a value that is set', () => {
    expect(loadConfig({}, { ORGENGINE_LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(loadConfig({ ORGENGINE_LOG_LEVEL: 'debug' }, { ORGENGINE_LOG_LEVEL: 'warn' }).logLevel).toBe('debug');
    expect(loadConfig({}).logLevel).toBe('info');
  });
});

describe('config spec', () => {
  const fields = (o: object, prefix = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) => (['api', 'signals', 'writeBehind', 'scores', 'jobs', 'interaction', 'console'].includes(k) && prefix === '' ? fields(v as object, `${k}.`) : [`${prefix}${k}`]));

  it('declares every variable once and sets every config field', () => {
    const names = CONFIG_SPEC.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^ORGENGINE_[A-Z0-9_]+$/);
    expect(new Set(CONFIG_SPEC.map((v) => v.field))).toEqual(new Set(fields(loadConfig({}))));
    expect(variableOf('signals.cacheBytesPerBucket')).toBe('ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET');
  });

  it('shows each default as the value it is', () => {
    const defaults = loadConfig({});
    for (const v of CONFIG_SPEC) {
      if (v.default.startsWith('(')) continue;
      expect(loadConfig({ [v.name]: v.default }), v.name).toEqual(defaults);
    }
  });

  it('lists every variable for `orgengine config`, with the value set', () => {
    const rows = describeConfig({ ORGENGINE_POLL: 'x', ORGENGINE_MYSQL_POOL_SIZE: '3' });
    expect(rows.map((r) => r.name)).toEqual(CONFIG_SPEC.map((v) => v.name));
    expect(rows.find((r) => r.name === 'ORGENGINE_MYSQL_POOL_SIZE')).toMatchObject({ value: '3', default: '8', range: '1-256', type: 'integer', field: 'mysqlPoolSize' });
    expect(rows.find((r) => r.name === 'ORGENGINE_KEY_PREFIX')!.value).toBeNull();
  });

  it('takes the TLS certificate and key together, and the internal listener on 127.0.0.1 unless told', () => {
    expect(() => loadConfig({ ORGENGINE_TLS_CERT_FILE: '/etc/cert.pem' })).toThrow(/ORGENGINE_TLS_KEY_FILE: .*set together/);
    expect(loadConfig({ ORGENGINE_TLS_CERT_FILE: '/c.pem', ORGENGINE_TLS_KEY_FILE: '/k.pem' }).api).toMatchObject({ tlsCertFile: '/c.pem', tlsKeyFile: '/k.pem' });
    expect(loadConfig({}).api).toMatchObject({ internalPort: null, internalHost: '127.0.0.1', rateLimits: false, rateAddressPerSecond: 0 });
    expect(loadConfig({ ORGENGINE_INTERNAL_PORT: '9464' }).api.internalPort).toBe(9464);
    expect(() => loadConfig({ ORGENGINE_INTERNAL_PORT: '70000' })).toThrow(/ORGENGINE_INTERNAL_PORT/);
  });

  it('never prints the token secret or a URL password', () => {
    const secret = 'k'.repeat(40);
    const keys = `a=${'q'.repeat(40)},b=${'z'.repeat(40)}`;
    const rows = describeConfig({
      ORGENGINE_TOKEN_SECRET: secret,
      ORGENGINE_TOKEN_KEYS: keys,
      ORGENGINE_MYSQL_URL: 'mysql://app:hunter2@db:3306/orgengine',
      ORGENGINE_REDIS_URL: 'redis://127.0.0.1:6379',
    });
    const value = (n: string) => rows.find((r) => r.name === n)!.value;
    expect(value('ORGENGINE_TOKEN_SECRET')).toBe('(set, 40 bytes)');
    expect(value('ORGENGINE_TOKEN_KEYS')).toBe(`(set, ${keys.length} bytes)`);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(JSON.stringify(rows)).not.toContain('q'.repeat(40));
    expect(value('ORGENGINE_MYSQL_URL')).toBe('mysql://app:***@db:3306/orgengine');
    expect(value('ORGENGINE_REDIS_URL')).toBe('redis://127.0.0.1:6379');
  });

  it("matches README's configuration table row for row", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n## ', readme.indexOf('\n## Configuration\n') + 1));
    // Cells split on unescaped pipes; code spans and escapes are markdown, not content.
    const plain = (cell: string) => cell.trim().replace(/`/g, '').replace(/\\\|/g, '|');
    const rows = section
      .split('\n')
      .filter((l) => l.startsWith('| `ORGENGINE_'))
      .map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map(plain));
    expect(rows.map((r) => r[0])).toEqual(CONFIG_SPEC.map((v) => v.name));
    for (const [i, v] of CONFIG_SPEC.entries()) {
      expect(rows[i], v.name).toEqual([v.name, v.default, v.range, v.meaning]);
    }
  });
});

