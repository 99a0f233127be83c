// Lessons as the day's schedule sees them: which lessons start on a day, how
// many students each has, what their latest preload run and check said, and
// which lessons are around now (the flusher's sweep).
import type { RowDataPacket } from 'mysql2/promise';
import type { Pool } from './pool.js';

const DAY_MS = 86_400_000;

/** A lesson of a day with its enrolment count. */
export interface DayLesson {
  lessonId: number;
  startTime: number;
  students: number;
}

/** A lesson of a day with its latest preload run and check (nulls where there is none). */
export interface DayLessonRuns extends DayLesson {
  runId: number | null;
  runStatus: string | null;
  version: number | null;
  rooms: number | null;
  nodes: number | null;
  positions: number | null;
  durationMs: number | null;
  runStartedAt: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** The run the latest check checked. */
  checkRunId: number | null;
  checkStatus: string | null;
  checkMs: number | null;
  mismatches: number | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Ids of the lessons starting in [dayStart, dayStart + 24 h), earliest first. */
export async function dayLessonIds(pool: Pool, dayStart: number): Promise<number[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT lesson_id FROM lesson WHERE start_time >= ? AND start_time < ? ORDER BY start_time, lesson_id', [
    new Date(dayStart),
    new Date(dayStart + DAY_MS),
  ]);
  return rows.map((r) => Number(r.lesson_id));
}

/** The lessons starting in [dayStart, dayStart + 24 h), earliest first, with their enrolment counts. */
export async function dayLessons(pool: Pool, dayStart: number): Promise<DayLesson[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT l.lesson_id, l.start_time, (SELECT COUNT(*) FROM src_enrolment e WHERE e.lesson_id = l.lesson_id) AS students
       FROM lesson l WHERE l.start_time >= ? AND l.start_time < ? ORDER BY l.start_time, l.lesson_id`,
    [new Date(dayStart), new Date(dayStart + DAY_MS)],
  );
  return rows.map((r) => ({ lessonId: Number(r.lesson_id), startTime: (r.start_time as Date).getTime(), students: Number(r.students) }));
}

/** The lessons starting in [dayStart, dayStart + 24 h), earliest first, with their latest run and check. */
export async function dayLessonRuns(pool: Pool, dayStart: number): Promise<DayLessonRuns[]> {
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
    [new Date(dayStart), new Date(dayStart + DAY_MS)],
  );
  return rows.map((r) => ({
    lessonId: Number(r.lesson_id),
    startTime: (r.start_time as Date).getTime(),
    students: Number(r.students),
    runId: num(r.run_id),
    runStatus: r.run_status ?? null,
    version: num(r.version),
    rooms: num(r.rooms),
    nodes: num(r.nodes),
    positions: num(r.positions),
    durationMs: num(r.duration_ms),
    runStartedAt: r.run_started ? (r.run_started as Date).getTime() : null,
    errorCode: r.error_code ?? null,
    errorMessage: r.error_message ?? null,
    checkRunId: num(r.check_run),
    checkStatus: r.check_status ?? null,
    checkMs: num(r.check_ms),
    mismatches: num(r.mismatches),
  }));
}

/** How many students a lesson has enrolled. */
export async function enrolmentCount(pool: Pool, lessonId: number): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM src_enrolment WHERE lesson_id = ?', [lessonId]);
  return Number(rows[0]?.n ?? 0);
}

/** Ids of the lessons whose time overlaps [from, to] (ms). */
export async function lessonsAround(pool: Pool, from: number, to: number): Promise<number[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT lesson_id FROM lesson WHERE start_time <= ? AND end_time >= ?', [new Date(to), new Date(from)]);
  return rows.map((r) => Number(r.lesson_id));
}
