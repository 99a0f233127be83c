// Token revocations of a lesson, in the lesson's slot: one hash (LessonKeys.revocations)
// written by revoke.lua, which announces each revocation on the lesson channel
// in the same step, and read whole by gateways (auth/revocation.ts).
import type { RedisClient } from './client.js';
import { lessonKeys } from './keys.js';
import { scriptCommand } from './scripts.js';

const REVOKE = scriptCommand('revoke');

/** A lesson's revocations: tokens issued at or before these epoch-ms times are refused. */
export interface RevocationList {
  /** Every token of the lesson (0: none). */
  all: number;
  /** Per user. */
  users: Map<number, number>;
}

/** The hash field of a revocation. */
export const revocationField = (uid: number | null): string => (uid === null ? 'all' : `u${uid}`);

/**
 * Refuses the lesson's tokens of `uid` (null: every user) issued at or before
 * `before` (epoch ms); kept at least `keepSeconds`. Returns the time in force
 * (a later revocation already stored wins). One round trip.
 */
export async function storeRevocation(redis: RedisClient, keyPrefix: string, lessonId: number, uid: number | null, before: number, keepSeconds: number): Promise<number> {
  const lk = lessonKeys(keyPrefix, lessonId);
  return Number(await redis[REVOKE](lk.revocations, revocationField(uid), before, keepSeconds, lk.channel));
}

/** The lesson's revocations. One round trip. */
export async function readRevocations(redis: RedisClient, keyPrefix: string, lessonId: number): Promise<RevocationList> {
  const raw = await redis.hgetall(lessonKeys(keyPrefix, lessonId).revocations);
  const out: RevocationList = { all: 0, users: new Map() };
  for (const [field, value] of Object.entries(raw)) {
    const t = Number(value);
    if (!Number.isSafeInteger(t)) continue;
    if (field === 'all') out.all = t;
    else if (/^u[1-9][0-9]{0,15}$/.test(field)) out.users.set(Number(field.slice(1)), t);
  }
  return out;
}
