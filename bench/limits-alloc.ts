// npm run bench:limits-alloc — what the security checks cost a warm request, in
// process, away from the noise of HTTP on a shared machine: ns per call and
// heap bytes allocated per call of (a) the verified-token cache alone, (b) the
// same plus the lesson's revocation check (authenticate), (c) (b) plus the
// rate-limit bucket (admit), each on a hit. Run with --expose-gc (the npm
// script does) so the heap is measured between collections; a call that
// allocates nothing shows ~0 bytes per call; what matters is each row's
// difference to the row before it (the verified-token cache, an lru-cache get,
// was there before the checks).
//
//   npm run bench:limits-alloc -- [--calls 2000000] [--callers 1000]
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { RateLimiter } from '../src/api/limits.js';
import { Revocations } from '../src/auth/revocation.js';
import { TokenVerifier } from '../src/auth/tokens.js';
import { registerSecurityMetrics } from '../src/metrics.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000000' }, callers: { type: 'string', default: '1000' } } });
const CALLS = Number(values.calls);
const CALLERS = Number(values.callers);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:limits-alloc does)');

const LESSON = 1;
const tokens = new TokenVerifier({ secret: 'bench-secret-0123456789-abcdefghijklmnop', cacheEntries: CALLERS * 2 });
const list = [...Array(CALLERS).keys()].map((i) => tokens.mint({ uid: i + 1, role: 'student', lesson: LESSON, exp: Math.floor(Date.now() / 1000) + 3600 }));
// Lists held in memory, as a gateway holds them once loaded: one revoked user, so the per-user lookup runs.
const revocations = new Revocations({ load: async () => ({ all: 0, users: new Map([[CALLERS + 5, Date.now()]]) }), watch: () => undefined, unwatch: () => undefined }, { refreshMs: 3_600_000, maxLessons: 10 });
const registry = new Registry();
const limits = new RateLimiter(
  {
    rateReadPerSecond: 1e9,
    rateReadBurst: 1e9,
    rateMutationPerSecond: 1,
    rateMutationBurst: 1,
    ratePublishPerSecond: 1,
    ratePublishBurst: 1,
    rateServicePerSecond: 1,
    rateServiceBurst: 1,
    rateAddressPerSecond: 0,
    rateAddressBurst: 1,
    rateMaxBuckets: CALLERS * 2,
  },
  registerSecurityMetrics(registry, () => 0).limited,
);

/** Runs `f` over every caller CALLS times in all; ns per call and heap bytes per call. */
function measure(name: string, f: (token: string, now: number) => unknown): { name: string; nsPerCall: number; bytesPerCall: number } {
  for (let i = 0; i < 200_000; i++) f(list[i % CALLERS]!, i); // warm-up: JIT, caches, buckets
  gc!();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) f(list[i % CALLERS]!, 1_000_000 + i);
  const ns = Number(process.hrtime.bigint() - t0);
  const heap1 = process.memoryUsage().heapUsed;
  return { name, nsPerCall: Number((ns / CALLS).toFixed(1)), bytesPerCall: Number(((heap1 - heap0) / CALLS).toFixed(3)) };
}

async function main(): Promise<void> {
  // The lesson's list is loaded once (the first request's read).
  tokens.useRevocations(revocations);
  await tokens.authenticate(list[0]!);
  const rows = [
    measure('baseline (the loop alone)', (t) => t),
    measure('verify (token cache)', (t) => tokens.verify(t)),
    measure('authenticate (+ revocation check)', (t, now) => tokens.authenticate(t, now)),
    measure('authenticate + admit (+ rate limit)', (t, now) => {
      const c = tokens.authenticate(t, now) as ReturnType<TokenVerifier['verify']>;
      limits.admit('read', c, null, now);
      return c;
    }),
  ];
  console.log(`${CALLS} calls over ${CALLERS} callers (heap measured without a collection in between; ~0 B/call: nothing allocated)`);
  for (const r of rows) console.log(`  ${r.name.padEnd(40)} ${String(r.nsPerCall).padStart(7)} ns/call  ${String(r.bytesPerCall).padStart(7)} B/call`);
}

await main();
