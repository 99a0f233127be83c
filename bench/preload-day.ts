// bench:preload-day — a synthetic day (default 200 lessons x 3,000 students,
// group policy) preloaded and checked by N `orgengine worker` processes through
// the BullMQ queues, beside a baseline: the first lessons preloaded one after
// another in this process with preloadLesson (no queue). Prints wall time,
// lessons/min, per-lesson preload and check durations, and the ratio of the
// queued day's throughput to the sequential baseline.
//
//   npx tsx bench/preload-day.ts [--lessons 200] [--students 3000] [--tutors 10]
//        [--workers 2] [--concurrency 2] [--baseline 10] [--preload-only] [--keep]
// --preload-only: workers take no check jobs (the checks stay queued), so the
// queued day and the baseline do the same work.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createApp } from '../src/main.js';
import { createQueueConnection, Jobs } from '../src/preload/jobs.js';
import { preloadLesson } from '../src/preload/preload.js';
import { scheduleDay } from '../src/preload/schedule.js';
import { seedDay } from '../src/preload/seed.js';
import { dayStatus, type DayStatus } from '../src/preload/status.js';
import { ensureDatabase, migrate } from '../src/store/mysql/pool.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { dropVersion } from '../src/store/redis/lessonWriter.js';

const { values } = parseArgs({
  options: {
    lessons: { type: 'string', default: '200' },
    students: { type: 'string', default: '3000' },
    tutors: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '2' },
    baseline: { type: 'string', default: '10' },
    keep: { type: 'boolean', default: false },
    'preload-only': { type: 'boolean', default: false },
  },
});
const n = (k: keyof typeof values) => Number(values[k]);
const DATE = '2026-12-01';
const tag = randomUUID().slice(0, 8);
const root = fileURLToPath(new URL('..', import.meta.url));
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  ORGENGINE_MYSQL_URL: process.env.ORGENGINE_MYSQL_URL ?? `mysql://root@127.0.0.1:3306/orgengine_bench_day_${tag}`,
  ORGENGINE_KEY_PREFIX: `bday:${tag}:`,
  ORGENGINE_QUEUE_PREFIX: `{bday-${tag}}`,
  ORGENGINE_LOG_LEVEL: 'warn',
  ORGENGINE_WORKER_METRICS_PORT: '0',
};
const config = loadConfig(env);
await ensureDatabase(config.mysqlUrl);
const app = createApp(config, { log: pino({ level: 'warn' }) });
await migrate(app.pool);
const jobs = new Jobs(createQueueConnection(config.jobs.redis), config.jobs);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;
};
const children: ChildProcess[] = [];

try {
  let t = Date.now();
  const seeded = await seedDay(app.pool, { lessons: n('lessons'), students: n('students'), tutors: n('tutors'), policy: 'group', seed: 41, date: DATE, batchRows: config.mysqlBatchRows });
  const seedSeconds = (Date.now() - t) / 1000;
  process.stderr.write(`seeded ${seeded.lessonIds.length} lessons x ${n('students')} students in ${seedSeconds.toFixed(1)} s\n`);

  // Baseline: the first lessons one after another, no queue, no check; then their keys go.
  const base: number[] = [];
  t = Date.now();
  for (const id of seeded.lessonIds.slice(0, n('baseline'))) {
    const r = await preloadLesson({ pool: app.pool, redis: app.redis, config }, id);
    base.push(r.durationMs);
    await dropVersion(app.redis, lessonKeys(config.keyPrefix, id), r.version);
    await app.redis.hdel(lessonKeys(config.keyPrefix, id).head, 'version');
  }
  const baseSeconds = (Date.now() - t) / 1000;
  const basePerMin = base.length / (baseSeconds / 60);

  // The day through the queues, N worker processes.
  for (let i = 0; i < n('workers'); i++) {
    const c = spawn(process.execPath, ['bin/orgengine.js', 'worker', '--concurrency', String(n('concurrency')), '--roles', values['preload-only'] ? 'preload' : 'preload,check'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(c);
  }
  // The clock starts once every worker is connected (process start-up is not preload time).
  const ready = Date.now() + 60_000;
  while ((await jobs.preload.getWorkersCount()) < n('workers')) {
    if (Date.now() > ready) throw new Error('workers did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  t = Date.now();
  await scheduleDay(jobs, app.pool, DATE);
  let readyAt = 0;
  let st: DayStatus;
  for (;;) {
    st = await dayStatus(app.pool, jobs, DATE, config.jobs);
    const done = st.totals.checked + st.totals['check-failed'] + st.totals.failed;
    if (!readyAt && st.totals.ready + done >= st.lessons.length && st.totals.running === 0 && st.totals.queued === 0) readyAt = Date.now();
    if (done === st.lessons.length || (values['preload-only'] && readyAt)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const checkedAt = Date.now();
  const preloadMs = st.lessons.map((l) => l.preloadMs ?? 0);
  const checkMs = st.lessons.map((l) => l.checkMs ?? 0);
  const wallPreload = (readyAt - t) / 1000;
  const wallAll = (checkedAt - t) / 1000;
  const result = {
    at: new Date().toISOString(),
    lessons: st.lessons.length,
    students: n('students'),
    workers: n('workers'),
    concurrency: n('concurrency'),
    preloadOnly: values['preload-only'],
    checkClusterMax: config.jobs.checkClusterMax,
    totals: st.totals,
    wallSecondsToReady: wallPreload,
    wallSecondsToChecked: wallAll,
    lessonsPerMinuteReady: st.lessons.length / (wallPreload / 60),
    lessonsPerMinuteChecked: st.lessons.length / (wallAll / 60),
    preloadMs: { p50: pct(preloadMs, 50), p95: pct(preloadMs, 95), max: pct(preloadMs, 100) },
    checkMs: { p50: pct(checkMs, 50), p95: pct(checkMs, 95), max: pct(checkMs, 100) },
    baseline: { lessons: base.length, seconds: baseSeconds, lessonsPerMinute: basePerMin, preloadMsP50: pct(base, 50) },
    ratioQueuedReadyToSequential: st.lessons.length / (wallPreload / 60) / basePerMin,
    seedSeconds,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `${result.lessons} lessons x ${result.students} students, ${result.workers} workers x ${result.concurrency}: ` +
      `ready in ${wallPreload.toFixed(1)} s (${result.lessonsPerMinuteReady.toFixed(0)} lessons/min), checked in ${wallAll.toFixed(1)} s ` +
      `(${result.lessonsPerMinuteChecked.toFixed(0)}/min); preload p50 ${result.preloadMs.p50} ms p95 ${result.preloadMs.p95} ms; ` +
      `sequential baseline ${basePerMin.toFixed(0)}/min (x${result.ratioQueuedReadyToSequential.toFixed(2)})`,
  );
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/preload-day-${result.at.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  for (const c of children) c.kill('SIGINT');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
  if (!values.keep) {
    // Everything this run created: its key prefix, its queue prefix, its database.
    for (const [client, pattern] of [
      [app.redis, `${config.keyPrefix}*`],
      [jobs.connection, `${config.jobs.prefix}*`],
    ] as const) {
      let cursor = '0';
      do {
        const [next, keys] = await (client as import('ioredis').Redis).scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
        cursor = next;
        if (keys.length) await client.unlink(...keys);
      } while (cursor !== '0');
    }
    await app.pool.query(`DROP DATABASE IF EXISTS \`${new URL(config.mysqlUrl).pathname.slice(1)}\``);
  }
  await jobs.close();
  await jobs.connection.quit();
  await app.close();
}
