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
import { changeLesson } from '../../src/store/redis/lessonChanges.js';
import { preEncodedJson } from '../../src/model/preEncoded.js';
import { createSubscriberClient, LessonChannels } from '../../src/store/redis/lessonChannels.js';
import { readEnter } from '../../src/store/redis/edgeReads.js';
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

describe('read service cache: soft and hard TTL, with the clock injected', () => {
  const LESSON2 = 7102;
  const prefix = uniquePrefix('readttl');
  let redis: RedisClient;
  let sub: LessonChannels;
  let reads: ReadService;
  let topo: Topology;
  let t = 1_000_000;
  let enterCalls = 0;
  let gate: Promise<void> | null = null;
  /** Channel messages are dropped while set: a lost invalidation. */
  let lose = false;
  /** The last enter.lua call: the fingerprint it was handed and whether Redis answered `unchanged`. */
  let lastEnter = { fingerprint: '', unchanged: false };

  beforeAll(async () => {
    redis = createRedis({ mode: 'single', url: TEST_REDIS_URL });
    topo = compileTestLesson({ lessonId: LESSON2, students: 200, tutors: 2, policy: 'group', seed: 8 });
    await loadTopology(redis, prefix, topo);
    const orig = redis[ENTER].bind(redis);
    (redis as { [ENTER]: typeof orig })[ENTER] = (async (...a: Parameters<typeof orig>) => {
      enterCalls++;
      if (gate) await gate;
      const reply = await orig(...a);
      lastEnter = { fingerprint: String(a[6] ?? ''), unchanged: Number((reply as unknown[])[15]) === 1 };
      return reply;
    }) as typeof orig;
    sub = new LessonChannels(createSubscriberClient({ mode: 'single', url: TEST_REDIS_URL }, `oe-test-subttl-${prefix.replace(/[^a-z0-9]/gi, '')}`), prefix);
    reads = new ReadService(redis, sub, {
      keyPrefix: prefix,
      cacheTtlMs: 6000,
      cacheSoftTtlMs: 2000,
      cacheRefreshMaxInFlight: 1,
      cacheMaxEntries: 1000,
      cacheMaxBytes: 1 << 24,
      cacheMaxLessons: 10,
      onlineCacheMs: 0,
      onlineWindowMs: 60_000,
      now: () => t,
    });
    const apply = reads.onMessage.bind(reads);
    reads.onMessage = (lessonId, m) => {
      if (!lose) apply(lessonId, m);
    };
  });

  afterAll(async () => {
    await sub.close();
    await dropLesson(redis, prefix, LESSON2);
    redis.disconnect();
  });

  const isPromise = (v: unknown): boolean => typeof (v as Promise<unknown>)?.then === 'function';
  const until = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(cond()).toBe(true);
  };
  /** Enters until the view is cached (the subscription is confirmed); returns it. */
  const warm = async (uid: number) => {
    for (let i = 0; i < 200; i++) {
      const v = reads.enter(service, LESSON2, uid, '');
      if (!isPromise(v)) return v as Awaited<typeof v>;
      await v;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('never cached');
  };

  it('serves an entry past its soft TTL at once while one background load replaces it', async () => {
    const uid = topo.positions[0]!.uid;
    const first = await warm(uid);
    expect(first.signedInAt).toBeNull();
    // A sign-in whose state message is lost: only the TTL can bring it in.
    lose = true;
    await redis.hset(lessonKeys(prefix, LESSON2).stateSignIn, String(uid), '1234');
    t += 1000;
    expect(reads.enter(service, LESSON2, uid, '')).toBe(first);
    t += 1001; // past the soft TTL (2000, less up to a quarter)
    const before = enterCalls;
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    // Served at once, and only one load however many reads arrive meanwhile.
    for (let i = 0; i < 5; i++) expect(reads.enter(service, LESSON2, uid, '')).toBe(first);
    expect(enterCalls - before).toBe(1);
    expect(reads.stats.refreshes.started).toBe(1);
    gate = null;
    open();
    await until(() => (reads.enter(service, LESSON2, uid, '') as { signedInAt: number | null }).signedInAt === 1234);
    expect(enterCalls - before).toBe(1);
    lose = false;
  });

  it('makes a request wait only past the hard TTL', async () => {
    const uid = topo.positions[1]!.uid;
    await warm(uid);
    t += 6001;
    const before = enterCalls;
    const v = reads.enter(service, LESSON2, uid, '');
    expect(isPromise(v)).toBe(true);
    await v;
    expect(enterCalls - before).toBe(1);
    expect(isPromise(reads.enter(service, LESSON2, uid, ''))).toBe(false);
  });

  it('keeps to its refresh budget: beyond it, due entries are served without a load', async () => {
    const [a, b] = [topo.positions[2]!.uid, topo.positions[3]!.uid];
    const va = await warm(a);
    const vb = await warm(b);
    t += 2500;
    const skipped = reads.stats.refreshes.skipped;
    const before = enterCalls;
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    expect(reads.enter(service, LESSON2, a, '')).toBe(va);
    expect(reads.enter(service, LESSON2, b, '')).toBe(vb);
    expect(enterCalls - before).toBe(1);
    expect(reads.stats.refreshes.skipped).toBe(skipped + 1);
    gate = null;
    const renewed = reads.stats.refreshes.unchanged;
    open();
    await until(() => reads.stats.refreshes.unchanged === renewed + 1);
    // The budget is free again: b's due entry is now refreshed (each read past the soft TTL asks once).
    await until(() => (reads.enter(service, LESSON2, b, ''), reads.stats.refreshes.unchanged === renewed + 2));
    expect(enterCalls - before).toBe(2);
    // Both loaded what they held: the entries were renewed with the very same views.
    expect(reads.enter(service, LESSON2, a, '')).toBe(va);
    expect(reads.enter(service, LESSON2, b, '')).toBe(vb);
  });

  it('a refresh that loads what the entry holds renews it as it is: same view, soft and hard TTL restarted', async () => {
    const uid = topo.positions[5]!.uid;
    const held = await warm(uid);
    t += 2500; // due
    const renewed = reads.stats.refreshes.unchanged;
    const before = enterCalls;
    expect(reads.enter(service, LESSON2, uid, '')).toBe(held);
    await until(() => reads.stats.refreshes.unchanged === renewed + 1);
    expect(enterCalls - before).toBe(1);
    // The refresh handed back the held answer's fingerprint and Redis answered `unchanged`.
    expect(lastEnter.fingerprint).toMatch(/^[0-9a-f]{40}$/);
    expect(lastEnter.unchanged).toBe(true);
    // No longer due: no load, the same object.
    expect(reads.enter(service, LESSON2, uid, '')).toBe(held);
    expect(enterCalls - before).toBe(1);
    // Past the first store's hard TTL (6000) but not the renewal's: still served at once.
    t += 4000;
    const v = reads.enter(service, LESSON2, uid, '');
    expect(isPromise(v)).toBe(false);
    expect(v).toBe(held);
    await until(() => enterCalls - before === 2 && reads.stats.refreshes.unchanged === renewed + 2);
    // A change the refresh loads replaces the view (the message lost: only the refresh brings it).
    lose = true;
    await redis.hset(lessonKeys(prefix, LESSON2).stateSignIn, String(uid), '4321');
    t += 2500;
    const heldFp = lastEnter.fingerprint;
    expect(reads.enter(service, LESSON2, uid, '')).toBe(held);
    await until(() => (reads.enter(service, LESSON2, uid, '') as { signedInAt: number | null }).signedInAt === 4321);
    expect(reads.stats.refreshes.unchanged).toBe(renewed + 2);
    // Handed the same fingerprint, Redis sent the whole changed answer.
    expect(lastEnter).toEqual({ fingerprint: heldFp, unchanged: false });
    lose = false;
  });

  it('a re-preload whose message is lost is served no later than the soft TTL plus one refresh', async () => {
    const uid = topo.positions[4]!.uid;
    const old = await warm(uid);
    lose = true;
    const v2 = await loadTopology(redis, prefix, topo);
    expect(v2).toBeGreaterThan(old.version);
    t += 1000;
    expect(reads.enter(service, LESSON2, uid, '')).toBe(old);
    t += 1001;
    expect(reads.enter(service, LESSON2, uid, '')).toBe(old);
    await until(() => (reads.enter(service, LESSON2, uid, '') as { version: number }).version === v2);
    const now = reads.enter(service, LESSON2, uid, '') as typeof old;
    expect(now.lesson.version).toBe(v2);
    lose = false;
  });

  it('a re-preload whose message arrives makes the next request wait for the new version', async () => {
    const uid = topo.positions[5]!.uid;
    const old = await warm(uid);
    const versions = reads.stats.invalidations.version;
    const v3 = await loadTopology(redis, prefix, topo);
    await until(() => reads.stats.invalidations.version > versions);
    const v = reads.enter(service, LESSON2, uid, '');
    expect(isPromise(v)).toBe(true);
    const fresh = await v;
    expect([fresh.version, fresh.lesson.version]).toEqual([v3, v3]);
    expect(fresh.version).toBeGreaterThan(old.version);
  });
});

