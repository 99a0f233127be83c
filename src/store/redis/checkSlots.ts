// The cluster-wide limit on running checks: a counting semaphore in the queue
// Redis whose holders have leases, so a worker killed mid-check frees its slot
// when its lease runs out (lua/check_slot.lua).
import type { RedisClient } from './client.js';
import { scriptCommand } from './scripts.js';

const CHECK_SLOT = scriptCommand('checkSlot');

/** Result of asking for a check slot. */
export interface SlotGrant {
  granted: boolean;
  holders: number;
}

/** Takes (or renews) one of `max` cluster-wide check slots for `holder`, leased for `leaseMs`. */
export async function acquireCheckSlot(redis: RedisClient, key: string, holder: string, leaseMs: number, max: number, now = Date.now()): Promise<SlotGrant> {
  const [granted, holders] = await redis[CHECK_SLOT](key, 'acquire', holder, now, leaseMs, max);
  return { granted: granted === 1, holders };
}

/** Gives a check slot back. */
export async function releaseCheckSlot(redis: RedisClient, key: string, holder: string): Promise<void> {
  await redis[CHECK_SLOT](key, 'release', holder, 0, 0, 0);
}
