import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createQueueConnection, Jobs, preloadJobId } from '../../src/preload/jobs.js';
import { WorkerMetrics } from '../../src/preload/metrics.js';
import { serveMetrics } from '../../src/metricsServer.js';
import { scheduleDay, sweepDay } from '../../src/preload/schedule.js';
import { seedDay } from '../../src/preload/seed.js';
import { dayStatus } from '../../src/preload/status.js';
import { startWorkers, type PreloadWorkers } from '../../src/preload/worker.js';
import { acquireCheckSlot, releaseCheckSlot } from '../../src/store/redis/checkSlots.js';
import { listChecks } from '../../src/store/mysql/preloadChecks.js';
import { listRuns } from '../../src/store/mysql/preloadRuns.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { deleteKeys, testConfig, testEnv, waitFor } from '../support/jobs.js';
import { createTestDb, type TestDb } from '../support/mysql.js';

const DATE = '2026-11-21';
const DATE_A = '2026-11-22';
const DATE_B = '2026-11-23';
const silent = (await import('pino')).pino({ level: 'silent' });

/** Lessons of a day, with exactly-once facts: runs, checks, readable version. */
async function outcome(db: TestDb, redis: RedisClient, config: Config, lessonId: number) {
  const runs = await listRuns(db.pool, lessonId, 50);
  const checks = await listChecks(db.pool, lessonId, 50);
  const head = await redis.hgetall(lessonKeys(config.keyPrefix, lessonId).head);
  return { runs, checks, head, succeeded: runs.filter((r) => r.status === 'succeeded') };
}

