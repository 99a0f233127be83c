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
  /** In-class mutation bounds and the write-behind flusher. */
  writeBehind: WriteBehindConfig;
  jobs: JobsConfig;
}

/** Distributed preload: BullMQ queues, workers, checks and the sweep. */
export interface JobsConfig {
  /** Where the queues live (defaults to the data Redis). */
  redis: RedisTarget;
  /** BullMQ key prefix; carries a hash tag so every queue (and flow) is one Cluster slot. */
  prefix: string;
  preloadConcurrency: number;
  preloadAttempts: number;
  preloadBackoffMs: number;
  /** BullMQ job lock: a killed worker's job is taken over after about this long. */
  lockMs: number;
  checkConcurrency: number;
  /** Checks running at once across every worker (Redis lease counter). */
  checkClusterMax: number;
  /** How long a check over the limit waits before it tries again. */
  checkDelayMs: number;
  /** A killed checker's slot frees itself after this long. */
  checkLeaseMs: number;
  sweepMinutes: number;
  /** Expected preload duration: base + per-student cost; running longer raises an alarm. */
  expectedBaseMs: number;
  expectedMsPer1kStudents: number;
  changeConcurrency: number;
  /** Moves accepted in one change batch. */
  maxChangeBatch: number;
  /** Port of the worker's /metrics (0: no server). */
  metricsPort: number;
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
  /** Run a write-behind flusher inside the gateway (one per `serve`, in worker 0); off: run `orgengine flush`. */
  flushInGateway: boolean;
}

/** Shortest token secret accepted (bytes of UTF-8). */
export const MIN_TOKEN_SECRET_BYTES = 32;

