// WebSocket presence in the rooms' partitioned online sets (the sets HTTP
// heartbeats write): one ws_presence.lua call per lesson per interval carries
// every member a gateway holds a connection for.
import type { RedisClient } from './client.js';
import type { LessonKeys } from './keys.js';
import { scriptCommand } from './scripts.js';

const WS_PRESENCE = scriptCommand('wsPresence');

/** Members online in one room partition. */
export interface PresenceGroup {
  roomId: string;
  partition: number;
  uids: readonly number[];
}

/** Marks every member of `groups` online at `now` in one round trip; returns how many were written. */
export async function writePresence(redis: RedisClient, lk: LessonKeys, groups: readonly PresenceGroup[], now: number, windowMs: number, ttlSeconds: number): Promise<number> {
  const args: Array<string | number> = [];
  for (const g of groups) {
    if (g.uids.length === 0) continue;
    args.push(g.roomId, g.partition, g.uids.length);
    for (const u of g.uids) args.push(u);
  }
  if (args.length === 0) return 0;
  return Number(await redis[WS_PRESENCE](lk.head, now, windowMs, ttlSeconds, ...args));
}
