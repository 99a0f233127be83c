// Load generators of the HTTP bench, each run as its own process pinned to the
// load CPUs (autocannon runs in the bench process, which pins itself there):
//   wrk        closed-loop throughput, requests cycled from a file (bench/wrk/requests.lua)
//   hey        fixed-rate latency (-q per worker x -c workers), every response time from -o csv
//   autocannon per-request logic (mixed reads and mutations), in process
// Every result carries the generator's own CPU (bash `time` of the process, or
// process.cpuUsage for autocannon), so a figure capped by its generator shows it.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { pinned } from './proc.js';

/** One request of a scenario: the token is sent as `authorization: Bearer <token>`. */
export interface ReqSpec {
  method: 'GET' | 'POST';
  path: string;
  token: string;
  /** JSON body (POST), or undefined. */
  body?: string;
}

/** What one load run measured. */
export interface LoadResult {
  /** Which generator produced the figures (and how it was driven). */
  tool: string;
  seconds: number;
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** null when the run has too few samples for a 99.9th percentile. */
  p999Ms: number | null;
  /** Transport errors: connect/read/write failures and timeouts. */
  errors: number;
  /** Responses outside 2xx (wrk counts status >= 400 here). */
  non2xx: number;
  /** The generator's CPU time over the run, in % of one core. */
  generatorCpuPct: number;
}

const WRK_SCRIPT = fileURLToPath(new URL('../wrk/requests.lua', import.meta.url));

/** Writes the request file bench/wrk/requests.lua reads. */
export function writeRequestFile(file: string, reqs: readonly ReqSpec[]): void {
  const bad = reqs.find((r) => /[\t\n]/.test(r.path + r.token + (r.body ?? '')));
  if (bad) throw new Error(`request ${bad.path} has a tab or newline`);
  writeFileSync(file, reqs.map((r) => `${r.method}\t${r.path}\t${r.token}\t${r.body ?? ''}`).join('\n') + '\n');
}

interface Timed {
  stdout: string;
  stderr: string;
  code: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/** Runs `argv` under bash's `time` (pinned to `cpus`) and returns its output and CPU time. */
function runTimed(argv: string[], cpus: string | null): Promise<Timed> {
  const script = 'TIMEFORMAT="GENCPU %3U %3S %3R"; time "$@"';
  const child = spawn('bash', ['-c', script, 'bash', ...pinned(cpus, argv)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const stderr = Buffer.concat(err).toString();
      const m = /GENCPU ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: stderr.replace(/GENCPU .*\n?/, ''),
        code: code ?? -1,
        cpuSeconds: m ? Number(m[1]) + Number(m[2]) : NaN,
        wallSeconds: m ? Number(m[3]) : NaN,
      });
    });
  });
}

/** Options of a wrk run. */
export interface WrkOptions {
  url: string;
  requestFile: string;
  connections: number;
  threads: number;
  seconds: number;
  cpus: string | null;
  /** Mean pause of each connection after every response (paced load; drawn from 0..2x), in whole ms. */
  pacedDelayMs?: number;
}

