// The compiled lesson in MySQL: live_room, org_node and room_user rows, and the
// lesson row's status. A preload syncs a lesson's rows in one transaction, so
// MySQL never holds half of one version.
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { OrgNode, Room, Topology, RoomType, NodeKind } from '../../model/topology.js';
import { insertBatches, updateAll } from './batch.js';
import { inTransaction } from './pool.js';

type Conn = PoolConnection;
type Val = string | number | null;

/** A room-user row: uid, room, node, partition, join order. */
type RoomUserRow = [number, string, string, number, number];

/** What a topology write changed, per table. */
export interface WriteCounts {
  inserted: number;
  deleted: number;
}

/**
 * Makes the lesson's live_room, org_node and room_user rows equal to `topo`, in
 * one transaction, writing only what differs from what MySQL holds: a re-run of
 * an unchanged lesson reads its rows and writes none, and a first run inserts in
 * primary-key order. A row's preload_version is the version that last changed it;
 * the lesson row names the current version and turns ready last. `beforeCommit`
 * runs last inside the transaction: a preload waits there for its Redis write and
 * re-checks its lock, so a run that lost the lesson never commits over the run
 * that took it, and a failed Redis write leaves MySQL untouched.
 */
export async function writeTopology(
  pool: Pool,
  topo: Topology,
  version: number,
  batchRows: number,
  withRoomUsers: boolean,
  beforeCommit?: () => Promise<unknown>,
): Promise<number> {
  const id = topo.lesson.lessonId;
  // READ COMMITTED: the writes lock only this lesson's rows, not the gaps beside
  // them, so lessons preloading at once on several workers do not deadlock.
  return inTransaction(
    pool,
    async (conn) => {
      const c: WriteCounts = { inserted: 0, deleted: 0 };
      const roomCols = ['room_id', 'virtual_room_id', 'root_node_id', 'biz_id', 'room_type', 'teacher_uid', 'start_time', 'end_time', 'member_count', 'partitions'];
      await syncById(conn, 'live_room', id, roomCols, topo.rooms.map((r) => [r.roomId, r.virtualRoomId, r.rootNodeId, r.bizId, r.roomType, r.teacherUid, new Date(r.startTime), new Date(r.endTime), r.memberCount, r.partitions]), version, batchRows, c);
      const nodeCols = ['node_id', 'parent_id', 'root_id', 'virtual_node_id', 'source_id', 'kind', 'path', 'depth', 'capacity', 'size'];
      await syncById(conn, 'org_node', id, nodeCols, topo.nodes.map((x) => [x.nodeId, x.parentId, x.rootId, x.virtualNodeId, x.sourceId, x.kind, x.path, x.depth, x.capacity, x.size]), version, batchRows, c);
      const users: RoomUserRow[] = [];
      if (withRoomUsers) {
        for (const p of topo.positions) for (const s of p.rooms) users.push([p.uid, s.roomId, p.nodeId, s.partition, p.order]);
        users.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
      }
      await syncRoomUsers(conn, id, users, version, batchRows, c);
      await conn.query(
        `UPDATE lesson SET status = 'ready', preload_version = ?, student_count = ?, room_count = ?, node_count = ? WHERE lesson_id = ?`,
        [version, topo.lesson.studentCount, topo.lesson.roomCount, topo.lesson.nodeCount, id],
      );
      await beforeCommit?.();
      return c.inserted + c.deleted + 1;
    },
    'READ COMMITTED',
  );
}

/** Comparable text of a row's values (dates as ms, so MySQL's and ours agree). */
function rowText(vals: readonly unknown[], from: number): string {
  let s = '';
  for (let i = from; i < vals.length; i++) {
    const v = vals[i];
    s += `${v instanceof Date ? v.getTime() : v === null || v === undefined ? '\u0000' : String(v)}\u0001`;
  }
  return s;
}

/** Syncs a small per-lesson table keyed by (lesson_id, cols[0]) through a map of what is stored. */
async function syncById(conn: Conn, table: string, lessonId: number, cols: string[], rows: Val[][] | unknown[][], version: number, batchRows: number, c: WriteCounts): Promise<void> {
  const [stored] = await conn.query<RowDataPacket[]>({ sql: `SELECT ${cols.join(', ')} FROM ${table} WHERE lesson_id = ?`, values: [lessonId], rowsAsArray: true });
  const have = new Map<string, string>();
  for (const r of stored as unknown as unknown[][]) have.set(String(r[0]), rowText(r, 1));
  const upserts: unknown[][] = [];
  for (const r of rows) {
    const key = String(r[0]);
    if (have.get(key) !== rowText(r, 1)) upserts.push([lessonId, ...r, version]);
    have.delete(key);
  }
  upserts.sort((a, b) => (String(a[1]) < String(b[1]) ? -1 : 1));
  const all = ['lesson_id', ...cols, 'preload_version'];
  c.inserted += await insertBatches(conn, table, all, upserts, batchRows, updateAll(all.slice(2)));
  const gone = [...have.keys()];
  for (let i = 0; i < gone.length; i += batchRows) {
    const part = gone.slice(i, i + batchRows);
    await conn.query(`DELETE FROM ${table} WHERE lesson_id = ? AND ${cols[0]} IN (?)`, [lessonId, part]);
    c.deleted += part.length;
  }
}

/**
 * Syncs room_user by merging, uid range by uid range, the new rows (sorted by
 * uid) with the stored ones, so memory stays bounded for the largest lessons.
 */
