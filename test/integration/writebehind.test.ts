import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { prng } from '../../src/model/synthetic.js';
import { preloadLesson } from '../../src/preload/preload.js';
import type { Caller } from '../../src/auth/caller.js';
import { MutationService } from '../../src/services/mutations.js';
import { SignalService } from '../../src/services/signals.js';
import { reconcileLesson } from '../../src/services/reconcile.js';
import { createMysqlPool } from '../../src/store/mysql/pool.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys, writeBehindRegistryKey } from '../../src/store/redis/keys.js';
import { FLUSH_GROUP, Flusher, type FlusherOptions } from '../../src/writebehind/flusher.js';
import { writeStateRows } from '../../src/store/mysql/stateTables.js';
import { coalesce, decodeRecord } from '../../src/writebehind/records.js';
import { LessonRegistry } from '../../src/writebehind/registry.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { freezeWhileHolding } from '../support/wait.js';
import { START, dropLessonKeys, seedLesson } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { REDIS_MODES, testRedis } from '../support/redis.js';
import { startTcpProxy } from '../support/tcpProxy.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const service: Caller = { uid: 1, role: 'service', lesson: '*' };
const CRASH_LESSON = 701;
const OUTAGE_LESSON = 702;
const REGISTRY_LESSON = 703;

type Rows = RowDataPacket[];

