// live_room.status follows the room's own times: scheduled before its start,
// live until its end, closed after. A preload writes rooms as scheduled; the
// preload workers move them along (idempotent: any number of workers may run it).
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Pool } from './pool.js';

/** The states a live room goes through, in order. */
export const ROOM_STATUSES = ['scheduled', 'live', 'closed'] as const;
/** One of ROOM_STATUSES. */
export type RoomStatus = (typeof ROOM_STATUSES)[number];

/** Rooms whose times lie further back than this are left alone (they were closed long ago). */
const LOOKBACK_MS = 2 * 86_400_000;

/**
 * Sets the status of every room of the lessons around `now` (ending at most two
 * days ago) to what its times say; returns how many rows changed.
 */
export async function advanceRoomStatus(pool: Pool, now: number): Promise<number> {
  const at = new Date(now);
  const [r] = await pool.query<ResultSetHeader>(
    `UPDATE live_room SET status = CASE WHEN ? < start_time THEN 'scheduled' WHEN ? < end_time THEN 'live' ELSE 'closed' END
      WHERE end_time >= ? AND status <> CASE WHEN ? < start_time THEN 'scheduled' WHEN ? < end_time THEN 'live' ELSE 'closed' END`,
    [at, at, new Date(now - LOOKBACK_MS), at, at],
  );
  return r.affectedRows;
}

/** Room id -> stored status of a lesson's rooms. */
export async function roomStatuses(pool: Pool, lessonId: number): Promise<Map<string, RoomStatus>> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT room_id, status FROM live_room WHERE lesson_id = ?', [lessonId]);
  return new Map(rows.map((r) => [String(r.room_id), r.status as RoomStatus]));
}
