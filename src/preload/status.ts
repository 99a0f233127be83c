// Per-lesson preload state for a day, from three places: the lesson's latest
// preload_run and preload_check rows (MySQL) and its jobs' states (BullMQ).
import type { JobsConfig } from '../config.js';
import { dayLessonRuns, type DayLessonRuns } from '../store/mysql/lessons.js';
import type { Pool } from '../store/mysql/pool.js';
import { checkJobId, expectedMs, parseDay, preloadJobId, type Jobs } from './jobs.js';

/** The preload states of a day's lessons that `orgengine status` reports. */
export const LESSON_STATES = ['unscheduled', 'queued', 'running', 'ready', 'checked', 'check-failed', 'failed'] as const;
/** One of LESSON_STATES: where a lesson's preload for the day stands. */
export type PreloadState = (typeof LESSON_STATES)[number];

/** One lesson of the day: its latest run and check as stored, its jobs' states and what follows from them. */
export interface LessonStatus
  extends Pick<DayLessonRuns, 'lessonId' | 'startTime' | 'students' | 'runId' | 'runStatus' | 'version' | 'rooms' | 'nodes' | 'positions' | 'checkStatus' | 'checkMs' | 'mismatches'> {
  state: PreloadState;
  preloadJob: string;
  checkJob: string;
  /** How long the run took, or has been running. */
  preloadMs: number | null;
  expectedMs: number;
  /** Running (or ran) longer than expected. */
  overrun: boolean;
  error: string | null;
}

/** The day as a whole. */
export interface DayStatus {
  date: string;
  lessons: LessonStatus[];
  totals: Record<PreloadState, number>;
}

const PENDING = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children', 'wait', 'paused']);

/** Derives a lesson's state from its job states and its latest run and check. */
export function lessonState(preloadJob: string, checkJob: string, runStatus: string | null, runId: number | null, checkRun: number | null, checkStatus: string | null): PreloadState {
  if (preloadJob === 'active') return 'running';
  if (PENDING.has(preloadJob)) return 'queued';
  if (runStatus === 'running') return 'running';
  if (runStatus === 'succeeded') {
    if (checkRun !== null && checkRun === runId) {
      if (checkStatus === 'passed') return 'checked';
      if (checkStatus === 'failed') return 'check-failed';
    }
    if (checkJob === 'failed') return 'check-failed';
    return 'ready';
  }
  if (runStatus === 'failed' || preloadJob === 'failed') return 'failed';
  return 'unscheduled';
}

/** The status of every lesson of a day. `jobs` may be null (no queue access): job states read as unknown. */
export async function dayStatus(pool: Pool, jobs: Jobs | null, date: string, cfg: Pick<JobsConfig, 'expectedBaseMs' | 'expectedMsPer1kStudents'>, now = Date.now()): Promise<DayStatus> {
  const rows = await dayLessonRuns(pool, parseDay(date));
  const states: Array<[string, string]> = [];
  for (let i = 0; i < rows.length; i += 200) {
    const part = rows.slice(i, i + 200);
    states.push(
      ...(await Promise.all(
        part.map(async (r): Promise<[string, string]> => {
          if (!jobs) return ['unknown', 'unknown'];
          return Promise.all([jobs.preload.getJobState(preloadJobId(r.lessonId, date)), jobs.check.getJobState(checkJobId(r.lessonId, date))]);
        }),
      )),
    );
  }
  const totals = Object.fromEntries(LESSON_STATES.map((s) => [s, 0])) as Record<PreloadState, number>;
  const lessons = rows.map((r, i): LessonStatus => {
    const [pj, cj] = states[i]!;
    const state = lessonState(pj, cj, r.runStatus, r.runId, r.checkRunId, r.checkStatus);
    totals[state]++;
    const exp = expectedMs(r.students, cfg);
    const runningFor = r.runStatus === 'running' && r.runStartedAt !== null ? now - r.runStartedAt : null;
    return {
      lessonId: r.lessonId,
      startTime: r.startTime,
      students: r.students,
      state,
      preloadJob: pj,
      checkJob: cj,
      runId: r.runId,
      runStatus: r.runStatus,
      version: r.version,
      rooms: r.rooms,
      nodes: r.nodes,
      positions: r.positions,
      preloadMs: r.durationMs ?? runningFor,
      expectedMs: exp,
      overrun: (r.durationMs ?? runningFor ?? 0) > exp,
      checkStatus: r.checkStatus,
      checkMs: r.checkMs,
      mismatches: r.mismatches,
      error: r.errorCode ? `${r.errorCode}: ${String(r.errorMessage ?? '').slice(0, 200)}` : null,
    };
  });
  return { date, lessons, totals };
}