describe.each(REDIS_MODES)('write-behind on %s Redis', (mode) => {
  let db: TestDb;
  let redis: RedisClient;
  let config: Config;
  const students = new Map<number, number[]>();
  const deps = () => ({ redis, pool: db.pool, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, batchRows: 500 });
  const flusherOpts = (over: Partial<FlusherOptions> = {}): FlusherOptions => ({
    redis,
    pool: db.pool,
    keyPrefix: config.keyPrefix,
    wb: { ...config.writeBehind, claimIdleMs: 300, retryMaxMs: 200, pollMs: 5 },
    batchRows: 200,
    registryRefreshMs: 20,
    ...over,
  });

  beforeAll(async () => {
    db = await createTestDb(`wb_${mode}`);
    redis = testRedis(mode);
    config = loadConfig({ ORGENGINE_KEY_PREFIX: uniquePrefix(`wb${mode[0]}`).slice(0, 30) });
    for (const [id, n] of [[CRASH_LESSON, 1200], [OUTAGE_LESSON, 800], [REGISTRY_LESSON, 50]] as const) {
      const src = await seedLesson(db.pool, id, 'group', n, 4);
      await preloadLesson({ pool: db.pool, redis, config }, id);
      students.set(id, src.enrolments.map((e) => e.studentUid));
    }
  });

  afterAll(async () => {
    if (redis && config) await dropLessonKeys(redis, config.keyPrefix, [CRASH_LESSON, OUTAGE_LESSON, REGISTRY_LESSON]);
    await redis?.quit();
    await db?.drop();
  });

  it('replayed and reordered records never regress a row', async () => {
    const rec = (v: number, g: string) => decodeRecord(9, ['e', 'group', 'v', String(v), 'u', '77', 'g', g, 't', String(1000 + v)])!;
    const all = Array.from({ length: 20 }, (_, i) => rec(i + 1, `g${i + 1}`));
    const rnd = prng(mode === 'single' ? 1 : 2);
    const shuffled = [...all].sort(() => rnd() - 0.5);
    // One record per transaction, in random order, then every record replayed in one batch.
    for (const r of shuffled) await writeStateRows(db.pool, coalesce([r]), 100);
    await writeStateRows(db.pool, coalesce(shuffled), 100);
    const [rows] = await db.pool.query<Rows>('SELECT group_id, picked_at, version FROM state_group WHERE lesson_id = 9 AND uid = 77');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ group_id: 'g20', version: 20 });
    expect((rows[0]!.picked_at as Date).getTime()).toBe(1020);

    // Through the stream: stale copies of flushed records change nothing.
    const svc = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind });
    const uids = students.get(REGISTRY_LESSON)!;
    for (const uid of uids.slice(0, 5)) {
      await svc.pickGroup(service, { lessonId: REGISTRY_LESSON, uid, groupId: null });
      await svc.signIn(service, { lessonId: REGISTRY_LESSON, uid });
    }
    const stream = lessonKeys(config.keyPrefix, REGISTRY_LESSON).writeBehind;
    const copies = await redis.xrange(stream, '-', '+');
    const flusher = new Flusher(flusherOpts({ lessons: [REGISTRY_LESSON] }));
    expect(await flusher.drain(10_000)).toBe(true);
    const dump = async () => (await db.pool.query<Rows>('SELECT * FROM state_group WHERE lesson_id = ? ORDER BY uid', [REGISTRY_LESSON]))[0];
    const before = await dump();
    const moved = await svc.pickGroup(service, { lessonId: REGISTRY_LESSON, uid: uids[0]!, groupId: `t${(await redis.hget(lessonKeys(config.keyPrefix, REGISTRY_LESSON).stateGroup, String(uids[0])))!.split('.')[0]!.slice(1)}.g2` }).catch(() => null);
    expect(await flusher.drain(10_000)).toBe(true);
    const afterMove = await dump();
    for (const [, fields] of copies) {
      // Old versions of the same keys, with older group ids.
      const f = [...fields!];
      const vi = f.indexOf('v') + 1;
      f[vi] = String(Number(f[vi]) - 1);
      await redis.xadd(stream, '*', ...f);
    }
    expect(await flusher.drain(10_000)).toBe(true);
    expect(await dump()).toEqual(afterMove);
    if (moved?.changed) expect(afterMove).not.toEqual(before);
    expect((await reconcileLesson(deps(), REGISTRY_LESSON)).differences).toEqual([]);
  });

  it('kill -9 of the flusher and of a mutating process mid-load: every acknowledged change reaches MySQL exactly once', async () => {
    const env = {
      ...process.env,
      ORGENGINE_KEY_PREFIX: config.keyPrefix,
      ORGENGINE_MYSQL_URL: db.url,
      ...(mode === 'single' ? { ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_REDIS_CLUSTER_NODES: '' } : { ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(',') }),
      ORGENGINE_WB_CLAIM_IDLE_MS: '300',
      ORGENGINE_WB_READ_COUNT: '200',
      ORGENGINE_WB_MAX_BATCH_RECORDS: '400',
      ORGENGINE_LOG_LEVEL: 'error',
    };
    const uids = students.get(CRASH_LESSON)!;
    const acks: string[] = [];
    let partial = '';
    const mutator = spawn(process.execPath, ['--import', 'tsx', 'test/support/mutatorChild.ts', String(CRASH_LESSON), uids.join(',')], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const flusher = spawn(process.execPath, ['bin/orgengine.js', 'flush'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
    mutator.stdout!.on('data', (d: Buffer) => {
      const text = partial + d.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.startsWith('ack ')) acks.push(l);
    });
    try {
      // Let both run until the flusher has written some and the mutator is well ahead.
      const deadline = Date.now() + 30_000;
      const flushed = async () => Number(((await db.pool.query<Rows>('SELECT COUNT(*) AS n FROM state_group WHERE lesson_id = ?', [CRASH_LESSON]))[0][0]!.n));
      while (Date.now() < deadline && (acks.length < 4000 || (await flushed()) < 200)) await new Promise((r) => setTimeout(r, 50));
      expect(acks.length).toBeGreaterThanOrEqual(4000);
      // Kill while the flusher holds records it has read but not yet acknowledged:
      // frozen first, so it cannot acknowledge them between the count and the kill.
      const stream = lessonKeys(config.keyPrefix, CRASH_LESSON).writeBehind;
      expect(await freezeWhileHolding(flusher, async () => Number(((await redis.xpending(stream, FLUSH_GROUP)) as [number])[0]))).toBeGreaterThan(0);
    } finally {
      mutator.kill('SIGKILL');
      flusher.kill('SIGKILL');
      await Promise.all([exited(mutator), exited(flusher)]);
    }
    const stream = lessonKeys(config.keyPrefix, CRASH_LESSON).writeBehind;
    const pendingAtKill = Number(((await redis.xpending(stream, FLUSH_GROUP)) as [number])[0]);
    const backlog = await redis.xlen(stream);
    expect(backlog).toBeGreaterThan(0);

    // Restart: a new flusher (new consumer) claims what the dead one held and flushes the rest.
    const metrics = new Registry();
    const restarted = new Flusher(flusherOpts({ metrics }));
    expect(await restarted.drain(30_000)).toBe(true);
    const claimed = (await metrics.getSingleMetricAsString('orgengine_wb_claimed_total')).match(/orgengine_wb_claimed_total (\d+)/)![1];
    expect(pendingAtKill).toBeGreaterThan(0);
    expect(Number(claimed)).toBeGreaterThanOrEqual(pendingAtKill);

    // Every acknowledged change is in MySQL, at its version or a newer one of the same key.
    const tables: Record<string, [string, string]> = {
      group: ['state_group', 'uid'],
      signin: ['state_signin', 'uid'],
      mute: ['state_mute', "CONCAT(room_id, '|', uid)"],
      online: ['state_online', "CONCAT(room_id, '|', uid)"],
    };
    const newest = new Map<string, number>();
    for (const line of acks) {
      const [, entity, key, v] = line.split(' ');
      const k = `${entity} ${key}`;
      newest.set(k, Math.max(newest.get(k) ?? 0, Number(v)));
    }
    const stored = new Map<string, number>();
    for (const [entity, [table, key]] of Object.entries(tables)) {
      const [rows] = await db.pool.query<Rows>(`SELECT ${key} AS k, version FROM ${table} WHERE lesson_id = ?`, [CRASH_LESSON]);
      for (const r of rows) stored.set(`${entity} ${r.k}`, Number(r.version));
    }
    const missing = [...newest].filter(([k, v]) => !((stored.get(k) ?? 0) >= v));
    expect(missing).toEqual([]);
    // Exactly once: one row per key, and MySQL holds exactly what Redis holds.
    const report = await reconcileLesson(deps(), CRASH_LESSON);
    expect(report.differences).toEqual([]);
    expect(report.compared.group).toBe(await redis.hlen(lessonKeys(config.keyPrefix, CRASH_LESSON).stateGroup));
    expect(await redis.xlen(stream)).toBe(0);
  }, 60_000);

  it('MySQL unreachable mid-load: the flusher retries with back-off, drops nothing, and converges', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(db.url).port || 3306));
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const pool = createMysqlPool(viaProxy.toString(), 2);
    const metrics = new Registry();
    const flusher = new Flusher(flusherOpts({ pool, metrics, lessons: [OUTAGE_LESSON] }));
    const svc = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind });
    const uids = students.get(OUTAGE_LESSON)!;
    let stop = false;
    let done = 0;
    const load = Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let round = 0; !stop; round++) {
          for (let i = w; i < uids.length && !stop; i += 8) {
            const uid = uids[i]!;
            await svc.heartbeat(service, { lessonId: OUTAGE_LESSON, uid, roomId: 'main' });
            if (round === 0) await svc.pickGroup(service, { lessonId: OUTAGE_LESSON, uid, groupId: null });
            await svc.mute(service, { lessonId: OUTAGE_LESSON, roomId: 'main', uid, muted: round % 2 === 0 });
            done += 2;
          }
        }
      }),
    );
    const retries = async () => Number((await metrics.getSingleMetricAsString('orgengine_wb_retries_total')).match(/stage="mysql"} (\d+)/)?.[1] ?? 0);
    const records = async () => Number((await metrics.getSingleMetricAsString('orgengine_wb_records_total')).match(/orgengine_wb_records_total (\d+)/)![1]);
    try {
      flusher.start();
      const until = async (cond: () => Promise<boolean>) => {
        const deadline = Date.now() + 20_000;
        while (!(await cond())) {
          if (Date.now() > deadline) throw new Error('timed out');
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await until(async () => (await records()) > 500);
      proxy.down();
      const atDown = await records();
      await until(async () => (await retries()) >= 3);
      const during = done;
      await until(async () => done > during + 1000);
      // While MySQL is unreachable nothing is acknowledged: the stream keeps every record.
      expect(await records()).toBeLessThanOrEqual(atDown + 400);
      expect(await redis.xlen(lessonKeys(config.keyPrefix, OUTAGE_LESSON).writeBehind)).toBeGreaterThan(500);
      proxy.up();
      stop = true;
      await load;
      await flusher.stop();
      expect(await flusher.drain(30_000)).toBe(true);
    } finally {
      stop = true;
      await load.catch(() => undefined);
      await flusher.stop();
      await pool.end();
      await proxy.close();
    }
    expect((await reconcileLesson(deps(), OUTAGE_LESSON)).differences).toEqual([]);
  }, 60_000);

  it('registry: a lesson is found, retired when idle and empty, found again on the next write, and swept up from MySQL if unregistered', async () => {
    let clock = START;
    const now = () => clock;
    const registry = writeBehindRegistryKey(config.keyPrefix);
    const svc = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, now });
    const flusher = new Flusher(flusherOpts({ now, sweepEveryMs: 1000 }));
    const uids = students.get(REGISTRY_LESSON)!;
    const stream = lessonKeys(config.keyPrefix, REGISTRY_LESSON).writeBehind;
    await svc.heartbeat(service, { lessonId: REGISTRY_LESSON, uid: uids[10]!, roomId: 'main' });
    expect(await flusher.drain(10_000)).toBe(true);
    expect(flusher.watched()).toContain(REGISTRY_LESSON);

    // Idle past the retirement age: leaves the registry, the empty stream is deleted.
    clock += config.writeBehind.retireAfterSeconds * 1000 + 1;
    await flusher.cycle(); // marks the lesson idle
    clock += 1000;
    await flusher.cycle();
    expect(await redis.zscore(registry, String(REGISTRY_LESSON))).toBeNull();
    expect(await redis.exists(stream)).toBe(0);
    expect(flusher.watched()).not.toContain(REGISTRY_LESSON);

    // The mutating side re-registers (its cached registration is long expired).
    await svc.heartbeat(service, { lessonId: REGISTRY_LESSON, uid: uids[11]!, roomId: 'main' });
    expect(await redis.zscore(registry, String(REGISTRY_LESSON))).toBe(String(clock));
    clock += 1000; // the flusher re-reads the registry
    expect(await flusher.drain(10_000)).toBe(true);
    expect(flusher.watched()).toContain(REGISTRY_LESSON);

    // A stream nobody registered (say the registry entry was lost): the sweep
    // over the surrounding days' lessons in MySQL finds it.
    await redis.zrem(registry, String(REGISTRY_LESSON));
    clock += 2000;
    await flusher.cycle();
    expect(flusher.watched()).not.toContain(REGISTRY_LESSON);
    const lonely = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, now });
    await redis.zrem(registry, String(REGISTRY_LESSON));
    await lonely.signIn(service, { lessonId: REGISTRY_LESSON, uid: uids[12]! });
    await redis.zrem(registry, String(REGISTRY_LESSON));
    expect(await redis.xlen(stream)).toBe(1);
    clock += 2000;
    expect(await flusher.drain(10_000)).toBe(true);
    expect(await redis.xlen(stream)).toBe(0);
    expect(await redis.zscore(registry, String(REGISTRY_LESSON))).not.toBeNull();
    const [rows] = await db.pool.query<Rows>('SELECT signed_in_at FROM state_signin WHERE lesson_id = ? AND uid = ?', [REGISTRY_LESSON, uids[12]]);
    expect((rows[0]!.signed_in_at as Date).getTime()).toBe(clock - 2000);
  });

  it('signals: a publish registers its lesson and its playback record lands in signal_log, replays changing nothing', async () => {
    const SIGNAL_LESSON = REGISTRY_LESSON;
    const registry = writeBehindRegistryKey(config.keyPrefix);
    await redis.zrem(registry, String(SIGNAL_LESSON));
    const lessonRegistry = new LessonRegistry(redis, registry, config.writeBehind.registerEverySeconds * 1000);
    const signals = new SignalService({ redis, config, cache: null, registry: lessonRegistry });
    const teacher: Caller = { uid: 4242, role: 'teacher', lesson: SIGNAL_LESSON };
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await signals.publish(teacher, SIGNAL_LESSON, 'main', JSON.stringify({ page: i, note: 'é' })));
    // Registered before the first publish wrote anything, like a mutation.
    expect(await redis.zscore(registry, String(SIGNAL_LESSON))).not.toBeNull();
    const flusher = new Flusher(flusherOpts());
    expect(await flusher.drain(10_000)).toBe(true);
    const dump = async () =>
      (await db.pool.query<Rows>('SELECT room_id, seq, published_at, by_uid, data, version FROM signal_log WHERE lesson_id = ? ORDER BY seq', [SIGNAL_LESSON]))[0];
    const rows = await dump();
    expect(rows.map((r) => [r.room_id, Number(r.seq), (r.published_at as Date).getTime(), Number(r.by_uid), r.data])).toEqual(
      sent.map((s, i) => ['main', s.seq, s.at, 4242, JSON.stringify({ page: i, note: 'é' })]),
    );
    // A stale copy of a record (lower version, other text) is ignored.
    const stream = lessonKeys(config.keyPrefix, SIGNAL_LESSON).writeBehind;
    await redis.xadd(stream, '*', 'e', 'signal', 'v', String(Number(rows[0]!.version) - 1), 'r', 'main', 's', String(sent[0]!.seq), 't', '1', 'u', '1', 'd', 'stale');
    expect(await flusher.drain(10_000)).toBe(true);
    expect(await dump()).toEqual(rows);
  });
});