async function syncRoomUsers(conn: Conn, lessonId: number, rows: RoomUserRow[], version: number, batchRows: number, c: WriteCounts): Promise<void> {
  const cols = ['lesson_id', 'uid', 'room_id', 'node_id', 'partition_no', 'join_order', 'preload_version'];
  const upserts: unknown[][] = [];
  const deletes: Array<[number, string]> = [];
  const flush = async (force: boolean) => {
    if (upserts.length >= batchRows || (force && upserts.length > 0)) {
      c.inserted += await insertBatches(conn, 'room_user', cols, upserts.splice(0), batchRows, updateAll(cols.slice(3)));
    }
    if (deletes.length >= batchRows || (force && deletes.length > 0)) {
      const part = deletes.splice(0);
      await conn.query('DELETE FROM room_user WHERE lesson_id = ? AND (uid, room_id) IN (?)', [lessonId, part]);
      c.deleted += part.length;
    }
  };
  const span = Math.max(batchRows, 20_000);
  let i = 0;
  let lo = 0;
  for (;;) {
    // The range is [lo, hi): hi is the uid `span` rows ahead, or open at the end.
    const j = Math.min(i + span, rows.length);
    const hi = j < rows.length ? rows[j]![0] : Number.MAX_SAFE_INTEGER;
    const [stored] = await conn.query<RowDataPacket[]>({
      sql: 'SELECT uid, room_id, node_id, partition_no, join_order FROM room_user WHERE lesson_id = ? AND uid >= ? AND uid < ?',
      values: [lessonId, lo, hi],
      rowsAsArray: true,
    });
    const have = new Map<string, string>();
    for (const r of stored as unknown as unknown[][]) have.set(`${r[0]}|${r[1]}`, `${r[2]}|${r[3]}|${r[4]}`);
    let k = i;
    while (k < rows.length && rows[k]![0] < hi) {
      const r = rows[k]!;
      const key = `${r[0]}|${r[1]}`;
      if (have.get(key) !== `${r[2]}|${r[3]}|${r[4]}`) upserts.push([lessonId, r[0], r[1], r[2], r[3], r[4], version]);
      have.delete(key);
      k++;
    }
    for (const key of have.keys()) {
      const bar = key.indexOf('|');
      deletes.push([Number(key.slice(0, bar)), key.slice(bar + 1)]);
    }
    await flush(false);
    i = k;
    lo = hi;
    if (hi === Number.MAX_SAFE_INTEGER) break;
  }
  await flush(true);
}

/** Sets the lesson's status (preloading/failed) without touching its version. */
export async function setLessonStatus(pool: Pool, lessonId: number, status: 'preloading' | 'failed' | 'ready'): Promise<void> {
  await pool.query('UPDATE lesson SET status = ? WHERE lesson_id = ?', [status, lessonId]);
}

/** What MySQL holds for a lesson, in the topology's shapes (for checks and tests). */
export interface StoredTopology {
  status: string;
  version: number;
  rooms: Room[];
  nodes: Array<Omit<OrgNode, 'childIds'>>;
  roomUsers: Array<{ uid: number; roomId: string; nodeId: string; partition: number; order: number }>;
}

/** Reads a lesson's rows back. */
export async function readStoredTopology(pool: Pool, lessonId: number): Promise<StoredTopology | undefined> {
  const [lesson] = await pool.query<RowDataPacket[]>('SELECT status, preload_version FROM lesson WHERE lesson_id = ?', [lessonId]);
  if (!lesson[0]) return undefined;
  const [rooms] = await pool.query<RowDataPacket[]>('SELECT * FROM live_room WHERE lesson_id = ? ORDER BY room_id', [lessonId]);
  const [nodes] = await pool.query<RowDataPacket[]>('SELECT * FROM org_node WHERE lesson_id = ? ORDER BY node_id', [lessonId]);
  const [users] = await pool.query<RowDataPacket[]>({
    sql: 'SELECT uid, room_id, node_id, partition_no, join_order FROM room_user WHERE lesson_id = ? ORDER BY uid, room_id',
    values: [lessonId],
    rowsAsArray: true,
  });
  return {
    status: String(lesson[0].status),
    version: Number(lesson[0].preload_version),
    rooms: rooms.map((r) => ({
      roomId: String(r.room_id),
      virtualRoomId: String(r.virtual_room_id),
      lessonId: Number(r.lesson_id),
      rootNodeId: String(r.root_node_id),
      bizId: Number(r.biz_id),
      roomType: r.room_type as RoomType,
      teacherUid: Number(r.teacher_uid),
      startTime: (r.start_time as Date).getTime(),
      endTime: (r.end_time as Date).getTime(),
      memberCount: Number(r.member_count),
      partitions: Number(r.partitions),
    })),
    nodes: nodes.map((r) => ({
      nodeId: String(r.node_id),
      parentId: r.parent_id === null ? null : String(r.parent_id),
      rootId: String(r.root_id),
      virtualNodeId: String(r.virtual_node_id),
      sourceId: r.source_id === null ? null : String(r.source_id),
      kind: r.kind as NodeKind,
      path: String(r.path),
      depth: Number(r.depth),
      capacity: r.capacity === null ? null : Number(r.capacity),
      size: Number(r.size),
    })),
    roomUsers: (users as unknown as unknown[][]).map((r) => ({
      uid: Number(r[0]),
      roomId: String(r[1]),
      nodeId: String(r[2]),
      partition: Number(r[3]),
      order: Number(r[4]),
    })),
  };
}
