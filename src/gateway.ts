// Wires one edge gateway (one worker): Redis connection, the one lesson channel
// subscriber connection shared by both local caches, the read service with its
// entity cache, the signal service with its per-room signal cache, the mutation
// service (sharing one write-behind registry with signals), optionally an
// in-process write-behind flusher, tokens, metrics, HTTP and optionally gRPC, and
// the drain on close (stop accepting, finish in-flight, flush what the flusher
// read, release the caches, disconnect).
import type { Logger } from 'pino';
import { Revocations } from './auth/revocation.js';
import { TokenVerifier } from './auth/tokens.js';
import { RateLimiter } from './api/limits.js';
import { createGrpcServer, type GrpcServer } from './api/grpc/server.js';
import { createHttpServer } from './api/http/server.js';
import { nativeUws } from './api/http/uws.js';
import { backendError } from './errors.js';
import { ConfigError, requireTokenKeys, variableOf, type Config, type ConfigField } from './config.js';
import { createFlusher, createInteractionService, createMutationService, createScoreService } from './main.js';
import type { InteractionService } from './services/interaction.js';
import { Metrics, registerBreakerMetrics, registerSecurityMetrics } from './metrics.js';
import { RevocationService } from './services/revocation.js';
import { readRevocations } from './store/redis/revocationStore.js';
import type { MutationService } from './services/mutations.js';
import type { ScoreService } from './services/scores.js';
import { ReadService } from './services/reads.js';
import { PlaybackService } from './services/playback.js';
import { PushHub } from './services/push.js';
import { registerWsMetrics } from './services/pushMetrics.js';
import { createSignalRuntime, type SignalRuntime } from './services/signals.js';
import { SignalCacheOptionError, type SignalCacheOptions } from './skiplist/signalCache.js';
import { registerSignalCacheMetrics } from './skiplist/signalMetrics.js';
import { createMysqlPool } from './store/mysql/pool.js';
import { closeRedis, createRedis, whenReady, type RedisClient } from './store/redis/client.js';
import { RedisGuard } from './store/redis/guard.js';
import { writeBehindRegistryKey } from './store/redis/keys.js';
import { createSubscriberClient, LessonChannels } from './store/redis/lessonChannels.js';
import type { Flusher } from './writebehind/flusher.js';
import { LessonRegistry } from './writebehind/registry.js';
import { createTracing, type Tracing } from './tracing.js';

/** How to run one gateway. */
export interface GatewayOptions {
  port: number;
  host?: string;
  /** gRPC port (0 = any free port), or null for no gRPC. */
  grpcPort: number | null;
  log: Logger;
  /** Replaces this worker's /metrics body (multi-worker: every worker's metrics merged). */
  metricsText?: () => Promise<{ contentType: string; body: string }>;
  /** Collect process metrics (one worker per process should). */
  defaultMetrics?: boolean;
  /** Use this Redis connection (left open on close) instead of opening one. */
  redis?: RedisClient;
  /** Appended to the Redis connection names (`orgengine-gw-<tag>`, `orgengine-sub-<tag>`), e.g. the worker index. */
  connectionTag?: string;
  /** Run the write-behind flusher in this gateway (default: ORGENGINE_FLUSH_IN_GATEWAY). */
  flush?: boolean;
  /** Port of the internal listener for /readyz and /metrics (0 = any free port); null or absent: ORGENGINE_INTERNAL_PORT, else none. */
  internalPort?: number | null;
  /** Request spans (default: exported to ORGENGINE_OTLP_ENDPOINT when set, else none). */
  tracing?: Tracing;
}

