// Sustained in-class mutations at the service level: a mixed load of group
// picks, mutes and heartbeats (plus sign-ins) against one preloaded 30k-student
// lesson, from one process, with the write-behind flusher in a second process.
// Prints mutations/s and latency beside a baseline (PING at the same
// concurrency, the round-trip floor), flush lag p50/p99 and rows per INSERT,
// then checks zero loss (reconcile: MySQL equals Redis).
//
//   taskset -c 0 node --import tsx bench/mutations.ts [--seconds 10] [--concurrency 256] [--students 30000] [--cluster]
//
// The flusher child is pinned to core 1 when the machine has one. Uses its own
// database (orgengine_bench_wb_<random>, dropped at the end) and key prefix.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../src/config.js';
import { isOrgError } from '../src/errors.js';
import { createApp, createFlusher, createMutationService } from '../src/main.js';
import { prng } from '../src/model/synthetic.js';
import type { OrgNode } from '../src/model/topology.js';
import { preloadLesson } from '../src/preload/preload.js';
import { seedDay } from '../src/preload/seed.js';
import type { Caller } from '../src/services/caller.js';
import { reconcileLesson } from '../src/services/reconcile.js';
import { ensureDatabase, migrate } from '../src/store/mysql/pool.js';
import { unpack } from '../src/store/redis/codec.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { dropLessonKeys } from '../test/support/lesson.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '256' },
    students: { type: 'string', default: '30000' },
    cluster: { type: 'boolean', default: false },
    flusher: { type: 'boolean', default: false },
  },
});

const root = fileURLToPath(new URL('..', import.meta.url));
const quantile = (sorted: Float64Array | number[], q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);

