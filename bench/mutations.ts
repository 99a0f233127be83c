// Sustained in-class mutations: a mixed load of group picks, mutes and
// heartbeats (plus sign-ins) against one preloaded 30k-student lesson, with the
// write-behind flusher in a second process. Prints mutations/s and latency
// beside a baseline, flush lag p50/p99 and rows per INSERT, then checks zero
// loss (reconcile: MySQL equals Redis).
//
// Service level (default): the mix runs in this process against the mutation
// service; the baseline is PING at the same concurrency (the round-trip floor).
// HTTP level (--http): `orgengine serve` (one worker) on core 0 takes the same
// mix from wrk on core 1 (each request a random student acting for itself with
// its own token, mutes by a teacher); the baseline is GET /healthz through the
// same wrk script shape. `mutationWrkScript` is exported for other benches.
//
//   taskset -c 0 node --import tsx bench/mutations.ts [--seconds 10] [--concurrency 256] [--students 30000] [--cluster] [--http] [--durability-pairs N]
//
// The flusher child is pinned to core 1 when the machine has one. Uses its own
// database (orgengine_bench_wb_<random>, dropped at the end) and key prefix.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig, type Config } from '../src/config.js';
import { isOrgError } from '../src/errors.js';
import { createApp, createFlusher, createMutationService } from '../src/main.js';
import { prng } from '../src/model/synthetic.js';
import type { OrgNode } from '../src/model/topology.js';
import { preloadLesson } from '../src/preload/preload.js';
import { seedDay } from '../src/preload/seed.js';
import type { Caller } from '../src/auth/caller.js';
import { reconcileLesson } from '../src/services/reconcile.js';
import { ensureDatabase, migrate } from '../src/store/mysql/pool.js';
import { unpack } from '../src/store/redis/codec.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { dropLessonKeys } from '../test/support/lesson.js';
import { hasTaskset, spawnGateway, startFlusherChild, stopGateway } from './support.js';

/** The command line (parsed only when this file runs as a script). */
function cliArgs() {
  return parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '256' },
      students: { type: 'string', default: '30000' },
      cluster: { type: 'boolean', default: false },
      http: { type: 'boolean', default: false },
      flusher: { type: 'boolean', default: false },
      // Service level: after the main run, alternate memory and replica durability
      // (ORGENGINE_DURABILITY) in this many paired rounds of --seconds each.
      'durability-pairs': { type: 'string', default: '0' },
    },
  }).values;
}

/** The mix, as cumulative thresholds of one uniform draw: picks (half chosen, half auto), mute/unmute, sign-in, heartbeat. */
export const MUTATION_MIX = { pick: 0.2, mute: 0.4, signIn: 0.45 } as const;

/**
 * A wrk script sending the mixed mutation load over HTTP to lesson `lessonId`.
 * `studentsFile` has one line per student: `uid<TAB>room<TAB>token<TAB>group,group,...`
 * (room: the student's tutor room, token: the student's own); mutes use
 * `staffToken` (a teacher's). With `baseline`, every request is GET /healthz with
 * the same per-request work in wrk. `done` prints a `JSON {...}` line: requests,
 * seconds, p50/p99 (ms), transport errors, and responses by status.
 */
