// The read service's cache rules against real Redis: single-flight misses, no
// store when an invalidation raced the load, and a lost subscriber connection
// retiring everything cached once the lessons are subscribed again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/auth/caller.js';
import { isOrgError } from '../../src/errors.js';
import type { Topology } from '../../src/model/topology.js';
import { ReadService } from '../../src/services/reads.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { formatChannelMessage } from '../../src/store/redis/channel.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { createSubscriberClient, LessonChannels } from '../../src/store/redis/lessonChannels.js';
import { scriptCommand } from '../../src/store/redis/scripts.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { compileTestLesson, dropLesson, loadTopology } from '../support/lesson.js';

const LESSON = 7101;
const service: Caller = { uid: 1, role: 'service', lesson: '*' };
const ENTER = scriptCommand('enter');
const READ_POSITION = scriptCommand('readPosition');

describe('read service cache', () => {
  const prefix = uniquePrefix('reads');
  const subName = `oe-test-sub-${prefix.replace(/[^a-z0-9]/gi, '')}`;
  let redis: RedisClient;
  let sub: LessonChannels;
  let reads: ReadService;
  let topo: Topology;
  let enterCalls = 0;
  let gate: Promise<void> | null = null;

  beforeAll(async () => {
    redis = createRedis({ mode: 'single', url: TEST_REDIS_URL });
    topo = compileTestLesson({ lessonId: LESSON, students: 300, tutors: 2, policy: 'group', seed: 5 });
    await loadTopology(redis, prefix, topo);
    // Count (and optionally hold) enter round trips on the real client.
    const orig = redis[ENTER].bind(redis);
    (redis as { [ENTER]: typeof orig })[ENTER] = (async (...a: Parameters<typeof orig>) => {
      enterCalls++;
      if (gate) await gate;
      return orig(...a);
    }) as typeof orig;
    sub = new LessonChannels(createSubscriberClient({ mode: 'single', url: TEST_REDIS_URL }, subName), prefix);
    reads = new ReadService(redis, sub, {
      keyPrefix: prefix,
      cacheTtlMs: 60_000,
      cacheMaxEntries: 1000,
      cacheMaxBytes: 1 << 24,
      cacheMaxLessons: 10,
      onlineCacheMs: 0,
      onlineWindowMs: 60_000,
    });
  });

  afterAll(async () => {
    await sub.close();
    await dropLesson(redis, prefix, LESSON);
    redis.disconnect();
  });

  const warm = async (uid: number) => {
    for (let i = 0; i < 200 && reads.stats.hits.enter === 0; i++) {
      await reads.enter(service, LESSON, uid, '');
      await new Promise((r) => setTimeout(r, 5));
    }
    const before = enterCalls;
    await reads.enter(service, LESSON, uid, '');
    expect(enterCalls).toBe(before);
  };

  it('shares one round trip among concurrent misses and serves repeats with none', async () => {
    const uid = topo.positions[0]!.uid;
    await warm(uid);
    const other = topo.positions[1]!.uid;
    const before = enterCalls;
    const views = await Promise.all(Array.from({ length: 20 }, () => reads.enter(service, LESSON, other, 'main')));
    expect(enterCalls - before).toBe(1);
    expect(new Set(views).size).toBe(1);
    await reads.enter(service, LESSON, other, 'main');
    expect(enterCalls - before).toBe(1);
  });

  it('does not store a load that an invalidation overtook', async () => {
    const uid = topo.positions[2]!.uid;
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    const pending = reads.enter(service, LESSON, uid, '');
    reads.onMessage(LESSON, { kind: 'state', uid });
    open();
    gate = null;
    await pending;
    const before = enterCalls;
    await reads.enter(service, LESSON, uid, '');
    expect(enterCalls - before).toBe(1);
    await reads.enter(service, LESSON, uid, '');
    expect(enterCalls - before).toBe(1);
  });

  it('keeps its entries through signal messages, which arrive several times a second per hot room', async () => {
    const uid = topo.positions[4]!.uid;
    const other = topo.positions[5]!.uid;
    const lk = lessonKeys(prefix, LESSON);
    await reads.enter(service, LESSON, uid, '');
    const before = enterCalls;
    await reads.enter(service, LESSON, uid, '');
    expect(enterCalls).toBe(before);
    const states = reads.stats.invalidations.state;
    for (let seq = 1; seq <= 20; seq++) await redis.spublish(lk.channel, formatChannelMessage({ kind: 'signal', roomId: 'main', seq }));
    // A per-student message for someone else, sent last: once it is applied, so were the signals before it.
    await redis.spublish(lk.channel, formatChannelMessage({ kind: 'state', uid: other }));
    for (let i = 0; i < 200 && reads.stats.invalidations.state === states; i++) await new Promise((r) => setTimeout(r, 5));
    expect(reads.stats.invalidations.state).toBe(states + 1);
    await reads.enter(service, LESSON, uid, '');
    expect(enterCalls).toBe(before);
    // The same messages as anything unknown would have dropped the lesson.
    await redis.spublish(lk.channel, 'signal-ish:main:1');
    for (let i = 0; i < 200 && enterCalls === before; i++) {
      await reads.enter(service, LESSON, uid, '');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(enterCalls).toBe(before + 1);
  });

  it('a moved student (pos:<uid>) loses only its own position and enter entries', async () => {
    const moved = topo.positions[6]!.uid;
    const other = topo.positions[7]!.uid;
    const lk = lessonKeys(prefix, LESSON);
    let positionCalls = 0;
    const orig = redis[READ_POSITION].bind(redis);
    (redis as { [READ_POSITION]: typeof orig })[READ_POSITION] = (async (...a: Parameters<typeof orig>) => {
      positionCalls++;
      return orig(...a);
    }) as typeof orig;
    try {
      for (const uid of [moved, other]) {
        await reads.enter(service, LESSON, uid, '');
        await reads.position(service, LESSON, uid);
      }
      const enters = enterCalls;
      const positions = positionCalls;
      const before = reads.stats.invalidations.pos;
      await redis.spublish(lk.channel, formatChannelMessage({ kind: 'pos', uid: moved }));
      for (let i = 0; i < 200 && reads.stats.invalidations.pos === before; i++) await new Promise((r) => setTimeout(r, 5));
      expect(reads.stats.invalidations.pos).toBe(before + 1);
      // The other student is still served from the cache: the lesson was not dropped.
      await reads.enter(service, LESSON, other, '');
      await reads.position(service, LESSON, other);
      expect([enterCalls - enters, positionCalls - positions]).toEqual([0, 0]);
      await reads.enter(service, LESSON, moved, '');
      await reads.position(service, LESSON, moved);
      expect([enterCalls - enters, positionCalls - positions]).toEqual([1, 1]);
    } finally {
      (redis as { [READ_POSITION]: typeof orig })[READ_POSITION] = orig;
    }
  });

  it('retires everything cached once re-subscribed after the subscriber connection was lost, then caches again', async () => {
    const uid = topo.positions[3]!.uid;
    await reads.enter(service, LESSON, uid, '');
    const before = enterCalls;
    await reads.enter(service, LESSON, uid, '');
    expect(enterCalls).toBe(before);
    const list = (await redis.client('LIST')) as string;
    const id = list.split('\n').find((l) => l.includes(`name=${subName}`))?.match(/^id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    const resets = reads.stats.invalidations.reset;
    await redis.client('KILL', 'ID', id!);
    for (let i = 0; i < 200 && reads.stats.invalidations.reset === resets; i++) await new Promise((r) => setTimeout(r, 5));
    expect(reads.stats.invalidations.reset).toBeGreaterThan(resets);
    // Until the lesson is confirmed again, what was held stays servable (within its TTL);
    // the confirmation retires it, since messages may have been missed meanwhile.
    for (let i = 0; i < 200 && !sub.isSubscribed(LESSON); i++) await new Promise((r) => setTimeout(r, 5));
    expect(sub.isSubscribed(LESSON)).toBe(true);
    await reads.enter(service, LESSON, uid, '');
    expect(enterCalls).toBe(before + 1);
    // Re-subscribed after the reconnect: a later read is cached again.
    let cached = false;
    for (let i = 0; i < 200 && !cached; i++) {
      const n = enterCalls;
      await reads.enter(service, LESSON, uid, '');
      cached = enterCalls === n;
      if (!cached) await new Promise((r) => setTimeout(r, 10));
    }
    expect(cached).toBe(true);
  });

  it('authorises every read itself, before the cache or Redis is asked', () => {
    const [a, b] = [topo.positions[5]!.uid, topo.positions[6]!.uid];
    const student: Caller = { uid: a, role: 'student', lesson: LESSON };
    const elsewhere: Caller = { uid: a, role: 'student', lesson: LESSON + 1 };
    const tutor: Caller = { uid: 9, role: 'tutor', lesson: LESSON };
    const code = (f: () => unknown): string => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return isOrgError(e) ? e.code : 'other';
      }
    };
    const before = enterCalls;
    expect(code(() => reads.lessonView(elsewhere, LESSON))).toBe('FORBIDDEN');
    expect(code(() => reads.room(elsewhere, LESSON, 'main'))).toBe('FORBIDDEN');
    expect(code(() => reads.node(elsewhere, LESSON, 'root', { children: true, parent: false, source: false }))).toBe('FORBIDDEN');
    expect(code(() => reads.members(elsewhere, LESSON, 'main', { partition: null, cursor: null, limit: 10 }))).toBe('FORBIDDEN');
    expect(code(() => reads.online(elsewhere, LESSON, 'main'))).toBe('FORBIDDEN');
    expect(code(() => reads.position(student, LESSON, b))).toBe('FORBIDDEN');
    expect(code(() => reads.enter(student, LESSON, b, ''))).toBe('FORBIDDEN');
    expect(code(() => reads.enter(elsewhere, LESSON, null, ''))).toBe('FORBIDDEN');
    expect(code(() => reads.enter(tutor, LESSON, null, ''))).toBe('BAD_REQUEST');
    expect(enterCalls).toBe(before);
  });
});
