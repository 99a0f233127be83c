// `orgengine worker`: BullMQ workers for the preload, check, change and sweep
// queues in one process.
//
// Preload: one job runs preloadLesson whole (read, compile, write a version,
// MySQL, switch last). A retry of the same job after its worker died takes the
// lesson lock over, drops the half-written version and marks the dead run
// PRELOAD_STALLED; if the dead attempt had switched already, the retry only
// records that (the switch happened once). Source errors fail at once (no
// retry: the data must be fixed, the sweep tries again later); temporary ones
// are retried with exponential back-off.
//
// Check: at most `checkConcurrency` per process (the worker's concurrency) and
// `checkClusterMax` across all workers (a leased counter in Redis); a check over
// the limit is moved to the delayed set and comes back, it is never dropped.
import { randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { LOCAL_TRACING, parseTraceparent, type Tracing } from '../tracing.js';
import { toOrgError, type OrgError } from '../errors.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import { acquireCheckSlot, releaseCheckSlot } from '../store/redis/checkSlots.js';
import { readVersionCounts } from '../store/redis/lessonReader.js';
import { endPreload, preloadLockHolder, readPreloadHead } from '../store/redis/preloadLock.js';
import type { Pool } from '../store/mysql/pool.js';
import { adoptRun } from '../store/mysql/preloadRuns.js';
import { advanceRoomStatus } from '../store/mysql/roomStatus.js';
import { applyChange, parseChangeRequest, type ChangeResult } from './changes.js';
import { runCheck } from './check.js';
import { Jobs, QUEUES, type CheckJobData, type PreloadJobData, type PreloadJobResult } from './jobs.js';
import { WorkerMetrics } from './metrics.js';
import { preloadLesson, type PreloadStage } from './preload.js';
import { enqueueReopen, sweepAll } from './schedule.js';

/** Which queues a worker process serves. */
export type WorkerRole = keyof typeof QUEUES;
/** Every role. */
export const WORKER_ROLES: readonly WorkerRole[] = ['preload', 'check', 'changes', 'sweep'];

/** What a worker process needs. */
export interface WorkerDeps {
  pool: Pool;
  /** The data Redis (lesson keys). */
  redis: RedisClient;
  /** The queue Redis (BullMQ, check slots); may be the same server as `redis`. */
  jobs: Jobs;
  config: Config;
  log: Logger;
  metrics?: WorkerMetrics;
  /** Spans of preload and check jobs (default: trace ids only, nothing exported). */
  tracing?: Tracing;
}

/**
 * Runs a job's work in a span that continues the trace of whoever enqueued it
 * (job data `traceparent`), with the trace id on every log line of that work.
 */
async function inSpan<R>(deps: WorkerDeps, name: string, job: Job<{ lessonId: number; traceparent?: string }>, fn: (deps: WorkerDeps) => Promise<R>): Promise<R> {
  const span = (deps.tracing ?? LOCAL_TRACING).startSpan(name, parseTraceparent(job.data.traceparent), { 'orgengine.lesson_id': job.data.lessonId, 'orgengine.job_id': String(job.id) });
  try {
    const r = await fn({ ...deps, log: deps.log.child({ traceId: span.context.traceId }) });
    span.end();
    return r;
  } catch (e) {
    span.end(e instanceof DelayedError ? undefined : e);
    throw e;
  }
}

/** Options of one worker process. */
export interface WorkerOptions {
  roles?: readonly WorkerRole[];
  preloadConcurrency?: number;
  checkConcurrency?: number;
  /** Called at each preload stage (progress; tests pause a worker here to kill it mid-job). */
  onStage?: (data: PreloadJobData, stage: PreloadStage) => void | Promise<void>;
  /** Clock of the room-status updates (tests). */
  now?: () => number;
}

/** A running worker process. */
export class PreloadWorkers {
  constructor(
    readonly workers: Worker[],
    readonly metrics: WorkerMetrics,
    private readonly timers: NodeJS.Timeout[] = [],
  ) {}

  /** Stops taking jobs, waits for the running ones, closes. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled(this.workers.map((w) => w.close()));
  }
}

/** Identity of one job instance: a job re-added under the same id later is a different instance. */
export function jobKeyOf(job: Pick<Job, 'id' | 'timestamp'>): string {
  return `${job.id}@${job.timestamp}`;
}

/** Errors the queue should not retry: the input is wrong, retrying cannot help. */
function retryable(e: OrgError): boolean {
  return e.temporary || e.code === 'INTERNAL';
}

function forQueue(e: unknown): Error {
  const err = toOrgError(e);
  const msg = `${err.code}: ${err.message}`;
  return retryable(err) ? new Error(msg) : new UnrecoverableError(msg);
}

/**
 * If an earlier attempt of this very job switched its version in and died before
 * recording it, the job is done: record it and release the dead attempt's lock.
 */
async function adoptEarlierSwitch(deps: WorkerDeps, job: Job<PreloadJobData>): Promise<PreloadJobResult | null> {
  const lk = lessonKeys(deps.config.keyPrefix, job.data.lessonId);
  const { job: owner, pendingVersion, version, runId } = await readPreloadHead(deps.redis, lk);
  const key = jobKeyOf(job);
  if (owner !== key || pendingVersion || !version || !runId) return null;
  const held = await preloadLockHolder(deps.redis, lk);
  if (held?.startsWith(`${key}#`)) await endPreload(deps.redis, lk, held, false, Date.now());
  const counts = await readVersionCounts(deps.redis, lk, version);
  await adoptRun(deps.pool, runId, version, { ...counts, roomUsers: 0, memberPartitions: 0 }, Date.now());
  deps.log.warn({ lessonId: job.data.lessonId, runId, version }, 'an earlier attempt switched before its worker died; recorded it');
  return { runId, version, durationMs: 0, adopted: true, tookOverRunId: null };
}

async function processPreload(deps: WorkerDeps, metrics: WorkerMetrics, opts: WorkerOptions, job: Job<PreloadJobData>, token?: string): Promise<PreloadJobResult> {
  const d = job.data;
  const adopted = await adoptEarlierSwitch(deps, job);
  if (adopted) {
    metrics.preloads.inc({ result: 'adopted' });
    return adopted;
  }
  const key = jobKeyOf(job);
  const started = Date.now();
  const alarm = setTimeout(() => {
    metrics.overruns.inc();
    deps.log.error({ lessonId: d.lessonId, date: d.date, expectedMs: d.expectedMs, students: d.students, jobId: job.id }, 'ALARM preload overran its expected duration');
  }, d.expectedMs);
  try {
    const r = await preloadLesson({ pool: deps.pool, redis: deps.redis, config: deps.config, log: deps.log }, d.lessonId, {
      lockToken: `${key}#${token ?? randomUUID()}`,
      takeOverPrefix: `${key}#`,
      jobKey: key,
      onStage: async (stage) => {
        await job.updateProgress({ stage, at: Date.now() });
        await opts.onStage?.(d, stage);
      },
    });
    metrics.preloads.inc({ result: 'succeeded' });
    metrics.preloadSeconds.observe(r.durationMs / 1000);
    return { runId: r.runId, version: r.version, durationMs: r.durationMs, adopted: false, tookOverRunId: r.tookOver?.runId ?? null };
  } catch (e) {
    metrics.preloads.inc({ result: 'failed' });
    throw forQueue(e);
  } finally {
    clearTimeout(alarm);
    if (Date.now() - started > d.expectedMs) deps.log.warn({ lessonId: d.lessonId, tookMs: Date.now() - started, expectedMs: d.expectedMs }, 'preload ended after its expected duration');
  }
}

async function processCheck(deps: WorkerDeps, metrics: WorkerMetrics, job: Job<CheckJobData>, token?: string): Promise<unknown> {
  const cfg = deps.config.jobs;
  const holder = jobKeyOf(job);
  const slot = await acquireCheckSlot(deps.jobs.connection, deps.jobs.keys.runningChecks, holder, cfg.checkLeaseMs, cfg.checkClusterMax);
  if (!slot.granted) {
    // Over the cluster-wide limit: come back later (jittered so waiting checks do not return in lockstep).
    metrics.checkDelays.inc();
    await job.moveToDelayed(Date.now() + cfg.checkDelayMs + Math.floor(Math.random() * cfg.checkDelayMs * 0.2), token);
    throw new DelayedError();
  }
  metrics.checksRunning.inc();
  try {
    const r = await runCheck({ pool: deps.pool, redis: deps.redis, config: deps.config, log: deps.log }, job.data.lessonId);
    metrics.checks.inc({ result: r.status });
    return { checkId: r.checkId, status: r.status, version: r.version, runId: r.runId, mismatches: r.mismatches, durationMs: r.durationMs };
  } catch (e) {
    const err = toOrgError(e);
    metrics.checks.inc({ result: err.code === 'CHECK_FAILED' ? 'failed' : 'error' });
    throw forQueue(err);
  } finally {
    metrics.checksRunning.dec();
    await releaseCheckSlot(deps.jobs.connection, deps.jobs.keys.runningChecks, holder).catch(() => undefined);
  }
}

async function processChange(deps: WorkerDeps, metrics: WorkerMetrics, job: Job): Promise<ChangeResult> {
  try {
    const req = parseChangeRequest(job.data, deps.config.jobs.maxChangeBatch);
    const r = await applyChange(
      { pool: deps.pool, redis: deps.redis, config: deps.config, log: deps.log, enqueuePreload: (id, start) => enqueueReopen(deps.jobs, deps.pool, id, start) },
      req,
    );
    metrics.changes.inc({ result: r.applied });
    return r;
  } catch (e) {
    metrics.changes.inc({ result: 'failed' });
    throw forQueue(e);
  }
}

/** Starts workers for the given roles. */
export function startWorkers(deps: WorkerDeps, opts: WorkerOptions = {}): PreloadWorkers {
  const metrics = deps.metrics ?? new WorkerMetrics();
  const cfg = deps.config.jobs;
  const roles = opts.roles ?? WORKER_ROLES;
  const common = {
    connection: deps.jobs.connection,
    prefix: cfg.prefix,
    lockDuration: cfg.lockMs,
    // A job whose lock lapsed is found within half a lock period.
    stalledInterval: Math.max(500, Math.floor(cfg.lockMs / 2)),
    maxStalledCount: 2,
  };
  const workers: Worker[] = [];
  const watch = (w: Worker, name: string) => {
    w.on('error', (e) => deps.log.warn({ queue: name, err: e.message }, 'worker error'));
    w.on('failed', (job, e) => {
      if (job) deps.log.warn({ queue: name, jobId: job.id, attempts: job.attemptsMade, err: e.message }, 'job failed');
    });
    w.on('stalled', (jobId) => deps.log.warn({ queue: name, jobId }, 'job stalled; moved back to wait'));
    workers.push(w);
  };
  if (roles.includes('preload')) {
    watch(
      new Worker<PreloadJobData, PreloadJobResult>(QUEUES.preload, (job, token) => inSpan(deps, 'preload', job, (d) => processPreload(d, metrics, opts, job, token)), {
        ...common,
        concurrency: opts.preloadConcurrency ?? cfg.preloadConcurrency,
      }),
      QUEUES.preload,
    );
  }
  if (roles.includes('check')) {
    watch(new Worker<CheckJobData>(QUEUES.check, (job, token) => inSpan(deps, 'check', job, (d) => processCheck(d, metrics, job, token)), { ...common, concurrency: opts.checkConcurrency ?? cfg.checkConcurrency }), QUEUES.check);
  }
  if (roles.includes('changes')) {
    watch(new Worker(QUEUES.changes, (job) => processChange(deps, metrics, job), { ...common, concurrency: cfg.changeConcurrency }), QUEUES.changes);
  }
  if (roles.includes('sweep')) {
    watch(
      new Worker(QUEUES.sweep, async () => {
        const r = await sweepAll(deps.jobs, deps.pool, cfg, deps.log);
        for (const d of r) for (let i = 0; i < d.overruns.length; i++) metrics.overruns.inc();
        return r.map((d) => ({ date: d.date, lessons: d.lessons, requeued: d.requeued.length, busy: d.busy.length, overruns: d.overruns.length }));
      }, { ...common, concurrency: 1 }),
      QUEUES.sweep,
    );
  }
  const timers: NodeJS.Timeout[] = [];
  // The sweep role keeps the day on track, rooms' statuses included: scheduled -> live -> closed by their times.
  const roomEvery = deps.config.console.roomStatusSeconds;
  if (roles.includes('sweep') && roomEvery > 0) {
    const tick = () =>
      void advanceRoomStatus(deps.pool, (opts.now ?? Date.now)())
        .then((n) => {
          if (n > 0) metrics.roomStatusChanges.inc(n);
        })
        .catch((e: Error) => deps.log.warn({ err: e.message }, 'room status update failed'));
    tick();
    const t = setInterval(tick, roomEvery * 1000);
    t.unref();
    timers.push(t);
  }
  return new PreloadWorkers(workers, metrics, timers);
}

