// Scheduling a day and keeping it on track. `schedule` enqueues every lesson of
// the day, earliest start first; a repeatable sweep job (every 10 minutes by
// default) re-enqueues the lessons that are not ready or failed, enqueues lessons
// added since, and raises an alarm for preloads running longer than expected.
import type { Logger } from 'pino';
import type { JobsConfig } from '../config.js';
import { dayLessons, enrolmentCount } from '../store/mysql/lessons.js';
import type { Pool } from '../store/mysql/pool.js';
import { parseDay, type Jobs, type LessonToPreload } from './jobs.js';
import { dayStatus, type LessonStatus } from './status.js';

/** Lessons starting on a day (UTC), earliest first, with their enrolment counts. */
export async function lessonsToPreload(pool: Pool, date: string): Promise<LessonToPreload[]> {
  return (await dayLessons(pool, parseDay(date))).map((l) => ({ ...l, date }));
}

/**
 * Enqueues a lesson's preload ahead of every scheduled one (reopen). Returns
 * 'pending' when its preload for the day is queued or running already.
 */
export async function enqueueReopen(jobs: Jobs, pool: Pool, lessonId: number, startTime: number, traceparent?: string): Promise<'enqueued' | 'pending'> {
  const date = new Date(startTime).toISOString().slice(0, 10);
  if (!(await jobs.clearFinished(lessonId, date))) return 'pending';
  await jobs.enqueue([{ lessonId, date, startTime, students: await enrolmentCount(pool, lessonId), ...(traceparent ? { traceparent } : {}) }], { priority: 1 });
  await watchDate(jobs, date);
  return 'enqueued';
}

/** What `schedule` did. */
export interface ScheduleResult {
  date: string;
  lessons: number;
  added: number;
  existing: number;
  sweepEveryMinutes: number;
}

/** Keeps a day in the sweep's list until a day after it ends. */
export async function watchDate(jobs: Jobs, date: string): Promise<void> {
  const until = parseDay(date) + 2 * 86_400_000;
  await jobs.connection.zadd(jobs.keys.sweptDates, until, date);
}

/** Installs (or updates) the repeatable sweep: one scheduler, whatever the number of workers. */
export async function ensureSweep(jobs: Jobs, everyMinutes: number): Promise<void> {
  await jobs.sweep.upsertJobScheduler('sweep', { every: everyMinutes * 60_000 }, { name: 'sweep', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } });
}

/** Enqueues a day's lessons, earliest start first, and makes sure the sweep watches the day. */
export async function scheduleDay(jobs: Jobs, pool: Pool, date: string, opts: { sweepMinutes?: number } = {}): Promise<ScheduleResult> {
  const lessons = await lessonsToPreload(pool, date);
  const { added, existing } = await jobs.enqueue(lessons);
  await watchDate(jobs, date);
  const every = opts.sweepMinutes ?? jobs.cfg.sweepMinutes;
  await ensureSweep(jobs, every);
  return { date, lessons: lessons.length, added, existing, sweepEveryMinutes: every };
}

/** What one sweep of a day did. */
export interface SweepResult {
  date: string;
  lessons: number;
  requeued: number[];
  /** Lessons that need a new run but whose jobs are still pending or running. */
  busy: number[];
  overruns: LessonStatus[];
}

/** States the sweep preloads again. */
const REDO = new Set(['failed', 'check-failed', 'unscheduled']);

/** Sweeps one day: re-enqueues what is not ready or failed; reports overruns. */
export async function sweepDay(jobs: Jobs, pool: Pool, date: string, cfg: Pick<JobsConfig, 'expectedBaseMs' | 'expectedMsPer1kStudents'>, log?: Logger, now = Date.now()): Promise<SweepResult> {
  const status = await dayStatus(pool, jobs, date, cfg, now);
  const redo: LessonToPreload[] = [];
  const busy: number[] = [];
  const overruns: LessonStatus[] = [];
  for (const l of status.lessons) {
    if (l.state === 'running' && l.overrun) overruns.push(l);
    if (!REDO.has(l.state)) continue;
    if (await jobs.clearFinished(l.lessonId, date)) redo.push({ lessonId: l.lessonId, date, startTime: l.startTime, students: l.students });
    else busy.push(l.lessonId);
  }
  if (redo.length > 0) await jobs.enqueue(redo);
  for (const o of overruns) log?.error({ lessonId: o.lessonId, date, runningMs: o.preloadMs, expectedMs: o.expectedMs, runId: o.runId }, 'ALARM preload overran its expected duration');
  if (redo.length > 0) log?.warn({ date, lessons: redo.map((l) => l.lessonId) }, 'sweep re-enqueued lessons');
  return { date, lessons: status.lessons.length, requeued: redo.map((l) => l.lessonId), busy, overruns };
}

/** Sweeps every watched day that has not ended long ago. */
export async function sweepAll(jobs: Jobs, pool: Pool, cfg: Pick<JobsConfig, 'expectedBaseMs' | 'expectedMsPer1kStudents'>, log?: Logger, now = Date.now()): Promise<SweepResult[]> {
  await jobs.connection.zremrangebyscore(jobs.keys.sweptDates, '-inf', now);
  const dates = await jobs.connection.zrange(jobs.keys.sweptDates, 0, -1);
  const out: SweepResult[] = [];
  for (const d of dates) out.push(await sweepDay(jobs, pool, d, cfg, log, now));
  return out;
}
