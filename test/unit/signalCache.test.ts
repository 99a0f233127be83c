// SignalCache against an in-memory log with Redis's semantics for the parts
// the cache relies on (counter, trimmed window, tail after a seq), and a
// hand-moved clock: staleness, single flight, LRU bounds, trimming and log
// restarts without I/O or sleeping. The same behaviours run against real
// Redis and Cluster in test/integration/signals.test.ts.
import { describe, expect, it } from 'vitest';
import { OrgError } from '../../src/errors.js';
import type { Signal } from '../../src/model/signal.js';
import { SignalCache, type FetchedTail, type SignalCacheOptions } from '../../src/skiplist/signalCache.js';
import { roomBytesBound } from '../../src/skiplist/sizing.js';

/** One room's log: what publish_signal.lua keeps. */
class Log {
  seq = 0;
  entries: Signal[] = [];
  constructor(private readonly retain: number) {}
  publish(data = `d${this.seq + 1}`): Signal {
    const s = { seq: ++this.seq, at: 1000 + this.seq, by: 7, data };
    this.entries.push(s);
    if (this.entries.length > this.retain) this.entries.splice(0, this.entries.length - this.retain);
    return s;
  }
  restart(): void {
    this.seq = 0;
    this.entries = [];
  }
}

class Source {
  readonly logs = new Map<string, Log>();
  fetches = 0;
  failNext: Error | null = null;
  // Fetches wait on this gate when set, so tests can hold one in flight.
  gate: Promise<void> | null = null;
  constructor(readonly retain: number) {}
  log(lessonId: number, roomId: string): Log {
    const k = `${lessonId}/${roomId}`;
    let l = this.logs.get(k);
    if (!l) this.logs.set(k, (l = new Log(this.retain)));
    return l;
  }
  readonly fetchTail = async (lessonId: number, roomId: string, after: number, limit: number): Promise<FetchedTail> => {
    this.fetches++;
    // The answer is taken when the request arrives, as Redis would; the gate only delays the reply.
    const fail = this.failNext;
    this.failNext = null;
    const l = this.logs.get(`${lessonId}/${roomId}`);
    const signals = l ? l.entries.filter((s) => s.seq > after).slice(0, limit) : [];
    const reply = l ? { lastSeq: l.seq, firstSeq: l.entries[0]?.seq ?? l.seq + 1, signals, bytes: signals.length * 20 } : null;
    if (this.gate) await this.gate;
    await Promise.resolve();
    if (fail) throw fail;
    if (!reply) throw new OrgError('ROOM_NOT_FOUND', `no room ${roomId}`);
    return reply;
  };
}

function setup(over: Partial<SignalCacheOptions> = {}, retain = 100, storeRetain = retain) {
  const src = new Source(storeRetain);
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const dropped: number[] = [];
  const cached: number[] = [];
  const cache = new SignalCache({
    fetchTail: src.fetchTail,
    buckets: 4,
    roomsPerBucket: 16,
    bytesPerBucket: 4 * roomBytesBound(retain, 64),
    maxStalenessMs: 1000,
    retain,
    maxPayloadBytes: 64,
    now: clock.now,
    onLessonCached: (l) => cached.push(l),
    onLessonDropped: (l) => dropped.push(l),
    ...over,
  });
  return { src, clock, cache, cached, dropped };
}

const seqs = (ss: Signal[]) => ss.map((s) => s.seq);

