// npm run bench — the gateway over HTTP beside the baselines, in one run.
//
// Sets up a synthetic lesson (30k students, 60 tutors, policy `group`) through
// the real preload (MySQL database orgengine_bench + Redis) or straight into
// Redis (--loader redis), starts a private redis-server, then per scenario
// (bench/scenarios.ts) starts the gateway (`orgengine serve`) pinned to the
// server CPUs and measures it with the load generator pinned to the load CPUs:
//   throughput  wrk, closed loop, requests cycled from a file (distinct tokens)
//   latency     hey at a fixed rate of half the measured maximum (0.1 ms resolution)
//   profiles    autocannon (per-request logic: the mixed in-class profile)
// Baselines in the same run, alternated with the gateway round by round:
//   ceiling  bench/baselines/static-uws.ts answering the scenario's own response bytes
//   fastify  bench/baselines/fastify-enter.ts: Fastify + ioredis, plain awaited reads
//   webdis   redis-benchmark of the one script call enter makes (one round trip per request)
// Ratios are medians of per-round ratios (A B A B ...), never ratios of medians.
// Prints a table and writes bench/results/<date>-<scenario>.json.
//
//   npm run bench -- [--scenario enter-warm,enter-cold] [--quick] [--seconds 5] [--rounds 3]
//                    [--connections 64] [--server-cpus 0] [--load-cpus 1] [--loader preload|redis]
//                    [--redis-url URL] [--warm-students 1000] [--cpu-prof] [--cpu-prof-interval 1000 (µs)] [--no-write]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { pino } from 'pino';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig, type Config } from '../src/config.js';
import { createApp } from '../src/main.js';
import { compileLesson } from '../src/model/compile.js';
import { validatePolicyConf } from '../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../src/model/synthetic.js';
import type { Topology } from '../src/model/topology.js';
import { preloadLesson } from '../src/preload/preload.js';
import { installBuiltinPolicies } from '../src/preload/seed.js';
import { ensureDatabase, migrate } from '../src/store/mysql/pool.js';
import { bindPolicy } from '../src/store/mysql/policies.js';
import { writeLessonSource } from '../src/store/mysql/source.js';
import { createRedis, type RedisClient } from '../src/store/redis/client.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { scriptSource } from '../src/store/redis/scripts.js';
import { publishSignal } from '../src/store/redis/signalStore.js';
import { loadTopology } from '../test/support/lesson.js';
import { pacing, runAutocannon, runHey, runRedisBenchmark, runWrk, writeRequestFile, type LoadResult, type ProfileOp, type ReqSpec } from './lib/generators.js';
import { cpuSeconds, HAS_TASKSET, hasCommand, median, pinSelf, rssMb, startServer, type ServerProc } from './lib/proc.js';
import { startPrivateRedis, type PrivateRedis } from './lib/redis.js';
import { GATEWAY_ARGS, GATEWAY_VARIANTS, SCENARIOS, type BenchLesson, type GatewayVariant, type Scenario } from './scenarios.js';
import { commandDelta, commandStats, writeResult } from './support.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: SCENARIOS.map((s) => s.name).join(',') },
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    'latency-seconds': { type: 'string' },
    'latency-rounds': { type: 'string' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1' },
    'hey-workers': { type: 'string', default: 'auto' },
    'server-cpus': { type: 'string', default: process.env.ORGENGINE_BENCH_SERVER_CPUS ?? '0' },
    'load-cpus': { type: 'string', default: process.env.ORGENGINE_BENCH_LOAD_CPUS ?? '1' },
    'redis-cpus': { type: 'string', default: process.env.ORGENGINE_BENCH_REDIS_CPUS ?? '' },
    loader: { type: 'string', default: 'preload' },
    'redis-url': { type: 'string' },
    students: { type: 'string', default: '30000' },
    tutors: { type: 'string', default: '60' },
    'warm-students': { type: 'string', default: '1000' },
    'cpu-prof': { type: 'boolean', default: false },
    'cpu-prof-interval': { type: 'string', default: '1000' },
    'no-write': { type: 'boolean', default: false },
  },
});

const quick = values.quick;
const SECONDS = Number(values.seconds ?? (quick ? 2 : 5));
const WARMUP = Number(values.warmup ?? (quick ? 1 : 2));
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const LAT_SECONDS = Number(values['latency-seconds'] ?? (quick ? 2 : 5));
const LAT_ROUNDS = Number(values['latency-rounds'] ?? 1);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const PROF_INTERVAL_US = Number(values['cpu-prof-interval']);
/** Closed-loop load (not recorded) on a target right before each of its latency runs. */
const REWARM_SECONDS = 1;
// hey paces each worker with its own ticker, which misses ticks below ~2 ms here: auto keeps every worker at <= 500 req/s.
const heyWorkers = (rate: number): number => (values['hey-workers'] === 'auto' ? Math.min(512, Math.max(16, Math.ceil(rate / 500))) : Number(values['hey-workers']));
const SERVER_CPUS = values['server-cpus'] || null;
const LOAD_CPUS = values['load-cpus'] || null;
const REDIS_CPUS = values['redis-cpus'] || null;
const STUDENTS = Number(values.students);
const TUTORS = Number(values.tutors);
const LESSON_ID = 7_000_001;
const SECRET = process.env.ORGENGINE_TOKEN_SECRET ?? 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
for (const [k, v] of Object.entries({ SECONDS, WARMUP, ROUNDS, LAT_SECONDS, LAT_ROUNDS, CONNECTIONS, THREADS, HEY_WORKERS: heyWorkers(1), STUDENTS, TUTORS, PROF_INTERVAL_US })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} must be a positive number, got ${v}`);
}
if (values.loader !== 'preload' && values.loader !== 'redis') throw new Error(`--loader must be preload or redis, got ${values.loader}`);

const selected = values.scenario.split(',').map((n) => {
  const s = SCENARIOS.find((x) => x.name === n);
  if (!s) throw new Error(`unknown scenario ${n}; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
});

