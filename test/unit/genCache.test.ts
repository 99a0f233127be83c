import { describe, expect, it } from 'vitest';
import { GenCache, SingleFlight } from '../../src/localcache/genCache.js';

describe('GenCache', () => {
  const clock = () => {
    let t = 1_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('serves an entry only under the generation it was filled with', () => {
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 10_000, ttlMs: 1000 });
    const value = { v: 1 };
    c.set('a', value, 7, 10);
    expect(c.get('a', 7)).toBe(value);
    expect(c.get('a', 8)).toBeUndefined();
    // A stale generation also drops the entry.
    expect(c.get('a', 7)).toBeUndefined();
    expect(c.stats).toMatchObject({ hits: 1, misses: 2, staleGen: 1 });
  });

  it('expires entries after the TTL backstop, with time injected', () => {
    const k = clock();
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 10_000, ttlMs: 500, now: k.now });
    c.set('a', { v: 1 }, 1, 10);
    c.set('b', { v: 2 }, 1, 10, 100);
    k.advance(99);
    expect(c.get('b', 1)).toBeDefined();
    k.advance(2);
    expect(c.get('b', 1)).toBeUndefined();
    expect(c.get('a', 1)).toBeDefined();
    k.advance(400);
    expect(c.get('a', 1)).toBeUndefined();
  });

  it('evicts the least recently used beyond the entry and byte bounds', () => {
    const byCount = new GenCache<{ v: number }>({ maxEntries: 2, maxBytes: 1 << 20, ttlMs: 1000 });
    byCount.set('a', { v: 1 }, 1, 1);
    byCount.set('b', { v: 2 }, 1, 1);
    byCount.get('a', 1);
    byCount.set('c', { v: 3 }, 1, 1);
    expect(byCount.peek('b', 1)).toBeUndefined();
    expect(byCount.peek('a', 1)).toBeDefined();
    expect(byCount.stats.evictions).toBe(1);

    const byBytes = new GenCache<{ v: number }>({ maxEntries: 100, maxBytes: 1000, ttlMs: 1000 });
    for (let i = 0; i < 10; i++) byBytes.set(`k${i}`, { v: i }, 1, 300);
    expect(byBytes.bytes).toBeLessThanOrEqual(1000);
    expect(byBytes.size).toBeLessThan(10);
    expect(byBytes.peek('k9', 1)).toBeDefined();
  });

  it('caches nothing when the TTL is 0', () => {
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 10_000, ttlMs: 0 });
    c.set('a', { v: 1 }, 1, 1);
    expect(c.get('a', 1)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('names the bad option', () => {
    expect(() => new GenCache({ maxEntries: 0, maxBytes: 1, ttlMs: 1 })).toThrow(/maxEntries/);
    expect(() => new GenCache({ maxEntries: 1, maxBytes: 1, ttlMs: -1 })).toThrow(/ttlMs/);
  });
});

