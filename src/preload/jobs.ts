// The preload as BullMQ jobs. One flow per lesson and day:
//
//   check:<lesson>:<date>     (queue "check")     compares Redis and MySQL with the source
//     └─ preload:<lesson>:<date> (queue "preload") read, compile, write a version, switch
//
// The job ids dedupe a lesson: enqueueing the day twice adds nothing. The check
// runs only after its preload succeeded, and fails with it (failParentOnFailure).
// All queues share one prefix with a hash tag, so on Redis Cluster every queue
// key (and a flow's parent and child) is in one slot.
import { FlowProducer, Queue, type FlowJob, type JobsOptions } from 'bullmq';
import type { JobsConfig, RedisTarget } from '../config.js';
import { OrgError } from '../errors.js';
import { parseDate } from '../model/input.js';
import { createRedis, type RedisClient } from '../store/redis/client.js';
import { JobKeys } from '../store/redis/keys.js';

/** Queue names (BullMQ forbids ':' in them). */
export const QUEUES = { preload: 'preload', check: 'check', changes: 'changes', sweep: 'sweep' } as const;

/** Data of a preload job. */
export interface PreloadJobData {
  lessonId: number;
  /** Day of the lesson, YYYY-MM-DD. */
  date: string;
  startTime: number;
  students: number;
  /** Duration after which the run raises an overrun alarm. */
  expectedMs: number;
  /** W3C traceparent of the request that enqueued it (the job's span continues that trace). */
  traceparent?: string;
}

/** Data of a check job. */
export interface CheckJobData {
  lessonId: number;
  date: string;
  traceparent?: string;
}

/** What a preload job returns (kept by the queue, read by its check). */
export interface PreloadJobResult {
  runId: number;
  version: number;
  durationMs: number;
  /** True when an earlier attempt of this job had switched already and this one only recorded it. */
  adopted: boolean;
  tookOverRunId: number | null;
}

/** Checks a YYYY-MM-DD day; returns its start (UTC ms). */
export function parseDay(date: string): number {
  return Date.parse(`${parseDate(date, 'date')}T00:00:00Z`);
}

/** Job id of a lesson's preload on a day (exactly three ':'-parts, as BullMQ requires of custom ids with ':'). */
export function preloadJobId(lessonId: number, date: string): string {
  return `preload:${lessonId}:${date}`;
}

/** Job id of a lesson's check on a day. */
export function checkJobId(lessonId: number, date: string): string {
  return `check:${lessonId}:${date}`;
}

/** Highest BullMQ priority number (lowest priority). */
const PRIORITY_LIMIT = 2_097_152;

/** Earliest start first: priority is minutes since the start of the day, plus one (BullMQ: lower runs first). */
export function priorityOf(startTime: number, date: string): number {
  const minutes = Math.floor((startTime - parseDay(date)) / 60_000);
  return Math.min(PRIORITY_LIMIT, Math.max(1, minutes + 1));
}

/** Expected preload duration of a lesson, from its enrolment count. */
export function expectedMs(students: number, cfg: Pick<JobsConfig, 'expectedBaseMs' | 'expectedMsPer1kStudents'>): number {
  return Math.round(cfg.expectedBaseMs + (students / 1000) * cfg.expectedMsPer1kStudents);
}

/**
 * Connects to the queue Redis. BullMQ needs maxRetriesPerRequest null (its
 * blocking commands must wait out reconnects) and an instance, not options, under ESM.
 */
export function createQueueConnection(target: RedisTarget, name = 'orgengine-jobs'): RedisClient {
  return createRedis(target, { connectionName: name, retryForever: true });
}

/** Kept jobs: long enough for the day's status, bounded so Redis does not grow without end. */
const KEEP_COMPLETED = { age: 3 * 86_400, count: 200_000 };
const KEEP_FAILED = { age: 7 * 86_400, count: 200_000 };

/** A lesson to enqueue. */
export interface LessonToPreload {
  lessonId: number;
  date: string;
  startTime: number;
  students: number;
  /** W3C traceparent of the request that asks for it, carried into the jobs. */
  traceparent?: string;
}

