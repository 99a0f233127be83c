// Property test: the same seeded operation sequence goes to a real Redis zset
// and to a SkipList, and every read Redis answers must come out identical
// locally. Ops and reads share one pipeline per batch to stay fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SkipList, type ScoreBound } from '../../src/skiplist/skiplist.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { prng } from '../../src/model/synthetic.js';

const SEEDS = [1, 2, 3, 4, 5];
const OPS_PER_SEED = 2000;
const OPS_PER_BATCH = 8;

const mulberry32 = prng;

// Integers, halves and quarters print exactly both ways, so scores round-trip.
const SCORES = [-Infinity, Infinity, -3, -2, -1, 0, 1, 2, 3, 4, 5, -0.5, 0.5, 1.25, 2.75, 3.5];
// Non-ASCII members include the pair where UTF-16 and UTF-8 order disagree
// (U+1F600 vs U+FF5A) and ones sharing prefixes, plus the empty member.
const SPECIAL_MEMBERS = ['a', 'b', 'ab', 'B', 'z', '', 'é', 'ÿ', 'ÿa', '中', '中文', 'ｚ', '😀', 'a😀', 'aｚ'];
const PLAIN_MEMBERS = Array.from({ length: 60 }, (_, i) => `m${i}`);

const fmtScore = (n: number): string => (n === Infinity ? '+inf' : n === -Infinity ? '-inf' : String(n));
const fmtBound = (b: ScoreBound): string => (b.exclusive ? '(' : '') + fmtScore(b.value);

function parseScore(s: string): number {
  if (s === 'inf' || s === '+inf') return Infinity;
  if (s === '-inf') return -Infinity;
  const n = Number(s);
  if (Number.isNaN(n)) throw new Error(`unparseable score from Redis: ${s}`);
  return n;
}

type Pair = { member: string; score: number };

function pairsFromWithScores(reply: unknown): Pair[] {
  const flat = reply as string[];
  const out: Pair[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ member: flat[i]!, score: parseScore(flat[i + 1]!) });
  return out;
}

const toPairs = (es: Array<{ member: string; score: number }>): Pair[] =>
  es.map(({ member, score }) => ({ member, score }));

// One queued command and how to judge Redis's reply to it.
type Check = { what: string; verify: (reply: unknown, what: string) => void };

describe('SkipList vs Redis zset', () => {
  let redis: Redis;
  const prefix = uniquePrefix('skiplist');
  const keys: string[] = [];

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it.each(SEEDS)('agrees on random operation sequences (seed %i)', async (seed) => {
    const key = `${prefix}z${seed}`;
    keys.push(key);
    await redis.del(key);
    const rnd = mulberry32(seed);
    const sl = new SkipList<number>({ random: mulberry32(seed * 7919), initialCapacity: 4 });
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const randInt = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
    const randMember = (): string => (rnd() < 0.4 ? pick(SPECIAL_MEMBERS) : pick(PLAIN_MEMBERS));
    const randBound = (): ScoreBound => ({ value: pick(SCORES), exclusive: rnd() < 0.5 });

    let op = 0;
    while (op < OPS_PER_SEED) {
      const pipe = redis.pipeline();
      const checks: Check[] = [];
      const queue = (what: string, args: Array<string | number>, verify: Check['verify']): void => {
        pipe.call(args[0] as string, ...args.slice(1));
        checks.push({ what: `seed ${seed} op ${op} ${what}: ${args.map(String).join(' ')}`, verify });
      };
      const equals =
        (expected: unknown) =>
        (reply: unknown, what: string): void => {
          expect(reply, what).toEqual(expected);
        };

      for (let i = 0; i < OPS_PER_BATCH && op < OPS_PER_SEED; i++, op++) {
        const k = rnd();
        if (k < 0.55) {
          const m = randMember();
          const s = pick(SCORES);
          const r = sl.add(m, s, op);
          queue('add', ['zadd', key, fmtScore(s), m], equals(r === 'added' ? 1 : 0));
        } else if (k < 0.85) {
          const m = randMember();
          queue('remove', ['zrem', key, m], equals(sl.remove(m) ? 1 : 0));
        } else if (k < 0.93) {
          const min = randBound();
          const max = randBound();
          queue('removeRangeByScore', ['zremrangebyscore', key, fmtBound(min), fmtBound(max)], equals(sl.removeRangeByScore(min, max)));
        } else {
          const n = randInt(0, sl.size + 2);
          queue(`trimToMaxLength(${n})`, ['zremrangebyrank', key, 0, -(n + 1)], equals(sl.trimToMaxLength(n)));
        }
      }

      queue('size', ['zcard', key], equals(sl.size));
      const all = toPairs(sl.rangeByRank(0, -1));
      queue('full range', ['zrange', key, 0, -1, 'withscores'], (reply, what) => {
        expect(pairsFromWithScores(reply), what).toEqual(all);
      });
      for (let j = 0; j < 3; j++) {
        const min = randBound();
        const max = randBound();
        if (rnd() < 0.3) {
          const got = toPairs(sl.rangeByScore(min, max));
          queue('rangeByScore', ['zrangebyscore', key, fmtBound(min), fmtBound(max), 'withscores'], (reply, what) => {
            expect(pairsFromWithScores(reply), what).toEqual(got);
          });
        } else {
          const offset = rnd() < 0.1 ? -randInt(1, 3) : randInt(0, 30);
          const count = rnd() < 0.2 ? -randInt(1, 3) : randInt(0, 30);
          const got = toPairs(sl.rangeByScore(min, max, { offset, count }));
          const args = ['zrangebyscore', key, fmtBound(min), fmtBound(max), 'withscores', 'limit', offset, count];
          queue('rangeByScore+limit', args, (reply, what) => {
            expect(pairsFromWithScores(reply), what).toEqual(got);
          });
        }
      }
      for (let j = 0; j < 3; j++) {
        const m = randMember();
        queue('rank', ['zrank', key, m], equals(sl.rank(m) ?? null));
        const s = sl.score(m);
        queue('score', ['zscore', key, m], (reply, what) => {
          expect(reply === null ? undefined : parseScore(reply as string), what).toBe(s);
        });
      }
      const start = randInt(-40, 40);
      const stop = randInt(-40, 40);
      const byRank = toPairs(sl.rangeByRank(start, stop));
      queue('rangeByRank', ['zrange', key, start, stop, 'withscores'], (reply, what) => {
        expect(pairsFromWithScores(reply), what).toEqual(byRank);
      });

      const results = (await pipe.exec()) ?? [];
      expect(results.length).toBe(checks.length);
      results.forEach(([err, reply], idx) => {
        const c = checks[idx]!;
        expect(err, c.what).toBeNull();
        c.verify(reply, c.what);
      });
    }
    sl.checkIntegrity();
    await redis.del(key);
  });
});