describe('SignalCache', () => {
  it('answers hundreds of concurrent readers of a cold room with one fetch', async () => {
    const { src, cache } = setup();
    const log = src.log(1, 'main');
    for (let i = 0; i < 5; i++) log.publish();
    const pages = await Promise.all(Array.from({ length: 300 }, (_, i) => cache.read(1, 'main', i % 5, 10)));
    expect(src.fetches).toBe(1);
    pages.forEach((p, i) => expect(seqs(p.signals)).toEqual([1, 2, 3, 4, 5].filter((s) => s > i % 5)));
    const t = cache.snapshot().total;
    expect(t.reads).toBe(300);
    expect(t.misses).toBe(300);
    expect(t.tailFetches).toBe(1);
    expect(t.redisRequestsSaved).toBe(299);
  });

  it('serves fresh rooms locally and re-checks once the staleness bound passes', async () => {
    const { src, cache, clock } = setup();
    const log = src.log(1, 'main');
    log.publish();
    await cache.read(1, 'main', 0, 10);
    log.publish(); // nobody tells the cache: a lost notification
    clock.advance(1000);
    const still = await cache.read(1, 'main', 0, 10);
    expect(seqs(still.signals)).toEqual([1]);
    expect(src.fetches).toBe(1);
    clock.advance(1);
    const [a, b] = await Promise.all([cache.read(1, 'main', 0, 10), cache.read(1, 'main', 1, 10)]);
    expect(seqs(a.signals)).toEqual([1, 2]);
    expect(seqs(b.signals)).toEqual([2]);
    expect(src.fetches).toBe(2);
    expect(cache.snapshot().total.hits).toBe(1);
  });

  it('fetches the tail only, from the last seq held', async () => {
    const { src, cache, clock } = setup();
    const log = src.log(1, 'main');
    for (let i = 0; i < 3; i++) log.publish();
    await cache.read(1, 'main', 0, 10);
    const asked: number[] = [];
    const inner = src.fetchTail;
    const spy = new SignalCache({
      fetchTail: (l, r, after, limit) => (asked.push(after), inner(l, r, after, limit)),
      buckets: 1, roomsPerBucket: 4, bytesPerBucket: roomBytesBound(100, 64), maxStalenessMs: 1000, retain: 100, maxPayloadBytes: 64, now: clock.now,
    });
    await spy.read(1, 'main', 0, 10);
    log.publish();
    spy.notify(1, 'main', 4);
    const p = await spy.read(1, 'main', 3, 10);
    expect(asked).toEqual([0, 3]);
    expect(seqs(p.signals)).toEqual([4]);
    expect(spy.snapshot().total.entriesFetched).toBe(4);
  });

  it('starts a fetch on a notification for a room read recently, so later readers hit', async () => {
    const { src, cache } = setup();
    const log = src.log(1, 'main');
    log.publish();
    await cache.read(1, 'main', 0, 10);
    log.publish();
    cache.notify(1, 'main', 2);
    expect(src.fetches).toBe(2); // started at once
    const p = await cache.read(1, 'main', 1, 10); // waits for that same fetch
    expect(seqs(p.signals)).toEqual([2]);
    const q = await cache.read(1, 'main', 1, 10);
    expect(seqs(q.signals)).toEqual([2]);
    expect(src.fetches).toBe(2);
    expect(cache.snapshot().total).toMatchObject({ notifications: 1, hits: 1 });
  });

  it('leaves a notification for a room nobody read lately to its next reader', async () => {
    const { src, cache, clock } = setup();
    const log = src.log(1, 'main');
    log.publish();
    await cache.read(1, 'main', 0, 10);
    clock.advance(500);
    cache.notify(1, 'main', 1); // already held: ignored
    expect(cache.snapshot().total.notifications).toBe(0);
    clock.advance(600);
    log.publish();
    cache.notify(1, 'main', 2);
    expect(src.fetches).toBe(1);
    const p = await cache.read(1, 'main', 1, 10);
    expect(seqs(p.signals)).toEqual([2]);
    expect(src.fetches).toBe(2);
  });

  it('fetches again when a notification arrives during a fetch, one fetch at a time', async () => {
    const { src, cache } = setup();
    const log = src.log(1, 'main');
    log.publish();
    let open!: () => void;
    src.gate = new Promise((r) => (open = r));
    const first = cache.read(1, 'main', 0, 10);
    // The fetch in flight was answered before seq 2 existed; only the notification can bring it.
    log.publish();
    cache.notify(1, 'main', 2);
    const waiting = Array.from({ length: 50 }, () => cache.read(1, 'main', 0, 10));
    expect(src.fetches).toBe(1);
    src.gate = null;
    open();
    const pages = await Promise.all([first, ...waiting]);
    for (const p of pages) expect(seqs(p.signals)).toEqual([1, 2]);
    expect(src.fetches).toBe(2);
  });

  it('reports signals trimmed before firstSeq as truncated', async () => {
    const { src, cache } = setup({ bytesPerBucket: roomBytesBound(5, 64) }, 5);
    const log = src.log(1, 'main');
    for (let i = 0; i < 12; i++) log.publish();
    const p = await cache.read(1, 'main', 0, 3);
    expect(seqs(p.signals)).toEqual([8, 9, 10]);
    expect(p).toMatchObject({ firstSeq: 8, lastSeq: 12, truncated: true, more: true });
    const q = await cache.read(1, 'main', 7, 10);
    expect(seqs(q.signals)).toEqual([8, 9, 10, 11, 12]);
    expect(q).toMatchObject({ truncated: false, more: false });
    const r = await cache.read(1, 'main', 12, 10);
    expect(r).toMatchObject({ signals: [], truncated: false, more: false, lastSeq: 12 });
  });

  it('drops the window when the tail skipped past it (trimmed while away)', async () => {
    // The store keeps fewer than the cache would (gateways configured apart),
    // so only the gap check can keep 1..3 from sitting next to 9..13.
    const { src, cache, clock } = setup({}, 100, 5);
    const log = src.log(1, 'main');
    for (let i = 0; i < 3; i++) log.publish();
    await cache.read(1, 'main', 0, 10);
    for (let i = 0; i < 10; i++) log.publish(); // 4..13, only 9..13 retained
    clock.advance(2000);
    const p = await cache.read(1, 'main', 3, 10);
    expect(seqs(p.signals)).toEqual([9, 10, 11, 12, 13]);
    expect(p).toMatchObject({ firstSeq: 9, truncated: true });
  });

  it('reloads a room whose log restarted (counter went back)', async () => {
    const { src, cache, clock } = setup();
    const log = src.log(1, 'main');
    for (let i = 0; i < 5; i++) log.publish();
    await cache.read(1, 'main', 0, 10);
    log.restart();
    log.publish('again');
    clock.advance(1001);
    const p = await cache.read(1, 'main', 0, 10);
    expect(p.signals).toEqual([{ seq: 1, at: 1001, by: 7, data: 'again' }]);
    expect(p.lastSeq).toBe(1);
    const ahead = await cache.read(1, 'main', 5, 10);
    expect(ahead.lastSeq).toBeLessThan(5); // how a client learns to start over
    expect(cache.snapshot().total.resets).toBe(1);
  });

  it('evicts the least recently read room when a bucket is full, and rebuilds it on demand', async () => {
    const { src, cache, dropped, cached } = setup({ buckets: 1, roomsPerBucket: 2 });
    for (const r of ['a', 'b', 'c']) src.log(1, r).publish();
    src.log(2, 'a').publish();
    await cache.read(1, 'a', 0, 10);
    await cache.read(1, 'b', 0, 10);
    await cache.read(1, 'a', 0, 10); // a is now the most recent
    await cache.read(1, 'c', 0, 10); // evicts b
    expect(cache.has(1, 'a') && cache.has(1, 'c')).toBe(true);
    expect(cache.has(1, 'b')).toBe(false);
    src.log(1, 'b').publish();
    const fetches = src.fetches;
    const p = await cache.read(1, 'b', 0, 10); // rebuilt from the store, evicting a
    expect(seqs(p.signals)).toEqual([1, 2]);
    expect(src.fetches).toBe(fetches + 1);
    expect(cache.has(1, 'a')).toBe(false);
    await cache.read(2, 'a', 0, 10); // evicts c; lesson 1 still has b
    expect(cached).toEqual([1, 2]);
    expect(dropped).toEqual([]);
    src.log(3, 'x').publish();
    await cache.read(3, 'x', 0, 10); // evicts b, the last room of lesson 1
    expect(dropped).toEqual([1]);
    expect(cache.snapshot().total).toMatchObject({ evictions: 4, rooms: 2 });
  });

  it('evicts by bytes as well as by rooms', async () => {
    const retain = 50;
    const full = roomBytesBound(retain, 64);
    const { src, cache } = setup({ buckets: 1, roomsPerBucket: 100, bytesPerBucket: Math.floor(full * 1.5) }, retain);
    for (const r of ['a', 'b']) for (let i = 0; i < retain; i++) src.log(1, r).publish('x'.repeat(64));
    await cache.read(1, 'a', 0, 1);
    expect(cache.has(1, 'a')).toBe(true);
    await cache.read(1, 'b', 0, 1);
    expect(cache.has(1, 'a')).toBe(false);
    expect(cache.has(1, 'b')).toBe(true);
    const s = cache.snapshot().total;
    expect(s.bytes).toBeLessThanOrEqual(full * 1.5);
    expect(s.evictions).toBe(1);
  });

  it('caches "no such room" like data, for the staleness bound', async () => {
    const { src, cache, clock } = setup();
    const reads = Array.from({ length: 40 }, () => cache.read(1, 'nope', 0, 10));
    for (const r of reads) await expect(r).rejects.toMatchObject({ code: 'ROOM_NOT_FOUND' });
    await expect(cache.read(1, 'nope', 0, 10)).rejects.toMatchObject({ code: 'ROOM_NOT_FOUND' });
    expect(src.fetches).toBe(1);
    src.log(1, 'nope').publish(); // the room appears (a new version)
    clock.advance(1001);
    const p = await cache.read(1, 'nope', 0, 10);
    expect(seqs(p.signals)).toEqual([1]);
    expect(src.fetches).toBe(2);
  });

  it('keeps answering a loaded room when a refresh fails, and fails a cold one', async () => {
    const { src, cache, clock } = setup();
    src.log(1, 'main').publish();
    await cache.read(1, 'main', 0, 10);
    clock.advance(1001);
    src.failNext = new Error('connection lost');
    const p = await cache.read(1, 'main', 0, 10);
    expect(seqs(p.signals)).toEqual([1]);
    src.failNext = new Error('connection lost');
    src.log(1, 'cold').publish();
    await expect(cache.read(1, 'cold', 0, 10)).rejects.toThrow('connection lost');
    expect(cache.snapshot().total.fetchErrors).toBe(2);
    const q = await cache.read(1, 'cold', 0, 10); // the next reader tries again
    expect(seqs(q.signals)).toEqual([1]);
  });

  it('answers readers of a room evicted while its fetch was in flight', async () => {
    const { src, cache } = setup({ buckets: 1, roomsPerBucket: 1 });
    src.log(1, 'a').publish();
    src.log(1, 'b').publish();
    let open!: () => void;
    src.gate = new Promise((r) => (open = r));
    const a = cache.read(1, 'a', 0, 10);
    const b = cache.read(1, 'b', 0, 10); // evicts a mid-fetch
    src.gate = null;
    open();
    expect(seqs((await a).signals)).toEqual([1]);
    expect(seqs((await b).signals)).toEqual([1]);
    expect(cache.has(1, 'a')).toBe(false);
    expect(cache.snapshot().total.rooms).toBe(1);
  });

  it('appends its own publish when it follows the window, saving the fetch', async () => {
    const { src, cache } = setup();
    const log = src.log(1, 'main');
    log.publish();
    await cache.read(1, 'main', 0, 10);
    cache.notePublished(1, 'main', log.publish());
    cache.notify(1, 'main', 2);
    const p = await cache.read(1, 'main', 0, 10);
    expect(seqs(p.signals)).toEqual([1, 2]);
    expect(src.fetches).toBe(1);
    cache.notePublished(1, 'main', { seq: 9, at: 0, by: 1, data: 'gap' }); // not contiguous: ignored
    expect(seqs((await cache.read(1, 'main', 0, 10)).signals)).toEqual([1, 2]);
  });

  it('hands readers asking the same of an unchanged window the same page, and a new one once it changes', async () => {
    const { src, cache } = setup();
    const log = src.log(1, 'main');
    for (let i = 0; i < 3; i++) log.publish();
    const first = await cache.read(1, 'main', 2, 10);
    expect(await cache.read(1, 'main', 2, 10)).toBe(first);
    expect(await cache.read(1, 'main', 3, 10)).toBe(await cache.read(1, 'main', 3, 10));
    expect(await cache.read(1, 'main', 2, 1)).not.toBe(first); // another limit is another question
    log.publish();
    cache.notify(1, 'main', 4);
    const next = await cache.read(1, 'main', 2, 10);
    expect(next).not.toBe(first);
    expect(seqs(next.signals)).toEqual([3, 4]);
    expect(seqs(first.signals)).toEqual([3]); // handed-out pages are never modified
  });

  it('never hands out a page of a log that restarted, even when the reload lands on the same window', async () => {
    let between: (() => void) | null = null;
    const src = new Source(100);
    const { clock, cache } = setup({
      fetchTail: async (...a) => {
        const r = await src.fetchTail(...a);
        between?.();
        between = null;
        return r;
      },
    });
    const log = src.log(1, 'main');
    for (let i = 0; i < 4; i++) log.publish();
    expect((await cache.read(1, 'main', 0, 10)).signals.map((s) => s.data)).toEqual(['d1', 'd2', 'd3', 'd4']);
    // The log restarts; the fetch that sees its counter go back is followed, before
    // the reload, by enough publishes to rebuild a window [1, 4] with other payloads.
    log.restart();
    log.publish('new1');
    between = () => ['new2', 'new3', 'new4'].forEach((d) => log.publish(d));
    clock.advance(1001);
    const page = await cache.read(1, 'main', 0, 10);
    expect(page.signals.map((s) => s.data)).toEqual(['new1', 'new2', 'new3', 'new4']);
    expect(cache.snapshot().total.resets).toBe(1);
  });

  it('spreads rooms over buckets and keeps per-bucket counters that add up', async () => {
    const { src, cache } = setup({ buckets: 8 });
    const rooms = Array.from({ length: 40 }, (_, i) => `t${i}.in`);
    for (const r of rooms) src.log(5, r).publish();
    for (const r of rooms) await cache.read(5, r, 0, 10);
    const snap = cache.snapshot();
    const used = snap.buckets.filter((b) => b.rooms > 0).length;
    expect(used).toBeGreaterThan(4);
    expect(snap.buckets.reduce((n, b) => n + b.reads, 0)).toBe(snap.total.reads);
    expect(snap.total.rooms).toBe(40);
    for (const r of rooms) expect(cache.bucketOf(5, r)).toBe(cache.bucketOf(5, r));
  });

  it('estimates a full room at or above what it really accounts', async () => {
    for (const [retain, payload] of [[1, 1], [10, 64], [1000, 256], [3000, 16]] as const) {
      const src = new Source(retain);
      const cache = new SignalCache({
        fetchTail: src.fetchTail, buckets: 1, roomsPerBucket: 1, bytesPerBucket: roomBytesBound(retain, payload),
        maxStalenessMs: 0, retain, maxPayloadBytes: payload,
      });
      for (let i = 0; i < retain * 2; i++) src.log(1, 'main').publish('é'.repeat(payload));
      await cache.read(1, 'main', 0, 1);
      const held = cache.snapshot().total;
      expect(held.rooms).toBe(1);
      expect(held.bytes).toBeLessThanOrEqual(roomBytesBound(retain, payload));
      expect(held.bytes).toBeGreaterThan(roomBytesBound(retain, payload) / 3);
    }
  });

  it('refuses bounds that cannot hold one full room', () => {
    const src = new Source(1000);
    expect(
      () => new SignalCache({ fetchTail: src.fetchTail, buckets: 1, roomsPerBucket: 1, bytesPerBucket: 1000, maxStalenessMs: 0, retain: 1000, maxPayloadBytes: 1024 }),
    ).toThrow(/bytesPerBucket/);
    expect(
      () => new SignalCache({ fetchTail: src.fetchTail, buckets: 0, roomsPerBucket: 1, bytesPerBucket: 1e9, maxStalenessMs: 0, retain: 1, maxPayloadBytes: 1 }),
    ).toThrow(/buckets/);
  });
});
