// Wires the parts together from a validated config: the only place besides
// cli.ts that knows how everything connects.
import type { Pool } from 'mysql2/promise';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { createMysqlPool } from './store/mysql/pool.js';
import { createRedis, type RedisClient } from './store/redis/client.js';

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