const log = (msg: string) => process.stderr.write(`${msg}\n`);

// ---------------------------------------------------------------- tools

function ensureTools(): void {
  if (!hasCommand('wrk')) throw new Error('wrk is missing: apt-get install -y wrk');
  if (!hasCommand('hey')) {
    log('hey is missing: installing it (apt-get install -y hey)');
    try {
      execFileSync('apt-get', ['install', '-y', 'hey'], { stdio: 'ignore' });
    } catch {
      execFileSync('sh', ['-c', 'apt-get update >/dev/null && apt-get install -y hey >/dev/null'], { stdio: 'inherit' });
    }
  }
  if (!hasCommand('redis-benchmark')) throw new Error('redis-benchmark is missing (Debian package redis-tools)');
  if (!HAS_TASKSET) log('taskset is not usable here: processes run unpinned');
}

// ---------------------------------------------------------------- lesson

interface Setup {
  lesson: BenchLesson;
  config: Config;
  redis: RedisClient;
  loadSeconds: number;
}

async function setupLesson(redisUrl: string): Promise<Setup> {
  const env: NodeJS.ProcessEnv = { ...process.env, ORGENGINE_REDIS_URL: redisUrl, ORGENGINE_KEY_PREFIX: 'bench:', ORGENGINE_LOG_LEVEL: 'warn', ORGENGINE_TOKEN_SECRET: SECRET };
  delete env.ORGENGINE_REDIS_CLUSTER_NODES;
  env.ORGENGINE_MYSQL_URL = process.env.ORGENGINE_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/orgengine_bench';
  const config = loadConfig(env);
  const src = syntheticLesson({ lessonId: LESSON_ID, ordinal: 1, students: STUDENTS, tutors: TUTORS, seed: 1, startTime: Date.UTC(2026, 10, 21, 10) });
  const builtin = BUILTIN_POLICIES.find((b) => b.name === 'group')!;
  const t0 = performance.now();
  let topo: Topology;
  const redis = createRedis(config.redis, { connectionName: 'orgengine-bench' });
  if (values.loader === 'preload') {
    await ensureDatabase(config.mysqlUrl);
    const app = createApp(config, { log: pino({ level: 'warn' }) });
    try {
      await migrate(app.pool);
      await installBuiltinPolicies(app.pool);
      await writeLessonSource(app.pool, src, config.mysqlBatchRows);
      const policyId = await bindPolicy(app.pool, LESSON_ID, 'group');
      const r = await preloadLesson({ pool: app.pool, redis: app.redis, config }, LESSON_ID);
      topo = compileLesson(src, validatePolicyConf(builtin.conf, config.defaultPartitionSize), { policyId });
      log(`preloaded lesson ${LESSON_ID} (database ${new URL(config.mysqlUrl).pathname.slice(1)}, prefix bench:): ${r.counts.positions} students, ${r.counts.rooms} rooms, ${r.counts.nodes} nodes in ${r.durationMs} ms`);
    } finally {
      await app.close();
    }
  } else {
    topo = compileLesson(src, validatePolicyConf(builtin.conf, config.defaultPartitionSize), { policyId: 1 });
    await loadTopology(redis, config.keyPrefix, topo);
    log(`loaded lesson ${LESSON_ID} into Redis (no MySQL): ${topo.counts.positions} students, ${topo.counts.rooms} rooms, ${topo.counts.nodes} nodes`);
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 10 });
  const exp = Math.floor(Date.now() / 1000) + 6 * 3600;
  const lk = lessonKeys(config.keyPrefix, LESSON_ID);
  const enterSha = String(await redis.call('SCRIPT', 'LOAD', scriptSource('enter.lua')));
  const [version, changeSeq] = await redis.hmget(lk.head, 'version', 'changeSeq');
  const posBuckets = Number((await redis.hget(lk.version(Number(version ?? 0)).lesson, 'posBuckets')) ?? 0);
  const students = topo.positions.map((p) => ({ uid: p.uid, nodeId: p.nodeId, firstRoom: p.rooms[0]?.roomId ?? 'main', token: tokens.mint({ uid: p.uid, role: 'student', lesson: LESSON_ID, exp }) }));
  const teacherUid = topo.lesson.teacherUid;
  const lesson: BenchLesson = {
    lessonId: LESSON_ID,
    topo,
    students,
    warmStudents: Math.min(Number(values['warm-students']), students.length),
    teacherUid,
    teacherToken: tokens.mint({ uid: teacherUid, role: 'teacher', lesson: LESSON_ID, exp }),
    headKey: lk.head,
    enterSha,
    version: Number(version ?? 0),
    changeSeq: Number(changeSeq ?? 0),
    posBuckets,
    hotRoom: 'main',
  };
  // The signal scenarios read a few signals behind the head of the hot room's log.
  for (let i = 0; i < 50; i++) await publish(redis, config, lesson, i);
  return { lesson, config, redis, loadSeconds };
}

function publish(redis: RedisClient, config: Config, l: BenchLesson, n: number): Promise<unknown> {
  return publishSignal(redis, lessonKeys(config.keyPrefix, l.lessonId), l.hotRoom, JSON.stringify({ page: n, kind: 'turn' }), l.teacherUid, Date.now(), {
    retain: config.signals.retain,
    ttlSeconds: 3600,
    maxPayloadBytes: config.signals.maxPayloadBytes,
    maxStreamLength: config.writeBehind.maxStreamLength,
  });
}

// ---------------------------------------------------------------- servers

