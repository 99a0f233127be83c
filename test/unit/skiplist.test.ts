// SkipList against hand-checked cases and against a plain sorted-array model
// whose member order comes from Buffer.compare, i.e. independently of the
// comparator under test.
import { describe, it, expect } from 'vitest';
import { SkipList, compareMembers, type ScoreBound, type SkipListEntry } from '../../src/skiplist/skiplist.js';
import { prng } from '../../src/model/synthetic.js';

// Small seeded PRNG so failures replay exactly.
const mulberry32 = prng;

const inc = (value: number): ScoreBound => ({ value });
const exc = (value: number): ScoreBound => ({ value, exclusive: true });
const NEG_INF = inc(-Infinity);
const POS_INF = inc(Infinity);

const byteCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const members = <V>(es: SkipListEntry<V>[]): string[] => es.map((e) => e.member);

function build(pairs: Array<[string, number]>, seed = 1): SkipList<string> {
  const sl = new SkipList<string>({ random: mulberry32(seed) });
  for (const [m, s] of pairs) sl.add(m, s, `v:${m}`);
  return sl;
}

type Entry = { member: string; score: number; value: number };

// The obvious O(n) implementation of the same Redis semantics.
class RefZset {
  entries: Entry[] = [];

  private static cmp(a: Entry, b: Entry): number {
    return a.score < b.score ? -1 : a.score > b.score ? 1 : byteCompare(a.member, b.member);
  }

  add(member: string, score: number, value: number): 'added' | 'updated' {
    const i = this.entries.findIndex((e) => e.member === member);
    const existed = i >= 0;
    if (existed) this.entries.splice(i, 1);
    this.entries.push({ member, score, value });
    this.entries.sort(RefZset.cmp);
    return existed ? 'updated' : 'added';
  }

