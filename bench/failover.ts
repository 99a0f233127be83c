// Backends going away under load, measured: a gateway (`orgengine serve`, its
// own process, core 0) in front of private Redis processes this bench kills,
// with the load (uncached reads and group picks, over HTTP) from this process.
//
//   single   one Redis, kill -9, then started again: time to 503 while it is
//            down (p50/p99, after the breaker opened), time to the first 200
//            after it is back, requests in flight at the peak
//   cluster  3 masters + 3 replicas, kill -9 of one lesson's master: error
//            window, time to 503 p50/p99 until the promotion, promotion after
//            the kill, first 200 after the promotion was seen, the other
//            lesson's errors, in flight at the peak; run with memory and with
//            replica durability (acknowledged picks lost, checked in Redis)
//
//   npm run bench:failover [-- --scenario single,cluster] [--workers 8] [--rounds 1]
//
// Results go to bench/results/<date>-failover.json.
import { parseArgs } from 'node:util';
import { TokenVerifier } from '../src/auth/tokens.js';
import { createRedis } from '../src/store/redis/client.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { lessonsOnDistinctMasters, quantile, startLoad, type Sample } from '../test/support/failoverLoad.js';
import { compileTestLesson, loadTopology } from '../test/support/lesson.js';
import { throwawayCluster, throwawayRedis } from '../test/support/throwawayRedis.js';
import { sleep, until } from '../test/support/wait.js';
import { hasTaskset, spawnGateway, stopGateway, writeResult } from './support.js';

const SECRET = 'bench-failover-secret-0123456789-abcdef';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'single,cluster' },
    workers: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '1' },
  },
});
const workers = Number(args.workers);
const token = new TokenVerifier({ secret: SECRET, cacheEntries: 1 }).mint({ uid: 1, role: 'service', lesson: '*', exp: Math.floor(Date.now() / 1000) + 3600 });
const cpu = hasTaskset() ? 0 : undefined;

const ms = (x: number): number => Math.round(x * 10) / 10;
const errorsOf = (xs: Sample[]): Sample[] => xs.filter((x) => x.status !== 200 && !(x.kind === 'pick' && x.status === 409));

async function single(): Promise<Record<string, unknown>> {
  const proc = await throwawayRedis();
  const admin = createRedis({ mode: 'single', url: proc.url });
  admin.on('error', () => undefined);
  const prefix = 'bench:fo:';
  const topo = compileTestLesson({ lessonId: 8101, students: 500, tutors: 2, policy: 'group', seed: 1 });
  await loadTopology(admin, prefix, topo);
  const gw = await spawnGateway(
    { ORGENGINE_REDIS_URL: proc.url, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_CACHE_TTL_MS: '0', ORGENGINE_LOG_LEVEL: 'error' },
    { cpu },
  );
  const base = `http://127.0.0.1:${gw.port}`;
  try {
    const load = startLoad(base, token, [{ lessonId: 8101, uids: topo.positions.map((p) => p.uid) }], { workers, picks: true });
    await sleep(1000);
    const killedAt = load.now();
    await proc.kill9();
    await sleep(2000);
    const restartAt = load.now();
    await proc.start();
    await loadTopology(admin, prefix, topo);
    // From when the data is back (the restarted server came up empty and was loaded again).
    const reloadedAt = load.now();
    const back = await until('a 200 after the restart', async () => load.samples.find((x) => x.at > reloadedAt && x.status === 200), 20_000, 10);
    await sleep(500);
    await load.stop();
    const down = load.samples.filter((x) => x.at >= killedAt && x.at < restartAt);
    const errs = errorsOf(down);
    const first = errs[0];
    const refused = errs.filter((x) => first && x.at > first.at + first.ms).map((x) => x.ms);
    return {
      requestsWhileDown: down.length,
      errorCodes: [...new Set(errs.map((x) => `${x.status} ${x.code}`))],
      firstErrorAfterKillMs: first ? ms(first.at + first.ms - killedAt) : null,
      timeTo503P50Ms: ms(quantile(refused, 0.5)),
      timeTo503P99Ms: ms(quantile(refused, 0.99)),
      servedAgainAfterReloadMs: ms(back.at + back.ms - reloadedAt),
      inFlightPeak: load.peakInFlight(),
    };
  } finally {
    await stopGateway(gw.child);
    admin.disconnect();
    await proc.stop();
  }
}

