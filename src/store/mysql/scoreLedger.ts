// The score ledger as MySQL holds it (score_ledger, migration 6, written
// behind by the flusher): what reconcile recomputes every live total from.
import type { RowDataPacket } from 'mysql2/promise';
import type { LedgerEntry } from '../../model/scores.js';
import type { Pool } from './pool.js';

/** The lesson's ledger rows up to `maxVersion`, in pages, as a recomputation reads them. */
export async function readLedger(pool: Pool, lessonId: number, maxVersion: number, page = 50_000): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  let after = '';
  for (;;) {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT idem_key, uid, room_id, session_id, seat_id, node_path, points, pk_round, pk_side FROM score_ledger
        WHERE lesson_id = ? AND idem_key > ? AND version <= ? ORDER BY idem_key LIMIT ?`,
      [lessonId, after, maxVersion, page],
    );
    for (const r of rows) {
      out.push({
        uid: r.uid === null ? null : Number(r.uid),
        roomId: String(r.room_id),
        sessionId: r.session_id ?? null,
        seatId: r.seat_id ?? null,
        nodePath: String(r.node_path),
        points: Number(r.points),
        pkRound: r.pk_round === null ? null : Number(r.pk_round),
        pkSide: r.pk_side === 'a' || r.pk_side === 'b' ? r.pk_side : null,
      });
    }
    if (rows.length < page) return out;
    after = String(rows[rows.length - 1]!.idem_key);
  }
}

/** Ledger rows of a lesson (all versions). */
export async function countLedger(pool: Pool, lessonId: number): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM score_ledger WHERE lesson_id = ?', [lessonId]);
  return Number(rows[0]?.n ?? 0);
}
