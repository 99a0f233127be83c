// The floor of a routed answer: the plain uWS static ceiling (`app.any('/*')`,
// write the body) against the same body answered on the gateway's enter
// route after the uWS calls every gateway route makes (path parameters, query,
// Accept and Authorization headers, a clock reading, one small object), in
// alternated rounds on the same core. What the routed server loses is lost by
// any gateway before it authenticates or looks anything up, so it bounds the
// warm-enter ratio to the ceiling that a machine can show.
//
//   npx tsx bench/uws-floor.ts [--rounds 3] [--seconds 4] [--server-cpus 0] [--load-cpus 1] [--connections 64]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runWrk, writeRequestFile } from './lib/generators.js';
import { cpuSeconds, startServer } from './lib/proc.js';
import { writeResult } from './support.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    'server-cpus': { type: 'string', default: '0' },
    'load-cpus': { type: 'string', default: '1' },
    connections: { type: 'string', default: '64' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
for (const [k, v] of Object.entries({ ROUNDS, SECONDS, CONNECTIONS })) if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} must be a positive integer, got ${v}`);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUTE = '/v1/lessons/:lessonId/enter';

const dir = mkdtempSync(join(tmpdir(), 'oe-uws-floor-'));
try {
  const bodyFile = join(dir, 'body.json');
  writeFileSync(bodyFile, `{"pad":"${'x'.repeat(2040)}"}`);
  const requestFile = join(dir, 'requests.tsv');
  // 1,000 distinct tokens of a realistic length, as in enter-warm.
  writeRequestFile(requestFile, Array.from({ length: 1000 }, (_, i) => ({ method: 'GET' as const, path: '/v1/lessons/7000001/enter', token: `${Buffer.from(JSON.stringify({ u: 100000 + i, r: 'student', l: 7000001, e: 1900000000, i: 1800000000000 })).toString('base64url')}.${'s'.repeat(43)}` })));
  const variants = [
    { name: 'static (app.any, the ceiling)', args: [] as string[] },
    { name: `routed (${ROUTE}, the gateway's uWS calls)`, args: ['--route', ROUTE] },
  ];
  const runs: Array<{ variant: string; round: number; reqPerSec: number; serverCpuPct: number }> = [];
  for (let round = 0; round <= ROUNDS; round++) {
    for (const v of variants) {
      const server = await startServer(v.name, [process.execPath, '--import', 'tsx', 'bench/baselines/static-uws.ts', '--body-file', bodyFile, ...v.args], { cpus: values['server-cpus'] || null, env: process.env, cwd: ROOT });
      try {
        const c0 = cpuSeconds(server.pid);
        const r = await runWrk({ url: `http://127.0.0.1:${server.port}`, requestFile, connections: CONNECTIONS, threads: 1, seconds: round === 0 ? 1 : SECONDS, cpus: values['load-cpus'] || null });
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${v.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        const cpu = (100 * (cpuSeconds(server.pid) - c0)) / r.seconds;
        if (round > 0) {
          runs.push({ variant: v.name, round, reqPerSec: r.reqPerSec, serverCpuPct: cpu });
          process.stderr.write(`round ${round} ${v.name.padEnd(52)} ${r.reqPerSec.toFixed(0).padStart(8)} req/s  server CPU ${cpu.toFixed(0)}%\n`);
        }
      } finally {
        await server.stop();
      }
    }
  }
  const ratios = Array.from({ length: ROUNDS }, (_, i) => runs[2 * i + 1]!.reqPerSec / runs[2 * i]!.reqPerSec).sort((a, b) => a - b);
  const median = ratios[(ratios.length - 1) >> 1]!;
  process.stdout.write(`routed / static: ${median.toFixed(2)} [${ratios[0]!.toFixed(2)}-${ratios[ratios.length - 1]!.toFixed(2)}] (median of ${ROUNDS} alternated rounds)\n`);
  if (!values['no-write']) process.stdout.write(`wrote ${writeResult('uws-floor', { ratioRoutedToStatic: median, ratioRange: [ratios[0], ratios[ratios.length - 1]], runs, config: { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, serverCpus: values['server-cpus'], loadCpus: values['load-cpus'] } })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
