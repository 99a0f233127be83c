// The only reader of process.env. Every variable is validated once at start-up
// and a bad one is named in the error, so a misconfigured deployment fails fast.
import { roomBytesBound } from './skiplist/sizing.js';

/** Thrown when an environment variable is missing or malformed; names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Where Redis lives: one server, or the seed nodes of a Redis Cluster. */
export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: Array<{ host: string; port: number }> };

/** Validated runtime configuration. */
export interface Config {
  redis: RedisTarget;
  mysqlUrl: string;
  keyPrefix: string;
  ttlSeconds: number;
  defaultPartitionSize: number;
  maxStudentsPerLesson: number;
  redisFieldsPerCommand: number;
  redisCommandsPerPipeline: number;
  mysqlBatchRows: number;
  mysqlPoolSize: number;
  preloadLockSeconds: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** The edge gateway (HTTP, gRPC, auth, local cache). */
  api: ApiConfig;
  signals: SignalConfig;
  /** Write-behind bounds. */
  writeBehind: WriteBehindConfig;
}

/** Bounds of the write-behind stream every recorded change goes through. */
export interface WriteBehindConfig {
  /** A change is refused (BACKPRESSURE) while its lesson's stream holds this many unflushed records. */
  maxStreamLength: number;
}

/** Bounds of the courseware signal log and of the gateway's local signal cache. */
export interface SignalConfig {
  /** Whether reads go through the local per-room cache (off: every read is one Redis round trip). */
  cache: boolean;
  cacheBuckets: number;
  cacheRoomsPerBucket: number;
  cacheBytesPerBucket: number;
  maxStalenessMs: number;
  /** Signals kept per room, in Redis and in the cache. */
  retain: number;
  maxPayloadBytes: number;
  maxReadLimit: number;
}

/** Bounds and switches of the edge gateway. */
export interface ApiConfig {
  /** HMAC key of client and service tokens; null when unset (serving and minting refuse to start). */
  tokenSecret: string | null;
  /** Verified tokens kept in memory (LRU). */
  tokenCacheEntries: number;
  /** Largest request body accepted; more is answered 413. */
  maxBodyBytes: number;
  /** Requests waiting on Redis per gateway worker before new ones get 503 OVERLOADED. */
  maxInFlight: number;
  /** Members page size when the client gives none, and the largest it may ask for. */
  membersPageDefault: number;
  membersPageMax: number;
  /** Local cache backstop TTL: the longest a missed invalidation can keep a stale entry. */
  cacheTtlMs: number;
  cacheMaxEntries: number;
  cacheMaxBytes: number;
  /** Lessons a gateway caches (and subscribes to) at once. */
  cacheMaxLessons: number;
  /** Online counts are cached this long; they change every heartbeat and carry no invalidation. */
  onlineCacheMs: number;
  /** A member counts as online when its last heartbeat is younger than this. */
  onlineWindowMs: number;
  /** ioredis autopipelining on the gateway's Redis connection. */
  redisAutoPipelining: boolean;
  /** Lesson /readyz must be able to read (optional). */
  readyLessonId: number | null;
  /** How long shutdown waits for in-flight requests. */
  shutdownGraceMs: number;
}

/** Shortest token secret accepted (bytes of UTF-8). */
export const MIN_TOKEN_SECRET_BYTES = 32;

