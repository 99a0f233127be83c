// Redis connections: one server or a Redis Cluster behind one type, with the
// project's Lua scripts defined on connect.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../../config.js';
import { coalesceWrites } from './coalesce.js';
import { defineScripts } from './scripts.js';

/** A Redis or Cluster client with our scripts defined. */
export type RedisClient = Redis | Cluster;

/** Options for createRedis. */
export interface CreateRedisOptions {
  /** ioredis autopipelining; off by default (it raised p99 several times for the gateway). */
  autoPipelining?: boolean;
  /** Commands one socket write carries at most within an event-loop turn (coalesce.ts); 1 (default): one write per command. */
  writeBatch?: number;
  connectionName?: string;
  /**
   * Retry a request across reconnects without limit instead of failing it after
   * three attempts: what BullMQ needs, whose blocking commands must wait out a reconnect.
   */
  retryForever?: boolean;
  /**
   * A connection requests wait on: nothing waits in ioredis' offline queue or
   * for a retry after a reconnection (the breaker in guard.ts answers instead),
   * and reconnecting is tried at least every `reconnectMaxMs`.
   */
  requestPath?: { reconnectMaxMs: number };
}

/** Connects to the configured target and defines the Lua scripts. */
export function createRedis(target: RedisTarget, opts: CreateRedisOptions = {}): RedisClient {
  const rp = opts.requestPath;
  const maxRetriesPerRequest = rp ? 0 : opts.retryForever ? null : 3;
  const common: RedisOptions = {
    enableAutoPipelining: opts.autoPipelining ?? false,
    maxRetriesPerRequest,
    connectionName: opts.connectionName ?? 'orgengine',
    ...(rp ? { enableOfflineQueue: false, retryStrategy: (times: number) => Math.min(times * 20, rp.reconnectMaxMs) } : {}),
  };
  let client: Redis | Cluster;
  if (target.mode === 'cluster') {
    client = new Cluster(target.nodes, {
      enableAutoPipelining: common.enableAutoPipelining,
      redisOptions: { maxRetriesPerRequest, connectionName: common.connectionName },
      scaleReads: 'master',
      ...(rp ? { enableOfflineQueue: false, clusterRetryStrategy: (times: number) => Math.min(times * 20, rp.reconnectMaxMs) } : {}),
    });
  } else {
    client = new Redis(target.url, common);
  }
  defineScripts(client);
  if ((opts.writeBatch ?? 1) > 1) coalesceWrites(client, opts.writeBatch!);
  return client;
}

/**
 * Resolves once the client is connected (true) or after `ms` (false): a
 * request-path client has no offline queue, so its first requests should not
 * race the handshake; a backend still away after `ms` is the breaker's job.
 */
export function whenReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = (): void => done(true);
    const timer = setTimeout(() => done(false), ms);
    timer.unref();
    client.on('ready', onReady);
  });
}

/**
 * Closes a client: QUIT when connected (replies in flight arrive first),
 * else drop it at once, since a QUIT queued for a server that is away would
 * wait for it forever.
 */
export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await client.quit().then(
    () => undefined,
    () => client.disconnect(),
  );
}
