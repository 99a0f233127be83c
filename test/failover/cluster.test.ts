// Redis Cluster failover under load, on a throwaway cluster this file may
// kill (3 masters + 3 replicas, or 3 masters alone): a manual failover costs
// no errors; kill -9 of a lesson's master gives only 503 BACKEND_UNAVAILABLE
// for that lesson, fast once the breaker is open, and reads and writes come
// back soon after the replica is promoted, while lessons on other masters
// answer throughout; a slot without a replica fails fast while the others
// answer. Times are asserted only against generous bounds; the figures are
// printed (and measured properly by bench/failover.ts).
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { uniquePrefix } from '../support/env.js';
import { lessonsOnDistinctMasters, quantile, servedOnce, startLoad, type Sample } from '../support/failoverLoad.js';
import { redisCli, throwawayCluster, type ThrowawayCluster } from '../support/throwawayRedis.js';
import { sleep, until } from '../support/wait.js';

const SECRET = 'cluster-failover-secret-0123456789-abcd';
const log = pino({ level: 'silent' });

/** A cluster, a gateway on it, and two lessons on different masters. */
async function setup(replicas: boolean, env: Record<string, string> = {}) {
  const cluster = await throwawayCluster({ replicas, nodeTimeoutMs: 1000 });
  const prefix = uniquePrefix('focl');
  const target = { mode: 'cluster' as const, nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) };
  const admin = createRedis(target);
  admin.on('error', () => undefined);
  const lessons = await lessonsOnDistinctMasters(cluster, admin, prefix, 2, 7401);
  /** A gateway on the cluster (closed by teardown). */
  const gateways: Gateway[] = [];
  const gateway = async (extra: Record<string, string>) => {
    const config = loadConfig({ ORGENGINE_REDIS_CLUSTER_NODES: cluster.seeds, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_CACHE_TTL_MS: '0', ...extra });
    const gw = await startGateway(config, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false });
    gateways.push(gw);
    return { gw, base: `http://127.0.0.1:${gw.httpPort}` };
  };
  const { gw, base } = await gateway(env);
  const token = new TokenVerifier({ secret: SECRET, cacheEntries: 10 }).mint({ uid: 1, role: 'service', lesson: '*', exp: Math.floor(Date.now() / 1000) + 600 });
  return { cluster, admin, lessons, gw, gateways, gateway, token, base, prefix };
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  for (const gw of s.gateways) await gw.close();
  s.admin.disconnect();
  await s.cluster.stop();
}

const errorsOf = (xs: Sample[]): Sample[] => xs.filter((x) => x.status !== 200 && !(x.kind === 'pick' && x.status === 409));