describe.each(['single', 'cluster'] as const)('preload jobs on %s Redis', (mode) => {
  let db: TestDb;
  let config: Config;
  let redis: RedisClient;
  const jobsList: Jobs[] = [];
  const workers: PreloadWorkers[] = [];

  const newJobs = () => {
    const j = new Jobs(createQueueConnection(config.jobs.redis), config.jobs);
    jobsList.push(j);
    return j;
  };

  beforeAll(async () => {
    db = await createTestDb(`jobs_${mode}`);
    config = testConfig(testEnv(db.url, mode, { ORGENGINE_CHECK_CLUSTER_MAX: '1', ORGENGINE_CHECK_CONCURRENCY: '2' }));
    redis = createRedis(config.redis);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    for (const j of jobsList) {
      await j.close();
      await deleteKeys(j.connection, `${config.jobs.prefix}*`).catch(() => undefined);
      await j.connection.quit();
    }
    await deleteKeys(redis, `${config.keyPrefix}*`).catch(() => undefined);
    await redis.quit();
    await db.drop();
  });

  it('two workers preload and check a day once each; a second schedule adds nothing; checks over the cluster limit wait', async () => {
    const seeded = await seedDay(db.pool, { lessons: 4, students: 300, tutors: 3, policy: 'group', seed: 11, date: DATE, batchRows: 1000 });
    const jobs = newJobs();
    // Every slot taken: each check finds the limit reached and is delayed, not dropped.
    const blocker = 'test-blocker';
    expect((await acquireCheckSlot(jobs.connection, jobs.keys.runningChecks, blocker, 60_000, 1)).granted).toBe(true);

    const first = await scheduleDay(jobs, db.pool, DATE);
    const again = await scheduleDay(jobs, db.pool, DATE);
    expect(first).toMatchObject({ lessons: 4, added: 4, existing: 0 });
    expect(again).toMatchObject({ lessons: 4, added: 0, existing: 4 });

    const metrics = [new WorkerMetrics(), new WorkerMetrics()];
    for (const m of metrics) workers.push(startWorkers({ pool: db.pool, redis, jobs: newJobs(), config, log: silent, metrics: m }, { roles: ['preload', 'check'] }));

    await waitFor('every lesson preloaded', async () => (await dayStatus(db.pool, jobs, DATE, config.jobs)).totals.ready === 4);
    const delays = async () => (await Promise.all(metrics.map(async (m) => (await m.checkDelays.get()).values[0]?.value ?? 0))).reduce((a, b) => a + b, 0);
    await waitFor('checks delayed', async () => (await delays()) >= 4);
    expect((await dayStatus(db.pool, jobs, DATE, config.jobs)).totals.checked).toBe(0);
    await releaseCheckSlot(jobs.connection, jobs.keys.runningChecks, blocker);

    const st = await waitFor('every lesson checked', async () => {
      const s = await dayStatus(db.pool, jobs, DATE, config.jobs);
      return s.totals.checked === 4 ? s : null;
    });
    // Earliest start first, and each lesson exactly once: one run, one switch, one check.
    expect(st.lessons.map((l) => l.lessonId)).toEqual(seeded.lessonIds);
    const intervals: Array<[number, number]> = [];
    for (const id of seeded.lessonIds) {
      const o = await outcome(db, redis, config, id);
      expect(o.runs).toHaveLength(1);
      expect(o.succeeded).toHaveLength(1);
      expect(Number(o.head.version)).toBe(o.succeeded[0]!.version);
      expect(o.checks).toHaveLength(1);
      expect(o.checks[0]).toMatchObject({ status: 'passed', runId: o.succeeded[0]!.runId, mismatches: 0 });
      intervals.push([o.checks[0]!.startedAt, o.checks[0]!.finishedAt!]);
    }
    // At most one check at a time across both workers (the cluster-wide limit is 1).
    intervals.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < intervals.length; i++) expect(intervals[i]![0]).toBeGreaterThanOrEqual(intervals[i - 1]![1]);
    expect(await jobs.connection.zcard(jobs.keys.runningChecks)).toBe(0);

    // The same per-state counts on /metrics.
    const served = await serveMetrics(metrics[0]!, 0, async () => metrics[0]!.setDays([await dayStatus(db.pool, jobs, DATE, config.jobs)]));
    try {
      const text = await (await fetch(`http://127.0.0.1:${served.port}/metrics`)).text();
      expect(text).toContain(`orgengine_preload_lessons{date="${DATE}",state="checked"} 4`);
      expect(text).toContain(`orgengine_preload_lessons{date="${DATE}",state="failed"} 0`);
      expect(text).toMatch(/orgengine_check_delayed_total [1-9]/);
    } finally {
      served.server.close();
    }
  });

  it('a reopen from the change queue preloads a lesson again ahead of the day, and an overrun raises the alarm', async () => {
    const [first] = (await dayStatus(db.pool, jobsList[0]!, DATE, config.jobs)).lessons;
    const id = first!.lessonId;
    // The change worker enqueues with an expected duration of 1 ms: the preload overruns it.
    const tight = { ...config.jobs, expectedBaseMs: 1, expectedMsPer1kStudents: 0 };
    const changeJobs = new Jobs(createQueueConnection(config.jobs.redis), tight);
    jobsList.push(changeJobs);
    const metrics = new WorkerMetrics();
    workers.push(startWorkers({ pool: db.pool, redis, jobs: changeJobs, config: { ...config, jobs: tight }, log: silent, metrics }, { roles: ['changes'] }));
    const before = (await outcome(db, redis, config, id)).succeeded.length;
    const overruns = async () => {
      let n = 0;
      for (const w of workers) n += (await w.metrics.overruns.get()).values[0]?.value ?? 0;
      return n;
    };
    const overrunsBefore = await overruns();
    await changeJobs.changes.add('reopen', { type: 'reopen', lessonId: id });
    await waitFor('a second run checked', async () => {
      const o = await outcome(db, redis, config, id);
      return o.succeeded.length === before + 1 && o.checks.some((c) => c.runId === o.succeeded[0]!.runId && c.status === 'passed');
    });
    expect((await metrics.changes.get()).values).toContainEqual(expect.objectContaining({ labels: { result: 'preload-enqueued' }, value: 1 }));
    expect(await overruns()).toBeGreaterThan(overrunsBefore);
    const st = await dayStatus(db.pool, changeJobs, DATE, tight);
    expect(st.lessons.find((l) => l.lessonId === id)).toMatchObject({ state: 'checked', overrun: true });
  });

  it('the sweep preloads a failed lesson again once its source is fixed', async () => {
    const seeded = await seedDay(db.pool, { lessons: 1, students: 120, tutors: 2, policy: 'group', seed: 12, date: DATE, batchRows: 1000 });
    const id = seeded.lessonIds[0]!;
    const [[row]] = (await db.pool.query('SELECT student_uid, tutor_uid FROM src_tutor_assignment WHERE lesson_id = ? LIMIT 1', [id])) as unknown as [Array<{ student_uid: number; tutor_uid: number }>];
    await db.pool.query('UPDATE src_tutor_assignment SET tutor_uid = 42 WHERE lesson_id = ? AND student_uid = ?', [id, row!.student_uid]);
    const jobs = jobsList[0]!;
    await jobs.enqueue([{ lessonId: id, date: DATE, startTime: Date.parse(`${DATE}T08:00:00Z`), students: 120 }]);
    await waitFor('the lesson failed', async () => (await dayStatus(db.pool, jobs, DATE, config.jobs)).lessons.find((l) => l.lessonId === id)?.state === 'failed');
    const failedRuns = await listRuns(db.pool, id);
    // A source error is not retried: the data must be fixed first.
    expect(failedRuns).toHaveLength(1);
    expect(failedRuns[0]).toMatchObject({ status: 'failed', errorCode: 'SOURCE_MISSING_TUTOR' });

    const unchanged = await sweepDay(jobs, db.pool, DATE, config.jobs);
    expect(unchanged.requeued).toEqual([id]);
    await waitFor('the lesson failed again', async () => (await listRuns(db.pool, id)).filter((r) => r.status === 'failed').length === 2);
    await waitFor('failed state', async () => (await dayStatus(db.pool, jobs, DATE, config.jobs)).lessons.find((l) => l.lessonId === id)?.state === 'failed');

    await db.pool.query('UPDATE src_tutor_assignment SET tutor_uid = ? WHERE lesson_id = ? AND student_uid = ?', [row!.tutor_uid, id, row!.student_uid]);
    const swept = await sweepDay(jobs, db.pool, DATE, config.jobs);
    expect(swept.requeued).toEqual([id]);
    await waitFor('the lesson checked', async () => (await dayStatus(db.pool, jobs, DATE, config.jobs)).lessons.find((l) => l.lessonId === id)?.state === 'checked');
    const o = await outcome(db, redis, config, id);
    expect(o.succeeded).toHaveLength(1);
    expect(o.checks[0]).toMatchObject({ status: 'passed', runId: o.succeeded[0]!.runId });
    // Nothing left to do: the next sweep re-enqueues nothing.
    expect((await sweepDay(jobs, db.pool, DATE, config.jobs)).requeued).toEqual([]);
  });
});