export function mutationWrkScript(lessonId: number, studentsFile: string, staffToken: string, baseline = false, seed = 7): string {
  return `
local rows = {}
for line in io.lines(${JSON.stringify(studentsFile)}) do
  local uid, room, tok, groups = line:match("^(%d+)\\t([^\\t]+)\\t([^\\t]+)\\t(.*)$")
  local gs = {}
  for g in groups:gmatch("[^,]+") do gs[#gs + 1] = g end
  rows[#rows + 1] = { uid = uid, room = room, auth = "Bearer " .. tok, groups = gs }
end
local n = #rows
local staff = "Bearer " .. ${JSON.stringify(staffToken)}
local L = "/v1/lessons/${lessonId}"
local baseline = ${baseline ? 'true' : 'false'}
local h = { ["content-type"] = "application/json" }
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
init = function() math.randomseed(${seed}) end
request = function()
  local r = rows[math.random(n)]
  local x = math.random()
  h["authorization"] = r.auth
  if baseline then return wrk.format("GET", "/healthz", h) end
  if x < ${MUTATION_MIX.pick} then
    local body = "{}"
    if math.random() < 0.5 and #r.groups > 0 then body = '{"groupId":"' .. r.groups[math.random(#r.groups)] .. '"}' end
    return wrk.format("POST", L .. "/students/" .. r.uid .. "/group", h, body)
  elseif x < ${MUTATION_MIX.mute} then
    h["authorization"] = staff
    local m = "PUT"
    if math.random() < 0.5 then m = "DELETE" end
    return wrk.format(m, L .. "/rooms/" .. r.room .. "/students/" .. r.uid .. "/mute", h)
  elseif x < ${MUTATION_MIX.signIn} then
    return wrk.format("POST", L .. "/students/" .. r.uid .. "/sign-in", h)
  end
  local room = r.room
  if math.random() < 0.5 then room = "main" end
  return wrk.format("POST", L .. "/rooms/" .. room .. "/students/" .. r.uid .. "/heartbeat", h)
end
statuses = {}
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
done = function(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do parts[#parts + 1] = string.format('"%d":%d', k, v) end
  local e = summary.errors
  io.write(string.format('JSON {"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"errors":%d,"statuses":{%s}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
`;
}

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

/** What one measured run gave. */
interface Measured {
  baselineName: string;
  baseRate: number;
  rate: number;
  mix: Record<string, number>;
  cpuName: string;
  cpuPercent: number;
  p50: number;
  p99: number;
  max: number | null;
  /** Paired rounds of memory and replica durability (service level, --durability-pairs). */
  pairs: Array<{ durability: 'memory' | 'replica'; rate: number; p50: number; p99: number; refused: number }>;
}

type App = ReturnType<typeof createApp>;

