// The compiled lesson in MySQL: live_room, org_node and room_user rows, and the
// lesson row's status. A preload replaces a lesson's rows in one transaction,
// so MySQL never holds half of one version.
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { OrgNode, Room, Topology, RoomType, NodeKind } from '../../model/topology.js';
import { insertBatches } from './batch.js';

/**
 * Replaces the lesson's rooms, nodes and room users with `topo` at `version`. Returns rows written.
 * `beforeCommit` runs last inside the transaction (a preload re-checks its lock there, so a run
 * that lost the lesson never commits over the run that took it).
 */
export async function writeTopology(
  pool: Pool,
  topo: Topology,
  version: number,
  batchRows: number,
  withRoomUsers: boolean,
  beforeCommit?: () => Promise<void>,
): Promise<number> {
  const id = topo.lesson.lessonId;
  const conn = await pool.getConnection();
  try {
    // READ COMMITTED: the DELETEs lock only this lesson's rows, not the gaps beside
    // them, so lessons preloading at once on several workers do not deadlock.
    await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await conn.beginTransaction();
    await conn.query('DELETE FROM live_room WHERE lesson_id = ?', [id]);
    await conn.query('DELETE FROM org_node WHERE lesson_id = ?', [id]);
    await conn.query('DELETE FROM room_user WHERE lesson_id = ?', [id]);
    let n = 0;
    n += await insertBatches(
      conn,
      'live_room',
      ['lesson_id', 'room_id', 'virtual_room_id', 'root_node_id', 'biz_id', 'room_type', 'teacher_uid', 'start_time', 'end_time', 'member_count', 'partitions', 'preload_version'],
      topo.rooms.map((r) => [id, r.roomId, r.virtualRoomId, r.rootNodeId, r.bizId, r.roomType, r.teacherUid, new Date(r.startTime), new Date(r.endTime), r.memberCount, r.partitions, version]),
      batchRows,
    );
    n += await insertBatches(
      conn,
      'org_node',
      ['lesson_id', 'node_id', 'parent_id', 'root_id', 'virtual_node_id', 'source_id', 'kind', 'path', 'depth', 'capacity', 'size', 'preload_version'],
      topo.nodes.map((x) => [id, x.nodeId, x.parentId, x.rootId, x.virtualNodeId, x.sourceId, x.kind, x.path, x.depth, x.capacity, x.size, version]),
      batchRows,
    );
    if (withRoomUsers) {
      // Built and sent one batch at a time: 2.4M rows for the largest lessons.
      const cols = ['lesson_id', 'uid', 'room_id', 'node_id', 'partition_no', 'join_order', 'preload_version'];
      let batch: unknown[][] = [];
      for (const p of topo.positions) {
        for (const s of p.rooms) {
          batch.push([id, p.uid, s.roomId, p.nodeId, s.partition, p.order, version]);
          if (batch.length >= batchRows) {
            n += await insertBatches(conn, 'room_user', cols, batch, batchRows);
            batch = [];
          }
        }
      }
      n += await insertBatches(conn, 'room_user', cols, batch, batchRows);
    }
    await conn.query(
      `UPDATE lesson SET status = 'ready', preload_version = ?, student_count = ?, room_count = ?, node_count = ? WHERE lesson_id = ?`,
      [version, topo.lesson.studentCount, topo.lesson.roomCount, topo.lesson.nodeCount, id],
    );
    await beforeCommit?.();
    await conn.commit();
    return n + 1;
  } catch (e) {
    await conn.rollback().catch(() => undefined);
    throw e;
  } finally {
    conn.release();
  }
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