describe('a worker killed mid-job', () => {
  let db: TestDb;
  let config: Config;
  let env: Record<string, string>;
  let redis: RedisClient;
  let jobs: Jobs;
  const children: ChildProcess[] = [];
  const childPath = fileURLToPath(new URL('../support/workerChild.ts', import.meta.url));

  beforeAll(async () => {
    db = await createTestDb('jobs_kill');
    env = testEnv(db.url, 'single', { ORGENGINE_LOG_LEVEL: 'warn' });
    config = testConfig(env);
    redis = createRedis(config.redis);
    jobs = new Jobs(createQueueConnection(config.jobs.redis), config.jobs);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await jobs.close();
    await deleteKeys(jobs.connection, `${config.jobs.prefix}*`).catch(() => undefined);
    await jobs.connection.quit();
    await deleteKeys(redis, `${config.keyPrefix}*`).catch(() => undefined);
    await redis.quit();
    await db.drop();
  });

  function spawnWorker(arg: string): ChildProcess {
    const c = fork(childPath, [arg], { env: { ...process.env, ...env }, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let err = '';
    c.stderr?.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    c.on('exit', (code, sig) => {
      if (code && code !== 0) process.stderr.write(`worker child exited ${code} ${sig}: ${err}\n`);
    });
    children.push(c);
    return c;
  }

  const message = (c: ChildProcess, key: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      c.on('message', (m: Record<string, unknown>) => key in m && resolve(m));
      c.on('exit', () => reject(new Error(`child exited before sending ${key}`)));
    });

  it('another worker finishes the lesson: one switch, one succeeded run, the dead run marked, its half version gone', async () => {
    const seeded = await seedDay(db.pool, { lessons: 1, students: 3000, tutors: 10, policy: 'group', seed: 13, date: DATE_A, batchRows: 2000 });
    const id = seeded.lessonIds[0]!;
    const lk = lessonKeys(config.keyPrefix, id);
    const sub = new Redis(TEST_REDIS_URL);
    const switches: string[] = [];
    sub.on('smessage', (_ch: string, msg: string) => msg.startsWith('version:') && switches.push(msg));
    await sub.ssubscribe(lk.channel);
    try {
      await scheduleDay(jobs, db.pool, DATE_A);
      const a = spawnWorker('hang:redis-written');
      const hung = await message(a, 'hung');
      expect(hung.hung).toBe(id);
      const [deadRun] = await listRuns(db.pool, id, 1);
      const deadVersion = Number(await redis.hget(lk.head, 'pendingVersion'));
      expect(deadRun!.status).toBe('running');
      expect(await redis.exists(lk.version(deadVersion).index)).toBe(1);

      const b = spawnWorker('normal');
      await message(b, 'ready');
      a.kill('SIGKILL');

      await waitFor('the lesson checked', async () => (await dayStatus(db.pool, jobs, DATE_A, config.jobs)).lessons[0]?.state === 'checked', 45_000, 200);
      const o = await outcome(db, redis, config, id);
      // Exactly once: of every attempt's run, one succeeded and it is the readable version;
      // the killed attempt's run is marked stalled and its half-written version is gone.
      expect(o.succeeded).toHaveLength(1);
      const ok = o.succeeded[0]!;
      expect(Number(o.head.version)).toBe(ok.version);
      expect(o.runs.find((r) => r.runId === deadRun!.runId)).toMatchObject({ status: 'failed', errorCode: 'PRELOAD_STALLED' });
      expect(o.runs.filter((r) => r.status === 'running')).toHaveLength(0);
      expect(await redis.exists(lk.version(deadVersion).index, lk.version(deadVersion).nodes)).toBe(0);
      expect(switches).toEqual([`version:${ok.version}`]);
      expect(o.checks).toHaveLength(1);
      expect(o.checks[0]).toMatchObject({ status: 'passed', runId: ok.runId });
      const job = await jobs.preload.getJob(preloadJobId(id, DATE_A));
      expect(job?.returnvalue).toMatchObject({ runId: ok.runId, tookOverRunId: deadRun!.runId, adopted: false });
      expect(await redis.exists(lk.lock)).toBe(0);
    } finally {
      await sub.quit();
    }
  });

  it('killed right after its switch: the retry records that switch instead of switching again', async () => {
    // Only the worker started below may take this job.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))));
    const seeded = await seedDay(db.pool, { lessons: 1, students: 1000, tutors: 4, policy: 'group', seed: 14, date: DATE_B, batchRows: 2000 });
    const id = seeded.lessonIds[0]!;
    const lk = lessonKeys(config.keyPrefix, id);
    const sub = new Redis(TEST_REDIS_URL);
    const switches: string[] = [];
    sub.on('smessage', (_ch: string, msg: string) => msg.startsWith('version:') && switches.push(msg));
    await sub.ssubscribe(lk.channel);
    try {
      await scheduleDay(jobs, db.pool, DATE_B);
      const a = spawnWorker('hang:switched');
      await message(a, 'hung');
      const [deadRun] = await listRuns(db.pool, id, 1);
      expect(deadRun!.status).toBe('running');
      const switched = Number(await redis.hget(lk.head, 'version'));
      const b = spawnWorker('normal');
      await message(b, 'ready');
      a.kill('SIGKILL');

      await waitFor('the lesson checked', async () => (await dayStatus(db.pool, jobs, DATE_B, config.jobs)).lessons[0]?.state === 'checked', 45_000, 200);
      const o = await outcome(db, redis, config, id);
      expect(o.runs).toHaveLength(1);
      expect(o.succeeded[0]).toMatchObject({ runId: deadRun!.runId, version: switched });
      expect(Number(o.head.version)).toBe(switched);
      expect(switches).toEqual([`version:${switched}`]);
      expect(o.checks[0]).toMatchObject({ status: 'passed', runId: deadRun!.runId });
      expect((await jobs.preload.getJob(preloadJobId(id, DATE_B)))?.returnvalue).toMatchObject({ runId: deadRun!.runId, adopted: true });
      expect(await redis.exists(lk.lock)).toBe(0);
    } finally {
      await sub.quit();
    }
  });
});