/** Service level: the mix from this process through the mutation service, beside PING. */
async function servicePhases(
  app: App, lessonId: number, uids: number[], rooms: string[], groups: string[][],
  seconds: number, warmup: number, concurrency: number, startWindow: () => void, durabilityPairs = 0,
): Promise<Measured> {
  let svc = createMutationService(app);
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
      if (x < MUTATION_MIX.pick) {
        const g = groups[i]!;
        await svc.pickGroup(caller, { lessonId, uid, groupId: rnd() < 0.5 ? null : g[Math.floor(rnd() * g.length)]! });
        counts.pick++;
      } else if (x < MUTATION_MIX.mute) {
        await svc.mute(teacher, { lessonId, roomId: rooms[i]!, uid, muted: rnd() < 0.5 });
        counts.mute++;
      } else if (x < MUTATION_MIX.signIn) {
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
  await run(one, warmup);
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0;
  measuring = true;
  startWindow();
  const cpu0 = process.cpuUsage();
  const r = await run(one, seconds);
  const cpu = process.cpuUsage(cpu0);
  measuring = false;
  // A copy: the paired rounds below reuse `lat`.
  const sorted = lat.slice(0, nlat).sort();
  // Paired rounds in the same run, same lesson, same load: only the durability differs.
  const pairs: Measured['pairs'] = [];
  for (let round = 0; round < durabilityPairs; round++) {
    for (const durability of ['memory', 'replica'] as const) {
      svc = createMutationService({ ...app, config: { ...app.config, writeBehind: { ...app.config.writeBehind, durability } } });
      counts.other = 0;
      nlat = 0;
      measuring = true;
      const pr = await run(one, seconds);
      measuring = false;
      const ps = lat.subarray(0, nlat).sort();
      pairs.push({ durability, rate: (pr.ops / pr.ms) * 1000, p50: quantile(ps, 0.5), p99: quantile(ps, 0.99), refused: counts.other });
    }
  }
  return {
    pairs,
    baselineName: 'PING',
    baseRate: (base.ops / base.ms) * 1000,
    rate: (r.ops / r.ms) * 1000,
    mix: counts,
    cpuName: 'mutating process',
    cpuPercent: ((cpu.user + cpu.system) / 1000 / r.ms) * 100,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? 0,
  };
}

const execFileP = promisify(execFile);
const SECRET = 'bench-secret-0123456789-abcdefghijklmno';

/** utime + stime of a process, in seconds (Linux USER_HZ = 100). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** HTTP level: `orgengine serve` on core 0, wrk on core 1 with mutationWrkScript, beside GET /healthz. */
async function httpPhases(
  config: Config, lessonId: number, uids: number[], rooms: string[], groups: string[][],
  seconds: number, warmup: number, concurrency: number, startWindow: () => void,
): Promise<Measured> {
  const pin = hasTaskset();
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1 });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const dir = join(tmpdir(), `oe-mutbench-${process.pid}`);
  const studentsFile = `${dir}.students`;
  const script = `${dir}.lua`;
  const baseline = `${dir}.healthz.lua`;
  writeFileSync(studentsFile, uids.map((uid, i) => `${uid}\t${rooms[i]}\t${tokens.mint({ uid, role: 'student', lesson: lessonId, exp })}\t${groups[i]!.join(',')}`).join('\n') + '\n');
  const staff = tokens.mint({ uid: 2, role: 'teacher', lesson: lessonId, exp });
  writeFileSync(script, mutationWrkScript(lessonId, studentsFile, staff));
  writeFileSync(baseline, mutationWrkScript(lessonId, studentsFile, staff, true));
  const env: Record<string, string> = {
    ORGENGINE_MYSQL_URL: config.mysqlUrl,
    ORGENGINE_KEY_PREFIX: config.keyPrefix,
    ORGENGINE_TOKEN_SECRET: SECRET,
    ORGENGINE_LOG_LEVEL: 'warn',
    ...(config.redis.mode === 'cluster' ? { ORGENGINE_REDIS_CLUSTER_NODES: config.redis.nodes.map((n) => `${n.host}:${n.port}`).join(',') } : { ORGENGINE_REDIS_URL: config.redis.url }),
  };
  const gw = await spawnGateway(env, pin ? { cpu: 0 } : {});
  const wrk = async (file: string, secs: number) => {
    const a = ['-t1', `-c${concurrency}`, `-d${secs}s`, '-s', file, `http://127.0.0.1:${gw.port}`];
    const { stdout } = pin ? await execFileP('taskset', ['-c', '1', 'wrk', ...a]) : await execFileP('wrk', a);
    const line = stdout.split('\n').find((l) => l.startsWith('JSON '));
    if (!line) throw new Error(`unexpected wrk output:\n${stdout}`);
    return JSON.parse(line.slice(5)) as { requests: number; seconds: number; p50: number; p99: number; errors: number; statuses: Record<string, number> };
  };
  try {
    const base = await wrk(baseline, Math.max(2, Math.min(seconds, 3)));
    await wrk(script, warmup);
    startWindow();
    const cpu0 = cpuSeconds(gw.child.pid!);
    const r = await wrk(script, seconds);
    const cpu = cpuSeconds(gw.child.pid!) - cpu0;
    return {
      pairs: [],
      baselineName: 'GET /healthz',
      baseRate: base.requests / base.seconds,
      rate: r.requests / r.seconds,
      mix: { ...r.statuses, transportErrors: r.errors },
      cpuName: 'gateway',
      cpuPercent: (cpu / r.seconds) * 100,
      p50: r.p50,
      p99: r.p99,
      max: null,
    };
  } finally {
    await stopGateway(gw.child);
    for (const f of [studentsFile, script, baseline]) rmSync(f, { force: true });
  }
}