const profileDir = join(ROOT, 'bench', 'results', 'profiles');

function startGateway(setup: Setup, redisUrl: string, variant: GatewayVariant, name: string, profile: boolean, cpus: string | null = SERVER_CPUS): Promise<ServerProc> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ORGENGINE_REDIS_URL: redisUrl,
    ORGENGINE_KEY_PREFIX: setup.config.keyPrefix,
    ORGENGINE_TOKEN_SECRET: SECRET,
    ORGENGINE_LOG_LEVEL: 'warn',
    ...GATEWAY_VARIANTS[variant],
  };
  delete env.ORGENGINE_REDIS_CLUSTER_NODES;
  // ORGENGINE_BENCH_GATEWAY_NODE_ARGS: extra node options for the gateways only (e.g. --trace-gc, --max-semi-space-size=64).
  const node = [process.execPath, ...(process.env.ORGENGINE_BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  if (profile) {
    mkdirSync(profileDir, { recursive: true });
    node.push('--cpu-prof', '--cpu-prof-interval', String(PROF_INTERVAL_US), '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${new Date().toISOString().slice(0, 19).replace(/:/g, '')}-${name}.cpuprofile`);
  }
  let cwd = ROOT;
  if (variant === 'checkout' || variant === 'checkout-cold') {
    const dir = process.env.ORGENGINE_BENCH_VERSUS_DIR;
    if (!dir || !existsSync(join(dir, 'bin/orgengine.js')) || !existsSync(join(dir, 'node_modules'))) {
      throw new Error('the checkout variant runs the gateway of ORGENGINE_BENCH_VERSUS_DIR: set it to another checkout with node_modules (git worktree add DIR REV && npm ci there)');
    }
    cwd = dir;
  }
  return startServer(`gateway ${variant}`, [...node, 'bin/orgengine.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--json', ...(GATEWAY_ARGS[variant] ?? [])], { cpus, env, cwd });
}

function startTs(name: string, file: string, args: string[], env: NodeJS.ProcessEnv): Promise<ServerProc> {
  return startServer(name, [process.execPath, '--import', 'tsx', file, ...args], { cpus: SERVER_CPUS, env, cwd: ROOT });
}

// ---------------------------------------------------------------- measuring

type Role = 'candidate' | 'ceiling' | 'fastify' | 'webdis' | 'versus';

/** One measured (or warm-up) run of one target. */
interface Run extends LoadResult {
  role: Role;
  round: number;
  /** throughput: closed loop; fixed-rate: hey (or autocannon -R); paced: wrk with a pause per connection. */
  kind: 'throughput' | 'fixed-rate' | 'paced';
  /** CPU of the target's server process (gateway, static, Fastify), % of one core. */
  serverCpuPct: number | null;
  serverRssMb: number | null;
  redisCmds: number;
  redisCmdsPerSec: number;
  redisCpuPct: number | null;
  /** Local cache hits / lookups during the run (gateway targets). */
  cacheHitRatio: number | null;
  /** Gateway GC during the run: time in % of the run, pauses, pauses of 10 ms or more. */
  gcPct: number | null;
  gcPauses: number | null;
  gcPausesOver10ms: number | null;
  /** Background refreshes per second, and the share of them that found the entry unchanged (renewed, not replaced). */
  refreshesPerSec: number | null;
  refreshesUnchangedPct: number | null;
  /** The gateway's event-loop delay during the run (max, p99), ms. */
  loopDelayMaxMs: number | null;
  loopDelayP99Ms: number | null;
}

interface TargetProc {
  role: Role;
  label: string;
  server: ServerProc | null;
  /** One load run of `seconds`. */
  load(seconds: number): Promise<LoadResult>;
  /** The first request at a fixed rate (hey; autocannon -R for profiles). */
  fixedRate?(rate: number, seconds: number): Promise<LoadResult>;
  /** Every request of the scenario, paced to about `rate` (wrk). */
  paced?(rate: number, seconds: number): Promise<LoadResult>;
}

/** prom-client's default event-loop sampling interval (eventLoopMonitoringPrecision). */
const LOOP_SAMPLE_MS = 10;

/** Counters read from a gateway's /metrics: local cache lookups and GC pauses. */
interface GatewayCounters {
  hits: number;
  lookups: number;
  gcSeconds: number;
  gcPauses: number;
  /** GC pauses of 10 ms or more (histogram bucket le=0.01). */
  gcPausesOver10ms: number;
  /** Event-loop delay since the previous scrape (prom-client resets it on each): max and p99, ms. */
  loopDelayMaxMs: number | null;
  loopDelayP99Ms: number | null;
  /** Background refreshes started, and those that loaded what the entry held (renewed as it was). */
  refreshes: number;
  refreshesUnchanged: number;
}

async function gatewayCounters(port: number): Promise<GatewayCounters | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // perf_hooks' histogram records whole sampling intervals (prom-client samples every 10 ms): the delay is what exceeds it.
    const gauge = (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return m ? Math.max(0, Number(m[1]) * 1000 - LOOP_SAMPLE_MS) : null;
    };
    const c: GatewayCounters = { hits: 0, lookups: 0, gcSeconds: 0, gcPauses: 0, gcPausesOver10ms: 0, loopDelayMaxMs: gauge('nodejs_eventloop_lag_max_seconds'), loopDelayP99Ms: gauge('nodejs_eventloop_lag_p99_seconds'), refreshes: 0, refreshesUnchanged: 0 };
    for (const m of text.matchAll(/^orgengine_cache_refreshes\{outcome="(started|unchanged)"\} (\S+)$/gm)) {
      if (m[1] === 'started') c.refreshes += Number(m[2]);
      else c.refreshesUnchanged += Number(m[2]);
    }
    for (const m of text.matchAll(/^orgengine_cache_requests\{kind="[^"]+",result="(hit|miss)"\} (\S+)$/gm)) {
      const v = Number(m[2]);
      c.lookups += v;
      if (m[1] === 'hit') c.hits += v;
    }
    let within10ms = 0;
    for (const m of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)$/gm)) {
      const v = Number(m[3]);
      if (m[1] === 'sum') c.gcSeconds += v;
      else if (m[1] === 'count') c.gcPauses += v;
      else if (/le="0\.01"/.test(m[2]!)) within10ms += v;
    }
    c.gcPausesOver10ms = c.gcPauses - within10ms;
    return c;
  } catch {
    return null;
  }
}