async function cluster(durability: 'memory' | 'replica'): Promise<Record<string, unknown>> {
  const c = await throwawayCluster({ replicas: true, nodeTimeoutMs: 2000 });
  const target = { mode: 'cluster' as const, nodes: c.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) };
  const admin = createRedis(target);
  admin.on('error', () => undefined);
  const prefix = 'bench:fo:';
  const [a, b] = (await lessonsOnDistinctMasters(c, admin, prefix, 2, 8201, 500)) as [Awaited<ReturnType<typeof lessonsOnDistinctMasters>>[0], Awaited<ReturnType<typeof lessonsOnDistinctMasters>>[0]];
  const gw = await spawnGateway(
    {
      ORGENGINE_REDIS_CLUSTER_NODES: c.seeds,
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      ORGENGINE_CACHE_TTL_MS: '0',
      ORGENGINE_LOG_LEVEL: 'error',
      ORGENGINE_DURABILITY: durability,
      ORGENGINE_DURABILITY_TIMEOUT_MS: '200',
    },
    { cpu },
  );
  const base = `http://127.0.0.1:${gw.port}`;
  try {
    const load = startLoad(base, token, [a, b], { workers: Math.max(1, workers / 2), picks: true });
    await sleep(1000);
    const killedAt = load.now();
    await c.nodes.find((n) => n.port === a.master)!.kill9();
    const promoted = await until('promotion', async () => ((await c.masterOf(a.slot).catch(() => a.master)) !== a.master ? load.now() : undefined), 30_000, 100); // redis-cli spawns: 10/s at most, not to load the CPU measured
    const back = await until('lesson a read again', async () => load.samples.find((x) => x.lessonId === a.lessonId && x.kind === 'read' && x.at > promoted && x.status === 200), 10_000, 10);
    await sleep(1000);
    await load.stop();
    const after = load.samples.filter((x) => x.at >= killedAt);
    const aErr = errorsOf(after.filter((x) => x.lessonId === a.lessonId));
    const bErr = errorsOf(after.filter((x) => x.lessonId === b.lessonId));
    const first = aErr[0];
    const refused = aErr.filter((x) => first && x.at > first.at + first.ms && x.at + x.ms < promoted).map((x) => x.ms);
    const last = aErr[aErr.length - 1];
    // Acknowledged picks of lesson a still in Redis after the failover.
    const acked = new Map<number, string>();
    for (const x of load.samples) if (x.lessonId === a.lessonId && x.groupId) acked.set(x.uid!, x.groupId);
    const groups = await admin.hgetall(lessonKeys(prefix, a.lessonId).stateGroup);
    const lost = [...acked].filter(([uid, g]) => groups[String(uid)] !== g).length;
    return {
      durability,
      errorCodes: [...new Set(aErr.map((x) => `${x.status} ${x.code}`))],
      otherLessonErrors: bErr.length,
      promotionAfterKillMs: ms(promoted - killedAt),
      errorWindowMs: last ? ms(last.at + last.ms - killedAt) : 0,
      readsErrorWindowMs: ((r) => (r ? ms(r.at + r.ms - killedAt) : 0))(aErr.filter((x) => x.kind === 'read').pop()),
      timeTo503P50Ms: ms(quantile(refused, 0.5)),
      timeTo503P99Ms: ms(quantile(refused, 0.99)),
      readServedAfterPromotionMs: ms(back.at + back.ms - promoted),
      inFlightPeak: load.peakInFlight(),
      acknowledgedPicks: acked.size,
      acknowledgedPicksLost: lost,
    };
  } finally {
    await stopGateway(gw.child);
    admin.disconnect();
    await c.stop();
  }
}

const scenarios = String(args.scenario).split(',');
const results: Record<string, unknown[]> = {};
for (let r = 0; r < Number(args.rounds); r++) {
  if (scenarios.includes('single')) (results.single ??= []).push(await single());
  if (scenarios.includes('cluster')) {
    (results.clusterMemory ??= []).push(await cluster('memory'));
    (results.clusterReplica ??= []).push(await cluster('replica'));
  }
}
for (const [name, rows] of Object.entries(results)) for (const row of rows) console.log(name.padEnd(16), JSON.stringify(row));
console.log(`results: ${writeResult('failover', { workers, gatewayCpu: cpu ?? null, results })}`);
process.exit(0);
