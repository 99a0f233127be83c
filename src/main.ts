// Wires the shared parts together from a validated config: connections (an
// App), the mutation service, the write-behind flusher, the logger, and the
// stop signal of long-running commands. The CLI (src/cli/) and the gateway
// build these through here, so each is wired one way; gateway.ts adds what only
// a gateway has (caches, transports).
import type { Pool } from 'mysql2/promise';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import { InteractionService } from './services/interaction.js';
import { MutationService } from './services/mutations.js';
import { ScoreService } from './services/scores.js';
import type { LessonChannels } from './store/redis/lessonChannels.js';
import { createMysqlPool } from './store/mysql/pool.js';
import { createRedis, type RedisClient } from './store/redis/client.js';
import { Flusher, type FlusherOptions } from './writebehind/flusher.js';
import type { LessonRegistry } from './writebehind/registry.js';

/** Open connections and the logger. */
export interface App {
  config: Config;
  log: Logger;
  pool: Pool;
  redis: RedisClient;
  close(): Promise<void>;
}

/** The process's logger (to stderr, so stdout carries only command output). */
export function createLogger(config: Config, base: Record<string, unknown> = {}): Logger {
  return pino({ level: config.logLevel, base: { svc: 'orgengine', ...base } }, pino.destination(2));
}

/** Connects MySQL and Redis as configured. */
export function createApp(config: Config, opts: { log?: Logger } = {}): App {
  const log = opts.log ?? createLogger(config);
  const pool = createMysqlPool(config.mysqlUrl, config.mysqlPoolSize);
  const redis = createRedis(config.redis);
  redis.on('error', (e: Error) => log.warn({ err: e.message }, 'redis error'));
  return {
    config,
    log,
    pool,
    redis,
    async close() {
      await Promise.allSettled([pool.end(), redis.quit()]);
    },
  };
}

/** The in-class mutation service over `parts.redis`, bounded by the config (an App, or a gateway's own connection). */
export function createMutationService(
  parts: Pick<App, 'config' | 'redis'>,
  opts: { metrics?: Registry; now?: () => number; registry?: LessonRegistry } = {},
): MutationService {
  const { config, redis } = parts;
  return new MutationService({
    redis,
    keyPrefix: config.keyPrefix,
    ttlSeconds: config.ttlSeconds,
    wb: config.writeBehind,
    onlineWindowMs: config.api.onlineWindowMs,
    registry: opts.registry,
    metrics: opts.metrics,
    now: opts.now,
  });
}

/** The score service over `parts.redis` (ledger, totals, boards, PK rounds), bounded by the config. */
export function createScoreService(
  parts: Pick<App, 'config' | 'redis'>,
  opts: { metrics?: Registry; now?: () => number; registry?: LessonRegistry; channels?: LessonChannels | null } = {},
): ScoreService {
  const { config, redis } = parts;
  return new ScoreService({
    redis,
    keyPrefix: config.keyPrefix,
    ttlSeconds: config.ttlSeconds,
    scores: config.scores,
    wb: config.writeBehind,
    channels: opts.channels,
    maxLessons: config.api.cacheMaxLessons,
    registry: opts.registry,
    metrics: opts.metrics,
    now: opts.now,
  });
}

/** The interaction center over `parts`' Redis (the gateway passes its lesson channels so UniversalInfo is cached). */
export function createInteractionService(
  parts: Pick<App, 'config' | 'redis'>,
  opts: { metrics?: Registry; now?: () => number; registry?: LessonRegistry; channels?: LessonChannels | null; pool?: Pool | null } = {},
): InteractionService {
  const { config, redis } = parts;
  return new InteractionService({
    redis,
    keyPrefix: config.keyPrefix,
    ttlSeconds: config.ttlSeconds,
    wb: config.writeBehind,
    ia: config.interaction,
    channels: opts.channels ?? null,
    registry: opts.registry,
    metrics: opts.metrics,
    now: opts.now,
    pool: opts.pool ?? null,
  });
}

/** A write-behind flusher over `parts`' Redis and MySQL (call start(), and stop() on shutdown). */
export function createFlusher(
  parts: Pick<App, 'config' | 'redis' | 'pool' | 'log'>,
  opts: Pick<FlusherOptions, 'lessons' | 'metrics' | 'consumer' | 'onFlush' | 'tracing'> = {},
): Flusher {
  const { config } = parts;
  return new Flusher({
    redis: parts.redis,
    pool: parts.pool,
    keyPrefix: config.keyPrefix,
    wb: config.writeBehind,
    batchRows: config.mysqlBatchRows,
    log: parts.log,
    rollbackCheckEveryMs: config.writeBehind.rollbackCheckSeconds * 1000,
    ...opts,
  });
}

/**
 * Resolves with the first SIGINT or SIGTERM the process gets from now on: how
 * every long-running command learns to drain and stop. Call it before starting
 * up, so a signal during start-up is not lost.
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}