/** A running gateway. */
export interface Gateway {
  httpPort: number;
  grpcPort: number | null;
  /** Port of the internal listener (/readyz, /metrics), or null when they are on the public port. */
  internalPort: number | null;
  metrics: Metrics;
  /** The token revocation lists this worker holds. */
  revocations: Revocations;
  /** Reads the TLS certificate and key again (SIGHUP); throws, serving on with the old ones, when they are unusable. */
  reloadTls(): Promise<void>;
  reads: ReadService;
  signals: SignalRuntime;
  mutations: MutationService;
  /** Score ledger, totals, boards and PK rounds. */
  scores: ScoreService;
  /** The interaction center. */
  interaction: InteractionService;
  /** The in-process write-behind flusher, or null (`orgengine flush` runs elsewhere). */
  flusher: Flusher | null;
  /** The lesson channel subscriptions the caches and live push share. */
  channels: LessonChannels;
  /** Live push (WebSocket sessions, broadcasts). */
  push: PushHub;
  /** A room's signal history from MySQL. */
  playback: PlaybackService;
  /** Drains and disconnects: stop accepting, finish in-flight (up to the grace period), close. */
  close(): Promise<void>;
}

/** The config field behind each SignalCache option the signal runtime sets. */
const SIGNAL_CACHE_FIELDS: Partial<Record<keyof SignalCacheOptions, ConfigField>> = {
  buckets: 'signals.cacheBuckets',
  roomsPerBucket: 'signals.cacheRoomsPerBucket',
  bytesPerBucket: 'signals.cacheBytesPerBucket',
  maxStalenessMs: 'signals.maxStalenessMs',
  retain: 'signals.retain',
  maxPayloadBytes: 'signals.maxPayloadBytes',
};

/**
 * The signal cache checks its options (a full room must fit a bucket) when it
 * is built; an option it refuses came from a variable, so report that variable.
 */
function asConfigError(e: unknown): unknown {
  if (!(e instanceof SignalCacheOptionError)) return e;
  const variable = (option: keyof SignalCacheOptions): string[] => {
    const field = SIGNAL_CACHE_FIELDS[option];
    return field ? [variableOf(field)] : [];
  };
  const [name] = variable(e.option);
  if (!name) return e;
  const related = e.related.flatMap(variable);
  return new ConfigError(name, `${e.message.replace(/^signalCache: /, '')}${related.length ? `; the bound follows ${related.join(' and ')}` : ''}`);
}

