// preload_check: one row per check of a preloaded lesson against its source,
// tied to the preload_run that wrote the version checked, with the full report.
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { hostname } from 'node:os';

/** How a check ended: passed, failed (mismatches), or superseded (a newer version switched in meanwhile). */
export type CheckStatus = 'running' | 'passed' | 'failed' | 'superseded';

/** A stored check. */
export interface PreloadCheckRow {
  checkId: number;
  lessonId: number;
  runId: number | null;
  version: number | null;
  status: CheckStatus;
  mismatches: number;
  report: unknown;
  durationMs: number | null;
  startedAt: number;
  finishedAt: number | null;
}

/** Records the start of a check; returns its id. */
export async function startCheck(pool: Pool, lessonId: number, runId: number | null, version: number | null, startedAt: number): Promise<number> {
  const [r] = await pool.query<ResultSetHeader>(
    "INSERT INTO preload_check (lesson_id, run_id, version, status, host, started_at) VALUES (?, ?, ?, 'running', ?, ?)",
    [lessonId, runId, version, hostname().slice(0, 128), new Date(startedAt)],
  );
  return r.insertId;
}

/** Records how a check ended, with its report (JSON, bounded by the caller). */
export async function finishCheck(
  pool: Pool,
  checkId: number,
  o: { status: Exclude<CheckStatus, 'running'>; runId: number | null; version: number | null; mismatches: number; report: unknown; durationMs: number },
  finishedAt: number,
): Promise<void> {
  await pool.query(
    'UPDATE preload_check SET status = ?, run_id = ?, version = ?, mismatches = ?, report = ?, duration_ms = ?, finished_at = ? WHERE check_id = ?',
    [o.status, o.runId, o.version, o.mismatches, JSON.stringify(o.report), Math.round(o.durationMs), new Date(finishedAt), checkId],
  );
}

/** The latest checks of a lesson, newest first. */
export async function listChecks(pool: Pool, lessonId: number, limit = 10): Promise<PreloadCheckRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM preload_check WHERE lesson_id = ? ORDER BY check_id DESC LIMIT ?', [lessonId, limit]);
  return rows.map((r) => ({
    checkId: Number(r.check_id),
    lessonId: Number(r.lesson_id),
    runId: r.run_id === null ? null : Number(r.run_id),
    version: r.version === null ? null : Number(r.version),
    status: r.status as CheckStatus,
    mismatches: Number(r.mismatches),
    report: r.report === null ? null : JSON.parse(String(r.report)),
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    startedAt: (r.started_at as Date).getTime(),
    finishedAt: r.finished_at === null ? null : (r.finished_at as Date).getTime(),
  }));
}
