// Token revocation: refuse a lesson's tokens of one user, or every token of the
// lesson, issued at or before a moment. Stored in the lesson's slot and
// announced on its channel in one step (revocationStore.ts); every gateway
// applies it from the channel, or from its backstop re-read within
// ORGENGINE_REVOCATION_REFRESH_MS (auth/revocation.ts). `revokeTokens` is the
// one entry point: the CLI, the service API (HTTP and gRPC) and the
// interaction center's kick call it.
import { authorizeRevoke } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import { MAX_TOKEN_TTL_SECONDS } from '../auth/tokens.js';
import { backendError, OrgError } from '../errors.js';
import type { RedisClient } from '../store/redis/client.js';
import { storeRevocation } from '../store/redis/revocationStore.js';

/** What a revocation answers. */
export interface RevokeResult {
  lessonId: number;
  uid: number | null;
  /** Epoch ms in force: tokens issued at or before it are refused. */
  before: number;
}

/** A revocation time: epoch ms, not in the future by more than a minute (clock skew), default now. */
export function parseRevokeBefore(v: unknown, now: number): number {
  if (v === null || v === undefined) return now;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new OrgError('BAD_REQUEST', `before must be epoch milliseconds, got ${JSON.stringify(v)}`);
  if (v > now + 60_000) throw new OrgError('BAD_REQUEST', `before must not be in the future (got ${new Date(v).toISOString()}); tokens not yet issued cannot be revoked`);
  return v;
}

/**
 * Refuses the lesson's tokens of `uid` (null: every token of the lesson)
 * issued at or before `before` (epoch ms). No authorisation: callers check it.
 * One Redis round trip.
 */
export async function revokeTokens(redis: RedisClient, keyPrefix: string, lessonId: number, uid: number | null, before: number): Promise<RevokeResult> {
  const inForce = await storeRevocation(redis, keyPrefix, lessonId, uid, before, MAX_TOKEN_TTL_SECONDS).catch((e: unknown) => {
    throw backendError(e);
  });
  return { lessonId, uid, before: inForce };
}

/** Revocation for authenticated callers (the service API). */
export class RevocationService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Revokes for a caller allowed to (authorizeRevoke); `before` as given (epoch ms) or null for now. */
  revoke(caller: Caller, lessonId: number, uid: number | null, before: unknown): Promise<RevokeResult> {
    authorizeRevoke(caller, lessonId);
    return revokeTokens(this.redis, this.keyPrefix, lessonId, uid, parseRevokeBefore(before, this.now()));
  }
}