describe('Redis Cluster with replicas: failover under load', () => {
  let s: Setup;
  let cluster: ThrowawayCluster;

  beforeAll(async () => {
    // Writes acknowledged only once a replica has them: none may be lost to the kill.
    s = await setup(true, { ORGENGINE_DURABILITY: 'replica', ORGENGINE_DURABILITY_TIMEOUT_MS: '200' });
    cluster = s.cluster;
  }, 90_000);

  afterAll(async () => teardown(s));

  it('costs no errors on a manual failover of a lesson\'s master', async () => {
    const [a, b] = s.lessons as [Setup['lessons'][0], Setup['lessons'][0]];
    // Memory durability here: under replica durability a write may meet the moment the
    // old master re-attaches as a replica and answer 503 (WAIT short), by design.
    const { base } = await s.gateway({});
    await servedOnce(base, s.token, [a, b]);
    const load = startLoad(base, s.token, [a, b], { picks: true });
    await sleep(300);
    // The replica of a's master takes over (CLUSTER FAILOVER on the replica).
    const replicaLine = (await redisCli(a.master, 'cluster', 'replicas', (await redisCli(a.master, 'cluster', 'myid')))).split('\n')[0]!;
    const replicaPort = Number(replicaLine.split(' ')[1]!.split('@')[0]!.split(':')[1]);
    expect(await redisCli(replicaPort, 'cluster', 'failover')).toBe('OK');
    await until('replica promoted', async () => ((await cluster.masterOf(a.slot)) === replicaPort ? true : undefined), 10_000, 20);
    await sleep(500);
    await load.stop();
    const errors = errorsOf(load.samples);
    console.log(`[manual failover] ${load.samples.length} requests, ${errors.length} errors, slowest ${Math.max(...load.samples.map((x) => x.ms)).toFixed(0)} ms, in flight peak ${load.peakInFlight()}`);
    expect(errors).toEqual([]);
    a.master = replicaPort;
  }, 60_000);

  it('answers only 503 BACKEND_UNAVAILABLE for a killed master\'s lesson, fast once the breaker is open, and recovers after promotion; other lessons answer throughout', async () => {
    const [a, b] = s.lessons as [Setup['lessons'][0], Setup['lessons'][0]];
    await servedOnce(s.base, s.token, [a, b]);
    const load = startLoad(s.base, s.token, [a, b], { picks: true });
    await sleep(300);
    const victim = cluster.nodes.find((n) => n.port === a.master)!;
    const killedAt = load.now();
    await victim.kill9();
    const promoted = await until('replica promoted', async () => {
      const m = await cluster.masterOf(a.slot).catch(() => a.master);
      return m !== a.master ? load.now() : undefined;
    }, 20_000, 20);
    // Served again after promotion.
    const back = await until('lesson a served again', async () => {
      const ok = load.samples.find((x) => x.lessonId === a.lessonId && x.at > promoted - 50 && x.status === 200 && x.kind === 'read');
      return ok ? ok.at + ok.ms : undefined;
    }, 10_000, 20);
    await sleep(500);
    await load.stop();

    const inWindow = load.samples.filter((x) => x.at >= killedAt);
    const aErr = errorsOf(inWindow.filter((x) => x.lessonId === a.lessonId));
    const bErr = errorsOf(inWindow.filter((x) => x.lessonId === b.lessonId));
    // Lesson a: only the retryable 503.
    expect(new Set(aErr.map((x) => `${x.status} ${x.code}`))).toEqual(new Set(['503 BACKEND_UNAVAILABLE']));
    // Lesson b (another master): no errors at all.
    expect(bErr.map((x) => `${x.status} ${x.code} after ${x.ms.toFixed(0)} ms at ${x.at.toFixed(0)}`)).toEqual([]);
    // Once the breaker is open (after the first 503) and until promotion, refusals are fast.
    // (After promotion, picks under replica durability wait out WAIT: the new master's
    // replica is the node killed, so they are refused until a replica is back.)
    const firstErr = aErr[0]!;
    const fast = aErr.filter((x) => x.at > firstErr.at + firstErr.ms + 20 && x.at + x.ms < promoted).map((x) => x.ms);
    const p50 = quantile(fast, 0.5);
    const p99 = quantile(fast, 0.99);
    const lastErr = aErr[aErr.length - 1]!;
    console.log(
      `[kill -9] time to 503 p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms (${fast.length} refusals); promotion ${(promoted - killedAt).toFixed(0)} ms after the kill; ` +
        `error window ${(lastErr.at + lastErr.ms - killedAt).toFixed(0)} ms; served again ${(back - promoted).toFixed(0)} ms after promotion was seen; in flight peak ${load.peakInFlight()}`,
    );
    // Generous (the load runs in this process on a shared machine): the old behaviour was 0.9-1.6 s each.
    expect(p99).toBeLessThan(500);
    expect(back - promoted).toBeLessThan(5000);
    // No acknowledged pick is lost: each is in Redis as acknowledged (a later pick of the same student may have moved it).
    const acked = new Map<number, Set<string>>();
    for (const x of load.samples) if (x.lessonId === a.lessonId && x.groupId) acked.set(x.uid!, (acked.get(x.uid!) ?? new Set()).add(x.groupId));
    const groups = await s.admin.hgetall(lessonKeys(s.prefix, a.lessonId).stateGroup);
    const lost = [...acked].filter(([uid, gs]) => !gs.has(groups[String(uid)] ?? ''));
    console.log(`[kill -9] ${acked.size} students with acknowledged picks, ${lost.length} lost`);
    expect(lost).toEqual([]);
  }, 90_000);
});

describe('Redis Cluster without replicas: a slot whose master is gone', () => {
  let s: Setup;

  beforeAll(async () => {
    s = await setup(false);
  }, 90_000);

  afterAll(async () => teardown(s));

  it('fails fast for the lesson on the dead master while other lessons answer normally', async () => {
    const [a, b] = s.lessons as [Setup['lessons'][0], Setup['lessons'][0]];
    await servedOnce(s.base, s.token, [a, b]);
    await s.cluster.nodes.find((n) => n.port === a.master)!.kill9();
    const load = startLoad(s.base, s.token, [a, b], { picks: true });
    await sleep(2500);
    await load.stop();
    const aS = load.samples.filter((x) => x.lessonId === a.lessonId);
    const bS = load.samples.filter((x) => x.lessonId === b.lessonId);
    expect(aS.length).toBeGreaterThan(0);
    expect(new Set(aS.map((x) => `${x.status} ${x.code}`))).toEqual(new Set(['503 BACKEND_UNAVAILABLE']));
    expect(errorsOf(bS).map((x) => `${x.status} ${x.code} after ${x.ms.toFixed(0)} ms at ${x.at.toFixed(0)}: ${x.message}`).slice(0, 5)).toEqual([]);
    const late = aS.filter((x) => x.at > 500).map((x) => x.ms);
    console.log(`[no replica] ${aS.length} refusals, p50 ${quantile(late, 0.5).toFixed(1)} ms p99 ${quantile(late, 0.99).toFixed(1)} ms; other lesson ${bS.length} answered`);
    expect(quantile(late, 0.99)).toBeLessThan(500);
    const ready = await fetch(`${s.base}/readyz`).then((r) => r.json() as Promise<{ checks: Record<string, string> }>);
    expect(ready.checks.redis).toMatch(/^degraded: breaker open/);
  }, 60_000);
});
