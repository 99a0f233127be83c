// A Redis restarted from an old snapshot comes back with older in-class state
// than MySQL already holds: the flusher's check raises the alarm (log and
// metric), reconcile reports it, and `reconcile --repair --from mysql` puts
// MySQL's state back into Redis. The Redis is a private redis-server this
// file SAVEs, kills and restarts from its dump.rdb.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/auth/caller.js';
import { loadConfig } from '../../src/config.js';
import { MutationService } from '../../src/services/mutations.js';
import { reconcileLesson } from '../../src/services/reconcile.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { Flusher } from '../../src/writebehind/flusher.js';
import { uniquePrefix } from '../support/env.js';
import { compileTestLesson, loadTopology } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { redisCli, throwawayRedis, type RedisProc } from '../support/throwawayRedis.js';

const LESSON = 7601;
const service: Caller = { uid: 1, role: 'service', lesson: '*' };

describe('rollback: Redis restarted from an old snapshot', () => {
  const prefix = uniquePrefix('rb');
  const config = loadConfig({ ORGENGINE_KEY_PREFIX: prefix });
  let proc: RedisProc & { stop(): Promise<void> };
  let redis: RedisClient;
  let db: TestDb;
  let uids: number[];
  const errors: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line) as Record<string, unknown>) });

  beforeAll(async () => {
    proc = await throwawayRedis();
    redis = createRedis({ mode: 'single', url: proc.url });
    redis.on('error', () => undefined);
    db = await createTestDb('rollback');
    const topo = compileTestLesson({ lessonId: LESSON, students: 60, tutors: 1, policy: 'group', seed: 4 });
    uids = topo.positions.map((p) => p.uid);
    await loadTopology(redis, prefix, topo);
  }, 30_000);

  afterAll(async () => {
    redis?.disconnect();
    await proc?.stop();
    await db?.drop();
  });

  const flusher = () =>
    new Flusher({ redis, pool: db.pool, keyPrefix: prefix, wb: config.writeBehind, batchRows: 100, lessons: [LESSON], log, rollbackCheckEveryMs: 0, sweepEveryMs: 0 });

  it('is detected by the flusher and reconcile, and repaired from MySQL', async () => {
    const svc = new MutationService({ redis, keyPrefix: prefix, ttlSeconds: 3600, wb: config.writeBehind });
    const early = uids.slice(0, 3);
    const late = uids.slice(3, 8);
    for (const uid of early) await svc.pickGroup(service, { lessonId: LESSON, uid, groupId: null });
    await svc.mute(service, { lessonId: LESSON, roomId: 'main', uid: early[0]!, muted: true });
    expect(await flusher().drain(10_000)).toBe(true);
    // The snapshot a restarted node would load.
    expect(await redisCli(proc.port, 'save')).toBe('OK');
    const picked = new Map<number, string>();
    for (const uid of late) picked.set(uid, (await svc.pickGroup(service, { lessonId: LESSON, uid, groupId: null })).groupId);
    await svc.mute(service, { lessonId: LESSON, roomId: 'main', uid: early[0]!, muted: false });
    await svc.signIn(service, { lessonId: LESSON, uid: late[0]! });
    const f = flusher();
    expect(await f.drain(10_000)).toBe(true);
    expect((await f.checkRollbacks(Date.now())).length).toBe(0);

    // kill -9 and restart from the old dump.rdb: the late changes are gone from Redis, not from MySQL.
    await proc.kill9();
    await proc.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(await redis.hget(lessonKeys(prefix, LESSON).stateGroup, String(late[0]))).toBeNull();

    const found = await f.checkRollbacks(Date.now());
    expect(found).toHaveLength(1);
    expect(found[0]!.rolledBack).toBe(true);
    expect(found[0]!.mysqlVersion).toBeGreaterThan(found[0]!.redisVersion ?? 0);
    expect(errors.some((e) => e.lessonId === LESSON && String(e.msg).includes('older than MySQL'))).toBe(true);
    expect((await f.metrics.rollbacks.get()).values[0]?.value).toBe(1);
    expect((await f.metrics.rolledBackLessons.get()).values[0]?.value).toBe(1);

    const deps = { redis, pool: db.pool, keyPrefix: prefix, ttlSeconds: 3600, wb: config.writeBehind, batchRows: 100 };
    const report = await reconcileLesson(deps, LESSON);
    expect(report.rollback.rolledBack).toBe(true);
    expect(report.differing.group).toBe(late.length);

    const repaired = await reconcileLesson(deps, LESSON, { repair: true, from: 'mysql' });
    expect(repaired.restored).toBe(late.length + 2); // the late picks, the unmute, the sign-in
    expect(repaired.remaining).toBe(0);
    for (const [uid, g] of picked) expect(await redis.hget(lessonKeys(prefix, LESSON).stateGroup, String(uid))).toBe(g);
    const after = await reconcileLesson(deps, LESSON);
    expect(after.rollback.rolledBack).toBe(false);
    expect(after.seatMismatches).toEqual([]);
    expect((await f.checkRollbacks(Date.now())).length).toBe(0);
    expect((await f.metrics.rolledBackLessons.get()).values[0]?.value).toBe(0);
    // New changes are newer than anything MySQL holds and flush normally.
    const next = await svc.pickGroup(service, { lessonId: LESSON, uid: uids[20]!, groupId: null });
    expect(next.version).toBeGreaterThan(found[0]!.mysqlVersion);
  }, 60_000);
});
