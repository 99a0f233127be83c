// The operations console's tables: the audit trail (who did what, when, with
// which parameters and result), alarm episodes (raised once, resolved once,
// whatever the number of console processes), and the settings operators edit.
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { AlarmCondition, AlarmKind } from '../../model/alarms.js';
import type { Pool } from './pool.js';

/** One audit row as written. */
export interface AuditEntry {
  uid: number | null;
  role: string | null;
  action: string;
  params: unknown;
  /** ok, or the error code that refused or failed it. */
  result: string;
  detail?: string | null;
  at: number;
}

/** A stored audit row. */
export interface AuditRow extends AuditEntry {
  auditId: number;
}

/** Longest params text kept (the rest is cut, marked with an ellipsis). */
const MAX_PARAMS = 8000;

/** Appends one audit row; returns its id. */
export async function writeAudit(pool: Pool, e: AuditEntry): Promise<number> {
  let params = JSON.stringify(e.params ?? {});
  if (params.length > MAX_PARAMS) params = `${params.slice(0, MAX_PARAMS)}…`;
  const [r] = await pool.query<ResultSetHeader>('INSERT INTO console_audit (at, uid, role, action, params, result, detail) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    new Date(e.at),
    e.uid,
    e.role,
    e.action.slice(0, 64),
    params,
    e.result.slice(0, 16),
    e.detail ? e.detail.slice(0, 4000) : null,
  ]);
  return r.insertId;
}

/** The latest audit rows, newest first; only `action` when given. */
export async function listAudit(pool: Pool, limit: number, action?: string): Promise<AuditRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT * FROM console_audit ${action ? 'WHERE action = ?' : ''} ORDER BY audit_id DESC LIMIT ?`,
    action ? [action, limit] : [limit],
  );
  return rows.map((r) => ({
    auditId: Number(r.audit_id),
    at: (r.at as Date).getTime(),
    uid: r.uid === null ? null : Number(r.uid),
    role: r.role,
    action: String(r.action),
    params: safeJson(String(r.params)),
    result: String(r.result),
    detail: r.detail ?? null,
  }));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A stored alarm episode. */
export interface AlarmRow extends AlarmCondition {
  alarmId: number;
  state: 'firing' | 'resolved';
  raisedAt: number;
  resolvedAt: number | null;
}

/**
 * Opens an episode for `c` unless one is open already. Returns the new
 * episode's id, or null when it was open (raised by this or another process).
 */
export async function raiseAlarm(pool: Pool, c: AlarmCondition, at: number): Promise<number | null> {
  const [r] = await pool.query<ResultSetHeader>(
    'INSERT IGNORE INTO console_alarm (alarm_key, open_key, kind, lesson_id, message, raised_at) VALUES (?, ?, ?, ?, ?, ?)',
    [c.key.slice(0, 160), c.key.slice(0, 160), c.kind, c.lessonId, c.message.slice(0, 1024), new Date(at)],
  );
  return r.affectedRows === 1 ? r.insertId : null;
}

/** Closes an open episode; true when this call closed it. */
export async function resolveAlarm(pool: Pool, alarmId: number, at: number): Promise<boolean> {
  const [r] = await pool.query<ResultSetHeader>('UPDATE console_alarm SET open_key = NULL, resolved_at = ? WHERE alarm_id = ? AND open_key IS NOT NULL', [new Date(at), alarmId]);
  return r.affectedRows === 1;
}

/** Open episodes, oldest first. */
export async function openAlarms(pool: Pool): Promise<AlarmRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM console_alarm WHERE open_key IS NOT NULL ORDER BY alarm_id');
  return rows.map(toAlarm);
}

/** The latest episodes (open and resolved), newest first. */
export async function recentAlarms(pool: Pool, limit: number): Promise<AlarmRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM console_alarm ORDER BY alarm_id DESC LIMIT ?', [limit]);
  return rows.map(toAlarm);
}

function toAlarm(r: RowDataPacket): AlarmRow {
  return {
    alarmId: Number(r.alarm_id),
    key: String(r.alarm_key),
    kind: String(r.kind) as AlarmKind,
    lessonId: r.lesson_id === null ? null : Number(r.lesson_id),
    message: String(r.message),
    state: r.open_key === null ? 'resolved' : 'firing',
    raisedAt: (r.raised_at as Date).getTime(),
    resolvedAt: r.resolved_at === null ? null : (r.resolved_at as Date).getTime(),
  };
}

/** A setting's stored JSON value, or undefined. */
export async function getSetting(pool: Pool, name: string): Promise<unknown> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT value FROM console_setting WHERE name = ?', [name]);
  return rows[0] ? JSON.parse(String(rows[0].value)) : undefined;
}

/** Stores a setting (JSON). */
export async function putSetting(pool: Pool, name: string, value: unknown, by: number | null, at: number): Promise<void> {
  await pool.query(
    'INSERT INTO console_setting (name, value, updated_at, updated_by) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at), updated_by = VALUES(updated_by)',
    [name, JSON.stringify(value), new Date(at), by],
  );
}