  remove(member: string): boolean {
    const i = this.entries.findIndex((e) => e.member === member);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  rank(member: string): number | undefined {
    const i = this.entries.findIndex((e) => e.member === member);
    return i < 0 ? undefined : i;
  }

  score(member: string): number | undefined {
    return this.entries.find((e) => e.member === member)?.score;
  }

  inRange(min: ScoreBound, max: ScoreBound): Entry[] {
    return this.entries.filter(
      (e) =>
        (min.exclusive ? e.score > min.value : e.score >= min.value) &&
        (max.exclusive ? e.score < max.value : e.score <= max.value),
    );
  }

  rangeByScore(min: ScoreBound, max: ScoreBound, offset: number, count: number): Entry[] {
    if (offset < 0) return [];
    const all = this.inRange(min, max).slice(offset);
    return count < 0 ? all : all.slice(0, count);
  }

  rangeByRank(start: number, stop: number): Entry[] {
    const n = this.entries.length;
    const a = start < 0 ? Math.max(0, n + start) : start;
    const b = stop < 0 ? n + stop : Math.min(stop, n - 1);
    return a > b ? [] : this.entries.slice(a, b + 1);
  }

  trim(n: number): number {
    const drop = Math.max(0, this.entries.length - n);
    this.entries.splice(0, drop);
    return drop;
  }

  removeRangeByScore(min: ScoreBound, max: ScoreBound): number {
    const gone = new Set(this.inRange(min, max));
    this.entries = this.entries.filter((e) => !gone.has(e));
    return gone.size;
  }
}

describe('compareMembers', () => {
  it('orders like memcmp over UTF-8, shorter prefix first', () => {
    expect(compareMembers('a', 'b')).toBeLessThan(0);
    expect(compareMembers('b', 'a')).toBeGreaterThan(0);
    expect(compareMembers('ab', 'ab')).toBe(0);
    expect(compareMembers('a', 'ab')).toBeLessThan(0);
    expect(compareMembers('', 'a')).toBeLessThan(0);
    expect(compareMembers('B', 'a')).toBeLessThan(0);
    // U+1F600 (UTF-16 D83D DE00, UTF-8 F0..) sorts after U+FF5A (UTF-16 FF5A, UTF-8 EF..)
    // in byte order although its first UTF-16 unit is smaller.
    expect('😀' < 'ｚ').toBe(true);
    expect(compareMembers('😀', 'ｚ')).toBeGreaterThan(0);
    expect(compareMembers('x😀', 'xｚ')).toBeGreaterThan(0);
    expect(compareMembers('é', 'z')).toBeGreaterThan(0);
  });

  it('agrees in sign with Buffer.compare on random well-formed strings', () => {
    const rnd = mulberry32(7);
    const points = [0x41, 0x61, 0x7f, 0xe9, 0x7ff, 0x800, 0x4e2d, 0xd7ff, 0xe000, 0xff5a, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff];
    const gen = (): string => {
      let s = '';
      const n = Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) s += String.fromCodePoint(points[Math.floor(rnd() * points.length)]!);
      return s;
    };
    for (let i = 0; i < 20_000; i++) {
      const a = gen();
      const b = gen();
      expect(Math.sign(compareMembers(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Math.sign(byteCompare(a, b)));
    }
  });
});

describe('SkipList', () => {
  it('orders by score, then member bytes', () => {
    const sl = build([
      ['c', 2],
      ['a', 2],
      ['z', 1],
      ['b', 2],
      ['y', -1.5],
      ['neg', -Infinity],
      ['pos', Infinity],
    ]);
    expect(members(sl.rangeByScore(NEG_INF, POS_INF))).toEqual(['neg', 'y', 'z', 'a', 'b', 'c', 'pos']);
    expect(sl.size).toBe(7);
    expect(sl.length).toBe(7);
    expect(sl.first()).toEqual({ member: 'neg', score: -Infinity, value: 'v:neg' });
    expect(sl.last()).toEqual({ member: 'pos', score: Infinity, value: 'v:pos' });
    sl.checkIntegrity();
  });

  it('orders non-ASCII members by UTF-8 bytes', () => {
    const ms = ['ｚ', '😀', 'z', 'é', '中', '', 'a😀', 'aｚ', 'a', '\u{10ffff}', '\uffff'];
    const sl = build(ms.map((m) => [m, 0]));
    expect(members(sl.rangeByRank(0, -1))).toEqual([...ms].sort(byteCompare));
    expect(sl.rank('😀')).toBeGreaterThan(sl.rank('ｚ')!);
    sl.checkIntegrity();
  });

  it('updates: same score keeps position and replaces the value, new score moves the entry', () => {
    const sl = build([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(sl.add('b', 2, 'new')).toBe('updated');
    expect(sl.get('b')).toBe('new');
    expect(sl.add('b', 10, 'moved')).toBe('updated');
    expect(members(sl.rangeByRank(0, -1))).toEqual(['a', 'c', 'b']);
    expect(sl.score('b')).toBe(10);
    expect(sl.get('b')).toBe('moved');
    // In-place update: still between neighbours.
    expect(sl.add('c', 5, 'c5')).toBe('updated');
    expect(members(sl.rangeByRank(0, -1))).toEqual(['a', 'c', 'b']);
    // Tie with a neighbour must still honour member order.
    expect(sl.add('a', 5, 'a5')).toBe('updated');
    expect(members(sl.rangeByRank(0, -1))).toEqual(['a', 'c', 'b']);
    expect(sl.add('c', 0, 'c0')).toBe('updated');
    expect(members(sl.rangeByRank(0, -1))).toEqual(['c', 'a', 'b']);
    expect(sl.add('d', 5, 'd5')).toBe('added');
    expect(sl.size).toBe(4);
    sl.checkIntegrity();
  });

  it('rejects NaN scores and bounds', () => {
    const sl = build([['a', 1]]);
    expect(() => sl.add('x', NaN, 'x')).toThrow(RangeError);
    expect(() => sl.add('a', NaN, 'a')).toThrow(RangeError);
    expect(sl.score('a')).toBe(1);
    expect(sl.has('x')).toBe(false);
    expect(() => sl.rangeByScore(inc(NaN), POS_INF)).toThrow(RangeError);
    expect(() => sl.removeRangeByScore(NEG_INF, inc(NaN))).toThrow(RangeError);
    expect(() => sl.rangeByScore(NEG_INF, POS_INF, { offset: 0.5 })).toThrow(RangeError);
    expect(() => sl.trimToMaxLength(-1)).toThrow(RangeError);
  });

  it('removes and reuses slots without growing', () => {
    const sl = new SkipList<number>({ initialCapacity: 8, random: mulberry32(3) });
    for (let i = 0; i < 8; i++) sl.add(`m${i}`, i, i);
    expect(sl.capacity).toBe(8);
    for (let round = 0; round < 1000; round++) {
      const m = `m${round % 8}`;
      expect(sl.remove(m)).toBe(true);
      expect(sl.remove(m)).toBe(false);
      expect(sl.add(m, round, round)).toBe('added');
    }
    expect(sl.capacity).toBe(8);
    expect(sl.size).toBe(8);
    sl.checkIntegrity();
    sl.add('grow', 0, 0);
    expect(sl.capacity).toBe(16);
    sl.checkIntegrity();
  });

  it('rank is 0-based like ZRANK', () => {
    const sl = build([
      ['a', 1],
      ['b', 1],
      ['c', 0],
      ['d', 5],
    ]);
    expect(['c', 'a', 'b', 'd'].map((m) => sl.rank(m))).toEqual([0, 1, 2, 3]);
    expect(sl.rank('nope')).toBeUndefined();
    expect(sl.score('nope')).toBeUndefined();
    expect(sl.get('nope')).toBeUndefined();
  });

  it('honours inclusive, exclusive and infinite bounds', () => {
    const sl = build([
      ['ninf', -Infinity],
      ['a', 1],
      ['b', 2],
      ['c', 2],
      ['d', 3],
      ['pinf', Infinity],
    ]);
    const r = (min: ScoreBound, max: ScoreBound): string[] => members(sl.rangeByScore(min, max));
    expect(r(inc(1), inc(3))).toEqual(['a', 'b', 'c', 'd']);
    expect(r(exc(1), inc(3))).toEqual(['b', 'c', 'd']);
    expect(r(inc(1), exc(3))).toEqual(['a', 'b', 'c']);
    expect(r(exc(1), exc(3))).toEqual(['b', 'c']);
    expect(r(inc(2), inc(2))).toEqual(['b', 'c']);
    expect(r(exc(2), inc(2))).toEqual([]);
    expect(r(inc(2), exc(2))).toEqual([]);
    expect(r(inc(3), inc(1))).toEqual([]);
    expect(r(NEG_INF, POS_INF)).toEqual(['ninf', 'a', 'b', 'c', 'd', 'pinf']);
    expect(r(exc(-Infinity), exc(Infinity))).toEqual(['a', 'b', 'c', 'd']);
    expect(r(NEG_INF, NEG_INF)).toEqual(['ninf']);
    expect(r(inc(3.5), POS_INF)).toEqual(['pinf']);
    expect(r(inc(1.5), inc(1.9))).toEqual([]);
  });

  it('applies LIMIT offset/count like Redis', () => {
    const sl = build(Array.from({ length: 10 }, (_, i): [string, number] => [`m${i}`, i]));
    const r = (offset: number, count: number, min = NEG_INF, max = POS_INF): string[] =>
      members(sl.rangeByScore(min, max, { offset, count }));
    expect(r(0, 3)).toEqual(['m0', 'm1', 'm2']);
    expect(r(8, 5)).toEqual(['m8', 'm9']);
    expect(r(2, -1)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    expect(r(2, -5, inc(3), inc(6))).toEqual(['m5', 'm6']);
    expect(r(1, 1, exc(3), inc(6))).toEqual(['m5']);
    expect(r(3, 10, exc(3), inc(6))).toEqual([]);
    expect(r(10, 1)).toEqual([]);
    expect(r(0, 0)).toEqual([]);
    expect(r(-1, 5)).toEqual([]);
    expect(r(-1, -1)).toEqual([]);
    const seen: string[] = [];
    const n = sl.forEachByScore(inc(2), exc(9), 1, 3, (m, s, v) => seen.push(`${m}=${s}/${v}`));
    expect(n).toBe(3);
    expect(seen).toEqual(['m3=3/v:m3', 'm4=4/v:m4', 'm5=5/v:m5']);
  });

  it('rangeByRank follows ZRANGE index rules', () => {
    const sl = build(Array.from({ length: 5 }, (_, i): [string, number] => [`m${i}`, i]));
    const r = (a: number, b: number): string[] => members(sl.rangeByRank(a, b));
    expect(r(0, -1)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(r(-2, -1)).toEqual(['m3', 'm4']);
    expect(r(1, 2)).toEqual(['m1', 'm2']);
    expect(r(-100, 1)).toEqual(['m0', 'm1']);
    expect(r(3, 100)).toEqual(['m3', 'm4']);
    expect(r(5, 10)).toEqual([]);
    expect(r(3, 2)).toEqual([]);
    expect(r(-1, -2)).toEqual([]);
    expect(r(0, -6)).toEqual([]);
    expect(new SkipList().rangeByRank(0, -1)).toEqual([]);
  });

  it('trimToMaxLength drops the lowest ranks', () => {
    const sl = build(Array.from({ length: 6 }, (_, i): [string, number] => [`m${i}`, 6 - i]));
    expect(sl.trimToMaxLength(10)).toBe(0);
    expect(sl.trimToMaxLength(4)).toBe(2);
    expect(members(sl.rangeByRank(0, -1))).toEqual(['m3', 'm2', 'm1', 'm0']);
    expect(sl.has('m5')).toBe(false);
    expect(sl.trimToMaxLength(0)).toBe(4);
    expect(sl.size).toBe(0);
    expect(sl.first()).toBeUndefined();
    expect(sl.last()).toBeUndefined();
    sl.checkIntegrity();
  });

  it('removeRangeByScore removes exactly the range', () => {
    const sl = build(Array.from({ length: 10 }, (_, i): [string, number] => [`m${i}`, i % 5]));
    expect(sl.removeRangeByScore(exc(1), inc(3))).toBe(4);
    expect(members(sl.rangeByRank(0, -1))).toEqual(['m0', 'm5', 'm1', 'm6', 'm4', 'm9']);
    expect(sl.removeRangeByScore(inc(3), inc(1))).toBe(0);
    expect(sl.removeRangeByScore(exc(4), POS_INF)).toBe(0);
    expect(sl.removeRangeByScore(NEG_INF, POS_INF)).toBe(6);
    expect(sl.size).toBe(0);
    sl.checkIntegrity();
  });

  it('clear empties but keeps capacity', () => {
    const sl = build(Array.from({ length: 40 }, (_, i): [string, number] => [`m${i}`, i]));
    const cap = sl.capacity;
    sl.clear();
    expect(sl.size).toBe(0);
    expect(sl.capacity).toBe(cap);
    expect(sl.rangeByScore(NEG_INF, POS_INF)).toEqual([]);
    sl.checkIntegrity();
    sl.add('x', 1, 'x');
    expect(sl.rank('x')).toBe(0);
    sl.checkIntegrity();
  });

  it('maxEntries behaves like ZADD then trim and never grows past it', () => {
    const sl = new SkipList<number>({ maxEntries: 3, initialCapacity: 2, random: mulberry32(9) });
    for (let i = 1; i <= 5; i++) sl.add(`m${i}`, i, i);
    expect(members(sl.rangeByRank(0, -1))).toEqual(['m3', 'm4', 'm5']);
    expect(sl.capacity).toBe(3);
    // Sorts below the current lowest: trimmed at once.
    expect(sl.add('low', 0, 0)).toBe('added');
    expect(sl.has('low')).toBe(false);
    // Updating an existing member never evicts.
    expect(sl.add('m3', 100, 3)).toBe('updated');
    expect(members(sl.rangeByRank(0, -1))).toEqual(['m4', 'm5', 'm3']);
    expect(() => new SkipList({ maxEntries: 0 })).toThrow(RangeError);
    sl.checkIntegrity();
  });

  it('approxBytes tracks members and value sizes', () => {
    const sl = new SkipList<string>({ sizeOf: (v) => v.length, random: mulberry32(5) });
    const empty = sl.approxBytes();
    sl.add('abcd', 1, 'x'.repeat(1000));
    const one = sl.approxBytes();
    expect(one - empty).toBeGreaterThanOrEqual(1000 + 8);
    sl.add('abcd', 1, 'x');
    expect(sl.approxBytes()).toBe(one - 999);
    sl.remove('abcd');
    expect(sl.approxBytes()).toBe(empty);
  });

  it('matches a sorted-array model over 20k random operations', () => {
    const rnd = mulberry32(20240601);
    const sl = new SkipList<number>({ initialCapacity: 4, random: mulberry32(42) });
    const ref = new RefZset();
    const pool = [
      ...Array.from({ length: 300 }, (_, i) => `m${i}`),
      '',
      'é',
      'ｚ',
      '😀',
      'a😀',
      'aｚ',
      '中文',
      'Z',
    ];
    const scorePool = [-Infinity, Infinity, -2, -1, 0, 0.5, 1, 1.25, 2, 3, 5, 8];
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const randScore = (): number => (rnd() < 0.7 ? pick(scorePool) : Math.round((rnd() * 20 - 10) * 1000) / 1000);
    const randBound = (): ScoreBound => ({ value: randScore(), exclusive: rnd() < 0.5 });
    const randInt = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
    const strip = (es: Entry[]): Entry[] => es.map(({ member, score, value }) => ({ member, score, value }));

    for (let op = 0; op < 20_000; op++) {
      const ctx = `op ${op}`;
      const k = rnd();
      if (k < 0.5) {
        const m = pick(pool);
        const s = randScore();
        expect(sl.add(m, s, op), ctx).toBe(ref.add(m, s, op));
      } else if (k < 0.75) {
        const m = pick(pool);
        expect(sl.remove(m), ctx).toBe(ref.remove(m));
      } else if (k < 0.78) {
        const min = randBound();
        const max = randBound();
        expect(sl.removeRangeByScore(min, max), ctx).toBe(ref.removeRangeByScore(min, max));
      } else if (k < 0.8) {
        const n = randInt(0, ref.entries.length + 5);
        expect(sl.trimToMaxLength(n), ctx).toBe(ref.trim(n));
      } else if (k < 0.9) {
        const min = randBound();
        const max = randBound();
        const offset = rnd() < 0.1 ? -1 : randInt(0, 50);
        const count = rnd() < 0.3 ? -1 : randInt(0, 50);
        expect(sl.rangeByScore(min, max, { offset, count }), ctx).toEqual(ref.rangeByScore(min, max, offset, count));
      } else if (k < 0.95) {
        const a = randInt(-400, 400);
        const b = randInt(-400, 400);
        expect(sl.rangeByRank(a, b), ctx).toEqual(strip(ref.rangeByRank(a, b)));
      } else {
        const m = pick(pool);
        expect(sl.rank(m), ctx).toBe(ref.rank(m));
        expect(sl.score(m), ctx).toBe(ref.score(m));
      }
      expect(sl.size, ctx).toBe(ref.entries.length);
      if (op % 500 === 0) {
        sl.checkIntegrity();
        expect(sl.rangeByRank(0, -1), ctx).toEqual(strip(ref.entries));
      }
    }
    sl.checkIntegrity();
    expect(sl.rangeByRank(0, -1)).toEqual(strip(ref.entries));
    expect(sl.first()).toEqual(ref.entries[0]);
    expect(sl.last()).toEqual(ref.entries.at(-1));
    for (const e of ref.entries) expect(sl.rank(e.member)).toBe(ref.rank(e.member));
    // Slots are reused: capacity stays near the live-member bound, not the op count.
    expect(sl.capacity).toBeLessThanOrEqual(512);
  });

  it('stays consistent at scale with O(log n) offsets', () => {
    const sl = new SkipList<number>({ random: mulberry32(11) });
    const n = 100_000;
    for (let i = 0; i < n; i++) sl.add(`k${i}`, (i * 7919) % n, i);
    sl.checkIntegrity();
    expect(sl.rank('k0')).toBe(0);
    const got = sl.rangeByScore(inc(50_000), POS_INF, { offset: 40_000, count: 2 });
    expect(got.map((e) => e.score)).toEqual([90_000, 90_001]);
    expect(sl.trimToMaxLength(10)).toBe(n - 10);
    expect(sl.rangeByRank(0, 0)[0]!.score).toBe(n - 10);
    sl.checkIntegrity();
  });
});
