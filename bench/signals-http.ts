// bench:signals-http — issue 4's scenario over HTTP: 10,000 distinct students
// (one token each) polling one hot room's signals through a gateway while a
// teacher publishes 5 signals/s, with the gateway's local signal cache on and
// off in alternating phases of the same run (on/off/on/off...).
//
// The gateway (`orgengine serve`, one worker) runs pinned to core 0; wrk, this
// process (the teacher) and a private redis-server run on core 1, so INFO
// commandstats count this bench's commands only. The teacher publishes into
// Redis directly, as another gateway would: the gateway under test learns of
// every signal from the lesson channel and fetches it, as it would in production
// (its own publishes would be appended without a fetch).
//
// Each wrk request is the next student's poll (tokens rotate per request) with
// `after` = the newest seq known when that student last polled, so each student
// receives each signal about once, as a polling client would.
//
// A first phase polls GET /healthz with the same wrk script shape: the
// transport's own ceiling on this machine, which bounds what any cache can
// reach over HTTP.
//
// Prints per phase: client req/s and latency, Redis commands (deltas), the Redis
// round trips the reads cost (script calls minus publishes) and their ratio to
// client requests (target <= 1/1000 with the cache), the gateway's own tail-fetch
// count, the gateway's CPU use; then the on/off throughput ratio (target >= 3x).
//
//   npx tsx bench/signals-http.ts [--students 10000] [--rate 5] [--seconds 8] [--warmup 2]
//        [--rounds 2] [--connections 64] [--no-baseline] [--json] [--gateway-node-args="--cpu-prof --cpu-prof-dir=DIR"]
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Redis } from 'ioredis';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { SignalService } from '../src/services/signals.js';
import { createRedis } from '../src/store/redis/client.js';
import { dropLessonKeys, loadSyntheticLesson } from '../test/support/lesson.js';
import { commandDelta, commandStats, hasTaskset, spawnGateway, stopGateway, wrkStudentRotation } from './support.js';
import { startPrivateRedis } from './lib/redis.js';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    students: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
    /** First a /healthz phase with the same wrk script shape: the transport's ceiling on this machine. */
    baseline: { type: 'boolean', default: true },
    /** Extra node flags for the gateway processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
    'gateway-node-args': { type: 'string', default: '' },
  },
});
const o = {
  students: Number(values.students),
  rate: Number(values.rate),
  seconds: Number(values.seconds),
  warmup: Number(values.warmup),
  rounds: Number(values.rounds),
  connections: Number(values.connections),
};
for (const [k, v] of Object.entries(o)) if (!Number.isInteger(v) || v < (k === 'warmup' ? 0 : 1)) throw new Error(`--${k} must be a positive integer`);

const SECRET = 'bench-secret-0123456789-abcdefghijklmno';
const LESSON = 100_001;
const ROOM = 'main';
const LIMIT = 100;
const CLK_TCK = 100; // Linux USER_HZ

/** One phase's figures. */
interface Phase {
  /** 'baseline' is GET /healthz on the cache-on gateway: the transport's own ceiling. */
  cache: 'on' | 'off' | 'baseline';
  seconds: number;
  requests: number;
  reqPerSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  /** Responses that carried at least one signal. */
  nonEmpty: number;
  publishes: number;
  /** Every command Redis executed in the phase, script-internal ones included. */
  redisCommands: number;
  redisCommandsPerSecond: number;
  byCommand: Record<string, number>;
  /** Script calls minus the teacher's publishes: the round trips the reads cost. */
  readRoundTrips: number;
  readRoundTripsPer1000Requests: number;
  /** The gateway's own count of tail fetches (cache on). */
  gatewayTailFetches: number | null;
  /** CPU the gateway process used, in % of one core. */
  gatewayCpuPercent: number;
  /** Gateway CPU time per client request, µs: less sensitive to a shared machine than req/s. */
  gatewayCpuUsPerRequest: number;
}

/** The wrk script: signal polls, or (baseline) /healthz with the same per-request work in wrk. */
function wrkScript(tokenFile: string, baseline = false): string {
  const prefix = baseline ? '/healthz?' : `/v1/lessons/${LESSON}/rooms/${ROOM}/signals?limit=${LIMIT}&after=`;
  return `
${wrkStudentRotation(tokenFile)}
local prefix = "${prefix}"
local baseline = ${baseline ? 'true' : 'false'}
nonempty = 0
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
request = function()
  i = i % n + 1
  local a = afters[i]
  -- The answer brings this student up to at least what the fleet knows now.
  afters[i] = latest
  headers["authorization"] = tokens[i]
  if baseline then return wrk.format("GET", prefix, headers) end
  return wrk.format("GET", prefix .. a, headers)
end
response = function(status, hdrs, body)
  if status == 200 then
    track_latest(body)
    if not baseline and string.sub(body, 1, 13) ~= '{"signals":[]' then nonempty = nonempty + 1 end
  end
end
done = function(summary, latency, requests)
  local ne = 0
  for _, t in ipairs(threads) do ne = ne + (t:get("nonempty") or 0) end
  local e = summary.errors
  io.write(string.format('JSON {"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"errors":%d,"nonEmpty":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + e.connect + e.read + e.write + e.timeout, ne))
end
`;
}