/** The flusher child: flushes until SIGTERM, then drains and prints its figures as JSON. */
async function flusherChild(): Promise<void> {
  const app = createApp(loadConfig());
  const lags: number[] = [];
  let statements = 0;
  let rows = 0;
  let batches = 0;
  const f = createFlusher(app, {
    onFlush: (i) => {
      for (const l of i.lagsMs) lags.push(l);
      statements += i.statements;
      rows += i.rows;
      batches++;
    },
  });
  // The parent signals the start of the measured window: earlier records (warm-up,
  // and the lesson's discovery through the registry) are not counted.
  process.on('SIGUSR2', () => {
    lags.length = 0;
    statements = rows = batches = 0;
  });
  f.start();
  process.stdout.write('ready\n');
  await new Promise<void>((r) => process.once('SIGTERM', () => r()));
  await f.stop();
  const drained = await f.drain(120_000);
  lags.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ drained, records: lags.length, batches, statements, rows, lagP50: quantile(lags, 0.5), lagP99: quantile(lags, 0.99), lagMax: lags.at(-1) ?? 0 })}\n`,
  );
  await app.close();
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds);
  const warmup = Number(args.warmup);
  const concurrency = Number(args.concurrency);
  const students = Number(args.students);
  const tag = randomUUID().slice(0, 8);
  const env: Record<string, string> = {
    ORGENGINE_MYSQL_URL: `mysql://root@127.0.0.1:3306/orgengine_bench_wb_${tag}`,
    ORGENGINE_KEY_PREFIX: `bench:wb:${tag}:`,
    ORGENGINE_LOG_LEVEL: 'warn',
    ...(args.cluster ? { ORGENGINE_REDIS_CLUSTER_NODES: process.env.ORGENGINE_TEST_CLUSTER_NODES ?? '127.0.0.1:30001,127.0.0.1:30002,127.0.0.1:30003' } : {}),
  };
  const config: Config = loadConfig({ ...process.env, ...env });
  const pinned = availableParallelism() === 1;
  console.log(`mutations bench: ${students} students, ${concurrency} in flight, ${seconds}s (+${warmup}s warm-up), ${args.cluster ? 'cluster' : 'single'} Redis`);
  console.log(`mutating process ${pinned ? 'pinned to one core' : `NOT pinned (${availableParallelism()} cores visible; run under taskset -c 0)`}; ${cpus()[0]?.model ?? ''}`);

  await ensureDatabase(config.mysqlUrl);
  const app = createApp(config);
  await migrate(app.pool);
  const { lessonIds } = await seedDay(app.pool, { lessons: 1, students, tutors: Math.ceil(students / 500), policy: 'group', seed: 77, date: '2026-11-21', batchRows: config.mysqlBatchRows });
  const lessonId = lessonIds[0]!;
  const pre = await preloadLesson({ pool: app.pool, redis: app.redis, config }, lessonId);
  const lk = lessonKeys(config.keyPrefix, lessonId);

  // Students, their rooms, and their tutors' groups from the preloaded lesson.
  const nodes = new Map<string, OrgNode>();
  for (const [k, v] of Object.entries(await app.redis.hgetallBuffer(lk.version(pre.version).nodes))) nodes.set(k, unpack<OrgNode>(v));
  const uids: number[] = [];
  const rooms: string[] = [];
  const groups: string[][] = [];
  for (let b = 0; b < pre.counts.positions; b++) {
    const flat = await app.redis.hgetallBuffer(lk.version(pre.version).positions(b));
    if (Object.keys(flat).length === 0) break;
    for (const [uid, blob] of Object.entries(flat)) {
      const p = unpack<{ n: string; r: Array<[string, number]> }>(blob);
      uids.push(Number(uid));
      rooms.push(p.r[p.r.length > 1 ? 2 : 0]![0]); // the tutor's in-class room, else main
      groups.push(nodes.get(p.n)!.childIds.flatMap((t) => nodes.get(t)!.childIds));
    }
  }

  const cores = cpus().length;
  const flusher = spawn(cores > 1 ? 'taskset' : process.execPath, [...(cores > 1 ? ['-c', '1', process.execPath] : []), '--import', 'tsx', 'bench/mutations.ts', '--flusher'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let flusherOut = '';
  flusher.stdout!.on('data', (d: Buffer) => (flusherOut += d.toString()));
  while (!flusherOut.startsWith('ready')) {
    if (flusher.exitCode !== null) throw new Error('the flusher child exited');
    await new Promise((r) => setTimeout(r, 50));
  }

  const svc = createMutationService(app);
  const caller: Caller = { uid: 1, role: 'service', lesson: '*' };
  const teacher: Caller = { uid: 2, role: 'teacher', lesson: '*' };
  const rnd = prng(5);
  const counts = { pick: 0, mute: 0, heartbeat: 0, signIn: 0, groupFull: 0, backpressure: 0, other: 0 };
  const lat = new Float64Array(4_000_000);
  let nlat = 0;
  let measuring = false;
  let stop = false;

  const one = async (): Promise<void> => {
    const i = Math.floor(rnd() * uids.length);
    const uid = uids[i]!;
    const x = rnd();
    const t0 = performance.now();
    try {
      if (x < 0.2) {
        const g = groups[i]!;
        await svc.pickGroup(caller, { lessonId, uid, groupId: rnd() < 0.5 ? null : g[Math.floor(rnd() * g.length)]! });
        counts.pick++;
      } else if (x < 0.4) {
        await svc.mute(teacher, { lessonId, roomId: rooms[i]!, uid, muted: rnd() < 0.5 });
        counts.mute++;
      } else if (x < 0.45) {
        await svc.signIn(caller, { lessonId, uid });
        counts.signIn++;
      } else {
        await svc.heartbeat(caller, { lessonId, uid, roomId: rnd() < 0.5 ? 'main' : rooms[i]! });
        counts.heartbeat++;
      }
    } catch (e) {
      if (isOrgError(e, 'GROUP_FULL')) counts.groupFull++;
      else if (isOrgError(e, 'BACKPRESSURE')) counts.backpressure++;
      else {
        counts.other++;
        if (counts.other < 5) console.error(e);
      }
    }
    if (measuring && nlat < lat.length) lat[nlat++] = performance.now() - t0;
  };

  const run = async (op: () => Promise<unknown>, secs: number): Promise<{ ops: number; ms: number }> => {
    let ops = 0;
    stop = false;
    const t0 = performance.now();
    const timer = setTimeout(() => (stop = true), secs * 1000);
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (!stop) {
          await op();
          ops++;
        }
      }),
    );
    clearTimeout(timer);
    return { ops, ms: performance.now() - t0 };
  };

  const base = await run(() => app.redis.ping(), Math.max(2, Math.min(seconds, 3)));
  const baseRate = (base.ops / base.ms) * 1000;
  await run(one, warmup);
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0;
  measuring = true;
  flusher.kill('SIGUSR2');
  const cpu0 = process.cpuUsage();
  const r = await run(one, seconds);
  const cpu = process.cpuUsage(cpu0);
  measuring = false;
  const rate = (r.ops / r.ms) * 1000;
  const sorted = lat.subarray(0, nlat).sort();

  flusher.kill('SIGTERM');
  await new Promise((res) => flusher.once('exit', res));
  const f = JSON.parse(flusherOut.trim().split('\n').pop() ?? '{}') as Record<string, number | boolean>;
  const rec = await reconcileLesson(
    { redis: app.redis, pool: app.pool, keyPrefix: config.keyPrefix, ttlSeconds: config.ttlSeconds, wb: config.writeBehind, batchRows: config.mysqlBatchRows },
    lessonId,
  );
  const diffs = Object.values(rec.differing).reduce((a, b) => a + b, 0);

  console.log(`baseline PING          ${baseRate.toFixed(0).padStart(8)} ops/s`);
  console.log(`mutations (mixed)      ${rate.toFixed(0).padStart(8)} ops/s   ${(rate / baseRate).toFixed(2)}x of baseline`);
  console.log(`  mix: ${JSON.stringify(counts)}`);
  console.log(`  mutating process CPU: ${(((cpu.user + cpu.system) / 1000 / r.ms) * 100).toFixed(0)}% of one core (below 100%: Redis, not the process, is the limit)`);
  console.log(`  latency ms: p50 ${quantile(sorted, 0.5).toFixed(2)}  p99 ${quantile(sorted, 0.99).toFixed(2)}  max ${(sorted.at(-1) ?? 0).toFixed(2)}`);
  console.log(
    `flusher: drained=${f.drained} records=${f.records} batches=${f.batches} statements=${f.statements} rows/INSERT=${(Number(f.rows) / Math.max(1, Number(f.statements))).toFixed(0)} ` +
      `records/batch=${(Number(f.records) / Math.max(1, Number(f.batches))).toFixed(0)}`,
  );
  console.log(`  flush lag ms (records of the measured window and the final drain): p50 ${f.lagP50}  p99 ${f.lagP99}  max ${f.lagMax}`);
  console.log(`zero loss: reconcile differences=${diffs} unflushed=${rec.unflushed} seatMismatches=${rec.seatMismatches.length}`);

  await dropLessonKeys(app.redis, config.keyPrefix, [lessonId]);
  await app.pool.query(`DROP DATABASE IF EXISTS \`orgengine_bench_wb_${tag}\``);
  await app.close();
}

if (args.flusher) await flusherChild();
else await main();
