// bench:signals — 10,000 simulated students polling one hot room while the
// teacher publishes 5 signals/s, with the local signal cache on and off in
// alternating phases of the same run. Prints client reads/s, the Redis
// commands the phase caused (INFO commandstats deltas), the ratio of Redis
// requests to client reads (target <= 1/1000 with the cache) and the on/off
// throughput ratio (target >= 3x).
//
// By default it starts a private redis-server on a free port, so commandstats
// count this bench's commands only; --redis-url points it at another server
// (then other clients' commands are counted too).
//
// The read is pluggable (BenchReader): this file drives the service in
// process; an HTTP or gRPC client reading from two gateways (cache on / off)
// can be dropped in through runSignalsBench().
//
//   npx tsx bench/signals.ts [--students 10000] [--rate 5] [--phase-seconds 5] [--rounds 2] [--poll-ms 0]
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { SignalConfig } from '../src/config.js';
import { createRedis, type RedisClient } from '../src/store/redis/client.js';
import { createSubscriberClient, LessonChannels } from '../src/store/redis/lessonChannels.js';
import type { Caller } from '../src/auth/caller.js';
import { createSignalRuntime, SignalService } from '../src/services/signals.js';
import { dropLessonKeys, loadSyntheticLesson } from '../test/support/lesson.js';
import { commandDelta, commandStats } from './support.js';
import { startPrivateRedis } from './lib/redis.js';

/** One simulated client's read: signals after `after`; returns the highest seq it now has. */
export interface BenchReader {
  /** Reads for student `student` (0-based); resolves with the new `after` and how many signals came. */
  read(student: number, after: number): Promise<{ after: number; received: number }>;
  /** Redis round trips the reader's gateway made, if it can tell (cache metrics); for the cross-check. */
  redisRequests?(): number;
}

/** A publisher of one signal (the teacher). */
export type BenchPublish = () => Promise<void>;

/** What runSignalsBench needs. */
export interface SignalsBenchSetup {
  readers: { on: BenchReader; off: BenchReader };
  publish: BenchPublish;
  /** A connection to the Redis server whose commandstats are read (one server, not a cluster). */
  stats: Redis;
}

/** Options of one run. */
export interface SignalsBenchOptions {
  students: number;
  ratePerSecond: number;
  phaseSeconds: number;
  rounds: number;
  /** Pause between one student's polls (0 = as fast as the process allows, yielding each time). */
  pollMs: number;
}