async function main(args: ReturnType<typeof cliArgs>): Promise<void> {
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
  if (args.http) console.log(`HTTP: orgengine serve (1 worker) on core 0, wrk -c${concurrency} on core 1; ${cpus()[0]?.model ?? ''}`);
  else console.log(`mutating process ${pinned ? 'pinned to one core' : `NOT pinned (${availableParallelism()} cores visible; run under taskset -c 0)`}; ${cpus()[0]?.model ?? ''}`);

  await ensureDatabase(config.mysqlUrl);
  const app = createApp(config);
  let lessonId = 0;
  let flusher: ChildProcess | null = null;
  try {
    await migrate(app.pool);
    const { lessonIds } = await seedDay(app.pool, { lessons: 1, students, tutors: Math.ceil(students / 500), policy: 'group', seed: 77, date: '2026-11-21', batchRows: config.mysqlBatchRows });
    lessonId = lessonIds[0]!;
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

    const started = await startFlusherChild(root, env, cpus().length > 1);
    flusher = started.child;

    const m = args.http
      ? await httpPhases(config, lessonId, uids, rooms, groups, seconds, warmup, concurrency, () => flusher!.kill('SIGUSR2'))
      : await servicePhases(app, lessonId, uids, rooms, groups, seconds, warmup, concurrency, () => flusher!.kill('SIGUSR2'), Number(args['durability-pairs']));

    const child = flusher;
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    flusher = null;
    const f = JSON.parse(started.output().trim().split('\n').pop() ?? '{}') as Record<string, number | boolean>;
    const rec = await reconcileLesson(
      { redis: app.redis, pool: app.pool, keyPrefix: config.keyPrefix, ttlSeconds: config.ttlSeconds, wb: config.writeBehind, batchRows: config.mysqlBatchRows },
      lessonId,
    );
    const diffs = Object.values(rec.differing).reduce((a, b) => a + b, 0);

    console.log(`baseline ${m.baselineName.padEnd(16)}${m.baseRate.toFixed(0).padStart(8)} ops/s`);
    console.log(`mutations (mixed)      ${m.rate.toFixed(0).padStart(8)} ops/s   ${(m.rate / m.baseRate).toFixed(2)}x of baseline`);
    console.log(`  mix: ${JSON.stringify(m.mix)}`);
    console.log(`  ${m.cpuName} CPU: ${m.cpuPercent.toFixed(0)}% of one core (below 100%: Redis, not the process, is the limit)`);
    console.log(`  latency ms: p50 ${m.p50.toFixed(2)}  p99 ${m.p99.toFixed(2)}${m.max === null ? '' : `  max ${m.max.toFixed(2)}`}`);
    console.log(
      `flusher: drained=${f.drained} records=${f.records} batches=${f.batches} statements=${f.statements} rows/INSERT=${(Number(f.rows) / Math.max(1, Number(f.statements))).toFixed(0)} ` +
        `records/batch=${(Number(f.records) / Math.max(1, Number(f.batches))).toFixed(0)}`,
    );
    console.log(`  flush lag ms (records of the measured window and the final drain): p50 ${f.lagP50}  p99 ${f.lagP99}  max ${f.lagMax}`);
    if (m.pairs.length > 0) {
      const d = config.writeBehind;
      console.log(`durability (paired rounds; replica = WAIT ${d.durabilityReplicas} replica(s), timeout ${d.durabilityTimeoutMs} ms):`);
      for (const p of m.pairs) console.log(`  ${p.durability.padEnd(8)}${p.rate.toFixed(0).padStart(8)} ops/s   p50 ${p.p50.toFixed(2)} ms  p99 ${p.p99.toFixed(2)} ms  refused ${p.refused}`);
      const mean = (k: 'memory' | 'replica') => m.pairs.filter((p) => p.durability === k).reduce((a, p) => a + p.rate, 0) / Math.max(1, m.pairs.filter((p) => p.durability === k).length);
      console.log(`  replica / memory throughput: ${(mean('replica') / mean('memory')).toFixed(2)}x`);
    }
    console.log(`zero loss: reconcile differences=${diffs} unflushed=${rec.unflushed} seatMismatches=${rec.seatMismatches.length}`);
  } finally {
    // Whatever happened, leave no child, keys or database behind.
    if (flusher && flusher.exitCode === null) flusher.kill('SIGKILL');
    if (lessonId) await dropLessonKeys(app.redis, config.keyPrefix, [lessonId]).catch(() => undefined);
    await app.pool.query(`DROP DATABASE IF EXISTS \`orgengine_bench_wb_${tag}\``).catch(() => undefined);
    await app.close();
  }
}

// Run only as a script: other benches import mutationWrkScript.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = cliArgs();
  if (args.flusher) await flusherChild();
  else await main(args);
}