/** Starts one gateway. */
export async function startGateway(config: Config, opts: GatewayOptions): Promise<Gateway> {
  const tokenKeys = requireTokenKeys(config);
  nativeUws();
  const api = config.api;
  const log = opts.log;
  const ownRedis = !opts.redis;
  const tag = opts.connectionTag ? `-${opts.connectionTag}` : '';
  const transitions = { open: 0, closed: 0 };
  /** A request-path connection this gateway owns, guarded by breakers per node. */
  const requestClient = (role: string): { client: RedisClient; guard: RedisGuard } => {
    const client = createRedis(config.redis, { autoPipelining: api.redisAutoPipelining, writeBatch: api.redisWriteBatch, connectionName: `orgengine-${role}${tag}`, requestPath: { reconnectMaxMs: api.breakerProbeMs } });
    client.on('error', (e: Error) => log.warn({ err: e.message, connection: role }, 'redis error'));
    const guard = new RedisGuard(client, config.redis, {
      commandTimeoutMs: api.redisCommandTimeoutMs,
      failureThreshold: api.breakerFailures,
      probeIntervalMs: api.breakerProbeMs,
      onChange: (c) => {
        transitions[c.open ? 'open' : 'closed']++;
        if (c.open) log.warn({ node: c.node, reason: c.reason, connection: role }, 'redis breaker open: requests needing this node answer 503 until a probe succeeds');
        else log.info({ node: c.node, connection: role }, 'redis breaker closed');
      },
    });
    return { client, guard };
  };
  // Breakers guard only connections this gateway owns: a borrowed one keeps its owner's behaviour.
  const main = ownRedis ? requestClient('gw') : null;
  const redis = opts.redis ?? main!.client;
  const guard = main?.guard ?? null;
  // With replica durability, writes get their own connection: WAIT blocks the
  // connection it runs on until the replicas answer, which must not stall reads.
  const writer = ownRedis && config.writeBehind.durability === 'replica' ? requestClient('gw-write') : null;
  const writeRedis = writer?.client ?? redis;
  if (ownRedis) await Promise.all([whenReady(redis, api.redisCommandTimeoutMs * 4), writer ? whenReady(writer.client, api.redisCommandTimeoutMs * 4) : true]);
  // One subscriber connection per gateway, shared by the caches and live push
  // (which always needs it: its lessons' channels carry signals, state and broadcasts).
  const entityCache = api.cacheTtlMs > 0;
  const channels = new LessonChannels(createSubscriberClient(config.redis, `orgengine-sub${tag}`), config.keyPrefix, (e) => log.warn({ err: e.message }, 'lesson channel subscriber error'));
  channels.listen({ onDown: (reason) => log.warn({ reason }, 'lesson channel subscriber lost: local caches distrust what they hold until re-subscribed') });
  const reads = new ReadService(redis, entityCache ? channels : null, {
    keyPrefix: config.keyPrefix,
    cacheTtlMs: api.cacheTtlMs,
    cacheSoftTtlMs: api.cacheSoftTtlMs,
    cacheRefreshMaxInFlight: api.cacheRefreshMaxInFlight,
    cacheMaxEntries: api.cacheMaxEntries,
    cacheMaxBytes: api.cacheMaxBytes,
    cacheMaxLessons: api.cacheMaxLessons,
    onlineCacheMs: api.onlineCacheMs,
    onlineWindowMs: api.onlineWindowMs,
  });
  const tokens = new TokenVerifier({ keys: tokenKeys.keys, signing: tokenKeys.signing, cacheEntries: api.tokenCacheEntries });
  // Revocation lists of the lessons served: loaded with a lesson's first
  // request, kept fresh by its channel, re-read after revocationRefreshMs.
  const revocations = new Revocations(
    {
      load: (lessonId) => readRevocations(redis, config.keyPrefix, lessonId),
      watch: (lessonId) => channels.add(lessonId),
      unwatch: (lessonId) => channels.remove(lessonId),
    },
    {
      refreshMs: api.revocationRefreshMs,
      maxLessons: api.cacheMaxLessons,
      onError: (e, lessonId) => log.warn({ lessonId, err: backendError(e).message }, 'revocation list refresh failed; the list held stays in force'),
    },
  );
  channels.listen({
    onMessage: (lessonId, m) => {
      if (m.kind === 'revoke') revocations.apply(lessonId, m.uid, m.before);
    },
    onDown: (_reason, lessons) => revocations.distrust(lessons),
    onSubscribed: (lessonId) => revocations.distrust([lessonId]),
  });
  tokens.useRevocations(revocations);
  const revocation = new RevocationService(redis, config.keyPrefix);
  const metrics = new Metrics({ defaultMetrics: opts.defaultMetrics ?? true, reads: () => reads.stats, cacheSize: () => reads.cacheSize() });
  const security = registerSecurityMetrics(metrics.registry, () => revocations.size());
  const limits = api.rateLimits ? new RateLimiter(api, security.limited) : null;
  const tls = api.tlsCertFile !== null && api.tlsKeyFile !== null ? { certFile: api.tlsCertFile, keyFile: api.tlsKeyFile } : null;
  const internalPort = opts.internalPort ?? api.internalPort;
  registerBreakerMetrics(metrics.registry, () => (guard?.openNodes().length ?? 0) + (writer?.guard.openNodes().length ?? 0), transitions);
  // One registration cache per process: a lesson is registered for the flusher
  // before its first mutation or signal, then once per interval.
  const registry = new LessonRegistry(redis, writeBehindRegistryKey(config.keyPrefix), config.writeBehind.registerEverySeconds * 1000, Date.now, undefined, (e, lessonId) =>
    log.warn({ lessonId, err: backendError(e).message }, 'write-behind registry unreachable: the change goes ahead unregistered; its next change or the flushers\' sweep registers the lesson'),
  );
  let signals: SignalRuntime;
  try {
    signals = createSignalRuntime({ redis, writeRedis, config, channels: config.signals.cache ? channels : null, registry });
  } catch (e) {
    reads.close();
    await channels.close();
    guard?.close();
    writer?.guard.close();
    writer?.client.disconnect();
    if (ownRedis) redis.disconnect();
    throw asConfigError(e);
  }
  if (signals.cache) registerSignalCacheMetrics(signals.cache, metrics.registry);
  const push = new PushHub({
    redis,
    reads,
    signals: signals.service,
    signalCache: signals.cache,
    channels,
    config,
    observer: {
      replayed: (n) => wsMetrics.replay.observe(n),
      pushed: (ms) => wsMetrics.delay.observe(Math.max(0, ms) / 1000),
      presenceFailed: (e) => log.warn({ err: e instanceof Error ? e.message : String(e) }, 'websocket presence write failed'),
    },
  });
  const wsMetrics = registerWsMetrics(metrics.registry, () => push);
  const mutations = createMutationService({ config, redis: writeRedis }, { registry, metrics: metrics.registry });
  // Score writes go to the write connection (WAIT under replica durability), and the score reads with them.
  const scores = createScoreService({ config, redis: writeRedis }, { registry, metrics: metrics.registry, channels });
  // Interaction writes go through the write connection; UniversalInfo's cache hears the lesson channels.
  // Playback and stored layout templates read MySQL; the pool connects on first use.
  const pool = createMysqlPool(config.mysqlUrl, config.mysqlPoolSize);
  const interaction = createInteractionService({ config, redis: writeRedis }, { registry, metrics: metrics.registry, channels, pool });
  const playback = new PlaybackService({ pool, redis, keyPrefix: config.keyPrefix, api });
  // The OpenTelemetry SDK is loaded only with an endpoint; without one the transports do no tracing work at all.
  const tracing = opts.tracing ?? (await createTracing(config.otlpEndpoint, 'orgengine-gateway'));
  const flusher = (opts.flush ?? api.flushInGateway) ? createFlusher({ config, redis, pool, log }, { metrics: metrics.registry, tracing }) : null;

  // Readiness answers from state the gateway already holds: the breakers, the
  // connection states and the last background read of the ready lesson. A
  // probe never runs inside /readyz, so it answers at once even while Redis
  // is away, and names what fails.
  let lessonCheck: string | null = api.readyLessonId === null ? null : 'not checked yet';
  const checkLesson = async (): Promise<void> => {
    if (api.readyLessonId === null) return;
    await reads.probe(api.readyLessonId).then(
      () => (lessonCheck = 'ok'),
      (e: unknown) => (lessonCheck = backendError(e).message),
    );
  };
  // The first answer is known before the gateway listens (bounded by the command timeout).
  await checkLesson();
  const readyTimer = api.readyLessonId === null ? null : setInterval(() => void checkLesson(), api.readyCheckMs);
  readyTimer?.unref();
  const ready = (): { ok: boolean; checks: Record<string, string> } => {
    const checks: Record<string, string> = {};
    const open = [...(guard?.openNodes() ?? []), ...(writer?.guard.openNodes() ?? [])];
    let ok = true;
    if (open.length > 0) {
      const which = open.map((n) => `${n.node} ${n.reason} for ${Math.round(n.openForMs)} ms`).join('; ');
      // A Cluster with some masters away still serves every other slot: every
      // gateway sees the same node, so failing readiness would take them all
      // out of rotation for lessons they can serve. One server away is not ready.
      checks.redis = `${config.redis.mode === 'cluster' ? 'degraded' : 'unreachable'}: breaker open for ${which}`;
      if (config.redis.mode !== 'cluster') ok = false;
    } else if (redis.status !== 'ready') {
      checks.redis = `not connected (${redis.status})`;
      ok = false;
    } else {
      checks.redis = 'ok';
    }
    // Reported, not required: without its subscription a lesson is served
    // uncached (nothing is cached until it is confirmed), still correct.
    checks.subscriber = channels.health();
    if (lessonCheck !== null) {
      checks.lesson = lessonCheck;
      if (lessonCheck !== 'ok') ok = false;
    }
    return { ok, checks };
  };

  const http = createHttpServer({
    tracing,
    reads,
    signals: signals.service,
    mutations,
    scores,
    interaction,
    push,
    playback,
    wsMetrics,
    tokens,
    metrics,
    log,
    api,
    ready: async () => ready(),
    metricsText: opts.metricsText ?? (async () => ({ contentType: metrics.contentType, body: await metrics.text() })),
    limits,
    revocation,
    tls,
    internal: internalPort !== null,
  });
  let grpc: GrpcServer | null = null;
  let httpPort: number;
  let grpcPort: number | null = null;
  let boundInternal: number | null = null;
  try {
    httpPort = await http.listen(opts.port, opts.host);
    if (internalPort !== null) boundInternal = await http.listenInternal(internalPort, api.internalHost);
    if (opts.grpcPort !== null) {
      grpc = createGrpcServer({ reads, signals: signals.service, mutations, scores, interaction, push, playback, tokens, metrics, log, api, tracing, ready: async () => ready().ok, limits, revocation, tls });
      grpcPort = await grpc.listen(opts.grpcPort, opts.host);
    }
  } catch (e) {
    http.stopAccepting();
    http.closeWebSockets();
    push.close();
    scores.close();
    if (readyTimer) clearInterval(readyTimer);
    guard?.close();
    writer?.guard.close();
    writer?.client.disconnect();
    signals.close();
    reads.close();
    interaction.close();
    revocations.clear();
    await channels.close();
    await pool.end().catch(() => undefined);
    if (ownRedis) redis.disconnect();
    throw e;
  }
  flusher?.start();
  if (flusher) log.info({ consumer: flusher.consumer }, 'write-behind flusher started in the gateway');

  let closing: Promise<void> | null = null;
  return {
    httpPort,
    grpcPort,
    internalPort: boundInternal,
    metrics,
    revocations,
    async reloadTls() {
      if (!tls) throw new Error('TLS is not configured (ORGENGINE_TLS_CERT_FILE, ORGENGINE_TLS_KEY_FILE)');
      await http.reloadTls();
      grpc?.reloadTls();
      log.info({ certFile: tls.certFile }, 'TLS certificate and key reloaded');
    },
    reads,
    signals,
    mutations,
    scores,
    interaction,
    flusher,
    channels,
    push,
    playback,
    close() {
      closing ??= (async () => {
        http.stopAccepting();
        if (readyTimer) clearInterval(readyTimer);
        guard?.close();
        writer?.guard.close();
        const deadline = Date.now() + api.shutdownGraceMs;
        await grpc?.shutdown(api.shutdownGraceMs);
        while (http.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        if (http.inFlight() > 0) log.warn({ inFlight: http.inFlight() }, 'shutdown grace period over with requests in flight');
        // Live connections go last, with 1001: clients reconnect (with after) to another gateway.
        http.closeWebSockets();
        push.close();
        // What the flusher already read is written and acknowledged; the rest stays in the streams for the next flusher.
        await flusher?.stop();
        await pool.end().catch(() => undefined);
        signals.close();
        scores.close();
        reads.close();
        interaction.close();
        revocations.clear();
        await channels.close();
        if (ownRedis) await closeRedis(redis);
        if (writer) await closeRedis(writer.client);
        if (!opts.tracing) await tracing.shutdown();
      })();
      return closing;
    },
  };
}
