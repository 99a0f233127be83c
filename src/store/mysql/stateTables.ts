// The in-class state tables (migration 3), the signal playback log
// (migration 5) and the score ledger with its PK rounds (migration 6): what the
// write-behind flusher upserts, version-guarded, and what reconcile reads back
// to compare with Redis.
import type { RowDataPacket } from 'mysql2/promise';
import { inTransaction, type Pool } from './pool.js';

/** Interaction center entities: sessions, links, the link-event ledger, per-room admins. */
export type InteractionEntity = 'isession' | 'ilink' | 'ilevent' | 'iadmin' | 'iseat';

/** What a write-behind record is about; one table each. */
export type Entity = 'group' | 'node' | 'mute' | 'mutenode' | 'signin' | 'online' | 'signal' | 'score' | 'pk' | InteractionEntity;

/** Entities that are in-class state (one current value per key, compared by reconcile). */
export type StateEntity = Exclude<Entity, 'signal' | 'score' | 'pk' | InteractionEntity>;

/** How an entity maps to its table. */
export interface TableSpec {
  table: string;
  /** All columns in insert order; the first `keyColumns` form the primary key; `version` is last. */
  columns: readonly string[];
  keyColumns: number;
}

/** The tables, by entity. */
export const TABLES: Readonly<Record<Entity, TableSpec>> = {
  group: { table: 'state_group', columns: ['lesson_id', 'uid', 'group_id', 'picked_at', 'version'], keyColumns: 2 },
  node: {
    table: 'state_dyn_node',
    columns: ['lesson_id', 'node_id', 'parent_id', 'capacity', 'path', 'depth', 'created_at', 'version'],
    keyColumns: 2,
  },
  mute: { table: 'state_mute', columns: ['lesson_id', 'room_id', 'uid', 'muted', 'updated_at', 'version'], keyColumns: 3 },
  mutenode: { table: 'state_mute_node', columns: ['lesson_id', 'room_id', 'node_id', 'muted', 'updated_at', 'version'], keyColumns: 3 },
  signin: { table: 'state_signin', columns: ['lesson_id', 'uid', 'signed_in_at', 'version'], keyColumns: 2 },
  online: { table: 'state_online', columns: ['lesson_id', 'room_id', 'uid', 'partition_no', 'last_seen_at', 'version'], keyColumns: 3 },
  signal: { table: 'signal_log', columns: ['lesson_id', 'room_id', 'seq', 'published_at', 'by_uid', 'data', 'version'], keyColumns: 3 },
  // One row per score event, never changed once written (a replay carries the same version).
  score: {
    table: 'score_ledger',
    columns: [
      'lesson_id', 'idem_key', 'room_id', 'session_id', 'uid', 'seat_id', 'seat_side', 'node_id', 'node_path',
      'kind', 'points', 'pk_round', 'pk_side', 'at', 'by_uid', 'version',
    ],
    keyColumns: 2,
  },
  pk: {
    table: 'score_pk_round',
    columns: ['lesson_id', 'round_id', 'scope', 'room_id', 'kind', 'side_a', 'side_b', 'started_at', 'ends_at', 'status', 'points_a', 'points_b', 'version'],
    keyColumns: 2,
  },
  isession: {
    table: 'ia_session',
    columns: ['lesson_id', 'session_id', 'room_id', 'kind', 'capacity', 'channel_id', 'creator_uid', 'status', 'end_reason', 'created_at', 'ended_at', 'template_id', 'version'],
    keyColumns: 2,
  },
  ilink: { table: 'ia_link', columns: ['lesson_id', 'session_id', 'uid', 'generation', 'state', 'origin', 'by_uid', 'updated_at', 'version'], keyColumns: 3 },
  ilevent: {
    table: 'ia_link_event',
    columns: ['lesson_id', 'session_id', 'seq', 'uid', 'generation', 'from_state', 'to_state', 'by_uid', 'cause', 'at', 'version'],
    keyColumns: 3,
  },
  iadmin: { table: 'ia_room_admin', columns: ['lesson_id', 'room_id', 'uid', 'granted', 'updated_at', 'version'], keyColumns: 3 },
  /** The mic seat ledger: every change of a seat ((session, seq) never repeats). */
  iseat: {
    table: 'ia_seat_event',
    columns: ['lesson_id', 'session_id', 'seq', 'seat_no', 'uid', 'locked', 'mic', 'cam', 'op', 'by_uid', 'at', 'version'],
    keyColumns: 3,
  },
};

/** The interaction center's entities, in the order batches write them. */
export const INTERACTION_ENTITIES: readonly InteractionEntity[] = ['isession', 'ilink', 'ilevent', 'iadmin', 'iseat'];

