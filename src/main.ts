// Wires the parts together from a validated config: the only place besides
// cli.ts that knows how everything connects.
import type { Pool } from 'mysql2/promise';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { createMysqlPool } from './store/mysql/pool.js';
import type { Registry } from 'prom-client';
import { MutationService } from './services/mutations.js';
import { createRedis, type RedisClient } from './store/redis/client.js';
import { Flusher, type FlusherOptions } from './writebehind/flusher.js';

/** Open connections and the logger. */
export interface App {
  config: Config;
  log: Logger;
  pool: Pool;
  redis: RedisClient;
  close(): Promise<void>;
}

/** Connects MySQL and Redis as configured. */
export function createApp(config: Config, opts: { log?: Logger } = {}): App {
  const log = opts.log ?? pino({ level: config.logLevel, base: { svc: 'orgengine' } }, pino.destination(2));
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

/** The in-class mutation service over the app's Redis, bounded by its config. */
export function createMutationService(app: App, opts: { metrics?: Registry; now?: () => number } = {}): MutationService {
  return new MutationService({
    redis: app.redis,
    keyPrefix: app.config.keyPrefix,
    ttlSeconds: app.config.ttlSeconds,
    wb: app.config.writeBehind,
    onlineWindowMs: app.config.api.onlineWindowMs,
    metrics: opts.metrics,
    now: opts.now,
  });
}

/** A write-behind flusher over the app's Redis and MySQL (call start(), and stop() on shutdown). */
export function createFlusher(app: App, opts: Pick<FlusherOptions, 'lessons' | 'metrics' | 'consumer' | 'onFlush'> = {}): Flusher {
  return new Flusher({
    redis: app.redis,
    pool: app.pool,
    keyPrefix: app.config.keyPrefix,
    wb: app.config.writeBehind,
    batchRows: app.config.mysqlBatchRows,
    log: app.log,
    ...opts,
  });
}
