// bench:ws — live push against what it replaces and what bounds it, in one run:
//
//   push     the gateway (`orgengine serve`, one worker) with N WebSocket clients, each a
//            distinct student token, subscribed to one room; a teacher publishes R signals/s
//            for S seconds into Redis (as another gateway would, so the gateway under test
//            learns of each from the lesson channel and fetches it, as in production).
//   ceiling  a bare uWS server publishing the same messages to the same N clients on one
//            topic: no auth, no Redis (bench/baselines/uws-publish.ts).
//   polling  the same N students polling GET …/signals?after= every 200 ms over HTTP (wrk,
//            tokens rotating per request), the teacher publishing as above.
//
// The servers run pinned to core 0; this process (the N clients and the teacher), wrk and a
// private redis-server run on core 1, so INFO commandstats count the bench's commands only.
// Latency is publish→receive at every client (the signal's `at` stamp to its arrival, one
// clock). Prints and writes bench/results/<date>-ws.json: p50Ms/p99Ms/maxMs (push),
// ceilingP50Ms/ceilingP99Ms/ceilingMaxMs, redisReqPerSignal (the gateway's tail fetches per
// signal), cpuRatioToPolling (gateway CPU per delivered signal, polling / push), bytesPerConn
// (gateway RSS growth per connected, subscribed client), and every figure behind them.
//
//   npm run bench:ws [-- --clients 10000] [--rate 5] [--seconds 20] [--no-polling] [--no-ceiling]
import { execFile, execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { SignalService } from '../src/services/signals.js';
import { createRedis } from '../src/store/redis/client.js';
import { dropLessonKeys, loadSyntheticLesson } from '../test/support/lesson.js';
import { percentile } from './lib/generators.js';
import { cpuSeconds, rssMb, startServer } from './lib/proc.js';
import { startPrivateRedis } from './lib/redis.js';
import { commandDelta, commandStats, hasTaskset, spawnGateway, stopGateway, writeResult, wrkStudentRotation } from './support.js';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    clients: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '200' },
    /** wrk connections of the polling phase: enough that pacing, not latency, sets the poll rate. */
    'poll-connections': { type: 'string', default: '1000' },
    polling: { type: 'boolean', default: true },
    ceiling: { type: 'boolean', default: true },
  },
});
const o = {
  clients: Number(values.clients),
  rate: Number(values.rate),
  seconds: Number(values.seconds),
  pollMs: Number(values['poll-ms']),
  pollConnections: Number(values['poll-connections']),
};
for (const [k, v] of Object.entries(o)) if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);

const SECRET = 'bench-secret-0123456789-abcdefghijklmno';
const LESSON = 100_002;
const ROOM = 'main';
const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** Latency figures of one push phase. */
interface Delivery {
  signals: number;
  delivered: number;
  /** Clients that missed a signal, got one twice or out of order. */
  faulty: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** N connected clients recording (seq, latency) of every signal they receive. */
class Clients {
  readonly sockets: WebSocket[] = [];
  /** Per client: the seqs in arrival order. */
  readonly seqs: number[][] = [];
  latencies: number[] = [];
  recording = false;