interface WrkResult {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  errors: number;
  nonEmpty: number;
}

const run = promisify(execFile);

// Asynchronous: the teacher keeps publishing from this process while wrk runs.
async function runWrk(port: number, script: string, seconds: number, pin: boolean): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}`];
  const { stdout: out } = pin ? await run('taskset', ['-c', '1', 'wrk', ...args]) : await run('wrk', args);
  const line = out.split('\n').find((l) => l.startsWith('JSON '));
  if (!line) throw new Error(`unexpected wrk output:\n${out}`);
  return JSON.parse(line.slice(5)) as WrkResult;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

async function tailFetches(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^orgengine_signal_cache_tail_fetches_total\{bucket="all"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    if ((e as { status?: number }).status !== 1) throw new Error('wrk is required (apt-get install wrk)'); // wrk --version exits 1
  }
  const pin = hasTaskset();
  // This process (the teacher) and the redis-server it starts stay off the gateway's core.
  if (pin) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const priv = await startPrivateRedis(null);
  const prefix = `bench:sighttp:${process.pid}:`;
  const env = { ORGENGINE_REDIS_URL: priv.url, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_LOG_LEVEL: 'warn' };
  const config = loadConfig(env);
  const redis = createRedis(config.redis);
  const stats = new Redis(priv.url);
  const dir = join(tmpdir(), `oe-sighttp-${process.pid}`);
  const tokenFile = `${dir}.tokens`;
  const script = `${dir}.lua`;
  const baselineScript = `${dir}.healthz.lua`;
  let child: ChildProcess | null = null;
  let publishing = true;
  try {
    const topo = await loadSyntheticLesson(redis, prefix, LESSON, { students: 100, tutors: 1, policy: 'three-screen', ttlSeconds: 3600 });
    const verifier = new TokenVerifier({ secret: SECRET, cacheEntries: 100 });
    const exp = Math.floor(Date.now() / 1000) + 3600;
    writeFileSync(tokenFile, `${Array.from({ length: o.students }, (_, i) => verifier.mint({ uid: 1_000_000 + i, role: 'student', lesson: LESSON, exp })).join('\n')}\n`);
    writeFileSync(script, wrkScript(tokenFile));
    writeFileSync(baselineScript, wrkScript(tokenFile, true));

    // The teacher, publishing through Redis at the fixed rate for the whole run.
    const teacherSvc = new SignalService({ redis, config: { ...config, signals: { ...config.signals, cache: false } }, cache: null });
    const teacher = { uid: 9001, role: 'teacher' as const, lesson: LESSON };
    let published = 0;
    const publisher = (async () => {
      const every = 1000 / o.rate;
      let next = performance.now();
      while (publishing) {
        await teacherSvc.publish(teacher, LESSON, ROOM, JSON.stringify({ type: 'page', page: published + 1 }));
        published++;
        next += every;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();

    const phases: Phase[] = [];
    const kinds: Array<'baseline' | 'on' | 'off'> = values.baseline ? ['baseline'] : [];
    for (let r = 0; r < o.rounds; r++) kinds.push('on', 'off');
    for (const kind of kinds) {
      const cache = kind === 'off' ? 'off' : 'on';
      const nodeArgs = values['gateway-node-args']!.split(' ').filter(Boolean);
      const g = await spawnGateway({ ...env, ORGENGINE_SIGNAL_CACHE: cache }, { cpu: pin ? 0 : undefined, nodeArgs });
      child = g.child;
      const phaseScript = kind === 'baseline' ? baselineScript : script;
      // Warm-up: JIT, every student's token verified once, the room loaded.
      if (o.warmup > 0) await runWrk(g.port, phaseScript, o.warmup, pin);
      const fetches0 = kind === 'on' ? await tailFetches(g.port) : 0;
      const before = await commandStats(stats);
      const pub0 = published;
      const cpu0 = cpuSeconds(child.pid!);
      const t0 = performance.now();
      const w = await runWrk(g.port, phaseScript, o.seconds, pin);
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(child.pid!) - cpu0;
      const publishes = published - pub0;
      const d = commandDelta(before, await commandStats(stats));
      const fetches = kind === 'on' ? (await tailFetches(g.port)) - fetches0 : null;
      await stopGateway(child);
      child = null;
      const scripts = (d.byCommand.evalsha ?? 0) + (d.byCommand.eval ?? 0);
      const readRoundTrips = Math.max(0, scripts - publishes);
      const p: Phase = {
        cache: kind,
        seconds: w.seconds,
        requests: w.requests,
        reqPerSecond: w.requests / w.seconds,
        p50ms: w.p50,
        p99ms: w.p99,
        errors: w.errors,
        nonEmpty: w.nonEmpty,
        publishes,
        redisCommands: d.total,
        redisCommandsPerSecond: d.total / wall,
        byCommand: d.byCommand,
        readRoundTrips,
        readRoundTripsPer1000Requests: (readRoundTrips / w.requests) * 1000,
        gatewayTailFetches: fetches,
        gatewayCpuPercent: (cpu / wall) * 100,
        gatewayCpuUsPerRequest: (cpu / w.requests) * 1e6,
      };
      phases.push(p);
      if (!values.json) {
        console.error(
          `${kind.padEnd(8)} ${p.reqPerSecond.toFixed(0).padStart(7)} req/s  p50 ${p.p50ms.toFixed(2)} ms  p99 ${p.p99ms.toFixed(2)} ms  errors ${p.errors}  ` +
            `redis ${p.redisCommandsPerSecond.toFixed(0)} cmds/s  read round trips ${p.readRoundTrips} (${p.readRoundTripsPer1000Requests.toFixed(3)}/1000 req)  ` +
            `gateway fetches ${p.gatewayTailFetches ?? '-'}  gateway cpu ${p.gatewayCpuPercent.toFixed(0)}% (${p.gatewayCpuUsPerRequest.toFixed(1)} µs/req)`,
        );
      }
    }
    publishing = false;
    await publisher;
    await dropLessonKeys(redis, prefix, LESSON, topo.rooms.map((x) => x.roomId));

    const of = (c: Phase['cache']) => phases.filter((p) => p.cache === c);
    const rate = (ps: Phase[]) => ps.reduce((a, p) => a + p.requests, 0) / ps.reduce((a, p) => a + p.seconds, 0);
    const per1000 = (ps: Phase[]) => (ps.reduce((a, p) => a + p.readRoundTrips, 0) / ps.reduce((a, p) => a + p.requests, 0)) * 1000;
    const summary = {
      options: o,
      node: process.version,
      pinned: pin ? 'gateway core 0; wrk, teacher and redis-server core 1' : 'not pinned (taskset missing)',
      phases,
      baselineReqPerSecond: of('baseline').length > 0 ? rate(of('baseline')) : null,
      cacheOnReqPerSecond: rate(of('on')),
      cacheOffReqPerSecond: rate(of('off')),
      throughputRatio: rate(of('on')) / rate(of('off')),
      cacheOnRedisPer1000Requests: per1000(of('on')),
      cacheOffRedisPer1000Requests: per1000(of('off')),
      // Pairwise ratios (each on phase over the off phase right after it) show the spread on a noisy machine.
      pairRatios: of('on').map((p, i) => p.reqPerSecond / (of('off')[i]?.reqPerSecond ?? Number.NaN)),
      // Gateway CPU per request, off over on: what the cache saves the gateway whatever else shares the machine.
      cpuPerRequestRatio: mean(of('off').map((p) => p.gatewayCpuUsPerRequest)) / mean(of('on').map((p) => p.gatewayCpuUsPerRequest)),
    };
    if (values.json) {
      console.log(JSON.stringify(summary, null, 2));
    } else {
      console.log(`signals over HTTP: ${o.students} students (distinct tokens), ${o.rate} signals/s, ${o.connections} connections, ${o.seconds} s phases, ${summary.pinned}, node ${process.version}`);
      console.table(
        phases.map((p) => ({
          cache: p.cache,
          'req/s': p.reqPerSecond.toFixed(0),
          'p50 ms': p.p50ms.toFixed(2),
          'p99 ms': p.p99ms.toFixed(2),
          errors: p.errors,
          'with signals': p.nonEmpty,
          publishes: p.publishes,
          'redis cmds/s': p.redisCommandsPerSecond.toFixed(0),
          'read round trips': p.readRoundTrips,
          'per 1000 req': p.readRoundTripsPer1000Requests.toFixed(3),
          'gw fetches': p.gatewayTailFetches ?? '-',
          'gw cpu %': p.gatewayCpuPercent.toFixed(0),
          'gw cpu µs/req': p.gatewayCpuUsPerRequest.toFixed(1),
        })),
      );
      if (summary.baselineReqPerSecond !== null) console.log(`baseline : ${summary.baselineReqPerSecond.toFixed(0)} req/s GET /healthz (no auth, no Redis): the transport's ceiling here`);
      console.log(`cache on : ${summary.cacheOnReqPerSecond.toFixed(0)} req/s, ${summary.cacheOnRedisPer1000Requests.toFixed(3)} Redis requests per 1000 client requests (target <= 1)`);
      console.log(`cache off: ${summary.cacheOffReqPerSecond.toFixed(0)} req/s, ${summary.cacheOffRedisPer1000Requests.toFixed(0)} Redis requests per 1000 client requests`);
      console.log(`throughput on/off: ${summary.throughputRatio.toFixed(2)}x (target >= 3x); per pair: ${summary.pairRatios.map((x) => `${x.toFixed(2)}x`).join(', ')}`);
      console.log(`gateway CPU per request off/on: ${summary.cpuPerRequestRatio.toFixed(2)}x`);
    }
  } finally {
    publishing = false;
    if (child) await stopGateway(child).catch(() => undefined);
    await stats.quit().catch(() => undefined);
    await redis.quit().catch(() => undefined);
    await priv.stop();
    rmSync(tokenFile, { force: true });
    rmSync(script, { force: true });
    rmSync(baselineScript, { force: true });
  }
}

await main();
