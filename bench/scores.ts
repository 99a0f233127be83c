// Score events at full speed against one preloaded 30k-student lesson, with the
// write-behind flusher running, then warm leaderboard reads over HTTP beside the
// uWS static ceiling, in one run:
//
//   1. awards: this process (pinned to core 0 by `npm run bench:scores`) sends
//      score events through the score service at --concurrency in flight, 70 %
//      to random students (rolled up their group, team, tutor, lesson), 30 % to
//      random groups; a private redis-server and the flusher child (bench/mutations.ts
//      --flusher) share core 1. PING at the same concurrency is the baseline.
//      Reported: events/s, per core of the awarding process and of Redis, latency,
//      flush lag p50/p99 (the flusher child's, over the measured window and the
//      final drain).
//   2. zero loss: after the flusher drained, reconcile (ledger in MySQL vs every
//      live total in Redis) must report 0 differences, and the ledger must hold
//      every acknowledged event.
//   3. warm reads: `orgengine serve` (one worker, core 0) answers GET
//      /v1/lessons/:id/rooms/main/scores?limit=10 (a teacher's token) to wrk on
//      core 1, alternated round by round with bench/baselines/static-uws.ts
//      answering the same bytes; the ratio is the median of the per-round ratios.
//
//   npm run bench:scores -- [--seconds 8] [--concurrency 256] [--students 30000] [--rounds 2] [--read-seconds 3]
//
// Uses its own database (orgengine_bench_sc_<random>) and key prefix, dropped
// at the end, and writes bench/results/<date>-scores.json.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { Caller } from '../src/auth/caller.js';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig, type Config } from '../src/config.js';
import { isOrgError } from '../src/errors.js';
import { createApp, createMutationService, createScoreService } from '../src/main.js';
import { prng } from '../src/model/synthetic.js';
import type { OrgNode } from '../src/model/topology.js';
import { preloadLesson } from '../src/preload/preload.js';
import { seedDay } from '../src/preload/seed.js';
import { reconcileScores } from '../src/services/reconcile.js';
import { ensureDatabase, migrate } from '../src/store/mysql/pool.js';
import { unpack } from '../src/store/redis/codec.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { dropLessonKeys } from '../test/support/lesson.js';
import { cpuSeconds, median, pinned, startServer } from './lib/proc.js';
import { startPrivateRedis } from './lib/redis.js';
import { hasTaskset, spawnGateway, startFlusherChild, stopGateway, writeResult } from './support.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '256' },
    students: { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '2' },
    'read-seconds': { type: 'string', default: '3' },
    'read-connections': { type: 'string', default: '64' },
  },
});

const root = fileURLToPath(new URL('..', import.meta.url));
const execFileP = promisify(execFile);
const SECRET = 'bench-secret-0123456789-abcdefghijklmno';
const quantile = (s: Float64Array, q: number) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!);

/** A wrk script: GET `path` with `auth`, printing a `JSON {...}` line (requests, seconds, p50/p99 ms, errors, non-2xx). */
function readScript(path: string, auth: string): string {
  return `
local h = { ["authorization"] = "Bearer ${auth}" }
request = function() return wrk.format("GET", ${JSON.stringify(path)}, h) end
local bad = 0
response = function(status) if status ~= 200 then bad = bad + 1 end end
local threads = {}
setup = function(t) threads[#threads + 1] = t end
done = function(summary, latency, requests)
  local nb = 0
  for _, t in ipairs(threads) do nb = nb + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format('JSON {"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, nb))
end
`;
}