/** The in-class state entities, in the order batches write them. */
export const STATE_ENTITIES: readonly StateEntity[] = ['node', 'group', 'mute', 'mutenode', 'signin', 'online'];

/** Every entity, in the order batches write them. */
export const ENTITIES: readonly Entity[] = [...STATE_ENTITIES, 'signal', 'score', 'pk', ...INTERACTION_ENTITIES];

/**
 * ON DUPLICATE KEY UPDATE clause that applies a row only when it is newer:
 * MySQL evaluates assignments left to right and later ones see earlier
 * results, so `version` is assigned last, after every column has compared
 * against the old version.
 */
export function guardedUpdate(spec: TableSpec): string {
  const data = spec.columns.slice(spec.keyColumns, -1);
  const cond = 'VALUES(version) > version';
  return `ON DUPLICATE KEY UPDATE ${data.map((c) => `${c} = IF(${cond}, VALUES(${c}), ${c})`).join(', ')}, version = GREATEST(version, VALUES(version))`;
}

const INSERTS = new Map(
  ENTITIES.map((e) => {
    const spec = TABLES[e];
    return [e, `INSERT INTO ${spec.table} (${spec.columns.join(', ')}) VALUES ? ${guardedUpdate(spec)}`] as const;
  }),
);

/** What one write did. */
export interface SinkResult {
  /** Rows sent. */
  rows: number;
  /** INSERT statements sent. */
  statements: number;
}

/**
 * Upserts rows (each in its table's column order, once per key: coalesced by
 * the caller) in one transaction, `batchRows` rows per statement, entities in
 * ENTITIES order. A row older than the one stored changes nothing.
 * `onStatement` sees each statement's row count (metrics).
 */
export async function writeStateRows(
  pool: Pool,
  byEntity: ReadonlyMap<Entity, ReadonlyArray<{ readonly row: readonly unknown[] }>>,
  batchRows: number,
  onStatement?: (rows: number) => void,
): Promise<SinkResult> {
  return inTransaction(pool, async (conn) => {
    let rows = 0;
    let statements = 0;
    for (const e of ENTITIES) {
      const list = byEntity.get(e);
      if (!list) continue;
      for (let i = 0; i < list.length; i += batchRows) {
        const chunk = list.slice(i, i + batchRows).map((r) => r.row);
        await conn.query(INSERTS.get(e)!, [chunk]);
        statements++;
        rows += chunk.length;
        onStatement?.(chunk.length);
      }
    }
    return { rows, statements };
  });
}

/** A lesson's in-class state as MySQL holds it. */
export interface StoredState {
  group: Array<{ uid: number; groupId: string | null }>;
  signin: Array<{ uid: number; signedInAt: number | null }>;
  node: Array<{ nodeId: string; parentId: string; capacity: number; path: string }>;
  mute: Array<{ roomId: string; uid: number; muted: boolean }>;
  mutenode: Array<{ roomId: string; nodeId: string; muted: boolean }>;
  online: Array<{ roomId: string; uid: number; partition: number; lastSeenAt: number | null }>;
  /** The highest version any state row of the lesson carries (0: none). */
  maxVersion: number;
}

const ms = (d: unknown): number | null => (d instanceof Date ? d.getTime() : d === null || d === undefined ? null : Number(d));

/** Every state row of a lesson, and the highest version among them. */
export async function readStoredState(pool: Pool, lessonId: number): Promise<StoredState> {
  const q = async (sql: string) => (await pool.query<RowDataPacket[]>(sql, [lessonId]))[0];
  const out: StoredState = {
    group: (await q('SELECT uid, group_id FROM state_group WHERE lesson_id = ?')).map((r) => ({ uid: Number(r.uid), groupId: r.group_id ?? null })),
    signin: (await q('SELECT uid, signed_in_at FROM state_signin WHERE lesson_id = ?')).map((r) => ({ uid: Number(r.uid), signedInAt: ms(r.signed_in_at) })),
    node: (await q('SELECT node_id, parent_id, capacity, path FROM state_dyn_node WHERE lesson_id = ?')).map((r) => ({
      nodeId: String(r.node_id),
      parentId: String(r.parent_id),
      capacity: Number(r.capacity),
      path: String(r.path),
    })),
    mute: (await q('SELECT room_id, uid, muted FROM state_mute WHERE lesson_id = ?')).map((r) => ({ roomId: String(r.room_id), uid: Number(r.uid), muted: Number(r.muted) === 1 })),
    mutenode: (await q('SELECT room_id, node_id, muted FROM state_mute_node WHERE lesson_id = ?')).map((r) => ({
      roomId: String(r.room_id),
      nodeId: String(r.node_id),
      muted: Number(r.muted) === 1,
    })),
    online: (await q('SELECT room_id, uid, partition_no, last_seen_at FROM state_online WHERE lesson_id = ?')).map((r) => ({
      roomId: String(r.room_id),
      uid: Number(r.uid),
      partition: Number(r.partition_no),
      lastSeenAt: ms(r.last_seen_at),
    })),
    maxVersion: await maxStateVersion(pool, lessonId),
  };
  return out;
}