/** Documentation of every variable, used by the README and `orgengine config`. */
export const CONFIG_VARS: ReadonlyArray<{ name: string; default: string; meaning: string }> = [
  { name: 'ORGENGINE_REDIS_URL', default: 'redis://127.0.0.1:6379', meaning: 'single Redis server (ignored when ORGENGINE_REDIS_CLUSTER_NODES is set)' },
  { name: 'ORGENGINE_REDIS_CLUSTER_NODES', default: '(unset)', meaning: 'comma-separated host:port seed nodes; switches to Redis Cluster mode' },
  { name: 'ORGENGINE_MYSQL_URL', default: 'mysql://root@127.0.0.1:3306/orgengine', meaning: 'MySQL/MariaDB database holding policies, source data and flushed state' },
  { name: 'ORGENGINE_KEY_PREFIX', default: 'oe:', meaning: 'prefix of every Redis key ([A-Za-z0-9:_.-], at most 32 chars)' },
  { name: 'ORGENGINE_TTL_DAYS', default: '7', meaning: 'expiry of every preloaded Redis key, in days (0.001-365)' },
  { name: 'ORGENGINE_PARTITION_SIZE', default: '5000', meaning: 'members per partitioned set when a policy does not say (100-100000)' },
  { name: 'ORGENGINE_MAX_STUDENTS_PER_LESSON', default: '1000000', meaning: 'a lesson with more enrolments is refused (LIMIT_EXCEEDED)' },
  { name: 'ORGENGINE_REDIS_FIELDS_PER_COMMAND', default: '1000', meaning: 'fields/members per HSET/ZADD during preload (1-100000)' },
  { name: 'ORGENGINE_REDIS_COMMANDS_PER_PIPELINE', default: '64', meaning: 'commands per pipelined chunk during preload (1-10000)' },
  { name: 'ORGENGINE_MYSQL_BATCH_ROWS', default: '2000', meaning: 'rows per multi-row INSERT (1-50000)' },
  { name: 'ORGENGINE_MYSQL_POOL_SIZE', default: '8', meaning: 'MySQL connection pool size (1-256)' },
  { name: 'ORGENGINE_PRELOAD_LOCK_SECONDS', default: '600', meaning: 'how long a preload holds its per-lesson lock before another may take over (5-86400)' },
  { name: 'ORGENGINE_LOG_LEVEL', default: 'info', meaning: 'pino level: fatal|error|warn|info|debug|trace|silent' },
  { name: 'ORGENGINE_TOKEN_SECRET', default: '(unset)', meaning: `HMAC-SHA256 key for tokens, at least ${MIN_TOKEN_SECRET_BYTES} bytes; required by serve and token` },
  { name: 'ORGENGINE_TOKEN_CACHE_ENTRIES', default: '100000', meaning: 'verified tokens kept per gateway worker (100-10000000)' },
  { name: 'ORGENGINE_HTTP_MAX_BODY_BYTES', default: '16384', meaning: 'largest request body; larger is refused with 413 PAYLOAD_TOO_LARGE (64-16777216)' },
  { name: 'ORGENGINE_MAX_IN_FLIGHT', default: '10000', meaning: 'requests waiting on Redis per worker before 503 OVERLOADED (1-1000000)' },
  { name: 'ORGENGINE_MEMBERS_PAGE_DEFAULT', default: '100', meaning: 'members page size when the request gives no limit (1-10000)' },
  { name: 'ORGENGINE_MEMBERS_PAGE_MAX', default: '1000', meaning: 'largest members page a request may ask for (1-10000)' },
  { name: 'ORGENGINE_CACHE_TTL_MS', default: '2000', meaning: 'local cache backstop TTL: bounds staleness if an invalidation is lost (0 disables the cache, max 600000)' },
  { name: 'ORGENGINE_CACHE_MAX_ENTRIES', default: '200000', meaning: 'local cache entries per gateway worker (100-100000000)' },
  { name: 'ORGENGINE_CACHE_MAX_BYTES', default: '268435456', meaning: 'local cache size per gateway worker, estimated bytes (1048576-68719476736)' },
  { name: 'ORGENGINE_CACHE_MAX_LESSONS', default: '20000', meaning: 'lessons cached and subscribed to per gateway worker (1-1000000)' },
  { name: 'ORGENGINE_ONLINE_CACHE_MS', default: '1000', meaning: 'online counts are cached this long (0-60000)' },
  { name: 'ORGENGINE_ONLINE_WINDOW_MS', default: '60000', meaning: 'a member is online if its last heartbeat is younger than this (1000-3600000)' },
  { name: 'ORGENGINE_REDIS_AUTOPIPELINING', default: 'false', meaning: 'ioredis autopipelining on the gateway (true|false); off: on cut cold enter throughput by 23-43% in npm run bench:autopipelining' },
  { name: 'ORGENGINE_READY_LESSON', default: '(unset)', meaning: 'lesson id /readyz must be able to read, besides reaching Redis' },
  { name: 'ORGENGINE_SHUTDOWN_GRACE_MS', default: '10000', meaning: 'how long shutdown waits for in-flight requests (0-600000)' },
  { name: 'ORGENGINE_WB_MAX_STREAM_LENGTH', default: '100000', meaning: 'unflushed write-behind records per lesson before mutations answer 503 BACKPRESSURE (100-10000000)' },
  { name: 'ORGENGINE_SIGNAL_CACHE', default: 'on', meaning: 'serve signal reads from the local per-room cache (on|off; off = one Redis round trip per read)' },
  { name: 'ORGENGINE_SIGNAL_CACHE_BUCKETS', default: '16', meaning: 'buckets the signal cache hashes rooms into (1-4096)' },
  { name: 'ORGENGINE_SIGNAL_CACHE_ROOMS_PER_BUCKET', default: '128', meaning: 'rooms one bucket holds before evicting the least recently read (1-100000)' },
  { name: 'ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET', default: '8388608', meaning: 'estimated bytes one bucket holds before evicting; must fit one full room (retain x max payload)' },
  { name: 'ORGENGINE_SIGNAL_MAX_STALENESS_MS', default: '1000', meaning: 'a cached room not checked against Redis for this long is re-checked before answering (0-600000)' },
  { name: 'ORGENGINE_SIGNAL_RETAIN', default: '1000', meaning: 'signals kept per room; older ones are trimmed and reads report truncated (1-100000)' },
  { name: 'ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES', default: '1024', meaning: 'largest signal payload in UTF-8 bytes (1-65535, a MySQL TEXT); larger is PAYLOAD_TOO_LARGE' },
  { name: 'ORGENGINE_SIGNAL_READ_LIMIT_MAX', default: '500', meaning: 'most signals one read may ask for (1-10000); the default when a read gives no limit' },
];

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, def: string): string {
  const v = env[name];
  return v === undefined || v === '' ? def : v;
}