/** Bounds and timings of in-class mutations and the write-behind flusher. */
export interface WriteBehindConfig {
  /** A mutation is refused (BACKPRESSURE) while its lesson's stream holds this many unflushed records. */
  maxStreamLength: number;
  /** Records read per lesson stream per XREADGROUP / XAUTOCLAIM. */
  readCount: number;
  /** Records per flush cycle across lessons (one MySQL transaction). */
  maxBatchRecords: number;
  /** Wait between flush cycles when there was nothing to flush. */
  pollMs: number;
  /** Longest wait before polling a lesson whose stream was empty again. */
  idlePollMaxMs: number;
  /** Pending records of a consumer idle this long are claimed by another flusher. */
  claimIdleMs: number;
  /** Longest back-off between retries when MySQL or Redis fails. */
  retryMaxMs: number;
  /** How often a mutating process re-adds a lesson to the flusher registry (seconds). */
  registerEverySeconds: number;
  /** A lesson with an empty stream and no registration for this long is retired (seconds). */
  retireAfterSeconds: number;
  /** Groups created in class per team at most (dynamic expansion stops there). */
  maxDynamicGroupsPerTeam: number;
}

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
  { name: 'ORGENGINE_WB_MAX_STREAM_LENGTH', default: '100000', meaning: 'unflushed write-behind records per lesson before mutations answer 503 BACKPRESSURE (100-10000000)' },
  { name: 'ORGENGINE_WB_READ_COUNT', default: '1000', meaning: 'records per XREADGROUP/XAUTOCLAIM call of the flusher (1-100000)' },
  { name: 'ORGENGINE_WB_MAX_BATCH_RECORDS', default: '10000', meaning: 'records per flush cycle, one MySQL transaction (1-1000000)' },
  { name: 'ORGENGINE_WB_POLL_MS', default: '20', meaning: 'flusher wait between cycles that found nothing (1-60000)' },
  { name: 'ORGENGINE_WB_IDLE_POLL_MAX_MS', default: '250', meaning: 'longest wait before re-polling a lesson whose stream was empty (1-600000)' },
  { name: 'ORGENGINE_WB_CLAIM_IDLE_MS', default: '30000', meaning: 'pending records of a consumer idle this long are claimed by another flusher (XAUTOCLAIM) (10-86400000)' },
  { name: 'ORGENGINE_WB_RETRY_MAX_MS', default: '5000', meaning: 'longest back-off between flush retries while MySQL or Redis fails (10-600000)' },
  { name: 'ORGENGINE_WB_REGISTER_EVERY_SECONDS', default: '60', meaning: 'how often a mutating process re-adds a lesson to the flusher registry (1-3600)' },
  { name: 'ORGENGINE_WB_RETIRE_AFTER_SECONDS', default: '3600', meaning: 'an idle, fully flushed lesson leaves the registry after this long; at least 10x the register interval (60-2592000)' },
  { name: 'ORGENGINE_MAX_DYNAMIC_GROUPS_PER_TEAM', default: '50', meaning: 'groups created in class per team at most (0-10000)' },
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
  { name: 'ORGENGINE_FLUSH_IN_GATEWAY', default: 'false', meaning: 'run a write-behind flusher inside `orgengine serve` (worker 0; needs MySQL); false: run `orgengine flush` beside it (true|false)' },
  { name: 'ORGENGINE_SIGNAL_CACHE', default: 'on', meaning: 'serve signal reads from the local per-room cache (on|off; off = one Redis round trip per read)' },
  { name: 'ORGENGINE_SIGNAL_CACHE_BUCKETS', default: '16', meaning: 'buckets the signal cache hashes rooms into (1-4096)' },
  { name: 'ORGENGINE_SIGNAL_CACHE_ROOMS_PER_BUCKET', default: '128', meaning: 'rooms one bucket holds before evicting the least recently read (1-100000)' },
  { name: 'ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET', default: '8388608', meaning: 'estimated bytes one bucket holds before evicting; must fit one full room (retain x max payload)' },
  { name: 'ORGENGINE_SIGNAL_MAX_STALENESS_MS', default: '1000', meaning: 'a cached room not checked against Redis for this long is re-checked before answering (0-600000)' },
  { name: 'ORGENGINE_SIGNAL_RETAIN', default: '1000', meaning: 'signals kept per room; older ones are trimmed and reads report truncated (1-100000)' },
  { name: 'ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES', default: '1024', meaning: 'largest signal payload in UTF-8 bytes (1-65535, a MySQL TEXT); larger is PAYLOAD_TOO_LARGE' },
  { name: 'ORGENGINE_SIGNAL_READ_LIMIT_MAX', default: '500', meaning: 'most signals one read may ask for (1-10000); the default when a read gives no limit' },
  { name: 'ORGENGINE_QUEUE_REDIS_URL', default: '(the data Redis)', meaning: 'single Redis holding the preload queues (ignored when ORGENGINE_QUEUE_REDIS_CLUSTER_NODES is set)' },
  { name: 'ORGENGINE_QUEUE_REDIS_CLUSTER_NODES', default: '(unset)', meaning: 'host:port seed nodes of a Redis Cluster holding the preload queues' },
  { name: 'ORGENGINE_QUEUE_PREFIX', default: '{oe-jobs}', meaning: 'BullMQ key prefix; must contain one {hash tag} so all queues share a Cluster slot' },
  { name: 'ORGENGINE_PRELOAD_CONCURRENCY', default: '2', meaning: 'preload jobs one worker process runs at once (1-64)' },
  { name: 'ORGENGINE_PRELOAD_ATTEMPTS', default: '5', meaning: 'tries of a preload job before it fails (1-100); source errors fail at once' },
  { name: 'ORGENGINE_PRELOAD_BACKOFF_MS', default: '5000', meaning: 'first retry delay of a preload job, doubled each retry (10-3600000)' },
  { name: 'ORGENGINE_JOB_LOCK_MS', default: '30000', meaning: 'BullMQ job lock; a killed worker\'s job moves to another after about this long (1000-600000)' },
  { name: 'ORGENGINE_CHECK_CONCURRENCY', default: '1', meaning: 'checks one worker process runs at once (1-64)' },
  { name: 'ORGENGINE_CHECK_CLUSTER_MAX', default: '4', meaning: 'checks running at once across all workers; more wait (1-10000)' },
  { name: 'ORGENGINE_CHECK_DELAY_MS', default: '10000', meaning: 'wait of a check over the limit before it tries again (10-3600000)' },
  { name: 'ORGENGINE_CHECK_LEASE_MS', default: '600000', meaning: 'a check slot held by a killed worker frees itself after this long (1000-86400000)' },
  { name: 'ORGENGINE_SWEEP_MINUTES', default: '10', meaning: 'period of the sweep that re-enqueues lessons not ready or failed (1-1440)' },
  { name: 'ORGENGINE_EXPECTED_BASE_MS', default: '2000', meaning: 'expected preload duration: fixed part (alarm when a preload runs longer than expected)' },
  { name: 'ORGENGINE_EXPECTED_MS_PER_1K_STUDENTS', default: '300', meaning: 'expected preload duration: per 1,000 enrolled students' },
  { name: 'ORGENGINE_CHANGE_CONCURRENCY', default: '4', meaning: 'change batches one worker process applies at once (1-64)' },
  { name: 'ORGENGINE_MAX_CHANGE_BATCH', default: '500', meaning: 'moves accepted in one change batch (1-10000)' },
  { name: 'ORGENGINE_WORKER_METRICS_PORT', default: '9465', meaning: 'port of the worker\'s /metrics (0: none)' },
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
    flushInGateway: bool(env, 'ORGENGINE_FLUSH_IN_GATEWAY', false),
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

  const writeBehind: WriteBehindConfig = {
    maxStreamLength: num(env, 'ORGENGINE_WB_MAX_STREAM_LENGTH', 100_000, 100, 10_000_000),
    readCount: num(env, 'ORGENGINE_WB_READ_COUNT', 1000, 1, 100_000),
    maxBatchRecords: num(env, 'ORGENGINE_WB_MAX_BATCH_RECORDS', 10_000, 1, 1_000_000),
    pollMs: num(env, 'ORGENGINE_WB_POLL_MS', 20, 1, 60_000),
    idlePollMaxMs: num(env, 'ORGENGINE_WB_IDLE_POLL_MAX_MS', 250, 1, 600_000),
    claimIdleMs: num(env, 'ORGENGINE_WB_CLAIM_IDLE_MS', 30_000, 10, 86_400_000),
    retryMaxMs: num(env, 'ORGENGINE_WB_RETRY_MAX_MS', 5000, 10, 600_000),
    registerEverySeconds: num(env, 'ORGENGINE_WB_REGISTER_EVERY_SECONDS', 60, 1, 3600),
    retireAfterSeconds: num(env, 'ORGENGINE_WB_RETIRE_AFTER_SECONDS', 3600, 60, 2_592_000),
    maxDynamicGroupsPerTeam: num(env, 'ORGENGINE_MAX_DYNAMIC_GROUPS_PER_TEAM', 50, 0, 10_000),
  };
  // Retiring must wait well past any mutating process's cached registration,
  // or a lesson could leave the registry while a process still writes to it.
  if (writeBehind.retireAfterSeconds < 10 * writeBehind.registerEverySeconds) {
    throw new ConfigError(
      'ORGENGINE_WB_RETIRE_AFTER_SECONDS',
      `must be at least 10 x ORGENGINE_WB_REGISTER_EVERY_SECONDS (${writeBehind.registerEverySeconds}), got ${writeBehind.retireAfterSeconds}`,
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
    writeBehind,
    jobs: loadJobsConfig(env, redis),
  };
}

