// enter under load: the gateway (`orgengine serve`, pinned to core 0) against
// a 30k-student lesson, the load generator pinned to core 1. Scenarios, each
// with ioredis autopipelining off and on:
//   baseline    GET /healthz (no auth, no Redis): what the transport alone does
//   enter-warm  1,000 students entering again and again (local cache, default TTL)
//   enter-cold  local cache off: every request is one Redis round trip (enter.lua)
// Prints req/s, p50/p99 and each scenario's ratio to the baseline of its run.
//
//   npx tsx bench/enter.ts [--seconds 8] [--connections 64] [--tool wrk|autocannon] [--cluster] [--order false,true]
//
// wrk (apt-get install wrk) is the default when installed: autocannon itself
// tops out near 80k req/s on one core here, below a warm gateway.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { TokenVerifier } from '../src/auth/tokens.js';
import { createRedis } from '../src/store/redis/client.js';
import { testClusterNodes, TEST_REDIS_URL, uniquePrefix } from '../test/support/env.js';
import { compileTestLesson, dropLesson, loadTopology } from '../test/support/lesson.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '64' },
    tool: { type: 'string' },
    order: { type: 'string', default: 'false,true' },
    cluster: { type: 'boolean', default: false },
    students: { type: 'string', default: '30000' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const root = fileURLToPath(new URL('..', import.meta.url));
const hasWrk = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status === 1; // wrk --version exits 1 after printing
  }
})();
const tool = values.tool ?? (hasWrk ? 'wrk' : 'autocannon');
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const SECRET = 'bench-secret-0123456789-abcdefghijklmno';
const LESSON = 990001;
const prefix = uniquePrefix('bench');
const target = values.cluster ? { ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(',') } : { ORGENGINE_REDIS_URL: TEST_REDIS_URL };

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function startServer(env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  const args = ['bin/orgengine.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--json'];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...target, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_LOG_LEVEL: 'warn', ...env } });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { httpPort: number }).httpPort);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
  return { port, child };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

function wrk(port: number, paths: string[], token: string, seconds: number): Result {
  const lua = join(tmpdir(), `oe-bench-${process.pid}.lua`);
  writeFileSync(
    lua,
    `local paths = {${paths.map((p) => JSON.stringify(p)).join(',')}}\n` +
      `local i = 0\nwrk.headers["authorization"] = "Bearer ${token}"\n` +
      `request = function() i = i % #paths + 1; return wrk.format("GET", paths[i]) end\n` +
      `done = function(summary, latency, requests) io.write(string.format("JSON {\\"rps\\":%f,\\"p50\\":%f,\\"p99\\":%f,\\"errors\\":%d}\\n", summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout)) end\n`,
  );
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-s', lua, `http://127.0.0.1:${port}`];
  const out = hasTaskset ? execFileSync('taskset', ['-c', '1', 'wrk', ...args], { encoding: 'utf8' }) : execFileSync('wrk', args, { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith('JSON '));
  if (!line) throw new Error(`unexpected wrk output:\n${out}`);
  return JSON.parse(line.slice(5)) as Result;
}

async function cannon(port: number, paths: string[], token: string, seconds: number): Promise<Result> {
  let i = 0;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

const load = (port: number, paths: string[], token: string, seconds = SECONDS): Promise<Result> =>
  tool === 'wrk' ? Promise.resolve(wrk(port, paths, token, seconds)) : cannon(port, paths, token, seconds);

async function hitRatio(port: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^orgengine_cache_hit_ratio (\S+)$/m.exec(text);
  return m ? `${(Number(m[1]) * 100).toFixed(1)}%` : '?';
}

async function main(): Promise<void> {
  if (tool === 'autocannon' && hasTaskset) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const redis = createRedis(values.cluster ? { mode: 'cluster', nodes: testClusterNodes().map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })) } : { mode: 'single', url: TEST_REDIS_URL });
  const students = Number(values.students);
  const topo = compileTestLesson({ lessonId: LESSON, students, tutors: Math.ceil(students / 500), policy: 'group', seed: 1 });
  await loadTopology(redis, prefix, topo);
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 10 });
  const token = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: Math.floor(Date.now() / 1000) + 3600 });
  const warmPaths = topo.positions.slice(0, 1000).map((p) => `/v1/lessons/${LESSON}/enter?uid=${p.uid}`);
  const coldPaths = topo.positions.filter((_, i) => i % 7 === 0).map((p) => `/v1/lessons/${LESSON}/enter?uid=${p.uid}`);
  console.log(`enter bench: ${tool}, ${CONNECTIONS} connections, ${SECONDS} s per run, ${values.cluster ? 'Redis Cluster' : 'single Redis'}, lesson of ${students} students; server ${hasTaskset ? 'on core 0, generator on core 1' : '(taskset missing: unpinned)'}`);
  const rows: Array<Record<string, string>> = [];
  try {
    // Autopipelining settings in the given order (alternate runs to see order effects on a shared machine).
    for (const pipelining of values.order!.split(',')) {
      for (const scenario of ['baseline', 'enter-warm', 'enter-cold'] as const) {
        const cacheTtl = scenario === 'enter-cold' ? '0' : '2000';
        const { port, child } = await startServer({ ORGENGINE_REDIS_AUTOPIPELINING: pipelining, ORGENGINE_CACHE_TTL_MS: cacheTtl });
        try {
          const paths = scenario === 'baseline' ? ['/healthz'] : scenario === 'enter-warm' ? warmPaths : coldPaths;
          if (scenario !== 'baseline') await load(port, paths, token, 2); // warm-up: JIT, connections, cache
          const r = await load(port, paths, token);
          const base = rows.find((x) => x.autopipelining === pipelining && x.scenario === 'baseline');
          rows.push({
            autopipelining: pipelining,
            scenario,
            'req/s': r.rps.toFixed(0),
            'p50 ms': r.p50.toFixed(2),
            'p99 ms': r.p99.toFixed(2),
            errors: String(r.errors),
            'vs baseline': base ? (r.rps / Number(base['req/s'])).toFixed(2) : '1.00',
            'cache hits': scenario === 'baseline' ? '-' : await hitRatio(port),
          });
          console.log(JSON.stringify(rows[rows.length - 1]));
        } finally {
          await stopServer(child);
        }
      }
    }
  } finally {
    await dropLesson(redis, prefix, LESSON);
    redis.disconnect();
  }
  console.table(rows);
}

await main();
