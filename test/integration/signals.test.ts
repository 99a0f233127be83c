// Signals end to end at the service level, on one Redis and on the 3-master
// Cluster: publish script, tail reads through the local cache, notifications
// over sharded pub/sub, the staleness backstop, eviction and rebuild.
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisTarget, SignalConfig } from '../../src/config.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { createSubscriberClient, LessonChannels } from '../../src/store/redis/lessonChannels.js';
import { publishSignal } from '../../src/store/redis/signalStore.js';
import type { Caller } from '../../src/auth/caller.js';
import { createSignalRuntime, SignalService, type SignalRuntime } from '../../src/services/signals.js';
import { registerSignalCacheMetrics } from '../../src/skiplist/signalMetrics.js';
import { dropLessonKeys, loadSyntheticLesson } from '../support/lesson.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { sleep, until as untilEvery } from '../support/wait.js';

const targets: Array<[string, () => RedisTarget]> = [
  ['single Redis', () => ({ mode: 'single', url: TEST_REDIS_URL })],
  [
    'Redis Cluster',
    () => ({
      mode: 'cluster',
      nodes: testClusterNodes().map((hp) => {
        const i = hp.lastIndexOf(':');
        return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
      }),
    }),
  ],
];

const SIGNALS: SignalConfig = {
  cache: true,
  cacheBuckets: 4,
  cacheRoomsPerBucket: 64,
  cacheBytesPerBucket: 8 * 1024 * 1024,
  maxStalenessMs: 60_000,
  retain: 1000,
  maxPayloadBytes: 256,
  maxReadLimit: 100,
};

const WB = { maxStreamLength: 100_000 };


const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10000): Promise<T> => untilEvery(what, probe, timeoutMs, 20);

