// Writes coalesced write-behind records to the state tables: one multi-row,
// version-guarded upsert per table and chunk, inside the caller's transaction.
import type { Pool, PoolConnection } from 'mysql2/promise';
import { ENTITIES, TABLES, coalesce, guardedUpdate, type WbRecord } from './records.js';

type Queryable = Pick<Pool | PoolConnection, 'query'>;

/** What one write did. */
export interface SinkResult {
  /** Rows sent (after coalescing). */
  rows: number;
  /** INSERT statements sent. */
  statements: number;
}

const heads = new Map(
  ENTITIES.map((e) => {
    const spec = TABLES[e];
    return [e, `INSERT INTO ${spec.table} (${spec.columns.join(', ')}) VALUES ? ${guardedUpdate(spec)}`] as const;
  }),
);

/**
 * Coalesces `records` (newest version per key) and upserts them, `batchRows`
 * rows per statement. `onStatement` sees each statement's row count (metrics).
 */
export async function writeRecords(
  db: Queryable,
  records: Iterable<WbRecord>,
  batchRows: number,
  onStatement?: (rows: number) => void,
): Promise<SinkResult> {
  const byEntity = coalesce(records);
  let rows = 0;
  let statements = 0;
  for (const e of ENTITIES) {
    const list = byEntity.get(e);
    if (!list) continue;
    const head = heads.get(e)!;
    for (let i = 0; i < list.length; i += batchRows) {
      const chunk = list.slice(i, i + batchRows).map((r) => r.row);
      await db.query(head, [chunk]);
      statements++;
      rows += chunk.length;
      onStatement?.(chunk.length);
    }
  }
  return { rows, statements };
}

/** Runs `writeRecords` in one transaction on a pooled connection. */
export async function writeRecordsTx(pool: Pool, records: Iterable<WbRecord>, batchRows: number, onStatement?: (rows: number) => void): Promise<SinkResult> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const r = await writeRecords(conn, records, batchRows, onStatement);
    await conn.commit();
    return r;
  } catch (e) {
    await conn.rollback().catch(() => undefined);
    throw e;
  } finally {
    conn.release();
  }
}
