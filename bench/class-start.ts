// npm run bench:class-start — the moment the design is for: a whole lesson
// entering at once, each student cold exactly once.
//
// A lesson of --students (30,000) students is freshly preloaded (straight into a
// private redis-server), a gateway that has never seen it is started, and every
// student enters once within --seconds (10) with its own token, open loop: each
// request is sent at its scheduled arrival time whether or not earlier ones were
// answered, and its latency counts from that time (a late generator shows up as
// latency, not as a lower rate). Arrivals follow --ramp: `linear` (default) has
// the arrival rate rise linearly from 0 to twice the mean over the window (a
// class filling up towards the start bell), `uniform` keeps it flat. One second
// after the last enter was answered every student polls the signals of the main
// room once, on the same schedule (open loop too). The same schedule then runs against the Fastify + ioredis
// baseline (bench/baselines/fastify-enter.ts) on a freshly preloaded version;
// rounds alternate gateway and baseline.
// Reported per target: first-enter latency p50/p99/max, errors (goal: none),
// Redis commands per enter (INFO commandstats delta over the enter phase; Redis
// counts the commands a script runs, so an enter.lua call counts as EVALSHA plus
// its inner reads), signal-poll latency, server CPU. Writes
// bench/results/<date>-class-start.json.
//
//   npm run bench:class-start -- [--students 30000] [--seconds 10] [--ramp linear|uniform]
//                                [--rounds 1] [--connections 512] [--server-cpus 0] [--load-cpus 1] [--no-write]
import { Agent } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { compileLesson } from '../src/model/compile.js';
import { validatePolicyConf } from '../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../src/model/synthetic.js';
import { createRedis, type RedisClient } from '../src/store/redis/client.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { publishSignal } from '../src/store/redis/signalStore.js';
import { loadTopology } from '../test/support/lesson.js';
import { cpuSeconds, pinSelf, startServer, type ServerProc } from './lib/proc.js';
import { httpGet } from './lib/httpGet.js';
import { startPrivateRedis } from './lib/redis.js';
import { commandDelta, commandStats, writeResult } from './support.js';