  async connect(url: string, tokens: readonly string[] | null, subscribe: boolean): Promise<void> {
    const batch = 500;
    for (let i = 0; i < o.clients; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, o.clients - i) }, (_, j) => {
          const k = i + j;
          const ws = new WebSocket(url, { headers: tokens ? { authorization: `Bearer ${tokens[k]}` } : {}, perMessageDeflate: false });
          this.sockets[k] = ws;
          const seqs: number[] = (this.seqs[k] = []);
          return new Promise<void>((resolve, reject) => {
            ws.on('message', (data) => {
              const m = JSON.parse(String(data)) as { type: string; seq?: number; at?: number };
              if (m.type === 'subscribed') resolve();
              else if (m.type === 'signal' && this.recording) {
                this.latencies.push(Date.now() - m.at!);
                seqs.push(m.seq!);
              }
            });
            ws.once('open', () => {
              if (subscribe) ws.send(JSON.stringify({ type: 'subscribe', room: ROOM }));
              else resolve();
            });
            ws.once('error', reject);
          });
        }),
      );
    }
  }

  delivery(): Delivery {
    const lat = Float64Array.from(this.latencies).sort();
    const first = Math.min(...this.seqs.map((s) => s[0] ?? Infinity));
    const last = Math.max(...this.seqs.map((s) => s[s.length - 1] ?? -Infinity));
    const signals = Number.isFinite(first) ? last - first + 1 : 0;
    let faulty = 0;
    for (const s of this.seqs) if (s.length !== signals || s.some((q, i) => q !== first + i)) faulty++;
    return { signals, delivered: lat.length, faulty, p50Ms: percentile(Array.from(lat), 50), p99Ms: percentile(Array.from(lat), 99), maxMs: lat[lat.length - 1] ?? 0 };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.sockets.map(
        (ws) =>
          new Promise<void>((r) => {
            if (ws.readyState === WebSocket.CLOSED) return r();
            ws.once('close', () => r());
            ws.terminate();
          }),
      ),
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settle = () => sleep(1500);

/**
 * The polling baseline's wrk script: student i polls every pollMs (wrk's delay paces each
 * connection) with `after` = the newest seq the fleet knew when it last polled, so each
 * student receives each signal about once, as a polling client would.
 */
function pollScript(tokenFile: string, connections: number): string {
  const delayMs = Math.max(0, Math.round((connections * o.pollMs) / o.clients));
  return `
${wrkStudentRotation(tokenFile)}
delivered = 0
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
delay = function() return ${delayMs} end
request = function()
  i = i % n + 1
  local a = afters[i]
  afters[i] = latest
  headers["authorization"] = tokens[i]
  return wrk.format("GET", "/v1/lessons/${LESSON}/rooms/${ROOM}/signals?limit=100&after=" .. a, headers)
end
response = function(status, hdrs, body)
  if status == 200 then
    track_latest(body)
    local c = 0
    for _ in string.gmatch(body, '"seq":') do c = c + 1 end
    delivered = delivered + c
  end
end
done = function(summary, latency, requests)
  local d = 0
  for _, t in ipairs(threads) do d = d + (t:get("delivered") or 0) end
  io.write(string.format('JSON {"requests":%d,"seconds":%f,"delivered":%d,"errors":%d}\\n', summary.requests, summary.duration / 1e6, d,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`;
}

async function main(): Promise<void> {
  const pin = hasTaskset();
  if (pin) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const priv = await startPrivateRedis(pin ? '1' : null);
  const prefix = `bench:ws:${process.pid}:`;
  const env = { ORGENGINE_REDIS_URL: priv.url, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_LOG_LEVEL: 'warn' };
  const config = loadConfig(env);
  const redis = createRedis(config.redis);
  const stats = new Redis(priv.url);
  const tokenFile = join(tmpdir(), `oe-benchws-${process.pid}.tokens`);
  const script = join(tmpdir(), `oe-benchws-${process.pid}.lua`);
  const out: Record<string, unknown> = { clients: o.clients, rate: o.rate, seconds: o.seconds, pinned: pin };
  try {
    console.error(`preloading a lesson of ${o.clients} students …`);
    const topo = await loadSyntheticLesson(redis, prefix, LESSON, { students: o.clients, tutors: Math.ceil(o.clients / 500), policy: 'three-screen', ttlSeconds: 3600 });
    const verifier = new TokenVerifier({ secret: SECRET, cacheEntries: 10 });
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const tokens = topo.positions.slice(0, o.clients).map((p) => verifier.mint({ uid: p.uid, role: 'student', lesson: LESSON, exp }));
    writeFileSync(tokenFile, `${tokens.join('\n')}\n`);

    const teacherSvc = new SignalService({ redis, config: { ...config, signals: { ...config.signals, cache: false } }, cache: null });
    const teacher = { uid: 9001, role: 'teacher' as const, lesson: LESSON };
    let page = 0;
    /** Publishes rate x seconds signals at a fixed pace; resolves with how many. */
    const publish = async (): Promise<number> => {
      const n = o.rate * o.seconds;
      const every = 1000 / o.rate;
      let next = performance.now();
      for (let i = 0; i < n; i++) {
        await teacherSvc.publish(teacher, LESSON, ROOM, JSON.stringify({ type: 'page', page: ++page }));
        next += every;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
      }
      return n;
    };

    // --- ceiling: bare uWS publish ---
    if (values.ceiling) {
      const bare = await startServer('uws-publish', [process.execPath, '--import', 'tsx', 'bench/baselines/uws-publish.ts'], { cpus: pin ? '0' : null, env: process.env, cwd: root });
      const rss0 = rssMb(bare.pid);
      const cs = new Clients();
      await cs.connect(`ws://127.0.0.1:${bare.port}/v1/ws`, null, false);
      await settle();
      const rss1 = rssMb(bare.pid);
      cs.recording = true;
      const cpu0 = cpuSeconds(bare.pid);
      await fetch(`http://127.0.0.1:${bare.port}/publish?n=${o.rate * o.seconds}&every=${1000 / o.rate}`, { method: 'POST' });
      await sleep(o.seconds * 1000);
      for (let t = 0; t < 100 && cs.latencies.length < o.rate * o.seconds * o.clients; t++) await sleep(50);
      const cpu = cpuSeconds(bare.pid) - cpu0;
      const d = cs.delivery();
      out.ceiling = { ...d, cpuUsPerDelivered: (cpu / d.delivered) * 1e6, bytesPerConn: ((rss1 - rss0) * 1024 * 1024) / o.clients };
      out.ceilingP50Ms = d.p50Ms;
      out.ceilingP99Ms = d.p99Ms;
      out.ceilingMaxMs = d.maxMs;
      console.error(`ceiling  p50 ${d.p50Ms} ms  p99 ${d.p99Ms} ms  max ${d.maxMs} ms  delivered ${d.delivered}  faulty ${d.faulty}`);
      await cs.close();
      await bare.stop();
    }

    // --- push: the gateway ---
    {
      const g = await spawnGateway(env, { cpu: pin ? 0 : undefined });
      const pid = g.child.pid!;
      await sleep(500);
      const rss0 = rssMb(pid);
      const cs = new Clients();
      const tc0 = performance.now();
      await cs.connect(`ws://127.0.0.1:${g.port}/v1/ws`, tokens, true);
      const connectSeconds = (performance.now() - tc0) / 1000;
      await settle();
      const rss1 = rssMb(pid);
      const metrics0 = await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
      const before = await commandStats(stats);
      const cpu0 = cpuSeconds(pid);
      cs.recording = true;
      const signals = await publish();
      // Until every client has every signal (at most 5 s): idle time after it would add the staleness backstop's checks.
      for (let t = 0; t < 100 && cs.latencies.length < signals * o.clients; t++) await sleep(50);
      const cpu = cpuSeconds(pid) - cpu0;
      const dc = commandDelta(before, await commandStats(stats));
      const metrics1 = await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
      const fetches = (t: string) => Number(/^orgengine_signal_cache_tail_fetches_total\{bucket="all"\} (\d+)/m.exec(t)?.[1] ?? 0);
      const d = cs.delivery();
      const scripts = (dc.byCommand.evalsha ?? 0) + (dc.byCommand.eval ?? 0);
      out.push = {
        ...d,
        connectSeconds,
        gatewayCpuSeconds: cpu,
        cpuUsPerDelivered: (cpu / d.delivered) * 1e6,
        tailFetches: fetches(metrics1) - fetches(metrics0),
        redisScriptCallsBesidesPublishes: scripts - signals,
        redisCommands: dc.byCommand,
        rssMbBefore: rss0,
        rssMbConnected: rss1,
      };
      out.p50Ms = d.p50Ms;
      out.p99Ms = d.p99Ms;
      out.maxMs = d.maxMs;
      out.redisReqPerSignal = (fetches(metrics1) - fetches(metrics0)) / signals;
      out.bytesPerConn = ((rss1 - rss0) * 1024 * 1024) / o.clients;
      console.error(
        `push     p50 ${d.p50Ms} ms  p99 ${d.p99Ms} ms  max ${d.maxMs} ms  delivered ${d.delivered}/${signals * o.clients}  faulty ${d.faulty}  ` +
          `tail fetches/signal ${String(out.redisReqPerSignal)}  cpu ${((cpu / d.delivered) * 1e6).toFixed(2)} µs/delivered  ${(out.bytesPerConn as number).toFixed(0)} B/conn`,
      );
      await cs.close();
      await stopGateway(g.child);
    }

    // --- polling baseline ---
    if (values.polling) {
      const g = await spawnGateway(env, { cpu: pin ? 0 : undefined });
      const pid = g.child.pid!;
      const connections = o.pollConnections;
      writeFileSync(script, pollScript(tokenFile, connections));
      const wrkArgs = ['-t1', `-c${connections}`, `-d${o.seconds}s`, '-s', script, `http://127.0.0.1:${g.port}`];
      // Warm-up: every token verified once, the room cached.
      await (pin ? run('taskset', ['-c', '1', 'wrk', ...wrkArgs.map((a) => (a === `-d${o.seconds}s` ? '-d3s' : a))]) : run('wrk', wrkArgs.map((a) => (a === `-d${o.seconds}s` ? '-d3s' : a))));
      const cpu0 = cpuSeconds(pid);
      const [w, signals] = await Promise.all([pin ? run('taskset', ['-c', '1', 'wrk', ...wrkArgs]) : run('wrk', wrkArgs), publish()]);
      const cpu = cpuSeconds(pid) - cpu0;
      const line = w.stdout.split('\n').find((l) => l.startsWith('JSON '));
      if (!line) throw new Error(`unexpected wrk output:\n${w.stdout}`);
      const r = JSON.parse(line.slice(5)) as { requests: number; seconds: number; delivered: number; errors: number };
      // Per signal each student needed (signals x clients), as for push: responses may carry a signal
      // to a student more than once (its next poll asks after what the fleet knew), which polling pays for.
      const needed = signals * o.clients;
      out.polling = {
        ...r,
        signalsInResponses: r.delivered,
        signals,
        needed,
        pollsPerSecond: r.requests / r.seconds,
        targetPollsPerSecond: (o.clients * 1000) / o.pollMs,
        gatewayCpuSeconds: cpu,
        gatewayCpuUsPerPoll: (cpu / r.requests) * 1e6,
        cpuUsPerDelivered: (cpu / needed) * 1e6,
      };
      console.error(`polling  ${(r.requests / r.seconds).toFixed(0)} polls/s  signals in responses ${r.delivered} (needed ${needed})  cpu ${((cpu / needed) * 1e6).toFixed(2)} µs/delivered  errors ${r.errors}`);
      await stopGateway(g.child);
      const push = out.push as { cpuUsPerDelivered: number };
      out.cpuRatioToPolling = (out.polling as { cpuUsPerDelivered: number }).cpuUsPerDelivered / push.cpuUsPerDelivered;
    }
    if (typeof out.ceilingP99Ms === 'number') out.p99RatioToCeiling = (out.p99Ms as number) / out.ceilingP99Ms;
    console.log(JSON.stringify(out, null, 2));
    console.error(`wrote ${writeResult('ws', out)}`);
  } finally {
    await dropLessonKeys(redis, prefix, LESSON).catch(() => undefined);
    redis.disconnect();
    stats.disconnect();
    await priv.stop();
    rmSync(tokenFile, { force: true });
    rmSync(script, { force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
