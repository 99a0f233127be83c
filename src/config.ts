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
  /** Write-behind and in-class mutation bounds. */
  writeBehind: WriteBehindConfig;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

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
  /** How often a gateway re-adds a lesson to the flusher registry (seconds). */
  registerEverySeconds: number;
  /** A lesson with an empty stream and no registration for this long is retired (seconds). */
  retireAfterSeconds: number;
  /** A student whose last heartbeat is older than this is offline (seconds). */
  onlineWindowSeconds: number;
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
  { name: 'ORGENGINE_ONLINE_WINDOW_SECONDS', default: '60', meaning: 'a student whose last heartbeat is older than this counts as offline (1-86400)' },
  { name: 'ORGENGINE_MAX_DYNAMIC_GROUPS_PER_TEAM', default: '50', meaning: 'groups created in class per team at most (0-10000)' },
  { name: 'ORGENGINE_LOG_LEVEL', default: 'info', meaning: 'pino level: fatal|error|warn|info|debug|trace|silent' },
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
    onlineWindowSeconds: num(env, 'ORGENGINE_ONLINE_WINDOW_SECONDS', 60, 1, 86_400),
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
    writeBehind,
    logLevel: logLevel as Config['logLevel'],
  };
}