const { values } = parseArgs({
  options: {
    students: { type: 'string', default: '30000' },
    tutors: { type: 'string', default: '60' },
    seconds: { type: 'string', default: '10' },
    ramp: { type: 'string', default: 'linear' },
    rounds: { type: 'string', default: '1' },
    connections: { type: 'string', default: '512' },
    'server-cpus': { type: 'string', default: process.env.ORGENGINE_BENCH_SERVER_CPUS ?? '0' },
    'load-cpus': { type: 'string', default: process.env.ORGENGINE_BENCH_LOAD_CPUS ?? '1' },
    'no-fastify': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const STUDENTS = Number(values.students);
const TUTORS = Number(values.tutors);
const WINDOW_S = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const RAMP = values.ramp;
for (const [k, v] of Object.entries({ STUDENTS, TUTORS, WINDOW_S, ROUNDS, CONNECTIONS })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} must be a positive number, got ${v}`);
}
if (RAMP !== 'linear' && RAMP !== 'uniform') throw new Error(`--ramp must be linear or uniform, got ${RAMP}`);
const SERVER_CPUS = values['server-cpus'] || null;
const LOAD_CPUS = values['load-cpus'] || null;
const LESSON_ID = 7_000_002;
const POLL_AFTER_MS = 1000;
const SECRET = process.env.ORGENGINE_TOKEN_SECRET ?? 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const PREFIX = 'benchcs:';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Arrival time (ms from the start) of student i of n: linear ramp, cumulative arrivals ∝ t², or uniform. */
const arrivalMs = (i: number, n: number): number => (RAMP === 'linear' ? WINDOW_S * 1000 * Math.sqrt(i / n) : (WINDOW_S * 1000 * i) / n);

interface Phase {
  count: number;
  errors: number;
  /** Errors by HTTP status (0: no answer). */
  byStatus: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** How late the generator sent requests behind their schedule (p99, max), ms: large values mean the generator, not the server, was behind. */
  sendLagP99Ms: number;
  sendLagMaxMs: number;
}

interface TargetRun {
  target: 'gateway' | 'fastify';
  round: number;
  enter: Phase;
  poll: Phase;
  /** Wall time from the first scheduled arrival to the last enter answered, s. */
  enterWallS: number;
  redisCmdsPerEnter: number;
  redisCmdsByCommand: Record<string, number>;
  serverCpuSeconds: number;
  /** Server CPU per enter during the enter phase, µs. */
  serverCpuUsPerRequest: number;
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

function phase(lat: number[], lag: number[], byStatus: Record<string, number>): Phase {
  const s = Float64Array.from(lat).sort();
  const l = Float64Array.from(lag).sort();
  const arr = Array.from(s);
  const errors = Object.values(byStatus).reduce((a, b) => a + b, 0);
  return {
    count: lat.length,
    errors,
    byStatus,
    p50Ms: pct(arr, 0.5),
    p99Ms: pct(arr, 0.99),
    p999Ms: pct(arr, 0.999),
    maxMs: arr[arr.length - 1] ?? 0,
    sendLagP99Ms: pct(Array.from(l), 0.99),
    sendLagMaxMs: l[l.length - 1] ?? 0,
  };
}

/** Sends one request per student at its scheduled arrival (open loop); returns the phase and its wall time. */
async function schedule(port: number, students: Array<{ token: string; room: string }>, pathOf: (s: { token: string; room: string }) => string): Promise<{ phase: Phase; wallS: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const n = students.length;
  const lat: number[] = [];
  const lag: number[] = [];
  const err: Record<string, number> = {};
  const pending: Array<Promise<void>> = [];
  const t0 = performance.now() + 50;
  let last = t0;
  let i = 0;
  // Sends every request whose time has come, then sleeps until the next one is due.
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (i < n && t0 + arrivalMs(i, n) <= now) {
        const at = t0 + arrivalMs(i, n);
        const s = students[i]!;
        lag.push(now - at);
        pending.push(
          httpGet(agent, port, pathOf(s), s.token).then((status) => {
            const done = performance.now();
            last = Math.max(last, done);
            lat.push(done - at);
            if (status < 200 || status >= 300) err[String(status)] = (err[String(status)] ?? 0) + 1;
          }),
        );
        i++;
      }
      if (i >= n) return resolve();
      setTimeout(tick, Math.max(0, Math.min(5, t0 + arrivalMs(i, n) - performance.now())));
    };
    setTimeout(tick, 50);
  });
  await Promise.all(pending);
  agent.destroy();
  return { phase: phase(lat, lag, err), wallS: (last - t0) / 1000 };
}

async function main(): Promise<void> {
  pinSelf(LOAD_CPUS);
  const priv = await startPrivateRedis(null);
  const redis: RedisClient = createRedis({ mode: 'single', url: priv.url }, { connectionName: 'orgengine-bench' });
  const runs: TargetRun[] = [];
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, ORGENGINE_REDIS_URL: priv.url, ORGENGINE_KEY_PREFIX: PREFIX, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_LOG_LEVEL: 'warn' };
    delete env.ORGENGINE_REDIS_CLUSTER_NODES;
    const config = loadConfig(env);
    const src = syntheticLesson({ lessonId: LESSON_ID, ordinal: 1, students: STUDENTS, tutors: TUTORS, seed: 1, startTime: Date.UTC(2026, 10, 21, 10) });
    const builtin = BUILTIN_POLICIES.find((b) => b.name === 'group')!;
    const topo = compileLesson(src, validatePolicyConf(builtin.conf, config.defaultPartitionSize), { policyId: 1 });
    const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 10 });
    const exp = Math.floor(Date.now() / 1000) + 6 * 3600;
    const students = topo.positions.map((p) => ({ token: tokens.mint({ uid: p.uid, role: 'student', lesson: LESSON_ID, exp }), room: 'main' }));
    log(`class start: ${students.length} students, ${topo.counts.rooms} rooms, ${topo.counts.nodes} nodes; arrivals over ${WINDOW_S} s, ramp ${RAMP}; ${CONNECTIONS} connections`);
    const lk = lessonKeys(PREFIX, LESSON_ID);
    const targets: Array<TargetRun['target']> = values['no-fastify'] ? ['gateway'] : ['gateway', 'fastify'];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of targets) {
        // A fresh version for every run: nothing any earlier run read is current.
        await loadTopology(redis, PREFIX, topo);
        for (let k = 0; k < 50; k++) {
          await publishSignal(redis, lk, 'main', JSON.stringify({ page: k, kind: 'turn' }), topo.lesson.teacherUid, Date.now(), {
            retain: config.signals.retain,
            ttlSeconds: 3600,
            maxPayloadBytes: config.signals.maxPayloadBytes,
            maxStreamLength: config.writeBehind.maxStreamLength,
          });
        }
        const server: ServerProc =
          target === 'gateway'
            ? await startServer('gateway', [process.execPath, 'bin/orgengine.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--json'], { cpus: SERVER_CPUS, env, cwd: ROOT })
            : await startServer('fastify', [process.execPath, '--import', 'tsx', 'bench/baselines/fastify-enter.ts', '--port', '0'], { cpus: SERVER_CPUS, env, cwd: ROOT });
        try {
          const s0 = await commandStats(redis);
          const c0 = cpuSeconds(server.pid);
          const e = await schedule(server.port, students, () => `/v1/lessons/${LESSON_ID}/enter`);
          const c1 = cpuSeconds(server.pid);
          const d = commandDelta(s0, await commandStats(redis));
          // Then every student polls the signals of its room once, on the same schedule.
          await new Promise((r) => setTimeout(r, POLL_AFTER_MS));
          const p = await schedule(server.port, students, (st) => `/v1/lessons/${LESSON_ID}/rooms/${st.room}/signals?after=0&limit=20`);
          const run: TargetRun = {
            target,
            round,
            enter: e.phase,
            poll: p.phase,
            enterWallS: e.wallS,
            redisCmdsPerEnter: d.total / e.phase.count,
            redisCmdsByCommand: d.byCommand,
            serverCpuSeconds: c1 - c0,
            serverCpuUsPerRequest: ((c1 - c0) * 1e6) / e.phase.count,
          };
          const r = run;
          runs.push(run);
          log(
            `${target} round ${round}: enter p50 ${r.enter.p50Ms.toFixed(2)} p99 ${r.enter.p99Ms.toFixed(2)} max ${r.enter.maxMs.toFixed(1)} ms, ` +
              `errors ${r.enter.errors}, sent late p99 ${r.enter.sendLagP99Ms.toFixed(1)} ms; poll p99 ${r.poll.p99Ms.toFixed(2)} ms errors ${r.poll.errors}; ` +
              `Redis commands per enter ${run.redisCmdsPerEnter.toFixed(1)}; server CPU ${run.serverCpuUsPerRequest.toFixed(0)} µs per enter`,
          );
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    redis.disconnect();
    await priv.stop();
  }
  const of = (t: TargetRun['target']) => runs.filter((r) => r.target === t);
  const med = (xs: number[]): number | null => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1]! : null);
  const g = of('gateway');
  const f = of('fastify');
  const summary = {
    students: STUDENTS,
    windowSeconds: WINDOW_S,
    ramp: RAMP === 'linear' ? 'arrival rate rising linearly from 0 to 2x the mean over the window' : 'uniform arrivals over the window',
    pollAfterMs: POLL_AFTER_MS,
    connections: CONNECTIONS,
    gateway: { enterP50Ms: med(g.map((r) => r.enter.p50Ms)), enterP99Ms: med(g.map((r) => r.enter.p99Ms)), enterMaxMs: med(g.map((r) => r.enter.maxMs)), errors: g.reduce((a, r) => a + r.enter.errors + r.poll.errors, 0), redisCmdsPerEnter: med(g.map((r) => r.redisCmdsPerEnter)) },
    fastify: f.length
      ? { enterP50Ms: med(f.map((r) => r.enter.p50Ms)), enterP99Ms: med(f.map((r) => r.enter.p99Ms)), enterMaxMs: med(f.map((r) => r.enter.maxMs)), errors: f.reduce((a, r) => a + r.enter.errors + r.poll.errors, 0), redisCmdsPerEnter: med(f.map((r) => r.redisCmdsPerEnter)) }
      : null,
    p99RatioToFastify: f.length ? (med(g.map((r) => r.enter.p99Ms)) ?? 0) / (med(f.map((r) => r.enter.p99Ms)) ?? 1) : null,
  };
  const out = { date: new Date().toISOString(), loadavg: loadavg(), serverCpus: SERVER_CPUS, loadCpus: LOAD_CPUS, summary, runs };
  console.log(JSON.stringify(summary, null, 2));
  if (!values['no-write']) log(`wrote ${writeResult('class-start', out)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
