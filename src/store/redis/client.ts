// Redis connections: one server or a Redis Cluster behind one type, with the
// project's Lua scripts defined on connect.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../../config.js';
import { defineScripts } from './scripts.js';

/** A Redis or Cluster client with our scripts defined. */
export type RedisClient = Redis | Cluster;

/** Options for createRedis. */
export interface CreateRedisOptions {
  /** ioredis autopipelining; off by default (it raised p99 several times for the gateway). */
  autoPipelining?: boolean;
  connectionName?: string;
  /**
   * Retry a request across reconnects without limit instead of failing it after
   * three attempts: what BullMQ needs, whose blocking commands must wait out a reconnect.
   */
  retryForever?: boolean;
}

/** Connects to the configured target and defines the Lua scripts. */
export function createRedis(target: RedisTarget, opts: CreateRedisOptions = {}): RedisClient {
  const maxRetriesPerRequest = opts.retryForever ? null : 3;
  const common: RedisOptions = {
    enableAutoPipelining: opts.autoPipelining ?? false,
    maxRetriesPerRequest,
    connectionName: opts.connectionName ?? 'orgengine',
  };
  let client: Redis | Cluster;
  if (target.mode === 'cluster') {
    client = new Cluster(target.nodes, {
      enableAutoPipelining: common.enableAutoPipelining,
      redisOptions: { maxRetriesPerRequest, connectionName: common.connectionName },
      scaleReads: 'master',
    });
  } else {
    client = new Redis(target.url, common);
  }
  defineScripts(client);
  return client;
}
