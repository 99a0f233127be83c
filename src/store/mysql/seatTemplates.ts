// Stored mic seat layout templates (MySQL seat_template, migration 7). The
// built-in templates (model/seats.ts BUILTIN_TEMPLATES) are not stored; a
// stored template may not take a built-in id.
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { OrgError } from '../../errors.js';
import { BUILTIN_TEMPLATES, parseTemplate, type SeatTemplate } from '../../model/seats.js';

/** Validates and stores a template (insert or replace). */
export async function putSeatTemplate(pool: Pool, doc: unknown, maxSeats: number, now = Date.now()): Promise<SeatTemplate> {
  const t = parseTemplate(doc, maxSeats);
  if (BUILTIN_TEMPLATES.has(t.id)) throw new OrgError('TEMPLATE_INVALID', `id: ${t.id} is a built-in template's id`, { field: 'id' });
  await pool.query('INSERT INTO seat_template (template_id, doc, updated_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE doc = VALUES(doc), updated_at = VALUES(updated_at)', [
    t.id,
    JSON.stringify(t),
    new Date(now),
  ]);
  return t;
}

/** One stored template, or undefined. */
export async function getSeatTemplate(pool: Pool, id: string, maxSeats: number): Promise<SeatTemplate | undefined> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT doc FROM seat_template WHERE template_id = ?', [id]);
  return rows[0] ? parseTemplate(docOf(rows[0].doc), Math.max(maxSeats, 2)) : undefined;
}

/** Every stored template, by id. */
export async function listSeatTemplates(pool: Pool, maxSeats: number): Promise<SeatTemplate[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT doc FROM seat_template ORDER BY template_id');
  return rows.map((r) => parseTemplate(docOf(r.doc), Math.max(maxSeats, 2)));
}

const docOf = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : Buffer.isBuffer(v) ? JSON.parse(v.toString('utf8')) : v);
