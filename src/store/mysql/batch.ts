// Multi-row INSERT in batches: one statement per `batchRows` rows.
import type { PoolConnection, Pool } from 'mysql2/promise';

type Queryable = Pick<Pool | PoolConnection, 'query'>;

/**
 * Inserts `rows` (arrays in `columns` order) into `table`, `batchRows` per
 * statement; `onDuplicate` is appended verbatim (e.g. an ON DUPLICATE KEY UPDATE
 * clause). Returns the number of rows sent.
 */
export async function insertBatches(
  db: Queryable,
  table: string,
  columns: readonly string[],
  rows: ReadonlyArray<readonly unknown[]>,
  batchRows: number,
  onDuplicate = '',
): Promise<number> {
  if (rows.length === 0) return 0;
  const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ?${onDuplicate ? ` ${onDuplicate}` : ''}`;
  for (let i = 0; i < rows.length; i += batchRows) {
    await db.query(head, [rows.slice(i, i + batchRows)]);
  }
  return rows.length;
}

/** `col = VALUES(col)` for every column, for ON DUPLICATE KEY UPDATE. */
export function updateAll(columns: readonly string[]): string {
  return `ON DUPLICATE KEY UPDATE ${columns.map((c) => `${c} = VALUES(${c})`).join(', ')}`;
}
