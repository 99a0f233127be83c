// Token revocation against real Redis (one server and the Cluster, where the
// revocation hash must share the lesson's slot): revoke.lua stores and
// announces in one step, a gateway's Revocations holder loads a lesson's list
// with its first request, applies what the channel says, and re-reads the list
// after refreshMs (injected clock) when a message was lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocation.js';
import type { Claims } from '../../src/auth/tokens.js';
import { isOrgError } from '../../src/errors.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { createSubscriberClient, LessonChannels } from '../../src/store/redis/lessonChannels.js';
import { readRevocations, revocationField, storeRevocation } from '../../src/store/redis/revocationStore.js';
import { revokeTokens } from '../../src/services/revocation.js';
import type { RedisTarget } from '../../src/config.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { until } from '../support/wait.js';

const LESSON = 8101;

const targets: Array<[string, () => RedisTarget]> = [
  ['single Redis', () => ({ mode: 'single', url: TEST_REDIS_URL })],
  [
    'Redis Cluster',
    () => ({
      mode: 'cluster',
      nodes: testClusterNodes().map((n) => {
        const [host, port] = n.split(':');
        return { host: host!, port: Number(port) };
      }),
    }),
  ],
];

const claims = (uid: number, iat: number, lesson: number | '*' = LESSON): Claims => ({ uid, role: lesson === '*' ? 'service' : 'student', lesson, exp: 2e9, iat });

/** 'ok', 'revoked', or the promise's outcome once settled. */
async function outcome(r: Revocations, c: Claims, now?: number): Promise<string> {
  try {
    await r.check(c, now);
    return 'ok';
  } catch (e) {
    return isOrgError(e, 'UNAUTHENTICATED') ? 'revoked' : `error ${String(e)}`;
  }
}

describe.each(targets)('token revocation on %s', (_mode, target) => {
  let redis: RedisClient;
  let channels: LessonChannels;
  let prefix: string;
  let loads = 0;
  let clock = 0;
  let revocations: Revocations;

  beforeAll(async () => {
    prefix = uniquePrefix('revoke');
    redis = createRedis(target());
    channels = new LessonChannels(createSubscriberClient(target(), 'orgengine-sub-test'), prefix);
    revocations = new Revocations(
      {
        load: (l) => {
          loads++;
          return readRevocations(redis, prefix, l);
        },
        watch: (l) => channels.add(l),
        unwatch: (l) => channels.remove(l),
      },
      { refreshMs: 1000, maxLessons: 10, now: () => clock },
    );
    channels.listen({ onMessage: (l, m) => (m.kind === 'revoke' ? revocations.apply(l, m.uid, m.before) : undefined) });
  });

  afterAll(async () => {
    revocations?.clear();
    await channels?.close();
    await redis?.del(lessonKeys(prefix, LESSON).revocations);
    redis?.disconnect();
  });

  it('keeps the revocation hash in the lesson slot and a later revocation wins', async () => {
    const lk = lessonKeys(prefix, LESSON);
    expect(lk.revocations).toContain(lk.tag);
    expect(await storeRevocation(redis, prefix, LESSON, 5, 2000, 3600)).toBe(2000);
    // An earlier time does not undo a later one.
    expect(await storeRevocation(redis, prefix, LESSON, 5, 1000, 3600)).toBe(2000);
    expect(await redis.hget(lk.revocations, revocationField(5))).toBe('2000');
    expect(await redis.ttl(lk.revocations)).toBeGreaterThan(3000);
    const list = await readRevocations(redis, prefix, LESSON);
    expect(list.all).toBe(0);
    expect([...list.users]).toEqual([[5, 2000]]);
  });

  it('loads a lesson on its first check, then answers from memory; the channel applies revocations without a read', async () => {
    const before = loads;
    // The first check waits for the one read: uid 5's tokens up to 2000 are refused.
    expect(await outcome(revocations, claims(5, 1999))).toBe('revoked');
    expect(loads).toBe(before + 1);
    expect(revocations.check(claims(5, 2001))).toBeUndefined();
    expect(revocations.check(claims(6, 10))).toBeUndefined();
    // Service tokens for every lesson are outside per-lesson lists.
    expect(revocations.check(claims(1, 0, '*'))).toBeUndefined();
    await channels.settled();
    await revokeTokens(redis, prefix, LESSON, 6, 5000);
    await until('uid 6 revoked through the channel', async () => ((await outcome(revocations, claims(6, 10))) === 'revoked' ? true : undefined));
    await revokeTokens(redis, prefix, LESSON, null, 7000);
    await until('every token of the lesson revoked through the channel', async () => ((await outcome(revocations, claims(99, 6999))) === 'revoked' ? true : undefined));
    expect(await outcome(revocations, claims(99, 7001))).toBe('ok');
    // Everything came from the channel: no read since the first.
    expect(loads).toBe(before + 1);
  });

  it('refuses a revoked token in every request that arrives while the first load runs, with one read for all', async () => {
    const lesson = LESSON + 1;
    await storeRevocation(redis, prefix, lesson, 7, 3000, 3600);
    const before = loads;
    const outcomes = await Promise.all([outcome(revocations, claims(7, 2000, lesson)), outcome(revocations, claims(7, 2500, lesson)), outcome(revocations, claims(8, 2500, lesson))]);
    expect(outcomes).toEqual(['revoked', 'revoked', 'ok']);
    expect(loads).toBe(before + 1);
    await redis.del(lessonKeys(prefix, lesson).revocations);
  });

  it('applies a revocation whose message was lost once the list is older than refreshMs', async () => {
    // Written without the script: no channel message.
    await redis.hset(lessonKeys(prefix, LESSON).revocations, revocationField(42), '9000');
    const c = claims(42, 8000);
    expect(await outcome(revocations, c)).toBe('ok');
    // Past the refresh bound: this check starts a re-read and goes on with the list held.
    clock += 1001;
    const before = loads;
    expect(await outcome(revocations, c)).toBe('ok');
    expect(loads).toBe(before + 1);
    await until('the re-read list applied', async () => ((await outcome(revocations, c)) === 'revoked' ? true : undefined));
  });

  it('re-reads a lesson whose channel messages may have been missed', async () => {
    await redis.hset(lessonKeys(prefix, LESSON).revocations, revocationField(43), '9000');
    const c = claims(43, 8000);
    expect(await outcome(revocations, c)).toBe('ok');
    revocations.distrust([LESSON]);
    await outcome(revocations, c);
    await until('the re-read list applied', async () => ((await outcome(revocations, c)) === 'revoked' ? true : undefined));
  });
});