/** The queues of one process, on one connection. */
export class Jobs {
  readonly preload: Queue<PreloadJobData, PreloadJobResult>;
  readonly check: Queue<CheckJobData>;
  readonly changes: Queue;
  readonly sweep: Queue;
  readonly flow: FlowProducer;
  readonly keys: JobKeys;

  constructor(
    readonly connection: RedisClient,
    readonly cfg: JobsConfig,
  ) {
    const opts = { connection, prefix: cfg.prefix };
    this.preload = new Queue(QUEUES.preload, opts);
    this.check = new Queue(QUEUES.check, opts);
    this.changes = new Queue(QUEUES.changes, opts);
    this.sweep = new Queue(QUEUES.sweep, opts);
    this.flow = new FlowProducer(opts);
    this.keys = new JobKeys(cfg.prefix);
  }

  /** The flow of one lesson: check <- preload. `priority` overrides earliest-start-first. */
  flowOf(l: LessonToPreload, priority = priorityOf(l.startTime, l.date)): FlowJob {
    const data: PreloadJobData = { ...l, expectedMs: expectedMs(l.students, this.cfg) };
    const preloadOpts: JobsOptions = {
      jobId: preloadJobId(l.lessonId, l.date),
      priority,
      attempts: this.cfg.preloadAttempts,
      backoff: { type: 'exponential', delay: this.cfg.preloadBackoffMs },
      failParentOnFailure: true,
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    };
    return {
      name: 'check',
      queueName: QUEUES.check,
      data: { lessonId: l.lessonId, date: l.date, ...(l.traceparent ? { traceparent: l.traceparent } : {}) } satisfies CheckJobData,
      opts: {
        jobId: checkJobId(l.lessonId, l.date),
        priority,
        attempts: 3,
        backoff: { type: 'exponential', delay: this.cfg.checkDelayMs },
        removeOnComplete: KEEP_COMPLETED,
        removeOnFail: KEEP_FAILED,
      },
      children: [{ name: 'preload', queueName: QUEUES.preload, data, opts: preloadOpts }],
    };
  }

  /**
   * Enqueues lessons (in the order given) as flows, `chunk` flows per round trip.
   * Lessons whose jobs exist already are left alone. Returns how many were new.
   */
  async enqueue(lessons: readonly LessonToPreload[], opts: { chunk?: number; priority?: number } = {}): Promise<{ added: number; existing: number }> {
    const chunk = opts.chunk ?? 200;
    let added = 0;
    let existing = 0;
    for (let i = 0; i < lessons.length; i += chunk) {
      const part = lessons.slice(i, i + chunk);
      // Only informative (a job may appear in between); the job ids do the real dedupe.
      const states = await Promise.all(part.map((l) => this.preload.getJobState(preloadJobId(l.lessonId, l.date))));
      for (const s of states) if (s === 'unknown') added++;
      else existing++;
      await this.flow.addBulk(part.map((l) => this.flowOf(l, opts.priority)));
    }
    return { added, existing };
  }

  /**
   * Removes a lesson's finished jobs for a day so the flow can be enqueued again
   * (a job id in the completed or failed set still dedupes). Jobs still pending
   * or running are left alone; returns false then.
   */
  async clearFinished(lessonId: number, date: string): Promise<boolean> {
    const [ps, cs] = await Promise.all([this.preload.getJobState(preloadJobId(lessonId, date)), this.check.getJobState(checkJobId(lessonId, date))]);
    const finished = (s: string) => s === 'completed' || s === 'failed' || s === 'unknown';
    if (!finished(ps) || !finished(cs)) return false;
    if (cs !== 'unknown') await this.check.remove(checkJobId(lessonId, date), { removeChildren: true });
    if ((await this.preload.getJobState(preloadJobId(lessonId, date))) !== 'unknown') await this.preload.remove(preloadJobId(lessonId, date));
    return true;
  }

  /** Closes the queues (not the connection). */
  async close(): Promise<void> {
    await Promise.allSettled([this.preload.close(), this.check.close(), this.changes.close(), this.sweep.close(), this.flow.close()]);
  }
}
