// preload_run: one row per preload attempt, including ones that failed before
// anything was written, so operators see every attempt and its reason.
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { hostname } from 'node:os';
import type { TopologyCounts } from '../../model/topology.js';

/** Final fields of a run. */
export interface RunOutcome {
  status: 'succeeded' | 'failed';
  policyId?: number | null;
  mode?: string | null;
  version?: number | null;
  counts?: TopologyCounts | null;
  redisCommands?: number | null;
  mysqlRows?: number | null;
  durationMs: number;
  errorCode?: string | null;
  errorMessage?: string | null;
}

/** A stored run. */
export interface PreloadRun extends Omit<RunOutcome, 'status'> {
  runId: number;
  lessonId: number;
  status: 'succeeded' | 'failed' | 'running';
}

/** Records the start of a run; returns its id. */
export async function startRun(pool: Pool, lessonId: number, startedAt: number): Promise<number> {
  const [r] = await pool.query<ResultSetHeader>(
    "INSERT INTO preload_run (lesson_id, status, host, started_at) VALUES (?, 'running', ?, ?)",
    [lessonId, hostname().slice(0, 128), new Date(startedAt)],
  );
  return r.insertId;
}

/** Records how a run ended. */
export async function finishRun(pool: Pool, runId: number, o: RunOutcome, finishedAt: number): Promise<void> {
  await pool.query(
    `UPDATE preload_run SET status = ?, policy_id = ?, mode = ?, version = ?, rooms = ?, nodes = ?, positions = ?,
       room_users = ?, member_partitions = ?, redis_commands = ?, mysql_rows = ?, duration_ms = ?, error_code = ?,
       error_message = ?, finished_at = ? WHERE run_id = ?`,
    [
      o.status,
      o.policyId ?? null,
      o.mode ?? null,
      o.version ?? null,
      o.counts?.rooms ?? null,
      o.counts?.nodes ?? null,
      o.counts?.positions ?? null,
      o.counts?.roomUsers ?? null,
      o.counts?.memberPartitions ?? null,
      o.redisCommands ?? null,
      o.mysqlRows ?? null,
      Math.round(o.durationMs),
      o.errorCode ?? null,
      o.errorMessage ? o.errorMessage.slice(0, 60_000) : null,
      new Date(finishedAt),
      runId,
    ],
  );
}

/** The latest runs of a lesson, newest first. */
export async function listRuns(pool: Pool, lessonId: number, limit = 10): Promise<PreloadRun[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM preload_run WHERE lesson_id = ? ORDER BY run_id DESC LIMIT ?', [lessonId, limit]);
  return rows.map(toRun);
}

function toRun(r: RowDataPacket): PreloadRun {
  return {
    runId: Number(r.run_id),
    lessonId: Number(r.lesson_id),
    status: r.status,
    policyId: r.policy_id === null ? null : Number(r.policy_id),
    mode: r.mode,
    version: r.version === null ? null : Number(r.version),
    counts:
      r.rooms === null
        ? null
        : { rooms: Number(r.rooms), nodes: Number(r.nodes), positions: Number(r.positions), roomUsers: Number(r.room_users), memberPartitions: Number(r.member_partitions) },
    redisCommands: r.redis_commands === null ? null : Number(r.redis_commands),
    mysqlRows: r.mysql_rows === null ? null : Number(r.mysql_rows),
    durationMs: Number(r.duration_ms ?? 0),
    errorCode: r.error_code,
    errorMessage: r.error_message,
  };
}

/** Marks a run whose worker died as failed, unless it already ended. Returns true when it changed. */
export async function abandonRun(pool: Pool, runId: number, errorCode: string, message: string, finishedAt: number): Promise<boolean> {
  const [r] = await pool.query<ResultSetHeader>(
    "UPDATE preload_run SET status = 'failed', error_code = ?, error_message = ?, finished_at = ? WHERE run_id = ? AND status = 'running'",
    [errorCode, message.slice(0, 60_000), new Date(finishedAt), runId],
  );
  return r.affectedRows > 0;
}

/**
 * Marks a run succeeded whose worker died after its version switch but before it
 * recorded the outcome (the switch is what counts). Returns true when it changed.
 */
export async function adoptRun(pool: Pool, runId: number, version: number, counts: TopologyCounts | null, finishedAt: number): Promise<boolean> {
  const [r] = await pool.query<ResultSetHeader>(
    `UPDATE preload_run SET status = 'succeeded', version = ?, rooms = ?, nodes = ?, positions = ?, finished_at = ?,
       duration_ms = TIMESTAMPDIFF(MICROSECOND, started_at, ?) DIV 1000
     WHERE run_id = ? AND status = 'running'`,
    [version, counts?.rooms ?? null, counts?.nodes ?? null, counts?.positions ?? null, new Date(finishedAt), new Date(finishedAt), runId],
  );
  return r.affectedRows > 0;
}
