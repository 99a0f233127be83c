// The courseware signal log in MySQL (signal_log, written behind from the
// rooms' Redis logs): the whole history of a room, for playback, read in seq
// order by primary key.
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Signal } from '../../model/signal.js';

/** Which part of a room's log to read: seq > after, optionally within [fromMs, toMs), at most limit. */
export interface SignalLogQuery {
  after: number;
  fromMs: number | null;
  toMs: number | null;
  limit: number;
}

/** Signals of a room in seq order, as flushed to MySQL. */
export async function readSignalLog(pool: Pool, lessonId: number, roomId: string, q: SignalLogQuery): Promise<Signal[]> {
  let sql = 'SELECT seq, published_at, by_uid, data FROM signal_log WHERE lesson_id = ? AND room_id = ? AND seq > ?';
  const args: Array<number | string | Date> = [lessonId, roomId, q.after];
  if (q.fromMs !== null) {
    sql += ' AND published_at >= ?';
    args.push(new Date(q.fromMs));
  }
  if (q.toMs !== null) {
    sql += ' AND published_at < ?';
    args.push(new Date(q.toMs));
  }
  sql += ' ORDER BY seq LIMIT ?';
  args.push(q.limit);
  const [rows] = await pool.query<RowDataPacket[]>(sql, args);
  return rows.map((r) => ({ seq: Number(r.seq), at: (r.published_at as Date).getTime(), by: Number(r.by_uid), data: String(r.data) }));
}