function num(env: Env, name: string, def: number, min: number, max: number, integer = true): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new ConfigError(name, `expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`);
  }
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected true|false, got ${JSON.stringify(raw)}`);
}

/** Reads the gateway's variables. */
function loadApiConfig(env: Env): ApiConfig {
  const secret = env.ORGENGINE_TOKEN_SECRET;
  if (secret !== undefined && secret !== '' && Buffer.byteLength(secret, 'utf8') < MIN_TOKEN_SECRET_BYTES) {
    throw new ConfigError('ORGENGINE_TOKEN_SECRET', `must be at least ${MIN_TOKEN_SECRET_BYTES} bytes, got ${Buffer.byteLength(secret, 'utf8')}`);
  }
  const membersPageMax = num(env, 'ORGENGINE_MEMBERS_PAGE_MAX', 1000, 1, 10_000);
  const membersPageDefault = num(env, 'ORGENGINE_MEMBERS_PAGE_DEFAULT', 100, 1, 10_000);
  if (membersPageDefault > membersPageMax) {
    throw new ConfigError('ORGENGINE_MEMBERS_PAGE_DEFAULT', `must not exceed ORGENGINE_MEMBERS_PAGE_MAX (${membersPageMax}), got ${membersPageDefault}`);
  }
  const ready = env.ORGENGINE_READY_LESSON;
  return {
    tokenSecret: secret === undefined || secret === '' ? null : secret,
    tokenCacheEntries: num(env, 'ORGENGINE_TOKEN_CACHE_ENTRIES', 100_000, 100, 10_000_000),
    maxBodyBytes: num(env, 'ORGENGINE_HTTP_MAX_BODY_BYTES', 16_384, 64, 16 * 1024 * 1024),
    maxInFlight: num(env, 'ORGENGINE_MAX_IN_FLIGHT', 10_000, 1, 1_000_000),
    membersPageDefault,
    membersPageMax,
    cacheTtlMs: num(env, 'ORGENGINE_CACHE_TTL_MS', 2000, 0, 600_000),
    cacheMaxEntries: num(env, 'ORGENGINE_CACHE_MAX_ENTRIES', 200_000, 100, 100_000_000),
    cacheMaxBytes: num(env, 'ORGENGINE_CACHE_MAX_BYTES', 256 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024 * 1024),
    cacheMaxLessons: num(env, 'ORGENGINE_CACHE_MAX_LESSONS', 20_000, 1, 1_000_000),
    onlineCacheMs: num(env, 'ORGENGINE_ONLINE_CACHE_MS', 1000, 0, 60_000),
    onlineWindowMs: num(env, 'ORGENGINE_ONLINE_WINDOW_MS', 60_000, 1000, 3_600_000),
    redisAutoPipelining: bool(env, 'ORGENGINE_REDIS_AUTOPIPELINING', false),
    readyLessonId: ready === undefined || ready === '' ? null : num(env, 'ORGENGINE_READY_LESSON', 0, 1, Number.MAX_SAFE_INTEGER),
    shutdownGraceMs: num(env, 'ORGENGINE_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
  };
}

function parseNodes(name: string, raw: string): Array<{ host: string; port: number }> {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new ConfigError(name, 'no nodes given');
  return parts.map((p) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(p);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new ConfigError(name, `expected host:port, got ${JSON.stringify(p)}`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function url(name: string, raw: string, protocols: string[]): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(u.protocol)) throw new ConfigError(name, `expected ${protocols.join(' or ')} URL, got ${u.protocol}`);
  return raw;
}

/** The token secret; a ConfigError naming the variable when unset (serving and minting need it). */
export function requireTokenSecret(config: Config): string {
  if (!config.api.tokenSecret) {
    throw new ConfigError('ORGENGINE_TOKEN_SECRET', `required to serve and to mint tokens (at least ${MIN_TOKEN_SECRET_BYTES} bytes, e.g. \`openssl rand -hex 32\`)`);
  }
  return config.api.tokenSecret;
}

