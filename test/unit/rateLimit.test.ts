// The token buckets of api/limits.ts with an injected clock (each admit() gets
// the request's clock reading): bursts, refusals with the wait, recovery after
// the window, the service class, per-address buckets and the bounded table.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RateLimiter, retryAfterOf, type RateLimitConfig } from '../../src/api/limits.js';
import type { Caller } from '../../src/auth/caller.js';
import { isOrgError, OrgError } from '../../src/errors.js';
import { registerSecurityMetrics } from '../../src/metrics.js';

const CFG: RateLimitConfig = {
  rateReadPerSecond: 2,
  rateReadBurst: 3,
  rateMutationPerSecond: 1,
  rateMutationBurst: 1,
  ratePublishPerSecond: 0.5,
  ratePublishBurst: 1,
  rateServicePerSecond: 100,
  rateServiceBurst: 10,
  rateAddressPerSecond: 0,
  rateAddressBurst: 1,
  rateMaxBuckets: 100,
};

const student = (uid: number): Caller => ({ uid, role: 'student', lesson: 1 });

function limiter(cfg: Partial<RateLimitConfig> = {}): { rl: RateLimiter; registry: Registry } {
  const registry = new Registry();
  const { limited } = registerSecurityMetrics(registry, () => 0);
  return { rl: new RateLimiter({ ...CFG, ...cfg }, limited), registry };
}

/** The error admit() threw, or null when it let the request through. */
function refusal(f: () => void): OrgError | null {
  try {
    f();
    return null;
  } catch (e) {
    if (!isOrgError(e, 'TOO_MANY_REQUESTS')) throw e;
    return e;
  }
}

describe('rate limiter', () => {
  it('lets a burst through, refuses the next with the wait, and lets requests through again as the bucket refills', () => {
    const { rl } = limiter();
    const s = student(7);
    for (let i = 0; i < 3; i++) expect(refusal(() => rl.admit('read', s, null, 1000))).toBeNull();
    const e = refusal(() => rl.admit('read', s, null, 1000));
    expect(e?.message).toMatch(/uid 7 is over its read rate limit/);
    // 2 per second: one token is 500 ms away, announced as a whole second.
    expect(retryAfterOf(e!)).toBe(1);
    expect(refusal(() => rl.admit('read', s, null, 1400))).not.toBeNull();
    expect(refusal(() => rl.admit('read', s, null, 1500))).toBeNull();
    // Idle long enough, the bucket is full again (burst, not more).
    for (let i = 0; i < 3; i++) expect(refusal(() => rl.admit('read', s, null, 60_000))).toBeNull();
    expect(refusal(() => rl.admit('read', s, null, 60_000))).not.toBeNull();
  });

  it('keeps classes and callers apart; service tokens have their own class whatever the route', () => {
    const { rl } = limiter();
    const s = student(7);
    expect(refusal(() => rl.admit('mutation', s, null, 0))).toBeNull();
    expect(refusal(() => rl.admit('mutation', s, null, 0))).not.toBeNull();
    // Reads and publishes of the same uid, and mutations of another uid, are still allowed.
    expect(refusal(() => rl.admit('read', s, null, 0))).toBeNull();
    expect(refusal(() => rl.admit('publish', s, null, 0))).toBeNull();
    const p = refusal(() => rl.admit('publish', s, null, 0));
    expect(retryAfterOf(p!)).toBe(2);
    expect(refusal(() => rl.admit('mutation', student(8), null, 0))).toBeNull();
    const svc: Caller = { uid: 1, role: 'service', lesson: '*' };
    for (let i = 0; i < 10; i++) expect(refusal(() => rl.admit('mutation', svc, null, 0))).toBeNull();
    expect(refusal(() => rl.admit('publish', svc, null, 0))?.message).toMatch(/service rate limit/);
  });

  it('limits a client address over every class, before and after authentication', () => {
    const { rl } = limiter({ rateAddressPerSecond: 1, rateAddressBurst: 2 });
    expect(rl.limitsAddresses).toBe(true);
    expect(refusal(() => rl.admit('read', null, '10.0.0.1', 0))).toBeNull();
    expect(refusal(() => rl.admit('mutation', student(1), '10.0.0.1', 0))).toBeNull();
    expect(refusal(() => rl.admit('read', student(2), '10.0.0.1', 0))?.message).toMatch(/client address/);
    expect(refusal(() => rl.admit('read', student(2), '10.0.0.2', 0))).toBeNull();
    expect(refusal(() => rl.admit('read', null, '10.0.0.1', 1000))).toBeNull();
    expect(limiter().rl.limitsAddresses).toBe(false);
  });

  it('holds at most rateMaxBuckets buckets per table: an evicted caller starts with a full bucket', () => {
    const { rl } = limiter({ rateReadBurst: 1, rateMaxBuckets: 100 });
    expect(refusal(() => rl.admit('read', student(1), null, 0))).toBeNull();
    expect(refusal(() => rl.admit('read', student(1), null, 0))).not.toBeNull();
    for (let uid = 2; uid <= 101; uid++) rl.admit('read', student(uid), null, 0);
    expect(refusal(() => rl.admit('read', student(1), null, 0))).toBeNull();
  });

  it('counts refusals on /metrics by class and by what was limited', async () => {
    const { rl, registry } = limiter({ rateAddressPerSecond: 1, rateAddressBurst: 1 });
    for (let i = 0; i < 3; i++) refusal(() => rl.admit('mutation', student(3), `a${i}`, 0));
    refusal(() => rl.admit('read', null, 'a0', 0));
    const text = await registry.metrics();
    expect(text).toContain('orgengine_rate_limited_total{class="mutation",by="uid"} 2');
    expect(text).toContain('orgengine_rate_limited_total{class="read",by="address"} 1');
  });
});