/** A prefix with exactly one non-empty {hash tag}, so every BullMQ key lands in one Cluster slot. */
const QUEUE_PREFIX_RE = /^[A-Za-z0-9:_.-]*\{[A-Za-z0-9_.-]+\}[A-Za-z0-9:_.-]*$/;

function loadJobsConfig(env: Env, dataRedis: RedisTarget): JobsConfig {
  const clusterRaw = env.ORGENGINE_QUEUE_REDIS_CLUSTER_NODES;
  const urlRaw = env.ORGENGINE_QUEUE_REDIS_URL;
  const redis: RedisTarget =
    clusterRaw && clusterRaw.trim() !== ''
      ? { mode: 'cluster', nodes: parseNodes('ORGENGINE_QUEUE_REDIS_CLUSTER_NODES', clusterRaw) }
      : urlRaw && urlRaw !== ''
        ? { mode: 'single', url: url('ORGENGINE_QUEUE_REDIS_URL', urlRaw, ['redis:', 'rediss:']) }
        : dataRedis;
  const prefix = str(env, 'ORGENGINE_QUEUE_PREFIX', '{oe-jobs}');
  if (prefix.length > 48 || !QUEUE_PREFIX_RE.test(prefix)) {
    throw new ConfigError('ORGENGINE_QUEUE_PREFIX', `expected at most 48 chars of [A-Za-z0-9:_.-] with one {hash tag}, e.g. {oe-jobs}, got ${JSON.stringify(prefix)}`);
  }
  return {
    redis,
    prefix,
    preloadConcurrency: num(env, 'ORGENGINE_PRELOAD_CONCURRENCY', 2, 1, 64),
    preloadAttempts: num(env, 'ORGENGINE_PRELOAD_ATTEMPTS', 5, 1, 100),
    preloadBackoffMs: num(env, 'ORGENGINE_PRELOAD_BACKOFF_MS', 5000, 10, 3_600_000),
    lockMs: num(env, 'ORGENGINE_JOB_LOCK_MS', 30_000, 1000, 600_000),
    checkConcurrency: num(env, 'ORGENGINE_CHECK_CONCURRENCY', 1, 1, 64),
    checkClusterMax: num(env, 'ORGENGINE_CHECK_CLUSTER_MAX', 4, 1, 10_000),
    checkDelayMs: num(env, 'ORGENGINE_CHECK_DELAY_MS', 10_000, 10, 3_600_000),
    checkLeaseMs: num(env, 'ORGENGINE_CHECK_LEASE_MS', 600_000, 1000, 86_400_000),
    sweepMinutes: num(env, 'ORGENGINE_SWEEP_MINUTES', 10, 1, 1440),
    expectedBaseMs: num(env, 'ORGENGINE_EXPECTED_BASE_MS', 2000, 0, 3_600_000),
    expectedMsPer1kStudents: num(env, 'ORGENGINE_EXPECTED_MS_PER_1K_STUDENTS', 300, 0, 3_600_000),
    changeConcurrency: num(env, 'ORGENGINE_CHANGE_CONCURRENCY', 4, 1, 64),
    maxChangeBatch: num(env, 'ORGENGINE_MAX_CHANGE_BATCH', 500, 1, 10_000),
    metricsPort: num(env, 'ORGENGINE_WORKER_METRICS_PORT', 9465, 0, 65_535),
  };
}