/**
 * The highest version any in-class state row of a lesson carries, score ledger
 * and PK rounds included (0: none); one indexed MAX per table.
 */
export async function maxStateVersion(pool: Pool, lessonId: number): Promise<number> {
  let max = 0;
  // Score and interaction changes take their versions from the same counter (st:ver), so they count too.
  for (const e of [...STATE_ENTITIES, 'score', 'pk', 'isession', 'iadmin'] as const) {
    const [rows] = await pool.query<RowDataPacket[]>(`SELECT COALESCE(MAX(version), 0) AS v FROM ${TABLES[e].table} WHERE lesson_id = ?`, [lessonId]);
    max = Math.max(max, Number(rows[0]?.v ?? 0));
  }
  return max;
}

/** A lesson's interaction sessions and links as MySQL holds them (reconcile, tests). */
export interface StoredInteractions {
  sessions: Array<{
    sessionId: string;
    roomId: string;
    kind: string;
    capacity: number;
    channelId: string;
    creator: number;
    status: string;
    endReason: string | null;
    template: string;
    version: number;
  }>;
  links: Array<{ sessionId: string; uid: number; generation: number; state: string; origin: string; by: number; version: number }>;
  /** Ledger events per session, in order. */
  events: Array<{ sessionId: string; seq: number; uid: number; generation: number; from: string; to: string; cause: string; version: number }>;
  admins: Array<{ roomId: string; uid: number; granted: boolean }>;
}

/** Every interaction row of a lesson. */
export async function readStoredInteractions(pool: Pool, lessonId: number): Promise<StoredInteractions> {
  const q = async (sql: string) => (await pool.query<RowDataPacket[]>(sql, [lessonId]))[0];
  return {
    sessions: (await q('SELECT * FROM ia_session WHERE lesson_id = ? ORDER BY session_id')).map((r) => ({
      sessionId: String(r.session_id),
      roomId: String(r.room_id),
      kind: String(r.kind),
      capacity: Number(r.capacity),
      channelId: String(r.channel_id),
      creator: Number(r.creator_uid),
      status: String(r.status),
      endReason: r.end_reason === null || r.end_reason === '' ? null : String(r.end_reason),
      template: String(r.template_id ?? ''),
      version: Number(r.version),
    })),
    links: (await q('SELECT * FROM ia_link WHERE lesson_id = ? ORDER BY session_id, uid')).map((r) => ({
      sessionId: String(r.session_id),
      uid: Number(r.uid),
      generation: Number(r.generation),
      state: String(r.state),
      origin: String(r.origin),
      by: Number(r.by_uid),
      version: Number(r.version),
    })),
    events: (await q('SELECT * FROM ia_link_event WHERE lesson_id = ? ORDER BY session_id, seq')).map((r) => ({
      sessionId: String(r.session_id),
      seq: Number(r.seq),
      uid: Number(r.uid),
      generation: Number(r.generation),
      from: String(r.from_state),
      to: String(r.to_state),
      cause: String(r.cause),
      version: Number(r.version),
    })),
    admins: (await q('SELECT room_id, uid, granted FROM ia_room_admin WHERE lesson_id = ?')).map((r) => ({ roomId: String(r.room_id), uid: Number(r.uid), granted: Number(r.granted) === 1 })),
  };
}

/** One row of the mic seat ledger. */
export interface SeatEventRow {
  sessionId: string;
  seq: number;
  seat: number;
  /** 0: the seat became empty. */
  uid: number;
  locked: number;
  mic: number;
  cam: number;
  op: string;
  by: number;
  version: number;
}

/** A lesson's mic seat ledger, per session in order (tests, audits). */
export async function readSeatEvents(pool: Pool, lessonId: number): Promise<SeatEventRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM ia_seat_event WHERE lesson_id = ? ORDER BY session_id, seq', [lessonId]);
  return rows.map((r) => ({
    sessionId: String(r.session_id),
    seq: Number(r.seq),
    seat: Number(r.seat_no),
    uid: Number(r.uid),
    locked: Number(r.locked),
    mic: Number(r.mic),
    cam: Number(r.cam),
    op: String(r.op),
    by: Number(r.by_uid),
    version: Number(r.version),
  }));
}