describe('enter: the lesson-level part held per lesson version', () => {
  const LESSON3 = 7103;
  const prefix = uniquePrefix('readshared');
  let redis: RedisClient;
  let topo: Topology;
  /** Every enter read goes to Redis (no channel, no entity cache); only the shared part is held. */
  let reads: ReadService;
  /** The same reads with no shared part (its bound is too small for any lesson): the full reply each time. */
  let plain: ReadService;
  const sharedReplies: number[] = [];
  const options = { cacheTtlMs: 6000, cacheMaxEntries: 1000, cacheMaxLessons: 10, onlineCacheMs: 0, onlineWindowMs: 60_000 };

  beforeAll(async () => {
    redis = createRedis({ mode: 'single', url: TEST_REDIS_URL });
    topo = compileTestLesson({ lessonId: LESSON3, students: 300, tutors: 3, policy: 'group', seed: 11 });
    await loadTopology(redis, prefix, topo);
    const orig = redis[ENTER].bind(redis);
    (redis as { [ENTER]: typeof orig })[ENTER] = (async (...a: Parameters<typeof orig>) => {
      const r = await orig(...a);
      if (Number(r[0]) === 0) sharedReplies.push(Number(r[13]));
      return r;
    }) as typeof orig;
    reads = new ReadService(redis, null, { keyPrefix: prefix, cacheMaxBytes: 1 << 24, ...options });
    plain = new ReadService(redis, null, { keyPrefix: prefix, cacheMaxBytes: 1024, ...options });
  });

  afterAll(async () => {
    await dropLesson(redis, prefix, LESSON3);
    redis.disconnect();
  });

  /** Enters until a reply leaves out the lesson-level part (the shared part is loaded in the background). */
  const untilShared = async (uid: number) => {
    for (let i = 0; i < 200; i++) {
      await reads.enter(service, LESSON3, uid, '');
      if (sharedReplies[sharedReplies.length - 1] === 1) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('the shared part was never used');
  };

  /** The view through the shared part, checked against the full read, in value and in JSON. */
  const same = async (uid: number, room = '') => {
    const got = await reads.enter(service, LESSON3, uid, room);
    const usedShared = sharedReplies[sharedReplies.length - 1];
    const want = await plain.enter(service, LESSON3, uid, room);
    expect(sharedReplies[sharedReplies.length - 1]).toBe(0);
    expect(got).toEqual(want);
    expect(preEncodedJson(got)).toBe(JSON.stringify(want));
    return { got, usedShared };
  };

  it('fetches only the student part once the lesson-level part is held, and answers the same', async () => {
    await untilShared(topo.positions[0]!.uid);
    expect(reads.stats.sharedLoads).toBe(1);
    for (const p of topo.positions.slice(1, 40)) {
      const { usedShared } = await same(p.uid);
      expect(usedShared).toBe(1);
    }
    expect(reads.stats.sharedLoads).toBe(1);
  });

  it('never answers from a held part an in-place change made stale: the change sequence sends the full reply', async () => {
    const uid = topo.positions[1]!.uid;
    await untilShared(uid);
    const before = (await reads.enter(service, LESSON3, uid, '')).lesson.teacherUid;
    const lk = lessonKeys(prefix, LESSON3);
    const changed = await changeLesson(redis, lk, { now: Date.now(), teacherUid: before + 1 });
    expect(changed).not.toBeNull();
    const { got, usedShared } = await same(uid);
    expect(usedShared).toBe(0);
    expect(got.lesson.teacherUid).toBe(before + 1);
    // The part is loaded again for the new change sequence, and used.
    await untilShared(topo.positions[2]!.uid);
    const again = await same(topo.positions[3]!.uid);
    expect(again.usedShared).toBe(1);
    expect(again.got.lesson.teacherUid).toBe(before + 1);
  });

  it("enter.lua answers `unchanged` only while every field of the student's answer is what the fingerprint covered", async () => {
    const pos = topo.positions[7]!;
    const uid = pos.uid;
    const lk = lessonKeys(prefix, LESSON3);
    const first = await readEnter(redis, lk, uid, '');
    if (first.unchanged) throw new Error('no fingerprint was handed over');
    const fp = first.fingerprint;
    expect(fp).toMatch(/^[0-9a-f]{40}$/);
    expect(await readEnter(redis, lk, uid, '', null, fp)).toMatchObject({ unchanged: true, fingerprint: fp, version: first.version });
    // Another room of the student, or no fingerprint: the whole answer.
    expect((await readEnter(redis, lk, uid, '', null, '')).unchanged).toBe(false);
    const room = first.roomId;
    const changes: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
      ['muted itself', () => redis.sadd(lk.stateMuted(room), String(uid)), () => redis.srem(lk.stateMuted(room), String(uid))],
      ['its node muted', () => redis.sadd(lk.stateMutedNodes(room), pos.nodeId), () => redis.srem(lk.stateMutedNodes(room), pos.nodeId)],
      ['signed in', () => redis.hset(lk.stateSignIn, String(uid), '777'), () => redis.hdel(lk.stateSignIn, String(uid))],
      ['picked a group', () => redis.hset(lk.stateGroup, String(uid), pos.nodeId), () => redis.hdel(lk.stateGroup, String(uid))],
    ];
    for (const [what, change, undo] of changes) {
      await change();
      const r = await readEnter(redis, lk, uid, '', null, fp);
      expect({ what, unchanged: r.unchanged, other: r.fingerprint !== fp }).toEqual({ what, unchanged: false, other: true });
      await undo();
      expect({ what, back: (await readEnter(redis, lk, uid, '', null, fp)).unchanged }).toEqual({ what, back: true });
    }
    // An in-place change of the lesson (change sequence) and a new version end it too.
    await changeLesson(redis, lk, { now: Date.now(), teacherUid: 424242 });
    expect((await readEnter(redis, lk, uid, '', null, fp)).unchanged).toBe(false);
  });

  it('never answers from a held part of an older version after a re-preload', async () => {
    const uid = topo.positions[4]!.uid;
    await untilShared(uid);
    const old = await reads.enter(service, LESSON3, uid, '');
    const v2 = await loadTopology(redis, prefix, topo);
    const { got, usedShared } = await same(uid);
    expect(usedShared).toBe(0);
    expect([old.version < v2, got.version, got.lesson.version]).toEqual([true, v2, v2]);
    await untilShared(topo.positions[5]!.uid);
    const again = await same(topo.positions[6]!.uid);
    expect([again.usedShared, again.got.version]).toEqual([1, v2]);
  });
});
