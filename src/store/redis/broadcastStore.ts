// Org-node broadcasts travel on the lesson's shard channel (grammar in
// channel.ts), the channel every gateway holding a WebSocket of the lesson
// already listens to: one SPUBLISH reaches them all and stores nothing.
import { formatChannelMessage } from './channel.js';
import type { RedisClient } from './client.js';
import type { LessonKeys } from './keys.js';

/** One broadcast to an org node and everything under it. */
export interface NodeBroadcast {
  nodeId: string;
  by: number;
  at: number;
  data: string;
}

/** Announces a broadcast to every gateway of the lesson; returns how many subscriber connections Redis delivered it to. */
export async function publishBroadcast(redis: RedisClient, lk: LessonKeys, b: NodeBroadcast): Promise<number> {
  return Number(await redis.spublish(lk.channel, formatChannelMessage({ kind: 'broadcast', ...b })));
}