describe('SingleFlight', () => {
  it('shares one load among concurrent callers and forgets it once settled', async () => {
    const f = new SingleFlight<number>();
    let loads = 0;
    let release!: (n: number) => void;
    const load = () => {
      loads++;
      return new Promise<number>((r) => (release = r));
    };
    const a = f.run('k', load);
    const b = f.run('k', load);
    expect(f.size).toBe(1);
    release(5);
    expect(await Promise.all([a, b])).toEqual([5, 5]);
    expect(loads).toBe(1);
    expect(f.size).toBe(0);
    await expect(f.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(f.run('k', () => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(f.size).toBe(0);
  });
});

describe('GenCache TTL jitter', () => {
  it('spreads the expiry of entries filled together over the jitter share of the TTL', () => {
    // lru-cache reads a start time of 0 as "no TTL": the clock starts elsewhere.
    const T0 = 1_000_000;
    let t = T0;
    let r = 0;
    const c = new GenCache<{ v: number }>({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 1000, ttlJitter: 0.25, now: () => t, random: () => r });
    for (let i = 0; i < 10; i++) {
      r = i / 10; // entry i lives 1000 * (1 - 0.25 * i/10) ms
      c.set(`k${i}`, { v: i }, 0, 8);
    }
    t = T0 + 770; // every entry lives at least 1000 * (1 - 0.25 * 0.9) = 775 ms
    expect([...Array(10).keys()].filter((i) => c.get(`k${i}`, 0) === undefined)).toEqual([]);
    t = T0 + 900; // an entry expires once strictly past its TTL 1000 - 25 i: i >= 5 here
    expect([...Array(10).keys()].filter((i) => c.get(`k${i}`, 0) === undefined)).toEqual([5, 6, 7, 8, 9]);
    t = T0 + 1001;
    expect([...Array(10).keys()].filter((i) => c.get(`k${i}`, 0) !== undefined)).toEqual([]);
  });

  it('refuses a jitter over half the TTL', () => {
    expect(() => new GenCache({ maxEntries: 1, maxBytes: 1024, ttlMs: 10, ttlJitter: 0.9 })).toThrow(RangeError);
  });
});

describe('GenCache soft and hard TTL', () => {
  const T0 = 1_000_000;

  it('serves an entry past its soft TTL, reports it due, and drops it past the hard TTL', () => {
    let t = T0;
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 6000, softTtlMs: 2000, now: () => t });
    c.set('a', { v: 1 }, 1, 8);
    let e = c.lookup('a', 1)!;
    expect(c.due(e)).toBe(false);
    t = T0 + 1999;
    expect(c.due(c.lookup('a', 1)!)).toBe(false);
    t = T0 + 2000;
    e = c.lookup('a', 1)!;
    expect(e.value).toEqual({ v: 1 });
    expect(c.due(e)).toBe(true);
    t = T0 + 6000;
    expect(c.lookup('a', 1)).toBeDefined();
    t = T0 + 6001;
    expect(c.lookup('a', 1)).toBeUndefined();
  });

  it('starts a replaced entry afresh: the soft TTL counts from the refresh', () => {
    let t = T0;
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 6000, softTtlMs: 2000, now: () => t });
    c.set('a', { v: 1 }, 1, 8);
    t = T0 + 2500;
    expect(c.due(c.lookup('a', 1)!)).toBe(true);
    c.set('a', { v: 2 }, 1, 8);
    const e = c.lookup('a', 1)!;
    expect(e.value).toEqual({ v: 2 });
    expect(c.due(e)).toBe(false);
    // The hard TTL too counts from the refresh.
    t = T0 + 2500 + 6000;
    expect(c.lookup('a', 1)?.value).toEqual({ v: 2 });
  });

  it('renews an entry as it is: same value, soft and hard TTL from the renewal; never under another generation', () => {
    let t = T0;
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 6000, softTtlMs: 2000, now: () => t });
    const value = { v: 1 };
    c.set('a', value, 1, 8);
    t = T0 + 2500;
    expect(c.renew('a', 2)).toBe(false);
    expect(c.renew('b', 1)).toBe(false);
    expect(c.renew('a', 1)).toBe(true);
    const e = c.lookup('a', 1)!;
    expect(e.value).toBe(value);
    expect(c.due(e)).toBe(false);
    t = T0 + 2500 + 6000;
    expect(c.lookup('a', 1)?.value).toBe(value);
    t = T0 + 2500 + 6001;
    expect(c.lookup('a', 1)).toBeUndefined();
    expect(c.renew('a', 1)).toBe(false);
    expect(c.stats.renewals).toBe(1);
  });

  it('jitters the soft TTL only, and never lets a short per-entry TTL serve past itself', () => {
    let t = T0;
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 6000, softTtlMs: 2000, ttlJitter: 0.25, now: () => t, random: () => 1 });
    c.set('a', { v: 1 }, 1, 8);
    c.set('short', { v: 2 }, 1, 8, 1000);
    t = T0 + 1500; // soft 2000 * (1 - 0.25) = 1500
    expect(c.due(c.lookup('a', 1)!)).toBe(true);
    t = T0 + 5999; // hard TTL not jittered
    expect(c.lookup('a', 1)).toBeDefined();
    // 'short' has no soft stage: its one TTL (1000, jittered to 750) is a hard one.
    expect(c.lookup('short', 1)).toBeUndefined();
  });

  it('caps the soft TTL at the hard one', () => {
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 500, softTtlMs: 2000 });
    expect(c.softTtlMs).toBe(500);
    expect(() => new GenCache({ maxEntries: 1, maxBytes: 1024, ttlMs: 10, softTtlMs: 0 })).toThrow(/softTtlMs/);
  });

  it('does not serve a stale generation however fresh the entry', () => {
    const t = T0;
    const c = new GenCache<{ v: number }>({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 6000, softTtlMs: 2000, now: () => t });
    c.set('a', { v: 1 }, 1, 8);
    expect(c.lookup('a', 2)).toBeUndefined();
  });
});