/** Reads and validates the configuration from `env` (process.env by default). */
export function loadConfig(env: Env = process.env): Config {
  const clusterRaw = env.ORGENGINE_REDIS_CLUSTER_NODES;
  const redis: RedisTarget =
    clusterRaw && clusterRaw.trim() !== ''
      ? { mode: 'cluster', nodes: parseNodes('ORGENGINE_REDIS_CLUSTER_NODES', clusterRaw) }
      : { mode: 'single', url: url('ORGENGINE_REDIS_URL', str(env, 'ORGENGINE_REDIS_URL', 'redis://127.0.0.1:6379'), ['redis:', 'rediss:']) };

  const mysqlUrl = url('ORGENGINE_MYSQL_URL', str(env, 'ORGENGINE_MYSQL_URL', 'mysql://root@127.0.0.1:3306/orgengine'), ['mysql:']);
  if (new URL(mysqlUrl).pathname.replace(/^\//, '') === '') {
    throw new ConfigError('ORGENGINE_MYSQL_URL', 'must name a database, e.g. mysql://root@127.0.0.1:3306/orgengine');
  }

  const keyPrefix = str(env, 'ORGENGINE_KEY_PREFIX', 'oe:');
  // Braces would break the per-lesson hash tag; other punctuation invites typos.
  if (!/^[A-Za-z0-9:_.-]{1,32}$/.test(keyPrefix)) {
    throw new ConfigError('ORGENGINE_KEY_PREFIX', `expected 1-32 chars of [A-Za-z0-9:_.-], got ${JSON.stringify(keyPrefix)}`);
  }

  const logLevel = str(env, 'ORGENGINE_LOG_LEVEL', 'info');
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  if (!(levels as readonly string[]).includes(logLevel)) {
    throw new ConfigError('ORGENGINE_LOG_LEVEL', `expected one of ${levels.join('|')}, got ${JSON.stringify(logLevel)}`);
  }

  const cacheRaw = str(env, 'ORGENGINE_SIGNAL_CACHE', 'on');
  if (cacheRaw !== 'on' && cacheRaw !== 'off') {
    throw new ConfigError('ORGENGINE_SIGNAL_CACHE', `expected on or off, got ${JSON.stringify(cacheRaw)}`);
  }
  const signals: SignalConfig = {
    cache: cacheRaw === 'on',
    cacheBuckets: num(env, 'ORGENGINE_SIGNAL_CACHE_BUCKETS', 16, 1, 4096),
    cacheRoomsPerBucket: num(env, 'ORGENGINE_SIGNAL_CACHE_ROOMS_PER_BUCKET', 128, 1, 100_000),
    cacheBytesPerBucket: num(env, 'ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET', 8 * 1024 * 1024, 1024, 2 ** 40),
    maxStalenessMs: num(env, 'ORGENGINE_SIGNAL_MAX_STALENESS_MS', 1000, 0, 600_000),
    retain: num(env, 'ORGENGINE_SIGNAL_RETAIN', 1000, 1, 100_000),
    maxPayloadBytes: num(env, 'ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES', 1024, 1, 65_535),
    maxReadLimit: num(env, 'ORGENGINE_SIGNAL_READ_LIMIT_MAX', 500, 1, 10_000),
  };
  // A room is cached whole or not at all, so one full room must fit a bucket.
  const fullRoom = roomBytesBound(signals.retain, signals.maxPayloadBytes);
  if (signals.cacheBytesPerBucket < fullRoom) {
    throw new ConfigError(
      'ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET',
      `${signals.cacheBytesPerBucket} cannot hold one full room: ORGENGINE_SIGNAL_RETAIN=${signals.retain} signals of ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES=${signals.maxPayloadBytes} need about ${fullRoom}`,
    );
  }

  return {
    redis,
    mysqlUrl,
    keyPrefix,
    ttlSeconds: Math.round(num(env, 'ORGENGINE_TTL_DAYS', 7, 0.001, 365, false) * 86400),
    defaultPartitionSize: num(env, 'ORGENGINE_PARTITION_SIZE', 5000, 100, 100_000),
    maxStudentsPerLesson: num(env, 'ORGENGINE_MAX_STUDENTS_PER_LESSON', 1_000_000, 1, 10_000_000),
    redisFieldsPerCommand: num(env, 'ORGENGINE_REDIS_FIELDS_PER_COMMAND', 1000, 1, 100_000),
    redisCommandsPerPipeline: num(env, 'ORGENGINE_REDIS_COMMANDS_PER_PIPELINE', 64, 1, 10_000),
    mysqlBatchRows: num(env, 'ORGENGINE_MYSQL_BATCH_ROWS', 2000, 1, 50_000),
    mysqlPoolSize: num(env, 'ORGENGINE_MYSQL_POOL_SIZE', 8, 1, 256),
    preloadLockSeconds: num(env, 'ORGENGINE_PRELOAD_LOCK_SECONDS', 600, 5, 86_400),
    logLevel: logLevel as Config['logLevel'],
    api: loadApiConfig(env),
    signals,
    writeBehind: { maxStreamLength: num(env, 'ORGENGINE_WB_MAX_STREAM_LENGTH', 100_000, 100, 10_000_000) },
  };
}
