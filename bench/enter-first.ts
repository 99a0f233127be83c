// npm run bench:enter-first — gateway CPU per cold enter: every student of a
// freshly preloaded lesson enters exactly once (each enter a local-cache miss,
// one Redis round trip) through a gateway that never saw the lesson, closed
// loop at --connections, and the gateway's CPU time is divided by the enters.
// With --before <dir> (a checkout of another revision with its node_modules,
// e.g. the main branch's), that revision's gateway runs the same schedule in
// the same run, rounds alternating, so the two figures are paired.
// --cpu-prof writes a V8 profile per run to bench/results/profiles/ (read them
// with `npx tsx bench/profile-top.ts <file>`).
//
//   npm run bench:enter-first -- [--students 30000] [--connections 64] [--rounds 2]
//                                [--before /path/to/checkout] [--cpu-prof] [--server-cpus 0] [--load-cpus 1] [--no-write]
import { mkdirSync } from 'node:fs';
import { Agent } from 'node:http';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { compileLesson } from '../src/model/compile.js';
import { validatePolicyConf } from '../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../src/model/synthetic.js';
import { createRedis } from '../src/store/redis/client.js';
import { loadTopology } from '../test/support/lesson.js';
import { cpuSeconds, median, pinSelf, startServer } from './lib/proc.js';
import { httpGet } from './lib/httpGet.js';
import { startPrivateRedis } from './lib/redis.js';
import { commandDelta, commandStats, writeResult } from './support.js';

const { values } = parseArgs({
  options: {
    students: { type: 'string', default: '30000' },
    tutors: { type: 'string', default: '60' },
    connections: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '2' },
    before: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'server-cpus': { type: 'string', default: process.env.ORGENGINE_BENCH_SERVER_CPUS ?? '0' },
    'load-cpus': { type: 'string', default: process.env.ORGENGINE_BENCH_LOAD_CPUS ?? '1' },
    'no-write': { type: 'boolean', default: false },
  },
});
const STUDENTS = Number(values.students);
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
for (const [k, v] of Object.entries({ STUDENTS, CONNECTIONS, ROUNDS })) if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} must be a positive number, got ${v}`);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LESSON_ID = 7_000_003;
const PREFIX = 'benchef:';
const SECRET = process.env.ORGENGINE_TOKEN_SECRET ?? 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const log = (msg: string) => process.stderr.write(`${msg}\n`);

interface Run {
  target: 'candidate' | 'before';
  round: number;
  enters: number;
  errors: number;
  seconds: number;
  reqPerSec: number;
  gatewayCpuUsPerEnter: number;
  redisCmdsPerEnter: number;
  profile: string | null;
}

async function main(): Promise<void> {
  pinSelf(values['load-cpus'] || null);
  const priv = await startPrivateRedis(null);
  const redis = createRedis({ mode: 'single', url: priv.url }, { connectionName: 'orgengine-bench' });
  const runs: Run[] = [];
  const profileDir = join(ROOT, 'bench', 'results', 'profiles');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, ORGENGINE_REDIS_URL: priv.url, ORGENGINE_KEY_PREFIX: PREFIX, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_LOG_LEVEL: 'warn' };
    delete env.ORGENGINE_REDIS_CLUSTER_NODES;
    const config = loadConfig(env);
    const src = syntheticLesson({ lessonId: LESSON_ID, ordinal: 1, students: STUDENTS, tutors: 60, seed: 1, startTime: Date.UTC(2026, 10, 21, 10) });
    const topo = compileLesson(src, validatePolicyConf(BUILTIN_POLICIES.find((b) => b.name === 'group')!.conf, config.defaultPartitionSize), { policyId: 1 });
    const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 10 });
    const exp = Math.floor(Date.now() / 1000) + 6 * 3600;
    const students = topo.positions.map((p) => tokens.mint({ uid: p.uid, role: 'student', lesson: LESSON_ID, exp }));
    const targets: Array<{ target: Run['target']; root: string }> = [{ target: 'candidate', root: ROOT }];
    if (values.before) targets.unshift({ target: 'before', root: resolve(values.before) });
    for (let round = 1; round <= ROUNDS; round++) {
      for (const { target, root } of targets) {
        await loadTopology(redis, PREFIX, topo);
        const node = [process.execPath];
        let profile: string | null = null;
        if (values['cpu-prof']) {
          mkdirSync(profileDir, { recursive: true });
          profile = `${new Date().toISOString().slice(0, 19).replace(/:/g, '')}-enter-first-${target}-${round}.cpuprofile`;
          node.push('--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', profile);
        }
        const server = await startServer(`gateway ${target}`, [...node, join(root, 'bin/orgengine.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--json'], { cpus: values['server-cpus'] || null, env, cwd: root });
        try {
          const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
          // Connections and token checks warmed on a few students, who are then not counted.
          const warm = Math.min(CONNECTIONS, 200);
          await Promise.all(students.slice(0, warm).map((t) => httpGet(agent, server.port, `/v1/lessons/${LESSON_ID}/enter`, t)));
          const s0 = await commandStats(redis);
          const c0 = cpuSeconds(server.pid);
          const t0 = performance.now();
          let next = warm;
          let errors = 0;
          await Promise.all(
            Array.from({ length: CONNECTIONS }, async () => {
              while (next < students.length) {
                const status = await httpGet(agent, server.port, `/v1/lessons/${LESSON_ID}/enter`, students[next++]!);
                if (status !== 200) errors++;
              }
            }),
          );
          const seconds = (performance.now() - t0) / 1000;
          const cpu = cpuSeconds(server.pid) - c0;
          const d = commandDelta(s0, await commandStats(redis));
          agent.destroy();
          const enters = students.length - warm;
          const run: Run = { target, round, enters, errors, seconds, reqPerSec: enters / seconds, gatewayCpuUsPerEnter: (cpu * 1e6) / enters, redisCmdsPerEnter: d.total / enters, profile: profile && join(profileDir, profile) };
          runs.push(run);
          log(`${target} round ${round}: ${enters} cold enters, ${run.reqPerSec.toFixed(0)} req/s, ${run.gatewayCpuUsPerEnter.toFixed(1)} µs gateway CPU per enter, ${run.redisCmdsPerEnter.toFixed(1)} Redis commands per enter, errors ${errors}`);
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    redis.disconnect();
    await priv.stop();
  }
  const us = (t: Run['target']) => runs.filter((r) => r.target === t).map((r) => r.gatewayCpuUsPerEnter);
  const summary = {
    students: STUDENTS,
    connections: CONNECTIONS,
    candidateUsPerEnter: us('candidate').length ? median(us('candidate')) : null,
    beforeUsPerEnter: us('before').length ? median(us('before')) : null,
    before: values.before ?? null,
  };
  console.log(JSON.stringify(summary, null, 2));
  if (!values['no-write']) log(`wrote ${writeResult('enter-first', { date: new Date().toISOString(), loadavg: loadavg(), summary, runs })}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