async function measure(t: TargetProc, round: number, kind: Run['kind'], stats: RedisClient, redisPid: number | null, go: () => Promise<LoadResult>): Promise<Run> {
  const gateway = t.role === 'candidate' || t.role === 'versus';
  const c0 = gateway && t.server ? await gatewayCounters(t.server.port) : null;
  const s0 = await commandStats(stats);
  const cpu0 = t.server ? cpuSeconds(t.server.pid) : 0;
  const rcpu0 = redisPid ? cpuSeconds(redisPid) : 0;
  const w0 = performance.now();
  const r = await go();
  const wall = (performance.now() - w0) / 1000;
  const cpu1 = t.server ? cpuSeconds(t.server.pid) : 0;
  const rcpu1 = redisPid ? cpuSeconds(redisPid) : 0;
  const d = commandDelta(s0, await commandStats(stats));
  const c1 = gateway && t.server ? await gatewayCounters(t.server.port) : null;
  const lookups = c0 && c1 ? c1.lookups - c0.lookups : 0;
  return {
    ...r,
    role: t.role,
    round,
    kind,
    serverCpuPct: t.server ? (100 * (cpu1 - cpu0)) / wall : null,
    serverRssMb: t.server ? rssMb(t.server.pid) : null,
    redisCmds: d.total,
    redisCmdsPerSec: d.total / r.seconds,
    redisCpuPct: redisPid ? (100 * (rcpu1 - rcpu0)) / wall : null,
    cacheHitRatio: c0 && c1 && lookups > 0 ? (c1.hits - c0.hits) / lookups : null,
    gcPct: c0 && c1 ? (100 * (c1.gcSeconds - c0.gcSeconds)) / wall : null,
    gcPauses: c0 && c1 ? c1.gcPauses - c0.gcPauses : null,
    gcPausesOver10ms: c0 && c1 ? c1.gcPausesOver10ms - c0.gcPausesOver10ms : null,
    loopDelayMaxMs: c1?.loopDelayMaxMs ?? null,
    loopDelayP99Ms: c1?.loopDelayP99Ms ?? null,
    refreshesPerSec: c0 && c1 ? (c1.refreshes - c0.refreshes) / wall : null,
    refreshesUnchangedPct: c0 && c1 && c1.refreshes > c0.refreshes ? (100 * (c1.refreshesUnchanged - c0.refreshesUnchanged)) / (c1.refreshes - c0.refreshes) : null,
  };
}

