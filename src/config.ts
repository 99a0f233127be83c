// The only reader of process.env. Every variable is declared once, in
// CONFIG_SPEC: its name, type, default, range, meaning and the Config field it
// sets. The spec drives parsing, `orgengine config` and the check of README's
// table, so a setting is added in one place. Every variable is validated once
// at start-up and a bad one is named in the error, so a misconfigured
// deployment fails fast.

import { OrgError } from './errors.js';

/** Thrown when an environment variable is missing or malformed; names the variable. */
export class ConfigError extends OrgError {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super('CONFIG_INVALID', `${variable}: ${message}`, { variable });
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
  /** OTLP/HTTP traces URL spans are exported to; null: none (trace ids are still carried and logged). */
  otlpEndpoint: string | null;
  /** The edge gateway (HTTP, gRPC, auth, local cache). */
  api: ApiConfig;
  signals: SignalConfig;
  /** In-class mutation bounds and the write-behind flusher. */
  writeBehind: WriteBehindConfig;
  /** Score events, leaderboards and PK rounds. */
  scores: ScoresConfig;
  jobs: JobsConfig;
  /** The interaction center: timeouts, bounds, the timeout checker, UniversalInfo's cache. */
  interaction: InteractionConfig;
  /** The operations console and its alarms. */
  console: ConsoleConfig;
}

/** Timeouts and bounds of the interaction center. */
export interface InteractionConfig {
  /** An invitation or application not answered in this long times out (a lesson's policy may override). */
  inviteTimeoutMs: number;
  /** An accepted link whose RTC join is not reported in this long fails (a lesson's policy may override). */
  connectTimeoutMs: number;
  /** Capacity of a multi session when the request gives none. */
  defaultCapacity: number;
  /** Largest capacity a multi session may ask for. */
  maxCapacity: number;
  /** Active sessions one room may hold. */
  maxSessionsPerRoom: number;
  /** Pending (initiated) links one session may hold. */
  maxPendingPerSession: number;
  /** RTC event ids one session remembers (deduplication). */
  maxRtcEventsPerSession: number;
  /** A connected user whose last RTC report arrived longer ago than this is moved to left by reconciliation. */
  rtcGraceMs: number;
  /** How often the checker applies due deadlines and reconciles RTC membership. */
  checkEveryMs: number;
  /** Deadlines (and active sessions, for reconciliation) handled per lesson per script call. */
  checkBatch: number;
  /** A checker's lease on a lesson; a killed checker's lessons are taken over after it. */
  checkLeaseMs: number;
  /** Backstop TTL of UniversalInfo's gateway cache (0: no cache); invalidated through the lesson channel. */
  infoCacheMs: number;
  /** Seats a mic seat layout template may have at most. */
  seatMaxSeats: number;
  /** How long a gateway keeps a stored layout template it read (0: read Redis each time). */
  seatTemplateCacheMs: number;
  /** The layout template of a duo session created without one. */
  seatDefaultDuo: string;
  /** The layout template of a multi session created without one. */
  seatDefaultMulti: string;
}

/** The operations console (`orgengine console`), its alarm evaluation and webhook notifications. */
export interface ConsoleConfig {
  /** Directory of the built console web app (index.html and assets). */
  staticDir: string;
  /** Largest request body the console accepts (policies, settings). */
  maxBodyBytes: number;
  /** How often the console evaluates alarm conditions (ms). */
  alarmEvalMs: number;
  /** Webhook URLs notified of alarms (a raise and a resolve each); more can be added in the console. */
  webhooks: string[];
  /** Tries of one webhook delivery before it is given up. */
  webhookAttempts: number;
  /** First retry delay of a webhook delivery, doubled each retry. */
  webhookBackoffMs: number;
  /** Longest one webhook POST may take. */
  webhookTimeoutMs: number;
  /** Gateway base URLs whose /readyz the console probes (a not-ready gateway raises an alarm). */
  gateways: string[];
  /** Alarm defaults (the console's alarm settings page overrides them). */
  overrunFactor: number;
  wbLagMs: number;
  wbStreamLength: number;
  checkMismatches: number;
  /** How often a worker moves live_room.status along the lesson's times (seconds; 0: never). */
  roomStatusSeconds: number;
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
  /** Named token keys (rotation): every one is accepted; tokens name theirs by key id. Null when unset. */
  tokenKeys: TokenKey[] | null;
  /** Key id `orgengine token` signs with (null: the legacy secret when set, else the first of tokenKeys). */
  tokenSigningKid: string | null;
  /** Verified tokens kept in memory (LRU). */
  tokenCacheEntries: number;
  /** Longest a gateway trusts a lesson's revocation list without reading it again (the bound when a channel message is lost). */
  revocationRefreshMs: number;
  /** Port of the internal listener for /metrics and /readyz (null: served on the public port). */
  internalPort: number | null;
  /** Address the internal listener binds. */
  internalHost: string;
  /** Per-caller rate limits (token buckets per uid and per client address). */
  rateLimits: boolean;
  rateReadPerSecond: number;
  rateReadBurst: number;
  rateMutationPerSecond: number;
  rateMutationBurst: number;
  ratePublishPerSecond: number;
  ratePublishBurst: number;
  rateServicePerSecond: number;
  rateServiceBurst: number;
  /** Requests per second of one client address over every class (0: no per-address limit). */
  rateAddressPerSecond: number;
  rateAddressBurst: number;
  /** Token buckets kept per gateway worker (LRU). */
  rateMaxBuckets: number;
  /** PEM certificate chain and private key files: HTTPS and gRPC over TLS when both are set (reloaded on SIGHUP). */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** Largest request body accepted; more is answered 413. */
  maxBodyBytes: number;
  /** Requests waiting on Redis per gateway worker before new ones get 503 OVERLOADED. */
  maxInFlight: number;
  /** Members page size when the client gives none, and the largest it may ask for. */
  membersPageDefault: number;
  membersPageMax: number;
  /** Local cache hard TTL: no entry is served older, whatever happened to its invalidation. */
  cacheTtlMs: number;
  /** Local cache soft TTL (capped at cacheTtlMs): an entry read past it is served while one background load replaces it. */
  cacheSoftTtlMs: number;
  /** Background refreshes running at once per gateway worker; past it, entries are served up to their hard TTL. */
  cacheRefreshMaxInFlight: number;
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
  /** Commands one socket write carries at most within an event-loop turn on the gateway's Redis connections (store/redis/coalesce.ts); 1: a write per command. */
  redisWriteBatch: number;
  /** Longest a request-path Redis command may take (redirections and retries included) before it is a 503. */
  redisCommandTimeoutMs: number;
  /** Consecutive failed commands on one Redis node that open its breaker. */
  breakerFailures: number;
  /** Time between probes of a node whose breaker is open (and the gateway connection's longest reconnect wait). */
  breakerProbeMs: number;
  /** Retry-After (seconds) sent with temporary errors (503s). */
  retryAfterSeconds: number;
  /** Lesson /readyz must be able to read (optional). */
  readyLessonId: number | null;
  /** How often the gateway reads the ready lesson in the background (/readyz reports the last result). */
  readyCheckMs: number;
  /** How long shutdown waits for in-flight requests. */
  shutdownGraceMs: number;
  /** Run a write-behind flusher inside the gateway (one per `serve`, in worker 0); off: run `orgengine flush`. */
  flushInGateway: boolean;
  /** Largest WebSocket frame a client may send; a larger one closes the connection. */
  wsMaxPayloadBytes: number;
  /** Rooms one WebSocket connection may subscribe to at once. */
  wsMaxSubscriptions: number;
  /** Open WebSocket connections per gateway worker; more upgrades are refused with 503. */
  wsMaxConnections: number;
  /** Seconds without traffic before a WebSocket is closed; the server pings well before. */
  wsIdleTimeoutSeconds: number;
  /** Bytes queued for one WebSocket before it is closed as a slow consumer. */
  wsMaxBufferedBytes: number;
  /** How often WebSocket members are written into the online sets (one script call per lesson). */
  wsPresenceIntervalMs: number;
  /** How long a playback page stays in the Redis cache-aside copy. */
  playbackCacheTtlSeconds: number;
  /** Most signals one playback page may hold. */
  playbackPageMax: number;
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
  /** How often a mutating process re-adds a lesson to the flusher registry (seconds). */
  registerEverySeconds: number;
  /** A lesson with an empty stream and no registration for this long is retired (seconds). */
  retireAfterSeconds: number;
  /** How often a flusher compares each watched lesson's Redis version with MySQL's (rollback detection), seconds; 0 = never. */
  rollbackCheckSeconds: number;
  /** Groups created in class per team at most (dynamic expansion stops there). */
  maxDynamicGroupsPerTeam: number;
  /** When mutation and signal scripts are acknowledged: memory (the master ran it) or replica (WAIT confirmed it). */
  durability: 'memory' | 'replica';
  /** Replicas WAIT must confirm under `replica` durability. */
  durabilityReplicas: number;
  /** How long WAIT may take under `replica` durability before the write answers 503. */
  durabilityTimeoutMs: number;
}