describe.each(targets)('signals on %s', (_name, target) => {
  const prefix = uniquePrefix('sig');
  const lessonA = 700_000 + Math.floor(Math.random() * 90_000);
  const lessonB = lessonA + 1;
  let redis: RedisClient;
  let rooms: string[];
  let tutorRoom: string;
  const gateways: TestGateway[] = [];
  const teacher: Caller = { uid: 1, role: 'teacher', lesson: lessonA };
  const student: Caller = { uid: 500, role: 'student', lesson: lessonA };
  const service: Caller = { uid: 2, role: 'service', lesson: '*' };

  type TestGateway = SignalRuntime & { channels: LessonChannels; subName: string; shutdown(): Promise<void> };
  // A gateway with its own cache and subscriber connection; `now` may be a hand-moved clock.
  function gateway(over: Partial<SignalConfig> = {}, now?: () => number, subName = `orgengine-sub-${randomUUID()}`): TestGateway {
    const signals = { ...SIGNALS, ...over };
    const channels = new LessonChannels(createSubscriberClient(target(), subName), prefix);
    const rt = createSignalRuntime({ redis, config: { keyPrefix: prefix, ttlSeconds: 600, signals, writeBehind: WB }, channels, now });
    const gw: TestGateway = {
      ...rt,
      channels,
      subName,
      async shutdown() {
        rt.close();
        await channels.close();
      },
    };
    gateways.push(gw);
    return gw;
  }
  // A gateway without cache: publishing through it reaches cached gateways only by notification.
  const direct = (over: Partial<SignalConfig> = {}, writeBehind = WB) =>
    new SignalService({ redis, config: { keyPrefix: prefix, ttlSeconds: 600, signals: { ...SIGNALS, ...over, cache: false }, writeBehind }, cache: null });

  beforeAll(async () => {
    redis = createRedis(target());
    const topo = await loadSyntheticLesson(redis, prefix, lessonA, { students: 40, tutors: 2 });
    await loadSyntheticLesson(redis, prefix, lessonB, { students: 10, tutors: 1, policy: 'three-screen' });
    rooms = topo.rooms.map((r) => r.roomId);
    tutorRoom = rooms.find((r) => r.endsWith('.in'))!;
    expect(rooms).toContain('main');
  });

  afterAll(async () => {
    if (!redis) return;
    await Promise.all(gateways.map((g) => g.shutdown()));
    await dropLessonKeys(redis, prefix, lessonA, rooms);
    await dropLessonKeys(redis, prefix, lessonB, ['main']);
    await redis.quit();
  });

  it('publishes with the next seq, trims, expires and notifies on the lesson channel', async () => {
    const lk = lessonKeys(prefix, lessonA);
    const room = rooms.find((r) => r.endsWith('.after'))!;
    const sub = createSubscriberClient(target(), `orgengine-sub-${randomUUID()}`);
    const heard: string[] = [];
    sub.on('smessage', (ch: string, msg: string) => ch === lk.channel && heard.push(msg));
    await sub.ssubscribe(lk.channel);
    const svc = direct({ retain: 5 });
    const seqs: number[] = [];
    for (let i = 0; i < 8; i++) seqs.push((await svc.publish(teacher, lessonA, room, `{"page":${i}}`)).seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await redis.zcard(lk.signals(room))).toBe(5);
    expect(await redis.ttl(lk.signals(room))).toBeGreaterThan(0);
    expect(await redis.ttl(lk.signalSeq(room))).toBeGreaterThan(0);
    const page = await svc.read(student, lessonA, room, 0, 100);
    expect(page).toMatchObject({ firstSeq: 4, lastSeq: 8, truncated: true, more: false });
    expect(page.signals.map((s) => s.data)).toEqual([3, 4, 5, 6, 7].map((i) => `{"page":${i}}`));
    expect(page.signals.every((s) => s.by === teacher.uid)).toBe(true);
    await until('8 notifications', async () => (heard.length >= 8 ? true : undefined));
    expect(heard).toEqual(seqs.map((s) => `signal:${room}:${s}`));
    await sub.quit();
  });

  it('subscribes a lesson asked for while the subscriber connection is still being set up', async () => {
    // A channel added on 'connect' is the moment ioredis would write SSUBSCRIBE
    // into its handshake and then fail its own ready check (ioredis#2037).
    const client = createSubscriberClient(target(), `orgengine-sub-${randomUUID()}`);
    const errors: Error[] = [];
    const heard: number[] = [];
    const sub = new LessonChannels(client, prefix, (e) => errors.push(e));
    sub.listen({ onMessage: (l, m) => l === lessonA && m.kind === 'signal' && heard.push(m.seq) });
    const added = new Promise<void>((resolve) =>
      client.once('connect', () => {
        sub.add(lessonA);
        resolve();
      }),
    );
    try {
      await added;
      await until('the subscription to be confirmed', async () => ((await Promise.race([sub.settled().then(() => true), sleep(50)])) ? true : undefined));
      const { seq } = await direct().publish(teacher, lessonA, 'main', 'hello');
      await until('the notification', async () => (heard.includes(seq) ? true : undefined));
      expect(errors.map((e) => e.message)).toEqual([]);
    } finally {
      await sub.close();
    }
  });

  it('records every signal on the write-behind stream, and refuses to publish when the stream is full', async () => {
    const lk = lessonKeys(prefix, lessonA);
    const room = rooms.find((r) => r.endsWith('.before'))!;
    const svc = direct();
    const before = await redis.xlen(lk.writeBehind);
    const a = await svc.publish(teacher, lessonA, room, '{"quiz":"start"}');
    const b = await svc.publish(service, lessonA, room, 'second');
    const entries = (await redis.xrange(lk.writeBehind, '-', '+')).slice(before);
    const records = entries.map(([, f]) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i]!, f[2 * i + 1]!])));
    expect(records).toEqual([
      { e: 'signal', v: expect.stringMatching(/^[0-9]+$/), r: room, s: String(a.seq), t: String(a.at), u: String(teacher.uid), d: '{"quiz":"start"}' },
      { e: 'signal', v: expect.stringMatching(/^[0-9]+$/), r: room, s: String(b.seq), t: String(b.at), u: String(service.uid), d: 'second' },
    ]);
    expect(Number(records[1]!.v)).toBeGreaterThan(Number(records[0]!.v));
    expect(await redis.get(lk.stateVersion)).toBe(records[1]!.v);
    // At the bound nothing is written: no seq, no zset entry, no record, no notification.
    const full = direct({}, { maxStreamLength: before + 2 });
    await expect(full.publish(teacher, lessonA, room, 'refused')).rejects.toMatchObject({ code: 'BACKPRESSURE', httpStatus: 503 });
    expect(await redis.xlen(lk.writeBehind)).toBe(before + 2);
    expect(Number(await redis.get(lk.signalSeq(room)))).toBe(b.seq);
    expect(await redis.zcard(lk.signals(room))).toBe(b.seq);
  });

  it('rejects bad input and unknown lessons and rooms with typed errors', async () => {
    const gw = gateway();
    for (const svc of [gw.service, direct()]) {
      await expect(svc.publish(student, lessonA, 'main', 'x')).rejects.toMatchObject({ code: 'FORBIDDEN', httpStatus: 403 });
      await expect(svc.publish(teacher, lessonA + 5, 'main', 'x')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(svc.publish(teacher, lessonA, 'main', 'x'.repeat(257))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 });
      await expect(svc.publish(teacher, lessonA, 'main', '')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(svc.publish(teacher, lessonA, 'main', '\ud800')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(svc.publish(teacher, lessonA, 'nope', 'x')).rejects.toMatchObject({ code: 'ROOM_NOT_FOUND', httpStatus: 404 });
      await expect(svc.publish(service, lessonB + 100, 'main', 'x')).rejects.toMatchObject({ code: 'LESSON_NOT_FOUND' });
      for (const after of [-1, '-1', 'abc', '1e9', '9007199254740993', 2 ** 60]) {
        await expect(svc.read(student, lessonA, 'main', after, 10)).rejects.toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
      }
      await expect(svc.read(student, lessonA, 'main', 0, 101)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(svc.read(student, lessonA, 'main', 0, '10x')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(svc.read(student, lessonB, 'main', 0, 10)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(svc.read(student, lessonA, 'no:such room', 0, 10)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(svc.read(student, lessonA, 'nope', 0, 10)).rejects.toMatchObject({ code: 'ROOM_NOT_FOUND' });
      await expect(svc.read(service, lessonB + 100, 'main', 0, 10)).rejects.toMatchObject({ code: 'LESSON_NOT_FOUND' });
    }
    // The script enforces the payload bound itself, whatever a caller checked before.
    await expect(
      publishSignal(redis, lessonKeys(prefix, lessonA), 'main', 'x'.repeat(20), 1, Date.now(), { retain: 10, ttlSeconds: 60, maxPayloadBytes: 10, maxStreamLength: 100_000 }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('answers the same with the cache on and off', async () => {
    const room = rooms.find((r) => r.endsWith('.before'))!;
    const pub = direct();
    for (let i = 0; i < 12; i++) await pub.publish(service, lessonA, room, `s${i}`);
    const gw = gateway();
    for (const [after, limit] of [[0, 100], [0, 5], [3, 4], [11, 10], [12, 10], [40, 10], [5, 0]] as const) {
      const a = await gw.service.read(student, lessonA, room, after, limit);
      const b = await pub.read(student, lessonA, room, String(after), String(limit));
      expect(a).toEqual(b);
    }
  });

  it('gives hundreds of concurrent readers on two gateways every signal once, in order, without gaps', async () => {
    const N = 40;
    const READERS = 300;
    const gws = [gateway(), gateway()];
    // Load the room and let both subscriptions settle, so notifications are the
    // only way new signals arrive (the staleness bound is a minute).
    for (const gw of gws) {
      await gw.service.read(student, lessonA, 'main', 0, 1);
      await gw.channels.settled();
    }
    const base = (await gws[0]!.service.read(student, lessonA, 'main', 0, 0)).lastSeq;
    const readers = Array.from({ length: READERS }, async (_, i) => {
      const gw = gws[i % 2]!;
      const seen: number[] = [];
      let after = base;
      while (after < base + N) {
        const page = await gw.service.read(student, lessonA, 'main', after, 7);
        for (const s of page.signals) {
          expect(s.seq).toBe(after + 1);
          expect(s.data).toBe(`p${s.seq - base}`);
          seen.push(s.seq);
          after = s.seq;
        }
        if (page.signals.length === 0) await sleep(1 + (i % 5));
      }
      return seen;
    });
    const pub = direct();
    for (let i = 1; i <= N; i++) {
      await pub.publish(teacher, lessonA, 'main', `p${i}`);
      await sleep(5);
    }
    const all = await Promise.all(readers);
    const want = Array.from({ length: N }, (_, i) => base + i + 1);
    for (const seen of all) expect(seen).toEqual(want);
    for (const gw of gws) {
      const t = gw.cache!.snapshot().total;
      // Redis saw at most a couple of tail fetches per signal, however many reads there were.
      expect(t.tailFetches).toBeLessThanOrEqual(2 * N + 2);
      expect(t.reads).toBeGreaterThan(10 * t.tailFetches);
      expect(t.fetchErrors).toBe(0);
    }
  });

  it('converges within the staleness bound when notifications are lost', async () => {
    let t = 5_000_000;
    const gw = gateway({ maxStalenessMs: 1000 }, () => t);
    const room = tutorRoom;
    const before = (await gw.service.read(student, lessonA, room, 0, 100)).lastSeq;
    // The subscription is gone: nothing will tell this gateway about the next signal.
    await gw.shutdown();
    const { seq } = await direct().publish(teacher, lessonA, room, 'missed');
    t += 1000;
    const stale = await gw.service.read(student, lessonA, room, before, 100);
    expect(stale.signals).toEqual([]);
    t += 1;
    const fresh = await gw.service.read(student, lessonA, room, before, 100);
    expect(fresh.signals.map((s) => [s.seq, s.data])).toEqual([[seq, 'missed']]);
  });

  it('re-checks every cached room after the subscriber reconnects', async () => {
    const t = 9_000_000; // frozen: only the resync can trigger a fetch
    const gw = gateway({ maxStalenessMs: 1000 }, () => t);
    await gw.service.read(student, lessonA, 'main', 0, 1);
    await gw.channels.settled();
    const fetches = () => gw.cache!.snapshot().total.tailFetches;
    const f0 = fetches();
    await gw.service.read(student, lessonA, 'main', 0, 1);
    expect(fetches()).toBe(f0);
    // Kill the subscriber's connection(s) on every server; ioredis reconnects and resubscribes.
    const nodes = target().mode === 'cluster' ? (redis as import('ioredis').Cluster).nodes('master') : [redis as import('ioredis').Redis];
    let killed = 0;
    for (const node of nodes) {
      const list = (await node.client('LIST')) as string;
      for (const line of list.split('\n')) {
        if (!line.includes(gw.subName)) continue;
        const id = /(?:^|\s)id=(\d+)/.exec(line)![1]!;
        killed += Number(await node.client('KILL', 'ID', id));
      }
    }
    expect(killed).toBeGreaterThan(0);
    await until('a re-check after the reconnect', async () => {
      await gw.service.read(student, lessonA, 'main', 0, 1);
      return fetches() > f0 ? true : undefined;
    });
  });

  it('evicts rooms beyond the bounds, rebuilds them from Redis, and drops a lesson channel with its last room', async () => {
    const gw = gateway({ cacheBuckets: 1, cacheRoomsPerBucket: 1 });
    const pub = direct();
    const mainBefore = (await gw.service.read(student, lessonA, 'main', 0, 100)).lastSeq;
    expect(gw.channels.lessons()).toEqual([lessonA]);
    await gw.service.read(student, lessonA, tutorRoom, 0, 1); // evicts main; lesson A still held
    expect(gw.cache!.has(lessonA, 'main')).toBe(false);
    expect(gw.channels.lessons()).toEqual([lessonA]);
    await pub.publish(teacher, lessonA, 'main', 'while evicted');
    const entries0 = gw.cache!.snapshot().total.entriesFetched;
    const page = await gw.service.read(student, lessonA, 'main', 0, 100);
    expect(page.lastSeq).toBe(mainBefore + 1);
    expect(page.signals.map((s) => s.seq)).toEqual(Array.from({ length: mainBefore + 1 }, (_, i) => i + 1));
    expect(page.signals.at(-1)!.data).toBe('while evicted');
    // Rebuilt from the start of the log, not from a tail.
    expect(gw.cache!.snapshot().total.entriesFetched - entries0).toBe(mainBefore + 1);
    await gw.service.read(service, lessonB, 'main', 0, 1); // evicts lesson A's last room
    expect(gw.channels.lessons()).toEqual([lessonB]);
    // main, then the tutor room when main came back, then main again.
    expect(gw.cache!.snapshot().total).toMatchObject({ evictions: 3, rooms: 1 });
  });

  it('drops rooms a new version no longer has, on the version notification', async () => {
    const lesson = lessonB + 10;
    const topo = await loadSyntheticLesson(redis, prefix, lesson, { students: 10, tutors: 1 });
    const room = topo.rooms.find((r) => r.roomId.endsWith('.in'))!.roomId;
    const t = 1_000; // frozen: only the version message can make the gateway look again
    const gw = gateway({ maxStalenessMs: 1000 }, () => t);
    try {
      await gw.service.read(service, lesson, room, 0, 1);
      await gw.channels.settled();
      await loadSyntheticLesson(redis, prefix, lesson, { students: 10, tutors: 1, policy: 'three-screen' });
      const err = await until('ROOM_NOT_FOUND after the switch', async () => {
        try {
          await gw.service.read(service, lesson, room, 0, 1);
          return undefined;
        } catch (e) {
          return e;
        }
      });
      expect(err).toMatchObject({ code: 'ROOM_NOT_FOUND' });
    } finally {
      await dropLessonKeys(redis, prefix, lesson, topo.rooms.map((r) => r.roomId));
    }
  });

  it('exports its counters per bucket and in total', async () => {
    const gw = gateway();
    for (let i = 0; i < 5; i++) await gw.service.read(student, lessonA, 'main', 0, 1);
    const reg = new Registry();
    registerSignalCacheMetrics(gw.cache!, reg);
    const text = await reg.metrics();
    const snap = gw.cache!.snapshot();
    expect(text).toContain(`orgengine_signal_cache_reads_total{bucket="all"} ${snap.total.reads}`);
    expect(text).toContain(`orgengine_signal_cache_hits_total{bucket="all"} ${snap.total.hits}`);
    expect(text).toContain(`orgengine_signal_cache_redis_requests_saved{bucket="all"} ${snap.total.reads - snap.total.tailFetches}`);
    const b = gw.cache!.bucketOf(lessonA, 'main');
    expect(text).toContain(`orgengine_signal_cache_tail_fetches_total{bucket="${b}"} ${snap.buckets[b]!.tailFetches}`);
    expect(snap.total.hits).toBe(4);
  });
});