async function request(port: number, r: ReqSpec): Promise<{ status: number; body: Buffer; contentType: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${r.path}`, {
    method: r.method,
    headers: { authorization: `Bearer ${r.token}`, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(r.body !== undefined ? { body: r.body } : {}),
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? 'application/json' };
}

/** null when served; otherwise why not: a 404 from the catch-all route means the route does not exist yet. */
function unserved(r: { status: number; body: Buffer }): string | null {
  if (r.status >= 200 && r.status < 300) return null;
  let msg = r.body.toString('utf8').slice(0, 300);
  try {
    const e = (JSON.parse(msg) as { error?: { code?: string; message?: string } }).error;
    if (r.status === 404 && e?.code === 'NOT_FOUND' && e.message?.startsWith('no route')) return `route not served by this gateway (${e.message})`;
    msg = `${e?.code}: ${e?.message}`;
  } catch {
    // not JSON: keep the raw text
  }
  return `answered ${r.status} ${msg}`;
}

// ---------------------------------------------------------------- a scenario

interface Stat {
  median: number;
  min: number;
  max: number;
}
const stat = (xs: number[]): Stat | null => (xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : null);
const med = (xs: Array<number | null>): number | null => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? median(v) : null;
};

interface HalfLoad {
  tool: string;
  offeredRate: number;
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  p99MsRuns: number[];
  p999Ms: number | null;
  non2xx: number;
  generatorCpuPct: number;
  serverCpuPct: number | null;
  rateNotReached: boolean;
}

interface Summary {
  scenario: string;
  title: string;
  skipped?: string;
  tool?: string;
  latencyTool?: string;
  reqPerSec?: number;
  reqPerSecMin?: number;
  reqPerSecMax?: number;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number | null;
  errors?: number;
  non2xx?: number;
  redisCmdsPerSec?: number;
  redisCmdsPerRequest?: number;
  redisCpuPct?: number | null;
  gatewayCpuPct?: number | null;
  gatewayRssMb?: number | null;
  generatorCpuPct?: number;
  cacheHitRatio?: number | null;
  ratioToCeiling?: number | null;
  ratioToCeilingRange?: [number, number] | null;
  ratioToCeilingPerCpu?: number | null;
  reqPerGatewayCpuSec?: number | null;
  ratioToFastify?: number | null;
  ratioToFastifyRange?: [number, number] | null;
  ratioToFastifyPerCpu?: number | null;
  ratioToWebdis?: number | null;
  ratioToWebdisRange?: [number, number] | null;
  ratioToVersus?: number | null;
  ratioToVersusRange?: [number, number] | null;
  fastifySameBody?: boolean | null;
  responseBytes?: number;
  /** ratioToCeiling: the candidate's paced p99 over the ceiling's paced p99 (same rate, same tool, same run). */
  latencyAtHalfLoad?: { paced: HalfLoad | null; fixedRate: HalfLoad | null; ratioToCeiling: number | null };
  /** p99 at half load: wrk paced where the scenario has a request list, else the fixed-rate tool. */
  latencyP99Ms?: number | null;
  latencyP99MsFixedRate?: number | null;
  baselines?: Record<string, unknown>;
  targets?: Array<{ what: string; value: number | null; ok: boolean | null }>;
  runs?: Run[];
  config?: Record<string, unknown>;
  machine?: Record<string, unknown>;
}

function summarise(runs: Run[], role: Role) {
  const rs = runs.filter((r) => r.role === role && r.kind === 'throughput' && r.round > 0);
  if (rs.length === 0) return null;
  const rps = stat(rs.map((r) => r.reqPerSec))!;
  return {
    tool: rs[0]!.tool,
    reqPerSec: rps.median,
    reqPerSecMin: rps.min,
    reqPerSecMax: rps.max,
    p50Ms: median(rs.map((r) => r.p50Ms)),
    p99Ms: median(rs.map((r) => r.p99Ms)),
    p999Ms: med(rs.map((r) => r.p999Ms)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
    redisCmdsPerSec: median(rs.map((r) => r.redisCmdsPerSec)),
    redisCmdsPerRequest: median(rs.map((r) => r.redisCmds / Math.max(1, r.requests))),
    redisCpuPct: med(rs.map((r) => r.redisCpuPct)),
    serverCpuPct: med(rs.map((r) => r.serverCpuPct)),
    reqPerServerCpuSec: med(rs.map((r) => (r.serverCpuPct ? (100 * r.reqPerSec) / r.serverCpuPct : null))),
    serverRssMb: med(rs.map((r) => r.serverRssMb)),
    generatorCpuPct: median(rs.map((r) => r.generatorCpuPct)),
    cacheHitRatio: med(rs.map((r) => r.cacheHitRatio)),
  };
}

/**
 * Median and range of candidate / baseline per round: of req/s, or (perCpu) of
 * req/s per server CPU second, which discounts CPU the server lost to other
 * processes on a shared machine and a generator that could not saturate it.
 */
function pairedRatio(runs: Run[], base: Role, perCpu = false): { median: number; range: [number, number] } | null {
  const ratios: number[] = [];
  const v = (r: Run) => (perCpu ? (r.serverCpuPct ? r.reqPerSec / r.serverCpuPct : NaN) : r.reqPerSec);
  for (let round = 1; round <= ROUNDS; round++) {
    const c = runs.find((r) => r.role === 'candidate' && r.round === round && r.kind === 'throughput');
    const b = runs.find((r) => r.role === base && r.round === round && r.kind === 'throughput');
    if (c && b && v(b) > 0 && Number.isFinite(v(c))) ratios.push(v(c) / v(b));
  }
  const s = stat(ratios);
  return s ? { median: s.median, range: [s.min, s.max] } : null;
}

async function runScenario(s: Scenario, setup: Setup, redis: PrivateRedis | null, redisUrl: string): Promise<Summary> {
  const { lesson } = setup;
  const started: ServerProc[] = [];
  const tmp = mkdtempSync(join(tmpdir(), `oe-bench-${s.name}-`));
  const runs: Run[] = [];
  let stopPublisher: (() => Promise<void>) | null = null;
  const loadBefore = loadavg();
  try {
    const candidate = await startGateway(setup, redisUrl, s.gateway, s.name, values['cpu-prof'], s.serverCpus ?? SERVER_CPUS);
    started.push(candidate);
    const reqs = s.requests?.(lesson) ?? null;
    const ops = s.profile?.(lesson) ?? null;
    const first: ReqSpec = reqs ? reqs[0]! : ops![0]!.request(0);

    // Is it served? A scenario whose route is missing is skipped, not failed.
    if (ops) {
      const missing: string[] = [];
      for (const op of ops) {
        const why = unserved(await request(candidate.port, op.request(0)));
        if (why && (s.requiredOps ?? []).includes(op.name)) missing.push(`${op.name}: ${why}`);
        else if (why) throw new Error(`${s.name}: op ${op.name} ${why}`);
      }
      if (missing.length) return { scenario: s.name, title: s.title, skipped: missing.join('; ') };
    }
    const probe = await request(candidate.port, first);
    const why = unserved(probe);
    if (why) {
      if (why.startsWith('route not served')) return { scenario: s.name, title: s.title, skipped: why };
      throw new Error(`${s.name}: the first request ${first.method} ${first.path} ${why}`);
    }

    const targets: TargetProc[] = [];
    let requestFile = '';
    if (reqs) {
      requestFile = join(tmp, 'requests.tsv');
      writeRequestFile(requestFile, reqs);
    }
    const loadOn = (port: number) => (sec: number) =>
      reqs
        ? runWrk({ url: `http://127.0.0.1:${port}`, requestFile, connections: CONNECTIONS, threads: THREADS, seconds: sec, cpus: LOAD_CPUS })
        : runAutocannon({ url: `http://127.0.0.1:${port}`, ops: ops as ProfileOp[], connections: CONNECTIONS, seconds: sec });
    const fixedOn = (port: number) => (rate: number, sec: number) =>
      reqs
        ? runHey({ url: `http://127.0.0.1:${port}${first.path}`, token: first.token, method: first.method, ...(first.body !== undefined ? { body: first.body } : {}), rate, workers: heyWorkers(rate), seconds: sec, cpus: LOAD_CPUS })
        : runAutocannon({ url: `http://127.0.0.1:${port}`, ops: ops as ProfileOp[], connections: CONNECTIONS, seconds: sec, rate });
    const pacedOn = (port: number) =>
      reqs
        ? (rate: number, sec: number) => {
            const p = pacing(rate);
            return runWrk({ url: `http://127.0.0.1:${port}`, requestFile, connections: p.connections, threads: THREADS, seconds: sec, cpus: LOAD_CPUS, pacedDelayMs: p.delayMs });
          }
        : undefined;
    const withPaced = (port: number) => {
      const paced = pacedOn(port);
      return paced ? { paced } : {};
    };

    let fastifySameBody: boolean | null = null;
    if (s.versus) {
      const other = await startGateway(setup, redisUrl, s.versus, `${s.name}-versus`, false, s.serverCpus ?? SERVER_CPUS);
      started.push(other);
      targets.push({ role: 'versus', label: `gateway ${s.versus}`, server: other, load: loadOn(other.port), fixedRate: fixedOn(other.port), ...withPaced(other.port) });
    } else {
      const bodyFile = join(tmp, 'body');
      writeFileSync(bodyFile, probe.body);
      const ceilingServer = await startTs('static uWS', 'bench/baselines/static-uws.ts', ['--body-file', bodyFile, '--content-type', probe.contentType], process.env);
      started.push(ceilingServer);
      targets.push({ role: 'ceiling', label: `uWS static ${probe.body.length} B`, server: ceilingServer, load: loadOn(ceilingServer.port), fixedRate: fixedOn(ceilingServer.port), ...withPaced(ceilingServer.port) });
      if (s.fastify) {
        const env: NodeJS.ProcessEnv = { ...process.env, ORGENGINE_REDIS_URL: redisUrl, ORGENGINE_KEY_PREFIX: setup.config.keyPrefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_LOG_LEVEL: 'warn' };
        delete env.ORGENGINE_REDIS_CLUSTER_NODES;
        const fst = await startTs('fastify', 'bench/baselines/fastify-enter.ts', [], env);
        started.push(fst);
        const fb = await request(fst.port, first);
        try {
          fastifySameBody = fb.status === 200 && isDeepStrictEqual(JSON.parse(fb.body.toString()), JSON.parse(probe.body.toString()));
        } catch {
          fastifySameBody = false;
        }
        if (!fastifySameBody) log(`  warning: the Fastify baseline's answer differs from the gateway's (${fb.status}, ${fb.body.length} vs ${probe.body.length} bytes)`);
        targets.push({ role: 'fastify', label: 'Fastify + ioredis', server: fst, load: loadOn(fst.port) });
      }
      const webdis = s.webdis?.(lesson);
      if (webdis) {
        let n = 50_000;
        targets.push({
          role: 'webdis',
          label: 'redis-benchmark',
          server: null,
          load: async (sec) => {
            const r = await runRedisBenchmark({ host: '127.0.0.1', port: Number(new URL(redisUrl).port || 6379), cluster: false, connections: CONNECTIONS, requests: n, command: webdis, cpus: LOAD_CPUS });
            // Size the next run to last about `sec` seconds.
            n = Math.max(10_000, Math.round((r.reqPerSec * SECONDS) / 1000) * 1000);
            return r;
          },
        });
      }
    }
    targets.push({ role: 'candidate', label: `gateway ${s.gateway}`, server: candidate, load: loadOn(candidate.port), fixedRate: fixedOn(candidate.port), ...withPaced(candidate.port) });

    if (s.publishSignals) {
      let n = 1000;
      let failed = 0;
      const timer = setInterval(() => {
        publish(setup.redis, setup.config, lesson, n++).catch(() => failed++);
      }, 200);
      stopPublisher = async () => {
        clearInterval(timer);
        if (failed) log(`  warning: ${failed} signal publishes failed`);
      };
    }

    const stats = setup.redis;
    const redisPid = redis?.pid ?? null;
    log(`${s.name}: ${s.title}`);
    log(`  targets: ${targets.map((t) => t.label).join(' | ')}; ${reqs ? `${reqs.length} distinct requests` : `${ops!.length} ops`}, response ${probe.body.length} B`);
    // Warm-up: JIT, connections, token and local caches; not recorded.
    for (const t of targets) runs.push(await measure(t, 0, 'throughput', stats, redisPid, () => t.load(WARMUP)));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const r = await measure(t, round, 'throughput', stats, redisPid, () => t.load(SECONDS));
        runs.push(r);
        log(`  round ${round} ${t.label.padEnd(28)} ${r.reqPerSec.toFixed(0).padStart(8)} req/s  p99 ${r.p99Ms.toFixed(2)} ms  non2xx ${r.non2xx}  errors ${r.errors}  server CPU ${r.serverCpuPct?.toFixed(0) ?? '-'}%  generator CPU ${r.generatorCpuPct.toFixed(0)}%`);
      }
    }

    // Latency at half of the candidate's measured maximum, two ways: wrk paced
    // (every request of the scenario, distinct tokens, microsecond histogram)
    // and hey at a fixed rate (one request repeated; its Go client adds its own
    // latency, shown by the ceiling measured the same way).
    const cand = summarise(runs, 'candidate')!;
    const rate = Math.max(100, Math.round(cand.reqPerSec / 2));
    const latTargets = targets.filter((t) => t.role === 'candidate' || t.role === 'versus' || t.role === 'ceiling');
    for (let round = 1; round <= LAT_ROUNDS; round++) {
      for (const kind of ['paced', 'fixed-rate'] as const) {
        for (const t of latTargets) {
          const go = kind === 'paced' ? t.paced : t.fixedRate;
          if (!go) continue;
          // Re-warm just before: the other targets' runs left this one idle
          // longer than the local cache's hard TTL, and a run that starts with
          // every student missing at once measures a cold start, not warm load.
          await t.load(REWARM_SECONDS);
          const r = await measure(t, round, kind, stats, redisPid, () => go(rate, LAT_SECONDS));
          runs.push(r);
          const gc = r.gcPauses === null ? '' : `, GC ${r.gcPct!.toFixed(1)}% ${r.gcPauses} pauses (${r.gcPausesOver10ms} >= 10 ms), event loop delay p99 ${r.loopDelayP99Ms?.toFixed(1)} max ${r.loopDelayMaxMs?.toFixed(1)} ms, Redis ${r.redisCmdsPerSec.toFixed(0)} cmd/s, refreshes ${r.refreshesPerSec?.toFixed(0)}/s (${r.refreshesUnchangedPct?.toFixed(0) ?? '-'}% unchanged)`;
          log(`  ${kind} @${rate}/s ${t.label.padEnd(26)} p50 ${r.p50Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)} p99.9 ${r.p999Ms?.toFixed(2) ?? '-'} ms, achieved ${r.reqPerSec.toFixed(0)}/s, generator CPU ${r.generatorCpuPct.toFixed(0)}%${gc} (${r.tool})`);
        }
      }
    }
    const latOf = (role: Role, kind: Run['kind']) => {
      const rs = runs.filter((r) => r.kind === kind && r.role === role);
      if (rs.length === 0) return null;
      // The run with the median p99 stands for the role (its other figures stay consistent with it).
      const sorted = [...rs].sort((a, b) => a.p99Ms - b.p99Ms);
      return { ...sorted[(sorted.length - 1) >> 1]!, p99MsRuns: rs.map((r) => r.p99Ms) };
    };
    const halfLoad = (r: (Run & { p99MsRuns: number[] }) | null) =>
      r && { tool: r.tool, offeredRate: rate, achievedRate: r.reqPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, p99MsRuns: r.p99MsRuns, p999Ms: r.p999Ms, non2xx: r.non2xx, generatorCpuPct: r.generatorCpuPct, serverCpuPct: r.serverCpuPct, rateNotReached: r.reqPerSec < 0.95 * rate };
    const halfLoads = (role: Role) => ({ paced: halfLoad(latOf(role, 'paced')), fixedRate: halfLoad(latOf(role, 'fixed-rate')) });
    const lat = halfLoads('candidate');
    const ceilingLat = halfLoads('ceiling');
    const latMain = lat.paced ?? lat.fixedRate;

    const ceiling = pairedRatio(runs, 'ceiling');
    const ceilingPerCpu = pairedRatio(runs, 'ceiling', true);
    const fastify = pairedRatio(runs, 'fastify');
    const fastifyPerCpu = pairedRatio(runs, 'fastify', true);
    const webdis = pairedRatio(runs, 'webdis');
    const versus = pairedRatio(runs, 'versus');
    const summary: Summary = {
      scenario: s.name,
      title: s.title,
      tool: cand.tool,
      latencyTool: latMain?.tool,
      reqPerSec: cand.reqPerSec,
      reqPerSecMin: cand.reqPerSecMin,
      reqPerSecMax: cand.reqPerSecMax,
      p50Ms: cand.p50Ms,
      p99Ms: cand.p99Ms,
      p999Ms: cand.p999Ms,
      errors: cand.errors,
      non2xx: cand.non2xx,
      redisCmdsPerSec: cand.redisCmdsPerSec,
      redisCmdsPerRequest: cand.redisCmdsPerRequest,
      redisCpuPct: cand.redisCpuPct,
      gatewayCpuPct: cand.serverCpuPct,
      gatewayRssMb: cand.serverRssMb,
      generatorCpuPct: cand.generatorCpuPct,
      cacheHitRatio: cand.cacheHitRatio,
      ratioToCeiling: ceiling?.median ?? null,
      ratioToCeilingRange: ceiling?.range ?? null,
      ratioToCeilingPerCpu: ceilingPerCpu?.median ?? null,
      reqPerGatewayCpuSec: cand.reqPerServerCpuSec,
      ratioToFastify: fastify?.median ?? null,
      ratioToFastifyRange: fastify?.range ?? null,
      ratioToFastifyPerCpu: fastifyPerCpu?.median ?? null,
      ratioToWebdis: webdis?.median ?? null,
      ratioToWebdisRange: webdis?.range ?? null,
      ratioToVersus: versus?.median ?? null,
      ratioToVersusRange: versus?.range ?? null,
      fastifySameBody,
      responseBytes: probe.body.length,
      latencyAtHalfLoad: { ...lat, ratioToCeiling: lat.paced && ceilingLat.paced ? lat.paced.p99Ms / ceilingLat.paced.p99Ms : null },
      latencyP99Ms: latMain?.p99Ms ?? null,
      latencyP99MsFixedRate: lat.fixedRate?.p99Ms ?? null,
      baselines: {
        ceiling: summarise(runs, 'ceiling'),
        ceilingAtHalfLoad: ceilingLat,
        fastify: summarise(runs, 'fastify'),
        webdis: summarise(runs, 'webdis'),
        versus: s.versus ? { variant: s.versus, ...summarise(runs, 'versus'), atHalfLoad: halfLoads('versus') } : null,
      },
      runs,
    };
    summary.targets = s.targets.map((t) => {
      const v = (summary[t.field] as number | null | undefined) ?? null;
      const ok = v === null ? null : (t.atLeast === undefined || v >= t.atLeast) && (t.atMost === undefined || v <= t.atMost);
      return { what: t.what, value: v, ok };
    });
    summary.machine = { cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(), node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() };
    return summary;
  } finally {
    await stopPublisher?.();
    for (const p of started.reverse()) await p.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- output

const f0 = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(0));
const f2 = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(2));
const ratio = (x: number | null | undefined, r: [number, number] | null | undefined) => (x === null || x === undefined ? '-' : `${x.toFixed(2)} [${r![0].toFixed(2)}-${r![1].toFixed(2)}]`);

