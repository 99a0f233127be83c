// Per-lesson preload state for a day, from three places: the lesson's latest
// preload_run and preload_check rows (MySQL) and its jobs' states (BullMQ).
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { checkJobId, expectedMs, parseDay, preloadJobId, type Jobs } from './jobs.js';
import type { JobsConfig } from '../config.js';

/** The states `orgengine status` reports. */
export const LESSON_STATES = ['unscheduled', 'queued', 'running', 'ready', 'checked', 'check-failed', 'failed'] as const;
/** One of LESSON_STATES. */
export type LessonState = (typeof LESSON_STATES)[number];

/** One lesson of the day. */
export interface LessonStatus {
  lessonId: number;
  startTime: number;
  students: number;
  state: LessonState;
  preloadJob: string;
  checkJob: string;
  runId: number | null;
  runStatus: string | null;
  version: number | null;
  rooms: number | null;
  nodes: number | null;
  positions: number | null;
  preloadMs: number | null;
  expectedMs: number;
  /** Running (or ran) longer than expected. */
  overrun: boolean;
  checkStatus: string | null;
  checkMs: number | null;
  mismatches: number | null;
  error: string | null;
}

/** The day as a whole. */
export interface DayStatus {
  date: string;
  lessons: LessonStatus[];
  totals: Record<LessonState, number>;
}

/** Lessons of a day (earliest first) with their enrolment counts and latest run and check. */
async function readDay(pool: Pool, date: string): Promise<RowDataPacket[]> {
  const day = parseDay(date);
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT l.lesson_id, l.start_time,
            (SELECT COUNT(*) FROM src_enrolment e WHERE e.lesson_id = l.lesson_id) AS students,
            r.run_id, r.status AS run_status, r.version, r.rooms, r.nodes, r.positions, r.duration_ms,
            r.started_at AS run_started, r.error_code, r.error_message,
            c.run_id AS check_run, c.status AS check_status, c.duration_ms AS check_ms, c.mismatches
       FROM lesson l
       LEFT JOIN preload_run r ON r.run_id = (SELECT MAX(run_id) FROM preload_run WHERE lesson_id = l.lesson_id)
       LEFT JOIN preload_check c ON c.check_id = (SELECT MAX(check_id) FROM preload_check WHERE lesson_id = l.lesson_id)
      WHERE l.start_time >= ? AND l.start_time < ?
      ORDER BY l.start_time, l.lesson_id`,
    [new Date(day), new Date(day + 86_400_000)],
  );
  return rows;
}

const PENDING = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children', 'wait', 'paused']);

/** Derives a lesson's state from its job states and its latest run and check. */
export function lessonState(preloadJob: string, checkJob: string, runStatus: string | null, runId: number | null, checkRun: number | null, checkStatus: string | null): LessonState {
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
  const rows = await readDay(pool, date);
  const states: Array<[string, string]> = [];
  for (let i = 0; i < rows.length; i += 200) {
    const part = rows.slice(i, i + 200);
    states.push(
      ...(await Promise.all(
        part.map(async (r): Promise<[string, string]> => {
          if (!jobs) return ['unknown', 'unknown'];
          const id = Number(r.lesson_id);
          return Promise.all([jobs.preload.getJobState(preloadJobId(id, date)), jobs.check.getJobState(checkJobId(id, date))]);
        }),
      )),
    );
  }
  const totals = Object.fromEntries(LESSON_STATES.map((s) => [s, 0])) as Record<LessonState, number>;
  const lessons = rows.map((r, i): LessonStatus => {
    const [pj, cj] = states[i]!;
    const runId = r.run_id === null ? null : Number(r.run_id);
    const state = lessonState(pj, cj, r.run_status, runId, r.check_run === null ? null : Number(r.check_run), r.check_status);
    totals[state]++;
    const students = Number(r.students);
    const exp = expectedMs(students, cfg);
    const preloadMs = r.duration_ms === null ? null : Number(r.duration_ms);
    const runningFor = r.run_status === 'running' && r.run_started ? now - (r.run_started as Date).getTime() : null;
    return {
      lessonId: Number(r.lesson_id),
      startTime: (r.start_time as Date).getTime(),
      students,
      state,
      preloadJob: pj,
      checkJob: cj,
      runId,
      runStatus: r.run_status,
      version: r.version === null ? null : Number(r.version),
      rooms: r.rooms === null ? null : Number(r.rooms),
      nodes: r.nodes === null ? null : Number(r.nodes),
      positions: r.positions === null ? null : Number(r.positions),
      preloadMs: preloadMs ?? runningFor,
      expectedMs: exp,
      overrun: (preloadMs ?? runningFor ?? 0) > exp,
      checkStatus: r.check_status,
      checkMs: r.check_ms === null ? null : Number(r.check_ms),
      mismatches: r.mismatches === null ? null : Number(r.mismatches),
      error: r.error_code ? `${r.error_code}: ${String(r.error_message ?? '').slice(0, 200)}` : null,
    };
  });
  return { date, lessons, totals };
}