/** Redis's own CPU seconds (user + sys) from INFO. */
async function redisCpu(redis: ReturnType<typeof createApp>['redis']): Promise<number> {
  const info = await redis.info('cpu');
  const v = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return v('used_cpu_user') + v('used_cpu_sys');
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds);
  const warmup = Number(args.warmup);
  const concurrency = Number(args.concurrency);
  const students = Number(args.students);
  const rounds = Number(args.rounds);
  const readSeconds = Number(args['read-seconds']);
  const pin = hasTaskset() && cpus().length > 1;
  const tag = randomUUID().slice(0, 8);
  const redisServer = await startPrivateRedis(pin ? '1' : null);
  const env: Record<string, string> = {
    ORGENGINE_MYSQL_URL: `mysql://root@127.0.0.1:3306/orgengine_bench_sc_${tag}`,
    ORGENGINE_KEY_PREFIX: `bench:sc:${tag}:`,
    ORGENGINE_REDIS_URL: redisServer.url,
    ORGENGINE_REDIS_CLUSTER_NODES: '',
    ORGENGINE_LOG_LEVEL: 'warn',
    ORGENGINE_TOKEN_SECRET: SECRET,
  };
  const config: Config = loadConfig({ ...process.env, ...env });
  console.log(`scores bench: ${students} students, ${concurrency} in flight, ${seconds}s (+${warmup}s warm-up); awarding process ${pin ? 'core 0' : 'unpinned'}, Redis and flusher ${pin ? 'core 1' : 'unpinned'}; ${cpus()[0]?.model ?? ''}`);
  console.log('(a shared, busy machine: figures are indicative; ratios are measured side by side in this run)');

  await ensureDatabase(config.mysqlUrl);
  const app = createApp(config);
  let lessonId = 0;
  let flusher: ChildProcess | null = null;
  const files: string[] = [];
  try {
    await migrate(app.pool);
    const { lessonIds } = await seedDay(app.pool, { lessons: 1, students, tutors: Math.ceil(students / 500), policy: 'group', seed: 91, date: '2026-11-21', batchRows: config.mysqlBatchRows });
    lessonId = lessonIds[0]!;
    const pre = await preloadLesson({ pool: app.pool, redis: app.redis, config }, lessonId);
    const lk = lessonKeys(config.keyPrefix, lessonId);
    const nodes = new Map<string, OrgNode>();
    for (const [k, v] of Object.entries(await app.redis.hgetallBuffer(lk.version(pre.version).nodes))) nodes.set(k, unpack<OrgNode>(v));
    const groups = [...nodes.values()].filter((n) => n.kind === 'group').map((n) => n.nodeId);
    const uids: number[] = [];
    for (let b = 0; ; b++) {
      const flat = await app.redis.hkeys(lk.version(pre.version).positions(b));
      if (flat.length === 0) break;
      for (const u of flat) uids.push(Number(u));
    }
    // Every student picks a group first, so its points roll up group -> team -> tutor -> lesson.
    const mut = createMutationService(app);
    const service: Caller = { uid: 1, role: 'service', lesson: '*' };
    for (let i = 0; i < uids.length; i += 512) await Promise.all(uids.slice(i, i + 512).map((uid) => mut.pickGroup(service, { lessonId, uid, groupId: null })));
    console.log(`lesson ${lessonId}: ${uids.length} students, ${nodes.size} org nodes (${groups.length} groups), every student in a group`);

    const started = await startFlusherChild(root, env, pin);
    flusher = started.child;

    // ---- 1. awards at full speed ----
    const svc = createScoreService(app);
    const teacher: Caller = { uid: 2, role: 'teacher', lesson: lessonId };
    const rnd = prng(9);
    let seq = 0;
    let acked = 0;
    const refused: Record<string, number> = {};
    const lat = new Float64Array(4_000_000);
    let nlat = 0;
    let measuring = false;
    let stop = false;
    const award = async (): Promise<void> => {
      const toGroup = rnd() < 0.3;
      const key = `b${tag}-${seq++}`;
      const t0 = performance.now();
      try {
        await svc.award(teacher, {
          lessonId, key, roomId: 'main', sessionId: null, uid: toGroup ? null : uids[Math.floor(rnd() * uids.length)]!, nodeId: toGroup ? groups[Math.floor(rnd() * groups.length)]! : null,
          seatId: null, side: null, kind: toGroup ? 'reward' : 'answer', points: 1 + Math.floor(rnd() * 5), roundId: null,
        });
        acked++;
      } catch (e) {
        const code = isOrgError(e) ? e.code : 'other';
        refused[code] = (refused[code] ?? 0) + 1;
        if (code === 'other' && refused[code]! < 3) console.error(e);
      }
      if (measuring && nlat < lat.length) lat[nlat++] = performance.now() - t0;
    };
    const run = async (op: () => Promise<unknown>, secs: number) => {
      let ops = 0;
      stop = false;
      const t0 = performance.now();
      const timer = setTimeout(() => (stop = true), secs * 1000);
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (!stop) {
          await op();
          ops++;
        }
      }));
      clearTimeout(timer);
      return { ops, ms: performance.now() - t0 };
    };
    const ping = await run(() => app.redis.ping(), 2);
    await run(award, warmup);
    flusher.kill('SIGUSR2');
    measuring = true;
    await app.redis.config('RESETSTAT'); // a private server: its command stats are this window's
    const cpu0 = process.cpuUsage();
    const rcpu0 = await redisCpu(app.redis);
    const r = await run(award, seconds);
    const cpu = process.cpuUsage(cpu0);
    const rcpu = (await redisCpu(app.redis)) - rcpu0;
    measuring = false;
    // The award script's own time in Redis as commandstats counts it: wall time inside the script, so on a
    // busy machine it includes time the server was descheduled; Redis's CPU share above is the cost figure.
    const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await app.redis.info('commandstats'));
    const scriptUs = evalsha ? Number(evalsha[2]) / Number(evalsha[1]) : NaN;
    const sorted = lat.slice(0, nlat).sort();
    const rate = (r.ops / r.ms) * 1000;
    const procShare = (cpu.user + cpu.system) / 1000 / r.ms;
    const redisShare = (rcpu * 1000) / r.ms;

    const child = flusher;
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    flusher = null;
    const f = JSON.parse(started.output().trim().split('\n').pop() ?? '{}') as Record<string, number | boolean>;

    // ---- 2. zero loss ----
    const rec = await reconcileScores({ redis: app.redis, pool: app.pool, keyPrefix: config.keyPrefix, ttlSeconds: config.ttlSeconds, wb: config.writeBehind, batchRows: config.mysqlBatchRows }, lessonId);
    const [[{ n: ledgerRows }]] = (await app.pool.query('SELECT COUNT(*) AS n FROM score_ledger WHERE lesson_id = ?', [lessonId])) as unknown as [[{ n: number }]];

    // ---- 3. warm leaderboard reads beside the static ceiling ----
    const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1 });
    const tok = tokens.mint({ uid: 2, role: 'teacher', lesson: lessonId, exp: Math.floor(Date.now() / 1000) + 3600 });
    const path = `/v1/lessons/${lessonId}/rooms/main/scores?limit=10`;
    const gw = await spawnGateway(env, pin ? { cpu: 0 } : {});
    const reads: Array<{ round: number; gateway: number; ceiling: number; ratio: number; gwP99: number; ceilP99: number; non2xx: number }> = [];
    try {
      const body = await (await fetch(`http://127.0.0.1:${gw.port}${path}`, { headers: { authorization: `Bearer ${tok}` } })).text();
      const bodyFile = join(tmpdir(), `oe-scbench-${process.pid}.body`);
      const script = join(tmpdir(), `oe-scbench-${process.pid}.lua`);
      files.push(bodyFile, script);
      writeFileSync(bodyFile, body);
      writeFileSync(script, readScript(path, tok));
      const ceiling = await startServer('static uWS', pinned(null, [process.execPath, '--import', 'tsx', 'bench/baselines/static-uws.ts', '--body-file', bodyFile]), { cpus: pin ? '0' : null, env: process.env, cwd: root });
      const wrk = async (port: number) => {
        const a = ['-t1', `-c${args['read-connections']}`, `-d${readSeconds}s`, '-s', script, `http://127.0.0.1:${port}`];
        const { stdout } = pin ? await execFileP('taskset', ['-c', '1', 'wrk', ...a]) : await execFileP('wrk', a);
        const line = stdout.split('\n').find((l) => l.startsWith('JSON '));
        if (!line) throw new Error(`unexpected wrk output:\n${stdout}`);
        const j = JSON.parse(line.slice(5)) as { requests: number; seconds: number; p50: number; p99: number; errors: number; non2xx: number };
        return { rate: j.requests / j.seconds, p99: j.p99, non2xx: j.non2xx + j.errors };
      };
      try {
        await wrk(gw.port); // warm-up: the gateway's caches and JIT
        for (let i = 0; i < rounds; i++) {
          const g = await wrk(gw.port);
          const c = await wrk(ceiling.port);
          reads.push({ round: i + 1, gateway: g.rate, ceiling: c.rate, ratio: g.rate / c.rate, gwP99: g.p99, ceilP99: c.p99, non2xx: g.non2xx });
        }
      } finally {
        await ceiling.stop();
      }
    } finally {
      await stopGateway(gw.child);
    }
    const readRatio = median(reads.map((x) => x.ratio));

    const result = {
      students: uids.length,
      concurrency,
      seconds,
      pinned: pin,
      awards: {
        eventsPerSec: Math.round(rate),
        pingPerSec: Math.round((ping.ops / ping.ms) * 1000),
        ratioToPing: rate / ((ping.ops / ping.ms) * 1000),
        processCpuShare: procShare,
        eventsPerSecPerProcessCore: Math.round(rate / procShare),
        redisCpuShare: redisShare,
        eventsPerSecPerRedisCore: Math.round(rate / redisShare),
        scriptWallUsPerEvent: scriptUs,
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
        refused,
      },
      flush: { drained: f.drained, records: f.records, batches: f.batches, statements: f.statements, lagP50Ms: f.lagP50, lagP99Ms: f.lagP99, lagMaxMs: f.lagMax },
      zeroLoss: { acked, ledgerRows: Number(ledgerRows), reconcileDifferences: rec.differing, unflushed: rec.unflushed, compared: rec.compared },
      reads: { path, rounds: reads, ratioToCeilingMedian: readRatio },
    };
    console.log(`baseline PING             ${result.awards.pingPerSec.toString().padStart(8)} ops/s`);
    console.log(`score events              ${result.awards.eventsPerSec.toString().padStart(8)} /s   ${result.awards.ratioToPing.toFixed(2)}x of PING   p50 ${result.awards.p50Ms.toFixed(2)} ms  p99 ${result.awards.p99Ms.toFixed(2)} ms  refused ${JSON.stringify(refused)}`);
    console.log(`  per core: awarding process ${(procShare * 100).toFixed(0)}% -> ${result.awards.eventsPerSecPerProcessCore}/s per core; Redis ${(redisShare * 100).toFixed(0)}% -> ${result.awards.eventsPerSecPerRedisCore}/s per core (the flusher's reads and acknowledgements included; award.lua wall time ${scriptUs.toFixed(1)} us/event)`);
    console.log(`flusher: drained=${f.drained} records=${f.records} batches=${f.batches}  flush lag ms p50 ${f.lagP50}  p99 ${f.lagP99}  max ${f.lagMax}`);
    console.log(`zero loss: acknowledged=${acked} ledger rows=${ledgerRows} reconcile differences=${rec.differing} unflushed=${rec.unflushed}`);
    for (const x of reads) console.log(`reads round ${x.round}: board ${x.gateway.toFixed(0)} req/s (p99 ${x.gwP99.toFixed(2)} ms, non-2xx ${x.non2xx}) vs uWS static ${x.ceiling.toFixed(0)} req/s (p99 ${x.ceilP99.toFixed(2)} ms): ${x.ratio.toFixed(2)}x`);
    console.log(`warm board reads / uWS static ceiling (median of rounds): ${readRatio.toFixed(2)}x`);
    console.log(`written ${writeResult('scores', result)}`);
  } finally {
    if (flusher && flusher.exitCode === null) flusher.kill('SIGKILL');
    for (const file of files) rmSync(file, { force: true });
    if (lessonId) await dropLessonKeys(app.redis, config.keyPrefix, [lessonId]).catch(() => undefined);
    await app.pool.query(`DROP DATABASE IF EXISTS \`orgengine_bench_sc_${tag}\``).catch(() => undefined);
    await app.close();
    await redisServer.stop();
  }
}

await main();
