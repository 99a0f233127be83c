// npm run bench:revocation — how long a token revocation takes to reach every
// gateway worker. Starts `orgengine serve --workers 2` (Redis Cluster from
// ORGENGINE_TEST_CLUSTER_NODES / .run/cluster.nodes, or one Redis with
// --single), loads a small lesson, and per round: a student's token is read
// on 8 keep-alive connections (spread over both workers by the kernel), the
// student is revoked through POST /v1/lessons/:id/revocations, and each
// connection polls until it is refused. A round's propagation time is from
// sending the revocation to the last connection's first refusal (every worker
// applied it); the median and max over rounds are printed and written to
// bench/results/<date>-revocation.json.
//
//   npm run bench:revocation -- [--rounds 30] [--connections 8] [--single] [--no-write]
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { createRedis } from '../src/store/redis/client.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../test/support/env.js';
import { compileTestLesson, dropLesson, loadTopology } from '../test/support/lesson.js';
import { spawnServe } from '../test/support/serve.js';
import { median } from './lib/proc.js';
import { writeResult } from './support.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    connections: { type: 'string', default: '8' },
    single: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const SECRET = 'bench-revocation-secret-0123456789-abcdef';
const LESSON = 7501;

function get(agent: Agent, port: number, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function post(port: number, path: string, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const prefix = uniquePrefix('bench-revoke');
  const env: Record<string, string> = values.single
    ? { ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET }
    : { ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(','), ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET };
  const config = loadConfig(env);
  const redis = createRedis(config.redis);
  const topo = compileTestLesson({ lessonId: LESSON, students: 200, tutors: 1, policy: 'group', seed: 6 });
  await loadTopology(redis, prefix, topo);
  const served = await spawnServe({ ...process.env, ...env, ORGENGINE_LOG_LEVEL: 'warn' }, ['--workers', '2']);
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 10 });
  const service = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: Math.floor(Date.now() / 1000) + 3600 });
  const agents = Array.from({ length: CONNECTIONS }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const times: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const uid = topo.positions[round % topo.positions.length]!.uid;
      const token = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: Math.floor(Date.now() / 1000) + 3600 });
      const path = `/v1/lessons/${LESSON}/students/${uid}/position`;
      // Every connection reads once (the lesson's revocation list is loaded, the token cached).
      const before = await Promise.all(agents.map((a) => get(a, served.httpPort, path, token)));
      if (before.some((s) => s !== 200)) throw new Error(`warm-up answered ${before.join(',')}`);
      if (round === 0) {
        // Both workers hold the lesson (the merged gauge sums them): the connections reach both.
        const metrics = await new Promise<string>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: served.httpPort, path: '/metrics' }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(body));
          });
          req.on('error', reject);
          req.end();
        });
        if (!/^orgengine_revocation_lessons 2$/m.test(metrics)) throw new Error('the connections do not reach both workers; rerun with more --connections');
      }
      const t0 = performance.now();
      const revoked = post(served.httpPort, `/v1/lessons/${LESSON}/revocations`, service, JSON.stringify({ uid }));
      const firstRefusal = await Promise.all(
        agents.map(async (a) => {
          for (;;) {
            const s = await get(a, served.httpPort, path, token);
            if (s === 401) return performance.now() - t0;
            if (performance.now() - t0 > 30_000) throw new Error('not refused within 30 s');
          }
        }),
      );
      if ((await revoked) !== 201) throw new Error('revocation refused');
      times.push(Math.max(...firstRefusal));
    }
  } finally {
    for (const a of agents) a.destroy();
    await served.stop();
    await dropLesson(redis, prefix, LESSON, [lessonKeys(prefix, LESSON).revocations]);
    redis.disconnect();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const result = {
    redis: values.single ? 'single' : 'cluster',
    workers: 2,
    connections: CONNECTIONS,
    rounds: ROUNDS,
    medianMs: Number(median(sorted).toFixed(2)),
    maxMs: Number(sorted[sorted.length - 1]!.toFixed(2)),
    minMs: Number(sorted[0]!.toFixed(2)),
  };
  console.log(`revocation reaching every worker (${result.redis}, 2 workers, ${CONNECTIONS} connections, ${ROUNDS} rounds): median ${result.medianMs} ms, max ${result.maxMs} ms, min ${result.minMs} ms`);
  if (!values['no-write']) console.log(`wrote ${writeResult('revocation', result)}`);
}

await main();