/** Bounds of score events, leaderboards and PK rounds. */
export interface ScoresConfig {
  /** Points one event may carry, inclusive; negative ones only with kind `adjust`. */
  minPoints: number;
  maxPoints: number;
  /** Entries a leaderboard read may ask for, and its default. */
  boardMax: number;
  boardDefault: number;
  /** Backstop TTL of cached score reads (notices on the lesson channel retire them first). */
  cacheTtlMs: number;
  /** Score reads each gateway worker caches at most. */
  cacheMaxEntries: number;
  /** Awards announce a room's change at most once per this interval (and readers re-read once more after it). */
  noticeMs: number;
  /** Longest PK round. */
  pkMaxSeconds: number;
}

/** Shortest token secret accepted (bytes of UTF-8). */
export const MIN_TOKEN_SECRET_BYTES = 32;

/** One named token key. */
export interface TokenKey {
  kid: string;
  secret: string;
}

/** What a key id may be: short, and safe inside a token's JSON. */
export const KID_RE = /^[A-Za-z0-9_.-]{1,32}$/;

/** `kid=secret,kid=secret`: the keys a gateway accepts. */
function tokenKeys(name: string, field: FieldOf<TokenKey[] | null>, meaning: string): VarSpec {
  return {
    name,
    field,
    type: 'string',
    default: '(unset)',
    range: `kid=secret,... (kid: 1-32 of [A-Za-z0-9_.-]; secret: at least ${MIN_TOKEN_SECRET_BYTES} bytes)`,
    meaning,
    parse(raw) {
      const keys: TokenKey[] = [];
      for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
        const eq = part.indexOf('=');
        const kid = eq < 0 ? '' : part.slice(0, eq);
        const secret = eq < 0 ? '' : part.slice(eq + 1);
        if (!KID_RE.test(kid)) throw new ConfigError(name, `expected kid=secret with kid 1-32 chars of [A-Za-z0-9_.-], got an entry with kid ${JSON.stringify(kid)}`);
        if (Buffer.byteLength(secret, 'utf8') < MIN_TOKEN_SECRET_BYTES) throw new ConfigError(name, `the secret of key ${kid} must be at least ${MIN_TOKEN_SECRET_BYTES} bytes`);
        if (keys.some((k) => k.kid === kid)) throw new ConfigError(name, `key ${kid} is listed twice`);
        keys.push({ kid, secret });
      }
      if (keys.length === 0) throw new ConfigError(name, 'no keys given');
      return keys;
    },
    fallback: () => null,
  };
}

type Section = 'api' | 'signals' | 'writeBehind' | 'scores' | 'jobs' | 'interaction' | 'console';
/** A Config field a variable sets, as a dotted path ('ttlSeconds', 'api.maxInFlight'). */
export type ConfigField = Exclude<keyof Config, Section> | { [S in Section]: `${S}.${keyof Config[S] & string}` }[Section];
type FieldValue<F extends ConfigField> = F extends `${infer S extends Section}.${infer K}`
  ? K extends keyof Config[S]
    ? Config[S][K]
    : never
  : F extends keyof Config
    ? Config[F]
    : never;
/** The fields that can hold a T. */
type FieldOf<T> = { [F in ConfigField]: T extends FieldValue<F> ? F : never }[ConfigField];

/** One environment variable, as documented (README's table, `orgengine config`). */
export interface ConfigVar {
  name: string;
  /** The Config field it sets; several variables may set one field (the last one set wins). */
  field: ConfigField;
  type: 'integer' | 'number' | 'boolean' | 'enum' | 'string' | 'url' | 'host:port list';
  /** The default as shown: a value, or `(unset)`, or where it comes from. */
  default: string;
  /** The values accepted, e.g. `1-64` or `on|off`. */
  range: string;
  meaning: string;
}

interface VarSpec extends ConfigVar {
  /** Turns a set value into the field's value; throws a ConfigError naming the variable. */
  parse(raw: string): unknown;
  /** The field's value when no variable of the field is set (absent: the field's first variable has it). */
  fallback?: (c: Config) => unknown;
}

