// Row-level updates of a lesson's compiled rows (room_user, org_node, live_room)
// for changes applied to its readable version without a new preload. Run inside
// the change's transaction, so MySQL and Redis take every change in one order.
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { OrgNode, Room } from '../../model/topology.js';
import { insertBatches, updateAll } from './batch.js';

/** A student's rows after a move: its node and (room, partition) pairs. */
export interface MovedPosition {
  uid: number;
  nodeId: string;
  rooms: Array<{ roomId: string; partition: number }>;
}

const inList = (n: number) => Array.from({ length: n }, () => '?').join(',');
const NODE_COLUMNS = ['lesson_id', 'node_id', 'parent_id', 'root_id', 'virtual_node_id', 'source_id', 'kind', 'path', 'depth', 'capacity', 'size', 'preload_version'];

/** Replaces the room_user rows of moved students (their join order is kept). */
export async function replaceRoomUsers(conn: PoolConnection, lessonId: number, version: number, moved: readonly MovedPosition[], batchRows: number): Promise<number> {
  if (moved.length === 0) return 0;
  const uids = moved.map((m) => m.uid);
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT uid, MAX(join_order) AS o FROM room_user WHERE lesson_id = ? AND uid IN (${inList(uids.length)}) GROUP BY uid`, [lessonId, ...uids]);
  const order = new Map(rows.map((r) => [Number(r.uid), Number(r.o)]));
  await conn.query(`DELETE FROM room_user WHERE lesson_id = ? AND uid IN (${inList(uids.length)})`, [lessonId, ...uids]);
  const out = moved.flatMap((m) => m.rooms.map((s) => [lessonId, m.uid, s.roomId, m.nodeId, s.partition, order.get(m.uid) ?? 0, version]));
  return insertBatches(conn, 'room_user', ['lesson_id', 'uid', 'room_id', 'node_id', 'partition_no', 'join_order', 'preload_version'], out, batchRows);
}

/** Writes org_node rows as the version now holds them, and deletes removed ones. */
export async function upsertNodes(conn: PoolConnection, lessonId: number, version: number, nodes: readonly OrgNode[], deleted: readonly string[], batchRows: number): Promise<number> {
  if (deleted.length > 0) await conn.query(`DELETE FROM org_node WHERE lesson_id = ? AND node_id IN (${inList(deleted.length)})`, [lessonId, ...deleted]);
  const rows = nodes.map((x) => [lessonId, x.nodeId, x.parentId, x.rootId, x.virtualNodeId, x.sourceId, x.kind, x.path, x.depth, x.capacity, x.size, version]);
  return (await insertBatches(conn, 'org_node', NODE_COLUMNS, rows, batchRows, updateAll(NODE_COLUMNS.slice(2)))) + deleted.length;
}

/** Updates the live_room fields a change can touch: teacher, times, member count, partitions. */
export async function updateRooms(conn: PoolConnection, lessonId: number, rooms: readonly Room[]): Promise<number> {
  for (const r of rooms) {
    await conn.query('UPDATE live_room SET teacher_uid = ?, start_time = ?, end_time = ?, member_count = ?, partitions = ? WHERE lesson_id = ? AND room_id = ?', [
      r.teacherUid,
      new Date(r.startTime),
      new Date(r.endTime),
      r.memberCount,
      r.partitions,
      lessonId,
      r.roomId,
    ]);
  }
  return rooms.length;
}

/** Sets the lesson row's node count from its org_node rows (after nodes were added or removed). */
export async function refreshNodeCount(conn: PoolConnection, lessonId: number): Promise<void> {
  await conn.query('UPDATE lesson SET node_count = (SELECT COUNT(*) FROM org_node WHERE lesson_id = ?) WHERE lesson_id = ?', [lessonId, lessonId]);
}
