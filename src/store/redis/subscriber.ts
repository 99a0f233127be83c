// A dedicated connection listening to lessons' shard channels (SSUBSCRIBE), on
// one Redis or on a Cluster (ioredis 5.9 routes SSUBSCRIBE to the slot's owner
// when `shardedSubscribers` is on). Whenever the connection drops, messages may
// have been missed, so listeners are told to forget what they cached.
import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../../config.js';

/** Listens to shard channels and reports messages and connection losses. */
export interface ChannelSubscriber {
  /** Resolves once Redis confirmed the subscription (messages from then on are delivered). */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Called for every message. */
  onMessage(fn: (channel: string, message: string) => void): void;
  /** Called when the connection was lost: anything published meanwhile may be missed. */
  onReset(fn: (reason: string) => void): void;
  close(): Promise<void>;
}

/** Opens a subscriber connection for the configured target. */
export function createChannelSubscriber(target: RedisTarget, connectionName = 'orgengine-sub'): ChannelSubscriber {
  const messageFns: Array<(channel: string, message: string) => void> = [];
  const resetFns: Array<(reason: string) => void> = [];
  const reset = (reason: string) => {
    for (const fn of resetFns) fn(reason);
  };
  const message = (channel: string, msg: string) => {
    for (const fn of messageFns) fn(channel, msg);
  };

  let client: Redis | Cluster;
  if (target.mode === 'cluster') {
    const c = new Cluster(target.nodes, { shardedSubscribers: true, redisOptions: { connectionName } });
    c.on('-node', () => reset('cluster node subscriber lost'));
    c.on('-subscriber', () => reset('cluster subscriber lost'));
    c.on('subscriberConnectFailed', () => reset('cluster subscriber failed to connect'));
    client = c;
  } else {
    const r = new Redis(target.url, { connectionName, autoResubscribe: true, maxRetriesPerRequest: null });
    r.on('close', () => reset('subscriber connection closed'));
    client = r;
  }
  client.on('error', () => undefined); // connection errors surface as resets and failed reads
  client.on('smessage', message);

  return {
    async subscribe(channel) {
      await client.ssubscribe(channel);
    },
    async unsubscribe(channel) {
      await client.sunsubscribe(channel);
    },
    onMessage(fn) {
      messageFns.push(fn);
    },
    onReset(fn) {
      resetFns.push(fn);
    },
    async close() {
      resetFns.length = 0;
      client.disconnect();
    },
  };
}