/** Results of one phase. */
export interface PhaseResult {
  cache: 'on' | 'off';
  seconds: number;
  reads: number;
  readsPerSecond: number;
  publishes: number;
  signalsReceived: number;
  /** Script calls (EVALSHA/EVAL) minus publishes and the idle gateway's own fetches: the round trips the reads cost. */
  readRedisRequests: number;
  /** Every command Redis executed for the phase, script-internal ones included. */
  redisCommands: number;
  redisCommandsPerSecond: number;
  byCommand: Record<string, number>;
  /** readRedisRequests / reads. */
  redisPerRead: number;
  /** The gateway's own count of round trips, when it has one. */
  gatewayRedisRequests: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

async function runPhase(setup: SignalsBenchSetup, cache: 'on' | 'off', o: SignalsBenchOptions): Promise<PhaseResult> {
  const reader = setup.readers[cache];
  // The idle gateway still fetches on notifications for a while; its round trips are not this phase's reads'.
  const other = setup.readers[cache === 'on' ? 'off' : 'on'];
  const other0 = other.redisRequests?.() ?? 0;
  // Every student starts a phase knowing nothing, as on entering the room.
  const after = new Float64Array(o.students);
  let reads = 0;
  let received = 0;
  let running = true;
  const gw0 = reader.redisRequests?.() ?? 0;
  const before = await commandStats(setup.stats);
  const t0 = performance.now();

  let publishes = 0;
  const publisher = (async () => {
    const every = 1000 / o.ratePerSecond;
    let next = performance.now();
    while (running) {
      await setup.publish();
      publishes++;
      next += every;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();

  const students = Array.from({ length: o.students }, async (_, i) => {
    // Spread the first polls so the phase does not start with 10k simultaneous misses.
    await sleep((i % 100) / 10);
    while (running) {
      const r = await reader.read(i, after[i]!);
      after[i] = r.after;
      received += r.received;
      reads++;
      if (o.pollMs > 0) await sleep(o.pollMs);
      else await yieldToLoop();
    }
  });

  await sleep(o.phaseSeconds * 1000);
  running = false;
  const seconds = (performance.now() - t0) / 1000;
  const readsAtStop = reads;
  await Promise.all(students);
  await publisher;
  const d = commandDelta(before, await commandStats(setup.stats));
  const scripts = (d.byCommand.evalsha ?? 0) + (d.byCommand.eval ?? 0);
  const otherRequests = (other.redisRequests?.() ?? 0) - other0;
  const readRedisRequests = scripts - publishes - otherRequests;
  return {
    cache,
    seconds,
    reads,
    readsPerSecond: readsAtStop / seconds,
    publishes,
    signalsReceived: received,
    readRedisRequests,
    redisCommands: d.total,
    redisCommandsPerSecond: d.total / seconds,
    byCommand: d.byCommand,
    redisPerRead: readRedisRequests / reads,
    gatewayRedisRequests: reader.redisRequests ? reader.redisRequests() - gw0 : null,
  };
}

/** Alternates cache-on and cache-off phases and returns every phase's figures. */
export async function runSignalsBench(setup: SignalsBenchSetup, o: SignalsBenchOptions): Promise<PhaseResult[]> {
  const out: PhaseResult[] = [];
  for (let r = 0; r < o.rounds; r++) {
    // Alternate which goes first so neither always gets the warmer process.
    const order: Array<'on' | 'off'> = r % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const c of order) out.push(await runPhase(setup, c, o));
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      students: { type: 'string', default: '10000' },
      rate: { type: 'string', default: '5' },
      'phase-seconds': { type: 'string', default: '5' },
      rounds: { type: 'string', default: '2' },
      'poll-ms': { type: 'string', default: '0' },
      'redis-url': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const o: SignalsBenchOptions = {
    students: Number(values.students),
    ratePerSecond: Number(values.rate),
    phaseSeconds: Number(values['phase-seconds']),
    rounds: Number(values.rounds),
    pollMs: Number(values['poll-ms']),
  };
  for (const [k, v] of Object.entries(o)) if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a number >= 0`);

  const priv = values['redis-url'] ? null : await startPrivateRedis(null);
  const url = values['redis-url'] ?? priv!.url;
  const prefix = `bench:sig:${process.pid}:`;
  const lessonId = 100_001;
  const redis: RedisClient = createRedis({ mode: 'single', url });
  const stats = new Redis(url);
  const signals: SignalConfig = {
    cache: true,
    cacheBuckets: 16,
    cacheRoomsPerBucket: 128,
    cacheBytesPerBucket: 8 * 1024 * 1024,
    maxStalenessMs: 1000,
    retain: 1000,
    maxPayloadBytes: 1024,
    maxReadLimit: 100,
  };
  const config = { keyPrefix: prefix, ttlSeconds: 3600, signals, writeBehind: { maxStreamLength: 10_000_000 } };
  try {
    const topo = await loadSyntheticLesson(redis, prefix, lessonId, { students: 100, tutors: 1, policy: 'three-screen' });
    const channels = new LessonChannels(createSubscriberClient({ mode: 'single', url }, 'bench-sub'), prefix, (e) => console.error('signal subscriber:', e.message));
    const onRt = createSignalRuntime({ redis, config, channels });
    const off = new SignalService({ redis, config: { ...config, signals: { ...signals, cache: false } }, cache: null });
    const teacher: Caller = { uid: 1, role: 'teacher', lesson: lessonId };
    const student = (i: number): Caller => ({ uid: 1_000_000 + i, role: 'student', lesson: lessonId });
    // One caller object per student, made once: the transport would hand the service one per request.
    const callers = Array.from({ length: o.students }, (_, i) => student(i));
    const reader = (svc: SignalService, redisRequests?: () => number): BenchReader => ({
      async read(i, after) {
        const p = await svc.read(callers[i]!, lessonId, 'main', after, 100);
        return { after: p.signals.length > 0 ? p.signals[p.signals.length - 1]!.seq : after, received: p.signals.length };
      },
      ...(redisRequests ? { redisRequests } : {}),
    });
    let n = 0;
    const setup: SignalsBenchSetup = {
      readers: { on: reader(onRt.service, () => onRt.cache!.snapshot().total.tailFetches), off: reader(off) },
      publish: async () => {
        await off.publish(teacher, lessonId, 'main', JSON.stringify({ type: 'page', page: ++n }));
      },
      stats,
    };
    const phases = await runSignalsBench(setup, o);

    onRt.close();
    await channels.close();
    await dropLessonKeys(redis, prefix, lessonId, topo.rooms.map((r) => r.roomId));

    const on = phases.filter((p) => p.cache === 'on');
    const offs = phases.filter((p) => p.cache === 'off');
    const sum = (ps: PhaseResult[], k: 'reads' | 'readRedisRequests' | 'seconds') => ps.reduce((a, p) => a + p[k], 0);
    const onRps = sum(on, 'reads') / sum(on, 'seconds');
    const offRps = sum(offs, 'reads') / sum(offs, 'seconds');
    const summary = {
      options: o,
      redis: priv ? 'private redis-server' : url,
      node: process.version,
      phases,
      cacheOnReadsPerSecond: onRps,
      cacheOffReadsPerSecond: offRps,
      throughputRatio: onRps / offRps,
      cacheOnRedisPerRead: sum(on, 'readRedisRequests') / sum(on, 'reads'),
      cacheOffRedisPerRead: sum(offs, 'readRedisRequests') / sum(offs, 'reads'),
    };
    if (values.json) {
      console.log(JSON.stringify(summary, null, 2));
    } else {
      console.log(`students=${o.students} rate=${o.ratePerSecond}/s phase=${o.phaseSeconds}s rounds=${o.rounds} poll=${o.pollMs}ms node ${process.version}`);
      console.log('cache  seconds   reads     reads/s  publishes  redis-cmds  cmds/s   read-round-trips  gateway-fetches  redis/read');
      for (const p of phases) {
        console.log(
          `${p.cache.padEnd(5)}  ${p.seconds.toFixed(1).padStart(7)}  ${String(p.reads).padStart(8)}  ${p.readsPerSecond.toFixed(0).padStart(9)}  ${String(p.publishes).padStart(9)}  ${String(p.redisCommands).padStart(10)}  ${p.redisCommandsPerSecond.toFixed(0).padStart(6)}  ${String(p.readRedisRequests).padStart(16)}  ${String(p.gatewayRedisRequests ?? '-').padStart(15)}  ${p.redisPerRead.toExponential(2)}`,
        );
      }
      console.log(`cache on : ${onRps.toFixed(0)} reads/s, ${(summary.cacheOnRedisPerRead * 1000).toFixed(3)} Redis requests per 1000 reads (target <= 1)`);
      console.log(`cache off: ${offRps.toFixed(0)} reads/s, ${(summary.cacheOffRedisPerRead * 1000).toFixed(0)} Redis requests per 1000 reads`);
      console.log(`throughput on/off: ${summary.throughputRatio.toFixed(2)}x (target >= 3x)`);
      if (o.pollMs > 0) console.log('(paced polling: reads/s follow the poll interval, so the on/off ratio shows latency, not capacity)');
    }
  } finally {
    await stats.quit().catch(() => undefined);
    await redis.quit().catch(() => undefined);
    await priv?.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