function halfCell(s: Summary, kind: 'paced' | 'fixedRate'): string {
  const l = s.latencyAtHalfLoad?.[kind];
  if (!l) return '-';
  const b = s.baselines as { ceilingAtHalfLoad?: Record<string, HalfLoad | null>; versus?: { atHalfLoad?: Record<string, HalfLoad | null> } | null } | undefined;
  const c = b?.ceilingAtHalfLoad?.[kind] ?? b?.versus?.atHalfLoad?.[kind] ?? null;
  return `${f2(l.p99Ms)} (${c ? f2(c.p99Ms) : '-'})${l.rateNotReached ? ` only ${f0(l.achievedRate)}/s` : ''}`;
}

function table(rows: Summary[]): string {
  const head = ['scenario', 'req/s median [min-max]', 'p50', 'p99', 'p99.9', 'err/non2xx', 'Redis cmd/s', 'gw CPU%', 'gw RSS MB', 'gen CPU%', 'x ceiling', 'x ceiling per CPU s', 'x Fastify', 'x Fastify per CPU s', 'x webdis', 'half load req/s', 'p99 @half wrk paced (ceiling)', 'p99 @half fixed rate: hey, mixed: autocannon -R (ceiling)'];
  const body = rows.map((s) =>
    s.skipped
      ? [s.scenario, `skipped: ${s.skipped}`]
      : [
          s.scenario + (s.scenario === 'autopipelining' ? ' (on)' : ''),
          `${f0(s.reqPerSec)} [${f0(s.reqPerSecMin)}-${f0(s.reqPerSecMax)}]`,
          f2(s.p50Ms),
          f2(s.p99Ms),
          f2(s.p999Ms),
          `${s.errors}/${s.non2xx}`,
          f0(s.redisCmdsPerSec),
          f0(s.gatewayCpuPct),
          f0(s.gatewayRssMb),
          `${f0(s.generatorCpuPct)}${(s.generatorCpuPct ?? 0) >= 90 * THREADS ? '!' : ''}`,
          s.ratioToVersus !== null && s.ratioToVersus !== undefined ? `on/off ${ratio(s.ratioToVersus, s.ratioToVersusRange)}` : ratio(s.ratioToCeiling, s.ratioToCeilingRange),
          f2(s.ratioToCeilingPerCpu),
          ratio(s.ratioToFastify, s.ratioToFastifyRange),
          f2(s.ratioToFastifyPerCpu),
          ratio(s.ratioToWebdis, s.ratioToWebdisRange),
          f0(s.latencyAtHalfLoad?.paced?.offeredRate ?? s.latencyAtHalfLoad?.fixedRate?.offeredRate),
          halfCell(s, 'paced'),
          halfCell(s, 'fixedRate'),
        ],
  );
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)];
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  ensureTools();
  pinSelf(LOAD_CPUS);
  const priv = values['redis-url'] ? null : await startPrivateRedis(REDIS_CPUS);
  const redisUrl = values['redis-url'] ?? priv!.url;
  let setup: Setup | null = null;
  const rows: Summary[] = [];
  try {
    setup = await setupLesson(redisUrl);
    log(
      `bench: server CPUs ${SERVER_CPUS ?? '(any)'}, load CPUs ${LOAD_CPUS ?? '(any)'}, Redis ${priv ? `private on ${redisUrl}` : redisUrl}${REDIS_CPUS ? ` CPUs ${REDIS_CPUS}` : ''}; ` +
        `${SECONDS} s x ${ROUNDS} rounds after ${WARMUP} s warm-up, wrk -t${THREADS} -c${CONNECTIONS}, hey ${values['hey-workers']} workers ${LAT_SECONDS} s; loadavg ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
    );
    for (const s of selected) {
      const r = await runScenario(s, setup, priv, redisUrl);
      r.config = { seconds: SECONDS, warmup: WARMUP, rounds: ROUNDS, latencySeconds: LAT_SECONDS, latencyRounds: LAT_ROUNDS, connections: CONNECTIONS, wrkThreads: THREADS, heyWorkers: values['hey-workers'], serverCpus: SERVER_CPUS, loadCpus: LOAD_CPUS, redisCpus: REDIS_CPUS, redis: priv ? 'private redis-server' : redisUrl, loader: values.loader, students: STUDENTS, tutors: TUTORS, warmStudents: setup.lesson.warmStudents, lessonLoadSeconds: setup.loadSeconds, quick };
      rows.push(r);
      if (r.skipped) log(`${s.name}: SKIPPED: ${r.skipped}`);
      else for (const t of r.targets ?? []) log(`  target ${t.ok === null ? '?' : t.ok ? 'met   ' : 'MISSED'} ${t.what}: ${f2(t.value)}`);
      if (!values['no-write']) log(`  -> ${writeResult(s.name, r)}`);
    }
  } finally {
    if (setup) {
      if (!priv) {
        // A shared Redis keeps the preloaded lesson (re-runs are idempotent); the signal log and its stream go.
        const lk = lessonKeys(setup.config.keyPrefix, LESSON_ID);
        await setup.redis.unlink(lk.signals(setup.lesson.hotRoom), lk.signalSeq(setup.lesson.hotRoom), lk.writeBehind);
      }
      setup.redis.disconnect();
    }
    await priv?.stop();
  }
  process.stdout.write(`\n${table(rows)}\n`);
  if (values['cpu-prof']) process.stdout.write(`\nCPU profiles of the gateways: ${profileDir} (summarise: npx tsx bench/profile-top.ts <file>)\n`);
}

await main();
