// The only reader of process.env. Every variable is validated once at start-up
// and a bad one is named in the error, so a misconfigured deployment fails fast.

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