const rangeText = (min: number, max: number): string => (max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`);

/** A number within [min, max]: an integer unless `fraction`; `to` converts it (e.g. days to seconds). */
function numeric(
  name: string,
  field: ConfigField,
  dflt: number | null,
  [min, max]: readonly [number, number],
  meaning: string,
  o: { fraction?: boolean; to?: (n: number) => unknown } = {},
): VarSpec {
  const to = o.to ?? ((n: number) => n);
  return {
    name,
    field,
    type: o.fraction ? 'number' : 'integer',
    default: dflt === null ? '(unset)' : String(dflt),
    range: rangeText(min, max),
    meaning,
    parse(raw) {
      const n = Number(raw);
      if (!Number.isFinite(n) || (!o.fraction && !Number.isInteger(n))) {
        throw new ConfigError(name, `expected ${o.fraction ? 'a number' : 'an integer'}, got ${JSON.stringify(raw)}`);
      }
      if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
      return to(n);
    },
    fallback: () => (dflt === null ? null : to(dflt)),
  };
}

/** An integer variable. */
const int = (name: string, field: FieldOf<number>, dflt: number | null, range: readonly [number, number], meaning: string): VarSpec =>
  numeric(name, field, dflt, range, meaning);

/** true|false (or 1|0). */
function flag(name: string, field: FieldOf<boolean>, dflt: boolean, meaning: string): VarSpec {
  return {
    name,
    field,
    type: 'boolean',
    default: String(dflt),
    range: 'true|false',
    meaning,
    parse(raw) {
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(name, `expected true|false, got ${JSON.stringify(raw)}`);
    },
    fallback: () => dflt,
  };
}

/** One of a few words; `to` turns the word into the field's value. */
function oneOf<W extends string>(name: string, field: ConfigField, words: readonly W[], dflt: W, meaning: string, to: (w: W) => unknown = (w) => w): VarSpec {
  return {
    name,
    field,
    type: 'enum',
    default: dflt,
    range: words.join('|'),
    meaning,
    parse(raw) {
      if (!(words as readonly string[]).includes(raw)) throw new ConfigError(name, `expected one of ${words.join('|')}, got ${JSON.stringify(raw)}`);
      return to(raw as W);
    },
    fallback: () => to(dflt),
  };
}

/** Why a default layout template id is not one, or null (model/seats.ts SEAT_TEMPLATE_ID; config imports only errors). */
function seatTemplateIdComplaint(v: string): string | null {
  return /^[a-z0-9][a-z0-9._-]{0,31}$/.test(v) ? null : 'expected 1-32 chars of [a-z0-9._-]';
}

/** Free text that `check` accepts (it returns the complaint, or null). */
function text(name: string, field: FieldOf<string>, dflt: string | null, range: string, meaning: string, check: (v: string) => string | null): VarSpec {
  return {
    name,
    field,
    type: 'string',
    default: dflt ?? '(unset)',
    range,
    meaning,
    parse(raw) {
      const bad = check(raw);
      if (bad !== null) throw new ConfigError(name, bad);
      return raw;
    },
    fallback: () => dflt,
  };
}

/** A URL of one of `protocols`; `to` makes the field's value of it. */
function url(
  name: string,
  field: ConfigField,
  dflt: string | { shown: string; from: (c: Config) => unknown },
  protocols: readonly string[],
  meaning: string,
  o: { to?: (u: string) => unknown; check?: (u: URL) => string | null } = {},
): VarSpec {
  const to = o.to ?? ((u: string) => u);
  const parse = (raw: string): unknown => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ConfigError(name, `not a URL: ${JSON.stringify(raw)}`);
    }
    if (!protocols.includes(u.protocol)) throw new ConfigError(name, `expected ${protocols.join(' or ')} URL, got ${u.protocol}`);
    const bad = o.check?.(u) ?? null;
    if (bad !== null) throw new ConfigError(name, bad);
    return to(raw);
  };
  return {
    name,
    field,
    type: 'url',
    default: typeof dflt === 'string' ? dflt : dflt.shown,
    range: `${protocols.map((p) => `${p}//`).join(' or ')} URL`,
    meaning,
    parse,
    fallback: typeof dflt === 'string' ? () => parse(dflt) : dflt.from,
  };
}

/** Comma-separated host:port seed nodes of a Redis Cluster; unset unless given. */
function clusterNodes(name: string, field: FieldOf<RedisTarget>, meaning: string): VarSpec {
  return {
    name,
    field,
    type: 'host:port list',
    default: '(unset)',
    range: 'host:port,...',
    meaning,
    parse(raw): RedisTarget {
      const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
      if (parts.length === 0) throw new ConfigError(name, 'no nodes given');
      const nodes = parts.map((p) => {
        const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(p);
        const port = m ? Number(m[2]) : NaN;
        if (!m || port < 1 || port > 65535) throw new ConfigError(name, `expected host:port, got ${JSON.stringify(p)}`);
        return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
      });
      return { mode: 'cluster', nodes };
    },
  };
}

/** Comma-separated http(s) URLs; empty when unset. */
function urlList(name: string, field: FieldOf<string[]>, meaning: string): VarSpec {
  return {
    name,
    field,
    type: 'string',
    default: '(none)',
    range: 'http(s) URL,...',
    meaning,
    parse(raw) {
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => {
          let u: URL;
          try {
            u = new URL(s);
          } catch {
            throw new ConfigError(name, `not a URL: ${JSON.stringify(s)}`);
          }
          if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(name, `expected http: or https: URL, got ${u.protocol}`);
          return s;
        });
    },
    fallback: () => [],
  };
}

const single = (u: string): RedisTarget => ({ mode: 'single', url: u });
const REDIS_PROTOCOLS = ['redis:', 'rediss:'];
/** A prefix with exactly one non-empty {hash tag}, so every BullMQ key lands in one Cluster slot. */
const QUEUE_PREFIX_RE = /^[A-Za-z0-9:_.-]*\{[A-Za-z0-9_.-]+\}[A-Za-z0-9:_.-]*$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every variable, in README's order. */
export const CONFIG_SPEC: readonly ConfigVar[] = [
  url('ORGENGINE_REDIS_URL', 'redis', 'redis://127.0.0.1:6379', REDIS_PROTOCOLS, 'single Redis server (ignored when ORGENGINE_REDIS_CLUSTER_NODES is set)', { to: single }),
  clusterNodes('ORGENGINE_REDIS_CLUSTER_NODES', 'redis', 'seed nodes of a Redis Cluster; switches to Redis Cluster mode'),
  url('ORGENGINE_MYSQL_URL', 'mysqlUrl', 'mysql://root@127.0.0.1:3306/orgengine', ['mysql:'], 'MySQL/MariaDB database holding policies, source data and flushed state', {
    check: (u) => (u.pathname.replace(/^\//, '') === '' ? 'must name a database, e.g. mysql://root@127.0.0.1:3306/orgengine' : null),
  }),
  // Braces would break the per-lesson hash tag; other punctuation invites typos.
  text('ORGENGINE_KEY_PREFIX', 'keyPrefix', 'oe:', '1-32 chars of [A-Za-z0-9:_.-]', 'prefix of every Redis key', (v) =>
    /^[A-Za-z0-9:_.-]{1,32}$/.test(v) ? null : `expected 1-32 chars of [A-Za-z0-9:_.-], got ${JSON.stringify(v)}`,
  ),
  numeric('ORGENGINE_TTL_DAYS', 'ttlSeconds', 7, [0.001, 365], 'expiry of every preloaded Redis key, in days', { fraction: true, to: (days) => Math.round(days * 86400) }),
  int('ORGENGINE_PARTITION_SIZE', 'defaultPartitionSize', 5000, [100, 100_000], 'members per partitioned set when a policy does not say'),
  int('ORGENGINE_MAX_STUDENTS_PER_LESSON', 'maxStudentsPerLesson', 1_000_000, [1, 10_000_000], 'a lesson with more enrolments is refused (LIMIT_EXCEEDED)'),
  int('ORGENGINE_REDIS_FIELDS_PER_COMMAND', 'redisFieldsPerCommand', 1000, [1, 100_000], 'fields/members per HSET/ZADD during preload'),
  int('ORGENGINE_REDIS_COMMANDS_PER_PIPELINE', 'redisCommandsPerPipeline', 64, [1, 10_000], 'commands per pipelined chunk during preload'),
  int('ORGENGINE_MYSQL_BATCH_ROWS', 'mysqlBatchRows', 2000, [1, 50_000], 'rows per multi-row INSERT'),
  int('ORGENGINE_MYSQL_POOL_SIZE', 'mysqlPoolSize', 8, [1, 256], 'MySQL connection pool size'),
  int('ORGENGINE_PRELOAD_LOCK_SECONDS', 'preloadLockSeconds', 600, [5, 86_400], 'how long a preload holds its per-lesson lock before another may take over'),
  oneOf('ORGENGINE_LOG_LEVEL', 'logLevel', LOG_LEVELS, 'info', 'pino level; one-shot CLI commands default to warn'),
  text('ORGENGINE_OTLP_ENDPOINT', 'otlpEndpoint', null, 'http(s) URL', 'OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces) gateways, workers and the console export spans to; unset: no export, the OpenTelemetry SDK is not loaded and gateways do no tracing work per request', (v) => {
    try {
      const p = new URL(v).protocol;
      return p === 'http:' || p === 'https:' ? null : `expected an http: or https: URL, got ${p}`;
    } catch {
      return `not a URL: ${JSON.stringify(v)}`;
    }
  }),

  text('ORGENGINE_TOKEN_SECRET', 'api.tokenSecret', null, `at least ${MIN_TOKEN_SECRET_BYTES} bytes`, 'HMAC-SHA256 key of tokens without a key id; serve and token need it or ORGENGINE_TOKEN_KEYS', (v) => {
    const bytes = Buffer.byteLength(v, 'utf8');
    return bytes < MIN_TOKEN_SECRET_BYTES ? `must be at least ${MIN_TOKEN_SECRET_BYTES} bytes, got ${bytes}` : null;
  }),
  tokenKeys('ORGENGINE_TOKEN_KEYS', 'api.tokenKeys', 'named HMAC keys for key rotation, all accepted; tokens carry their key id (with ORGENGINE_TOKEN_SECRET also set, tokens without a key id are accepted too)'),
  text('ORGENGINE_TOKEN_SIGNING_KID', 'api.tokenSigningKid', null, 'a key id of ORGENGINE_TOKEN_KEYS', 'key orgengine token signs with; unset: ORGENGINE_TOKEN_SECRET when set, else the first of ORGENGINE_TOKEN_KEYS', (v) =>
    KID_RE.test(v) ? null : `expected 1-32 chars of [A-Za-z0-9_.-], got ${JSON.stringify(v)}`,
  ),
  int('ORGENGINE_TOKEN_CACHE_ENTRIES', 'api.tokenCacheEntries', 100_000, [100, 10_000_000], 'verified tokens kept per gateway worker'),
  int('ORGENGINE_REVOCATION_REFRESH_MS', 'api.revocationRefreshMs', 5000, [100, 600_000], "longest a gateway trusts a lesson's revocation list without reading it again: the bound on applying a revocation whose channel message was lost"),
  int('ORGENGINE_INTERNAL_PORT', 'api.internalPort', null, [0, 65_535], 'port of the internal listener serving /metrics and /readyz (off the public port, which then keeps only /healthz); unset: all on the public port'),
  text('ORGENGINE_INTERNAL_HOST', 'api.internalHost', '127.0.0.1', 'an IP address or host name', 'address the internal listener binds', (v) =>
    /^[A-Za-z0-9.:-]{1,253}$/.test(v) ? null : `expected an IP address or host name, got ${JSON.stringify(v)}`,
  ),
  flag('ORGENGINE_RATE_LIMITS', 'api.rateLimits', false, 'per-caller token buckets (per uid and per client address); over the limit is 429 TOO_MANY_REQUESTS with Retry-After'),
  numeric('ORGENGINE_RATE_READ_PER_SECOND', 'api.rateReadPerSecond', 50, [0.01, 1_000_000], 'reads (and enters) per second one client token may make', { fraction: true }),
  int('ORGENGINE_RATE_READ_BURST', 'api.rateReadBurst', 100, [1, 10_000_000], 'reads one client token may make at once before the rate applies'),
  numeric('ORGENGINE_RATE_MUTATION_PER_SECOND', 'api.rateMutationPerSecond', 5, [0.01, 1_000_000], 'mutations (pick group, mute, sign in, heartbeat) per second one client token may make', { fraction: true }),
  int('ORGENGINE_RATE_MUTATION_BURST', 'api.rateMutationBurst', 20, [1, 10_000_000], 'mutations one client token may make at once'),
  numeric('ORGENGINE_RATE_PUBLISH_PER_SECOND', 'api.ratePublishPerSecond', 10, [0.01, 1_000_000], 'signal publishes and broadcasts per second one client token may make', { fraction: true }),
  int('ORGENGINE_RATE_PUBLISH_BURST', 'api.ratePublishBurst', 20, [1, 10_000_000], 'signal publishes and broadcasts one client token may make at once'),
  numeric('ORGENGINE_RATE_SERVICE_PER_SECOND', 'api.rateServicePerSecond', 5000, [0.01, 10_000_000], 'requests per second of one service token, every route class together', { fraction: true }),
  int('ORGENGINE_RATE_SERVICE_BURST', 'api.rateServiceBurst', 10_000, [1, 100_000_000], 'requests one service token may make at once'),
  numeric('ORGENGINE_RATE_ADDRESS_PER_SECOND', 'api.rateAddressPerSecond', 0, [0, 10_000_000], 'requests per second from one client address, every class together (a school behind one NAT address shares it; behind a proxy every client has its address); 0: no per-address limit', { fraction: true }),
  int('ORGENGINE_RATE_ADDRESS_BURST', 'api.rateAddressBurst', 4000, [1, 100_000_000], 'requests one client address may make at once'),
  int('ORGENGINE_RATE_MAX_BUCKETS', 'api.rateMaxBuckets', 100_000, [100, 100_000_000], 'token buckets kept per gateway worker and kind (uid, address), least recently used evicted'),
  text('ORGENGINE_TLS_CERT_FILE', 'api.tlsCertFile', null, 'a readable PEM file', 'certificate chain for HTTPS and gRPC over TLS (with ORGENGINE_TLS_KEY_FILE); re-read on SIGHUP', (v) => (v.length > 0 ? null : 'empty path')),
  text('ORGENGINE_TLS_KEY_FILE', 'api.tlsKeyFile', null, 'a readable PEM file', 'private key of ORGENGINE_TLS_CERT_FILE; re-read on SIGHUP', (v) => (v.length > 0 ? null : 'empty path')),
  int('ORGENGINE_HTTP_MAX_BODY_BYTES', 'api.maxBodyBytes', 16_384, [64, 16 * 1024 * 1024], 'largest request body; larger is refused with 413 PAYLOAD_TOO_LARGE'),
  int('ORGENGINE_MAX_IN_FLIGHT', 'api.maxInFlight', 10_000, [1, 1_000_000], 'requests waiting on Redis per worker before 503 OVERLOADED'),
  int('ORGENGINE_MEMBERS_PAGE_DEFAULT', 'api.membersPageDefault', 100, [1, 10_000], 'members page size when the request gives no limit; at most ORGENGINE_MEMBERS_PAGE_MAX'),
  int('ORGENGINE_MEMBERS_PAGE_MAX', 'api.membersPageMax', 1000, [1, 10_000], 'largest members page a request may ask for'),
  int('ORGENGINE_CACHE_TTL_MS', 'api.cacheTtlMs', 6000, [0, 600_000], 'local cache hard TTL: no entry is served older, even after a lost invalidation (0 disables the cache)'),
  int(
    'ORGENGINE_CACHE_SOFT_TTL_MS',
    'api.cacheSoftTtlMs',
    2000,
    [1, 600_000],
    'local cache soft TTL (less up to a quarter at random, capped at ORGENGINE_CACHE_TTL_MS): an entry read past it is served while one background load replaces it',
  ),
  int('ORGENGINE_CACHE_REFRESH_MAX_IN_FLIGHT', 'api.cacheRefreshMaxInFlight', 64, [0, 100_000], 'background cache refreshes running at once per gateway worker; past it entries are served up to their hard TTL'),
  int('ORGENGINE_CACHE_MAX_ENTRIES', 'api.cacheMaxEntries', 200_000, [100, 100_000_000], 'local cache entries per gateway worker'),
  int('ORGENGINE_CACHE_MAX_BYTES', 'api.cacheMaxBytes', 256 * 1024 * 1024, [1024 * 1024, 64 * 1024 * 1024 * 1024], 'local cache size per gateway worker, estimated bytes'),
  int('ORGENGINE_CACHE_MAX_LESSONS', 'api.cacheMaxLessons', 20_000, [1, 1_000_000], 'lessons cached and subscribed to per gateway worker'),
  int('ORGENGINE_ONLINE_CACHE_MS', 'api.onlineCacheMs', 1000, [0, 60_000], 'online counts are cached this long'),
  int('ORGENGINE_ONLINE_WINDOW_MS', 'api.onlineWindowMs', 60_000, [1000, 3_600_000], 'a member is online if its last heartbeat is younger than this'),
  flag('ORGENGINE_REDIS_AUTOPIPELINING', 'api.redisAutoPipelining', false, 'ioredis autopipelining on the gateway connection; off: on cut cold enter throughput by 23-43% in npm run bench:autopipelining'),
  int('ORGENGINE_REDIS_WRITE_BATCH', 'api.redisWriteBatch', 4, [1, 1024], "the gateway's Redis commands of one event-loop turn leave in socket writes of up to this many (1: a write per command); 4 gave 1.12-1.34x cold enter throughput in three paired runs of npm run bench -- --scenario coalesce"),
  int('ORGENGINE_REDIS_COMMAND_TIMEOUT_MS', 'api.redisCommandTimeoutMs', 500, [10, 60_000], 'longest a gateway Redis command may take, cluster redirections included, before the request gets 503 BACKEND_UNAVAILABLE'),
  int('ORGENGINE_BREAKER_FAILURES', 'api.breakerFailures', 3, [1, 1000], 'consecutive failed commands on one Redis node that open its breaker (a lost connection opens it at once)'),
  int('ORGENGINE_BREAKER_PROBE_MS', 'api.breakerProbeMs', 100, [10, 60_000], 'interval of the one background probe per open Redis node; also the gateway connection\'s longest reconnect wait'),
  int('ORGENGINE_RETRY_AFTER_SECONDS', 'api.retryAfterSeconds', 1, [1, 3600], 'Retry-After sent with temporary errors (503)'),
  int('ORGENGINE_READY_LESSON', 'api.readyLessonId', null, [1, Number.MAX_SAFE_INTEGER], 'lesson id /readyz must be able to read, besides reaching Redis'),
  int('ORGENGINE_READY_CHECK_MS', 'api.readyCheckMs', 1000, [10, 600_000], 'how often the gateway reads ORGENGINE_READY_LESSON in the background; /readyz answers from the last result'),
  int('ORGENGINE_SHUTDOWN_GRACE_MS', 'api.shutdownGraceMs', 10_000, [0, 600_000], 'how long shutdown waits for in-flight requests'),
  flag('ORGENGINE_FLUSH_IN_GATEWAY', 'api.flushInGateway', false, 'run a write-behind flusher inside orgengine serve (worker 0; needs MySQL); false: run orgengine flush beside it'),
  int('ORGENGINE_WS_MAX_PAYLOAD_BYTES', 'api.wsMaxPayloadBytes', 4096, [128, 1_048_576], 'largest WebSocket frame a client may send; a larger one closes the connection with 1009'),
  int('ORGENGINE_WS_MAX_SUBSCRIPTIONS', 'api.wsMaxSubscriptions', 16, [1, 1000], 'rooms one WebSocket connection may subscribe to at once; more is an error message LIMIT_EXCEEDED'),
  int('ORGENGINE_WS_MAX_CONNECTIONS', 'api.wsMaxConnections', 50_000, [1, 10_000_000], 'open WebSocket connections per gateway worker; more upgrades are refused with 503 OVERLOADED'),
  int('ORGENGINE_WS_IDLE_TIMEOUT_SECONDS', 'api.wsIdleTimeoutSeconds', 120, [8, 960], 'a WebSocket silent this long is closed; the server sends pings before that'),
  int('ORGENGINE_WS_MAX_BUFFERED_BYTES', 'api.wsMaxBufferedBytes', 1_048_576, [1024, 1_073_741_824], 'bytes queued for one WebSocket before it is closed as a slow consumer (4008)'),
  int('ORGENGINE_WS_PRESENCE_INTERVAL_MS', 'api.wsPresenceIntervalMs', 15_000, [50, 3_600_000], 'how often WebSocket members are written into the online sets, one script call per lesson; below ORGENGINE_ONLINE_WINDOW_MS'),
  int('ORGENGINE_PLAYBACK_CACHE_TTL_SECONDS', 'api.playbackCacheTtlSeconds', 300, [0, 604_800], 'how long a playback page stays in the Redis cache-aside copy (0: no cache)'),
  int('ORGENGINE_PLAYBACK_PAGE_MAX', 'api.playbackPageMax', 500, [1, 10_000], 'most signals one playback page may hold; the default when a request gives no limit'),

  oneOf('ORGENGINE_SIGNAL_CACHE', 'signals.cache', ['on', 'off'], 'on', 'serve signal reads from the local per-room cache (off: one Redis round trip per read)', (w) => w === 'on'),
  int('ORGENGINE_SIGNAL_CACHE_BUCKETS', 'signals.cacheBuckets', 16, [1, 4096], 'buckets the signal cache hashes rooms into'),
  int('ORGENGINE_SIGNAL_CACHE_ROOMS_PER_BUCKET', 'signals.cacheRoomsPerBucket', 128, [1, 100_000], 'rooms one bucket holds before evicting the least recently read'),
  int(
    'ORGENGINE_SIGNAL_CACHE_BYTES_PER_BUCKET',
    'signals.cacheBytesPerBucket',
    8 * 1024 * 1024,
    [1024, 2 ** 40],
    'estimated bytes one bucket holds before evicting; must fit one full room (retain x max payload), checked when the gateway starts',
  ),
  int('ORGENGINE_SIGNAL_MAX_STALENESS_MS', 'signals.maxStalenessMs', 1000, [0, 600_000], 'a cached room not checked against Redis for this long is re-checked before answering'),
  int('ORGENGINE_SIGNAL_RETAIN', 'signals.retain', 1000, [1, 100_000], 'signals kept per room; older ones are trimmed and reads report truncated'),
  int('ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES', 'signals.maxPayloadBytes', 1024, [1, 65_535], 'largest signal payload in UTF-8 bytes (a MySQL TEXT); larger is PAYLOAD_TOO_LARGE'),
  int('ORGENGINE_SIGNAL_READ_LIMIT_MAX', 'signals.maxReadLimit', 500, [1, 10_000], 'most signals one read may ask for; the default when a read gives no limit'),

  int('ORGENGINE_WB_MAX_STREAM_LENGTH', 'writeBehind.maxStreamLength', 100_000, [100, 10_000_000], 'unflushed write-behind records per lesson before mutations and signal publishes answer 503 BACKPRESSURE'),
  int('ORGENGINE_WB_READ_COUNT', 'writeBehind.readCount', 1000, [1, 100_000], 'records per XREADGROUP/XAUTOCLAIM call of the flusher'),
  int('ORGENGINE_WB_MAX_BATCH_RECORDS', 'writeBehind.maxBatchRecords', 10_000, [1, 1_000_000], 'records per flush cycle, one MySQL transaction'),
  int('ORGENGINE_WB_POLL_MS', 'writeBehind.pollMs', 20, [1, 60_000], 'flusher wait between cycles that found nothing'),
  int('ORGENGINE_WB_IDLE_POLL_MAX_MS', 'writeBehind.idlePollMaxMs', 250, [1, 600_000], 'longest wait before re-polling a lesson whose stream was empty'),
  int('ORGENGINE_WB_CLAIM_IDLE_MS', 'writeBehind.claimIdleMs', 30_000, [10, 86_400_000], 'pending records of a consumer idle this long are claimed by another flusher (XAUTOCLAIM)'),
  int('ORGENGINE_WB_RETRY_MAX_MS', 'writeBehind.retryMaxMs', 5000, [10, 600_000], 'longest back-off between flush retries while MySQL or Redis fails'),
  int('ORGENGINE_WB_REGISTER_EVERY_SECONDS', 'writeBehind.registerEverySeconds', 60, [1, 3600], 'how often a mutating process re-adds a lesson to the flusher registry'),
  int(
    'ORGENGINE_WB_RETIRE_AFTER_SECONDS',
    'writeBehind.retireAfterSeconds',
    3600,
    [60, 2_592_000],
    'an idle, fully flushed lesson leaves the registry after this long; at least 10x ORGENGINE_WB_REGISTER_EVERY_SECONDS',
  ),
  int('ORGENGINE_WB_ROLLBACK_CHECK_SECONDS', 'writeBehind.rollbackCheckSeconds', 30, [0, 86_400], 'how often a flusher checks each watched lesson for Redis state older than MySQL (rollback: alarm by log and metric); 0 = never'),
  oneOf('ORGENGINE_DURABILITY', 'writeBehind.durability', ['memory', 'replica'], 'memory', 'when mutations and signal publishes are acknowledged: memory (the master ran the script) or replica (WAIT confirmed it on ORGENGINE_DURABILITY_REPLICAS replicas)'),
  int('ORGENGINE_DURABILITY_REPLICAS', 'writeBehind.durabilityReplicas', 1, [1, 16], 'replicas WAIT must confirm with replica durability'),
  int('ORGENGINE_DURABILITY_TIMEOUT_MS', 'writeBehind.durabilityTimeoutMs', 100, [1, 60_000], 'WAIT timeout with replica durability; short of replicas the write answers 503 BACKEND_UNAVAILABLE (may or may not be applied); below ORGENGINE_REDIS_COMMAND_TIMEOUT_MS'),
  int('ORGENGINE_MAX_DYNAMIC_GROUPS_PER_TEAM', 'writeBehind.maxDynamicGroupsPerTeam', 50, [0, 10_000], 'groups created in class per team at most'),

  int('ORGENGINE_SCORE_MIN_POINTS', 'scores.minPoints', -1000, [-1_000_000_000, 0], 'fewest points one score event may carry (below 0 only for kind adjust); outside the range is 400'),
  int('ORGENGINE_SCORE_MAX_POINTS', 'scores.maxPoints', 1000, [1, 1_000_000_000], 'most points one score event may carry; more is 400 BAD_REQUEST'),
  int('ORGENGINE_SCORE_BOARD_MAX', 'scores.boardMax', 100, [1, 10_000], 'most entries one leaderboard read may ask for'),
  int('ORGENGINE_SCORE_BOARD_DEFAULT', 'scores.boardDefault', 10, [1, 10_000], 'leaderboard entries when a read gives no limit; at most ORGENGINE_SCORE_BOARD_MAX'),
  int('ORGENGINE_SCORE_CACHE_TTL_MS', 'scores.cacheTtlMs', 2000, [0, 60_000], 'backstop TTL of the score reads (leaderboards, totals, ranks) each gateway caches: the longest a lost notice keeps one (0: no cache)'),
  int('ORGENGINE_SCORE_CACHE_MAX_ENTRIES', 'scores.cacheMaxEntries', 50_000, [100, 10_000_000], 'score reads cached per gateway worker (each at most ORGENGINE_SCORE_BOARD_MAX entries)'),
  int('ORGENGINE_SCORE_NOTICE_MS', 'scores.noticeMs', 100, [10, 60_000], "awards announce a room's score change on the lesson channel at most once per this interval; gateways drop cached score reads and push a scores message then and once more an interval later"),
  int('ORGENGINE_PK_MAX_SECONDS', 'scores.pkMaxSeconds', 3600, [1, 86_400], 'longest PK round a start may ask for'),
  int('ORGENGINE_IA_INVITE_TIMEOUT_MS', 'interaction.inviteTimeoutMs', 20_000, [100, 3_600_000], 'an invitation or application not answered in this long times out (timed_out); a lesson policy may override'),
  int('ORGENGINE_IA_CONNECT_TIMEOUT_MS', 'interaction.connectTimeoutMs', 15_000, [100, 3_600_000], 'an accepted link whose RTC join is not reported in this long fails (connect_timed_out); a lesson policy may override'),
  int('ORGENGINE_IA_DEFAULT_CAPACITY', 'interaction.defaultCapacity', 9, [2, 1000], 'seats of a multi session when the request names none (host + 8)'),
  int('ORGENGINE_IA_MAX_CAPACITY', 'interaction.maxCapacity', 50, [2, 1000], 'largest capacity a multi session may ask for'),
  int('ORGENGINE_IA_MAX_SESSIONS_PER_ROOM', 'interaction.maxSessionsPerRoom', 20, [1, 10_000], 'active interaction sessions one room may hold; more is 409 LIMIT_REACHED'),
  int('ORGENGINE_IA_MAX_PENDING', 'interaction.maxPendingPerSession', 100, [1, 100_000], 'unanswered invitations and applications one session may hold; more is 409 LIMIT_REACHED'),
  int('ORGENGINE_IA_MAX_RTC_EVENTS', 'interaction.maxRtcEventsPerSession', 100_000, [100, 10_000_000], 'RTC event ids one session remembers for deduplication; more is 409 LIMIT_REACHED'),
  int('ORGENGINE_IA_RTC_GRACE_MS', 'interaction.rtcGraceMs', 60_000, [1000, 86_400_000], 'a connected user whose last RTC report (joined/alive) arrived longer ago is moved to left by the reconciliation'),
  int('ORGENGINE_IA_CHECK_EVERY_MS', 'interaction.checkEveryMs', 1000, [10, 600_000], 'how often orgengine worker applies due interaction deadlines and reconciles RTC membership'),
  int('ORGENGINE_IA_CHECK_BATCH', 'interaction.checkBatch', 500, [1, 100_000], 'deadlines (and active sessions) one checker call handles per lesson'),
  int('ORGENGINE_IA_CHECK_LEASE_MS', 'interaction.checkLeaseMs', 10_000, [100, 600_000], "a checker's lease on a lesson; a killed checker's lessons are taken over after it"),
  int('ORGENGINE_IA_INFO_CACHE_MS', 'interaction.infoCacheMs', 2000, [0, 600_000], "UniversalInfo gateway cache backstop TTL (invalidated through the lesson channel); 0 = every read goes to Redis"),
  int('ORGENGINE_SEAT_MAX_SEATS', 'interaction.seatMaxSeats', 50, [2, 1000], 'seats a mic seat layout template may have at most (a larger template is 400 TEMPLATE_INVALID)'),
  int('ORGENGINE_SEAT_TEMPLATE_CACHE_MS', 'interaction.seatTemplateCacheMs', 10_000, [0, 3_600_000], 'how long a gateway keeps a stored layout template it read from Redis (0 = read Redis each create or switch)'),
  text('ORGENGINE_SEAT_DEFAULT_DUO', 'interaction.seatDefaultDuo', 'duo', 'a template id', 'layout template of a duo session created without one', seatTemplateIdComplaint),
  text('ORGENGINE_SEAT_DEFAULT_MULTI', 'interaction.seatDefaultMulti', 'voice', 'a template id', 'layout template of a multi session created without one', seatTemplateIdComplaint),

  url('ORGENGINE_QUEUE_REDIS_URL', 'jobs.redis', { shown: '(the data Redis)', from: (c) => c.redis }, REDIS_PROTOCOLS, 'single Redis holding the preload queues (ignored when ORGENGINE_QUEUE_REDIS_CLUSTER_NODES is set)', { to: single }),
  clusterNodes('ORGENGINE_QUEUE_REDIS_CLUSTER_NODES', 'jobs.redis', 'seed nodes of a Redis Cluster holding the preload queues'),
  text('ORGENGINE_QUEUE_PREFIX', 'jobs.prefix', '{oe-jobs}', 'at most 48 chars of [A-Za-z0-9:_.-] with one {hash tag}', 'BullMQ key prefix; the hash tag puts every queue and flow in one Cluster slot', (v) =>
    v.length <= 48 && QUEUE_PREFIX_RE.test(v) ? null : `expected at most 48 chars of [A-Za-z0-9:_.-] with one {hash tag}, e.g. {oe-jobs}, got ${JSON.stringify(v)}`,
  ),
  int('ORGENGINE_PRELOAD_CONCURRENCY', 'jobs.preloadConcurrency', 2, [1, 64], 'preload jobs one worker process runs at once'),
  int('ORGENGINE_PRELOAD_ATTEMPTS', 'jobs.preloadAttempts', 5, [1, 100], 'tries of a preload job before it fails; source errors fail at once'),
  int('ORGENGINE_PRELOAD_BACKOFF_MS', 'jobs.preloadBackoffMs', 5000, [10, 3_600_000], 'first retry delay of a preload job, doubled each retry'),
  int('ORGENGINE_JOB_LOCK_MS', 'jobs.lockMs', 30_000, [1000, 600_000], "BullMQ job lock; a killed worker's job moves to another after about this long"),
  int('ORGENGINE_CHECK_CONCURRENCY', 'jobs.checkConcurrency', 1, [1, 64], 'checks one worker process runs at once'),
  int('ORGENGINE_CHECK_CLUSTER_MAX', 'jobs.checkClusterMax', 4, [1, 10_000], 'checks running at once across all workers; more are delayed, never dropped'),
  int('ORGENGINE_CHECK_DELAY_MS', 'jobs.checkDelayMs', 10_000, [10, 3_600_000], 'wait of a check over the limit before it tries again'),
  int('ORGENGINE_CHECK_LEASE_MS', 'jobs.checkLeaseMs', 600_000, [1000, 86_400_000], 'a check slot held by a killed worker frees itself after this long'),
  int('ORGENGINE_SWEEP_MINUTES', 'jobs.sweepMinutes', 10, [1, 1440], 'period of the sweep that re-enqueues lessons not ready or failed'),
  int('ORGENGINE_EXPECTED_BASE_MS', 'jobs.expectedBaseMs', 2000, [0, 3_600_000], 'expected preload duration: fixed part (a preload running longer raises an alarm: log and metric)'),
  int('ORGENGINE_EXPECTED_MS_PER_1K_STUDENTS', 'jobs.expectedMsPer1kStudents', 300, [0, 3_600_000], 'expected preload duration: per 1,000 enrolled students'),
  int('ORGENGINE_CHANGE_CONCURRENCY', 'jobs.changeConcurrency', 4, [1, 64], 'change batches one worker process applies at once'),
  int('ORGENGINE_MAX_CHANGE_BATCH', 'jobs.maxChangeBatch', 500, [1, 10_000], 'moves accepted in one change batch (LIMIT_EXCEEDED above)'),
  int('ORGENGINE_WORKER_METRICS_PORT', 'jobs.metricsPort', 9465, [0, 65_535], "port of a preload worker's /metrics (0: none)"),

  text('ORGENGINE_CONSOLE_STATIC_DIR', 'console.staticDir', 'dist/console', 'a directory', 'built console web app (npm run build:console); a relative path is taken from the orgengine package directory', (v) =>
    v.length > 0 && v.length <= 4096 ? null : 'expected a directory path',
  ),
  int('ORGENGINE_CONSOLE_MAX_BODY_BYTES', 'console.maxBodyBytes', 65_536, [1024, 16 * 1024 * 1024], 'largest console request body; larger is refused with 413 PAYLOAD_TOO_LARGE'),
  int('ORGENGINE_ALARM_EVAL_MS', 'console.alarmEvalMs', 15_000, [50, 3_600_000], 'how often the console evaluates alarm conditions'),
  urlList('ORGENGINE_ALARM_WEBHOOKS', 'console.webhooks', 'webhook URLs told of every alarm raised and resolved (JSON POST); the alarm settings page adds more'),
  int('ORGENGINE_ALARM_WEBHOOK_ATTEMPTS', 'console.webhookAttempts', 5, [1, 100], 'tries of one webhook delivery before it is given up (counted on /metrics)'),
  int('ORGENGINE_ALARM_WEBHOOK_BACKOFF_MS', 'console.webhookBackoffMs', 1000, [1, 600_000], 'first retry delay of a webhook delivery, doubled each retry'),
  int('ORGENGINE_ALARM_WEBHOOK_TIMEOUT_MS', 'console.webhookTimeoutMs', 5000, [10, 120_000], 'longest one webhook POST may take'),
  urlList('ORGENGINE_CONSOLE_GATEWAYS', 'console.gateways', 'gateway base URLs whose /readyz the console probes; a not-ready one raises an alarm'),
  numeric('ORGENGINE_ALARM_OVERRUN_FACTOR', 'console.overrunFactor', 1, [0.1, 100], 'default: a preload is overrun when it takes longer than this times its expected duration', { fraction: true }),
  int('ORGENGINE_ALARM_WB_LAG_MS', 'console.wbLagMs', 60_000, [1, 86_400_000], 'default: alarm when a lesson\'s oldest unflushed write-behind record is older than this'),
  int('ORGENGINE_ALARM_WB_STREAM_LENGTH', 'console.wbStreamLength', 50_000, [1, 10_000_000], 'default: alarm when a lesson\'s write-behind stream holds this many records (back pressure starts at ORGENGINE_WB_MAX_STREAM_LENGTH)'),
  int('ORGENGINE_ALARM_CHECK_MISMATCHES', 'console.checkMismatches', 1, [1, 1_000_000], 'default: alarm when a check finds at least this many mismatches'),
  int('ORGENGINE_ROOM_STATUS_SECONDS', 'console.roomStatusSeconds', 30, [0, 86_400], 'how often a preload worker moves live_room.status scheduled -> live -> closed by the rooms\' times (0: never)'),
];

/** Rules between variables, checked once every field is read. */
const CROSS_CHECKS: ReadonlyArray<{ variable: string; complaint(c: Config): string | null }> = [
  {
    // WAIT runs inside the command timeout: a longer WAIT would always end as a timeout instead.
    variable: 'ORGENGINE_DURABILITY_TIMEOUT_MS',
    complaint: ({ writeBehind: wb, api }) =>
      wb.durability === 'replica' && wb.durabilityTimeoutMs >= api.redisCommandTimeoutMs
        ? `must be below ORGENGINE_REDIS_COMMAND_TIMEOUT_MS (${api.redisCommandTimeoutMs}), got ${wb.durabilityTimeoutMs}`
        : null,
  },
  {
    variable: 'ORGENGINE_SCORE_BOARD_DEFAULT',
    complaint: ({ scores }) => (scores.boardDefault > scores.boardMax ? `must not exceed ORGENGINE_SCORE_BOARD_MAX (${scores.boardMax}), got ${scores.boardDefault}` : null),
  },
  {
    variable: 'ORGENGINE_TOKEN_SIGNING_KID',
    complaint: ({ api }) =>
      api.tokenSigningKid !== null && !api.tokenKeys?.some((k) => k.kid === api.tokenSigningKid)
        ? `must name a key of ORGENGINE_TOKEN_KEYS (${api.tokenKeys?.map((k) => k.kid).join(', ') || 'unset'}), got ${api.tokenSigningKid}`
        : null,
  },
  {
    variable: 'ORGENGINE_TLS_KEY_FILE',
    complaint: ({ api }) => ((api.tlsCertFile === null) !== (api.tlsKeyFile === null) ? 'ORGENGINE_TLS_CERT_FILE and ORGENGINE_TLS_KEY_FILE are set together or not at all' : null),
  },
  {
    variable: 'ORGENGINE_MEMBERS_PAGE_DEFAULT',
    complaint: (c) =>
      c.api.membersPageDefault > c.api.membersPageMax ? `must not exceed ORGENGINE_MEMBERS_PAGE_MAX (${c.api.membersPageMax}), got ${c.api.membersPageDefault}` : null,
  },
  {
    // A member written less often than the window would flicker offline between refreshes.
    variable: 'ORGENGINE_WS_PRESENCE_INTERVAL_MS',
    complaint: ({ api }) =>
      api.wsPresenceIntervalMs * 2 > api.onlineWindowMs ? `must be at most half of ORGENGINE_ONLINE_WINDOW_MS (${api.onlineWindowMs}), got ${api.wsPresenceIntervalMs}` : null,
  },
  {
    // Retiring must wait well past any mutating process's cached registration,
    // or a lesson could leave the registry while a process still writes to it.
    variable: 'ORGENGINE_WB_RETIRE_AFTER_SECONDS',
    complaint: ({ writeBehind: wb }) =>
      wb.retireAfterSeconds < 10 * wb.registerEverySeconds
        ? `must be at least 10 x ORGENGINE_WB_REGISTER_EVERY_SECONDS (${wb.registerEverySeconds}), got ${wb.retireAfterSeconds}`
        : null,
  },
];

type Env = Record<string, string | undefined>;

const isSet = (raw: string | undefined): raw is string => raw !== undefined && raw.trim() !== '';

/**
 * Reads and validates the configuration from `env` (process.env by default).
 * `defaults` replaces the spec's default of a variable for one caller (the
 * CLI's one-shot commands log at warn unless ORGENGINE_LOG_LEVEL says otherwise).
 */
export function loadConfig(env: Env = process.env, defaults: Env = {}): Config {
  const out: Record<string, unknown> = {};
  const config = out as unknown as Config;
  const byField = new Map<ConfigField, VarSpec[]>();
  for (const v of CONFIG_SPEC as readonly VarSpec[]) byField.set(v.field, [...(byField.get(v.field) ?? []), v]);
  for (const [field, vars] of byField) {
    // The last variable of a field that is set wins; the others are not read.
    const chosen = vars.findLast((v) => isSet(env[v.name])) ?? vars.find((v) => isSet(defaults[v.name]));
    const value = chosen ? chosen.parse(isSet(env[chosen.name]) ? env[chosen.name]! : defaults[chosen.name]!) : vars[0]!.fallback!(config);
    const [section, key] = field.split('.') as [string, string | undefined];
    if (key === undefined) out[section] = value;
    else ((out[section] ??= {}) as Record<string, unknown>)[key] = value;
  }
  for (const { variable, complaint } of CROSS_CHECKS) {
    const bad = complaint(config);
    if (bad !== null) throw new ConfigError(variable, bad);
  }
  return config;
}

/** The variable that sets `field` (its first one when several do): to name it in errors found after start-up. */
export function variableOf(field: ConfigField): string {
  const v = CONFIG_SPEC.find((x) => x.field === field);
  if (!v) throw new Error(`no variable sets ${field}`);
  return v.name;
}

/** Every variable with the value `env` sets (null when unset), for `orgengine config`. */
export function describeConfig(env: Env = process.env): Array<ConfigVar & { value: string | null }> {
  return CONFIG_SPEC.map(({ name, field, type, default: dflt, range, meaning }) => ({ name, field, type, default: dflt, range, meaning, value: shownValue(name, env[name]) }));
}

/** Variables whose values are never printed: `orgengine config` output ends up in logs and tickets. */
const SECRET_VARS: ReadonlySet<string> = new Set(['ORGENGINE_TOKEN_SECRET', 'ORGENGINE_TOKEN_KEYS']);

/** A value as `orgengine config` may print it: secrets as their length, URL passwords as `***`. */
function shownValue(name: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  if (SECRET_VARS.has(name)) return `(set, ${Buffer.byteLength(value, 'utf8')} bytes)`;
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/**
 * The token keys: every key accepted and the one that signs. The legacy
 * ORGENGINE_TOKEN_SECRET is the key without an id (its tokens carry none), so a
 * deployment with only it behaves as before. A ConfigError naming the variable
 * when neither is set (serving and minting need a key).
 */
export function requireTokenKeys(config: Config): { keys: TokenKey[]; signing: string } {
  const { tokenSecret, tokenKeys, tokenSigningKid } = config.api;
  if (!tokenSecret && !tokenKeys) {
    throw new ConfigError('ORGENGINE_TOKEN_SECRET', `required to serve and to mint tokens (at least ${MIN_TOKEN_SECRET_BYTES} bytes, e.g. \`openssl rand -hex 32\`), or ORGENGINE_TOKEN_KEYS`);
  }
  const keys: TokenKey[] = [...(tokenSecret ? [{ kid: '', secret: tokenSecret }] : []), ...(tokenKeys ?? [])];
  return { keys, signing: tokenSigningKid ?? (tokenSecret ? '' : tokenKeys![0]!.kid) };
}
