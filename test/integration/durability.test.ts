// Replica durability against a Redis without replicas: WAIT comes back short,
// so the write answers 503 BACKEND_UNAVAILABLE saying it may or may not have
// been applied; a refused write (nothing written) keeps its own error; memory
// durability acknowledges as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrgError } from '../../src/errors.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { MutationStore } from '../../src/store/redis/mutationStore.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { compileTestLesson, dropLessonKeys, loadTopology } from '../support/lesson.js';

const LESSON = 7501;

describe('replica durability', () => {
  const prefix = uniquePrefix('dur');
  let redis: RedisClient;
  let uids: number[];
  const store = (durability: 'memory' | 'replica') =>
    new MutationStore({
      redis,
      keyPrefix: prefix,
      ttlSeconds: 3600,
      maxStreamLength: 1000,
      maxDynamicGroupsPerTeam: 5,
      onlineWindowMs: 60_000,
      durability: durability === 'memory' ? { mode: 'memory' } : { mode: 'replica', replicas: 1, timeoutMs: 20 },
    });

  beforeAll(async () => {
    redis = createRedis({ mode: 'single', url: TEST_REDIS_URL });
    const topo = compileTestLesson({ lessonId: LESSON, students: 50, tutors: 1, policy: 'group', seed: 1 });
    uids = topo.positions.map((p) => p.uid);
    await loadTopology(redis, prefix, topo);
  });

  afterAll(async () => {
    await dropLessonKeys(redis, prefix, LESSON);
    redis.disconnect();
  });

  it('answers 503 that the write may or may not have been applied when WAIT comes back short', async () => {
    const e = await store('replica').pickGroup(LESSON, uids[0]!, null, Date.now()).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(OrgError);
    expect((e as OrgError).code).toBe('BACKEND_UNAVAILABLE');
    expect((e as OrgError).message).toMatch(/may or may not/);
    expect((e as OrgError).details).toEqual({ durability: 'replica', replicasConfirmed: 0, replicasRequired: 1 });
    // It was applied on the master here: the retry under memory durability sees it done.
    const again = await store('memory').pickGroup(LESSON, uids[0]!, null, Date.now());
    expect(again.changed).toBe(false);
  });

  it('keeps a refused write\'s own error (nothing was written, whatever WAIT says)', async () => {
    const e = await store('replica').pickGroup(LESSON, uids[1]!, 'no-such-group', Date.now()).then(
      () => null,
      (x: unknown) => x,
    );
    expect((e as OrgError).code).not.toBe('BACKEND_UNAVAILABLE');
  });
});