/** Closed-loop throughput with wrk (or a paced load with pacedDelayMs). */
export async function runWrk(o: WrkOptions): Promise<LoadResult> {
  const argv = ['wrk', `-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '5s', '-s', WRK_SCRIPT, o.url, '--', o.requestFile];
  if (o.pacedDelayMs !== undefined) argv.push(String(o.pacedDelayMs));
  const r = await runTimed(argv, o.cpus);
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (r.code !== 0 || !line) throw new Error(`wrk failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  const j = JSON.parse(line.slice(8)) as Record<string, number>;
  const seconds = j.durationUs! / 1e6;
  return {
    tool: o.pacedDelayMs === undefined ? `wrk -t${o.threads} -c${o.connections}` : `wrk paced -t${o.threads} -c${o.connections}, pause 0-${2 * o.pacedDelayMs} ms per connection`,
    seconds,
    requests: j.requests!,
    reqPerSec: j.requests! / seconds,
    p50Ms: j.p50Us! / 1000,
    p99Ms: j.p99Us! / 1000,
    p999Ms: j.requests! >= 1000 ? j.p999Us! / 1000 : null,
    errors: j.connect! + j.read! + j.write! + j.timeout!,
    non2xx: j.status!,
    generatorCpuPct: (100 * r.cpuSeconds) / r.wallSeconds,
  };
}

/**
 * Connections and pause for a paced wrk load of about `rate` requests/s: at
 * most 800 connections (one wrk thread, default fd limits), pauses of 1-20 ms.
 */
export function pacing(rate: number, latencyMs = 0.3): { connections: number; delayMs: number } {
  const delayMs = Math.max(1, Math.min(20, Math.floor(800_000 / rate)));
  return { connections: Math.max(1, Math.round((rate * (delayMs + latencyMs)) / 1000)), delayMs };
}

/** Options of a fixed-rate hey run. */
export interface HeyOptions {
  url: string;
  token: string;
  method: 'GET' | 'POST';
  body?: string;
  /** Requests per second offered in total (split evenly over the workers). */
  rate: number;
  workers: number;
  seconds: number;
  cpus: string | null;
}

/** The p-th percentile (0-100) of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Fixed-rate latency with hey: `-c workers -q rate/workers` (hey's -q is per
 * worker). Percentiles come from every response time (-o csv, 0.1 ms
 * resolution). hey's csv leaves out requests that failed at the transport
 * level, so `errors` counts the requests missing from the offered rate only
 * when they exceed 5% (reported separately as achieved vs offered rate).
 */
export async function runHey(o: HeyOptions): Promise<LoadResult & { offeredRate: number }> {
  const cpuCount = o.cpus ? o.cpus.split(',').length : 1;
  const argv = ['hey', '-z', `${o.seconds}s`, '-c', String(o.workers), '-q', (o.rate / o.workers).toFixed(3), '-cpus', String(cpuCount), '-t', '10', '-o', 'csv', '-m', o.method, '-H', `authorization: Bearer ${o.token}`];
  if (o.body !== undefined) argv.push('-T', 'application/json', '-d', o.body);
  argv.push(o.url);
  const r = await runTimed(argv, o.cpus);
  if (r.code !== 0) throw new Error(`hey failed (exit ${r.code}): ${r.stderr}`);
  const lats: number[] = [];
  let non2xx = 0;
  for (const line of r.stdout.split('\n')) {
    const c = line.split(',');
    if (c.length < 8 || c[0] === 'response-time') continue;
    lats.push(Number(c[0]) * 1000);
    const status = Number(c[6]);
    if (status < 200 || status > 299) non2xx++;
  }
  lats.sort((a, b) => a - b);
  const achieved = lats.length / o.seconds;
  return {
    tool: `hey -c ${o.workers} -q ${(o.rate / o.workers).toFixed(1)} (fixed rate ${Math.round(o.rate)}/s)`,
    seconds: o.seconds,
    requests: lats.length,
    reqPerSec: achieved,
    p50Ms: percentile(lats, 50),
    p99Ms: percentile(lats, 99),
    p999Ms: lats.length >= 1000 ? percentile(lats, 99.9) : null,
    errors: 0,
    non2xx,
    generatorCpuPct: (100 * r.cpuSeconds) / r.wallSeconds,
    offeredRate: o.rate,
  };
}

/** One operation of an autocannon profile: picks its request per call (per-request logic). */
export interface ProfileOp {
  name: string;
  /** Relative share of requests. */
  weight: number;
  /** The n-th request of this op (n counts from 0 across the run). */
  request(n: number): ReqSpec;
}

/** Options of an autocannon run. */
export interface CannonOptions {
  url: string;
  ops: readonly ProfileOp[];
  connections: number;
  seconds: number;
  /** Fixed total rate (autocannon -R), or undefined for closed loop. */
  rate?: number;
}

/** Runs a weighted profile with autocannon in this process; per-op request counts come back too. */
export async function runAutocannon(o: CannonOptions): Promise<LoadResult & { perOp: Record<string, number> }> {
  // A deterministic weighted round robin: op k gets weight_k of every sum(weights) requests.
  const wheel: number[] = [];
  o.ops.forEach((op, k) => {
    for (let i = 0; i < op.weight; i++) wheel.push(k);
  });
  const counts = o.ops.map(() => 0);
  let turn = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.seconds,
    ...(o.rate ? { overallRate: o.rate } : {}),
    requests: [
      {
        setupRequest: (req) => {
          const k = wheel[turn++ % wheel.length]!;
          const spec = o.ops[k]!.request(counts[k]!++);
          return {
            ...req,
            method: spec.method,
            path: spec.path,
            headers: { authorization: `Bearer ${spec.token}`, ...(spec.body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(spec.body !== undefined ? { body: spec.body } : {}),
          };
        },
      },
    ],
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const lat = r.latency as unknown as Record<string, number>;
  return {
    tool: `autocannon -c ${o.connections}${o.rate ? ` -R ${o.rate}` : ''} (ms resolution)`,
    seconds: r.duration,
    requests: r.requests.total,
    reqPerSec: r.requests.total / r.duration,
    p50Ms: lat.p50!,
    p99Ms: lat.p99!,
    p999Ms: lat.p99_9 ?? null,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    generatorCpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / wall,
    perOp: Object.fromEntries(o.ops.map((op, k) => [op.name, counts[k]!])),
  };
}

/** Options of a redis-benchmark run. */
export interface RedisBenchOptions {
  host: string;
  port: number;
  /** Cluster mode (redis-benchmark --cluster). */
  cluster: boolean;
  connections: number;
  requests: number;
  /** The command and its arguments. */
  command: string[];
  cpus: string | null;
}

/** One Redis command per request with redis-benchmark: the "webdis-class" bound (one round trip per request). */
export async function runRedisBenchmark(o: RedisBenchOptions): Promise<LoadResult> {
  const argv = ['redis-benchmark', '-h', o.host, '-p', String(o.port), '-c', String(o.connections), '-n', String(o.requests), '--csv', ...(o.cluster ? ['--cluster'] : []), ...o.command];
  const r = await runTimed(argv, o.cpus);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const row = r.stdout
    .split('\n')
    .map((l) => l.split(',').map((c) => c.replace(/^"|"$/g, '')))
    .find((c) => c.length >= 8 && c[1] !== 'rps');
  if (r.code !== 0 || !row) throw new Error(`redis-benchmark failed (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  const rps = Number(row[1]);
  return {
    tool: `redis-benchmark -c ${o.connections} -n ${o.requests} ${o.command[0]}`,
    seconds: o.requests / rps,
    requests: o.requests,
    reqPerSec: rps,
    p50Ms: Number(row[4]),
    p99Ms: Number(row[6]),
    p999Ms: null,
    errors: 0,
    non2xx: 0,
    generatorCpuPct: (100 * r.cpuSeconds) / r.wallSeconds,
  };
}
