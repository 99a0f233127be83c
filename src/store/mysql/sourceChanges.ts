// The source side of a change applied to a preloaded lesson (preload/changes.ts):
// the lesson row's lock that orders concurrent changes of one lesson, what a
// batch of moves is validated against, and the source rows it rewrites. Every
// function but withLessonLock runs inside the transaction withLessonLock opens.
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { OrgError } from '../../errors.js';
import { inTransaction, type Pool } from './pool.js';

/** A student's tutor and class in the source. */
export interface TutorAssignment {
  tutorUid: number;
  classId: number | null;
}

/** A student's LPC and wechat group in the source. */
export interface LpcAssignment {
  lpcUid: number;
  wechatGroupId: number | null;
}

/** What a batch of moves is checked against: the students' rows and the lesson's staff, classes and groups. */
export interface MoveSource {
  /** The students of the batch who are enrolled. */
  enrolled: Set<number>;
  tutorOf: Map<number, TutorAssignment>;
  lpcOf: Map<number, LpcAssignment>;
  /** Staff of the lesson by role. */
  tutors: Set<number>;
  lpcs: Set<number>;
  /** Class id -> its tutor. */
  classTutor: Map<number, number>;
  /** Wechat group id -> its LPC. */
  groupLpc: Map<number, number>;
}

const inList = (n: number) => Array.from({ length: n }, () => '?').join(',');
const idOrNull = (v: unknown): number | null => (v === null ? null : Number(v));

/**
 * Runs `fn` in a transaction holding the lesson row's lock: changes of one lesson
 * run one at a time, in the same order in MySQL and Redis. LESSON_NOT_FOUND when
 * the lesson has no row.
 */
export async function withLessonLock<T>(pool: Pool, lessonId: number, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT lesson_id FROM lesson WHERE lesson_id = ? FOR UPDATE', [lessonId]);
    if (!rows[0]) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
    return fn(conn);
  });
}

/** The source rows a batch of moves of `uids` is validated against. */
export async function readMoveSource(conn: PoolConnection, lessonId: number, uids: readonly number[]): Promise<MoveSource> {
  const q = async (sql: string, values: unknown[]) => (await conn.query<RowDataPacket[]>(sql, values))[0];
  const forUids = [lessonId, ...uids];
  const enrolled = await q(`SELECT student_uid FROM src_enrolment WHERE lesson_id = ? AND student_uid IN (${inList(uids.length)})`, forUids);
  const tutorRows = await q(`SELECT student_uid, tutor_uid, class_id FROM src_tutor_assignment WHERE lesson_id = ? AND student_uid IN (${inList(uids.length)})`, forUids);
  const lpcRows = await q(`SELECT student_uid, lpc_uid, wechat_group_id FROM src_lpc_assignment WHERE lesson_id = ? AND student_uid IN (${inList(uids.length)})`, forUids);
  const staff = await q('SELECT ls.staff_uid, s.role FROM src_lesson_staff ls JOIN src_staff s ON s.staff_uid = ls.staff_uid WHERE ls.lesson_id = ?', [lessonId]);
  const classes = await q('SELECT class_id, tutor_uid FROM src_class WHERE lesson_id = ?', [lessonId]);
  const groups = await q('SELECT group_id, lpc_uid FROM src_wechat_group WHERE lesson_id = ?', [lessonId]);
  return {
    enrolled: new Set(enrolled.map((r) => Number(r.student_uid))),
    tutorOf: new Map(tutorRows.map((r) => [Number(r.student_uid), { tutorUid: Number(r.tutor_uid), classId: idOrNull(r.class_id) }])),
    lpcOf: new Map(lpcRows.map((r) => [Number(r.student_uid), { lpcUid: Number(r.lpc_uid), wechatGroupId: idOrNull(r.wechat_group_id) }])),
    tutors: new Set(staff.filter((r) => r.role === 'tutor').map((r) => Number(r.staff_uid))),
    lpcs: new Set(staff.filter((r) => r.role === 'lpc').map((r) => Number(r.staff_uid))),
    classTutor: new Map(classes.map((r) => [Number(r.class_id), Number(r.tutor_uid)])),
    groupLpc: new Map(groups.map((r) => [Number(r.group_id), Number(r.lpc_uid)])),
  };
}

/** Writes the students' new tutor/class and LPC/wechat-group rows (insert or replace). */
export async function writeAssignments(
  conn: PoolConnection,
  lessonId: number,
  tutors: ReadonlyArray<{ uid: number } & TutorAssignment>,
  lpcs: ReadonlyArray<{ uid: number } & LpcAssignment>,
): Promise<void> {
  if (tutors.length > 0) {
    await conn.query(
      'INSERT INTO src_tutor_assignment (lesson_id, student_uid, tutor_uid, class_id) VALUES ? ON DUPLICATE KEY UPDATE tutor_uid = VALUES(tutor_uid), class_id = VALUES(class_id)',
      [tutors.map((t) => [lessonId, t.uid, t.tutorUid, t.classId])],
    );
  }
  if (lpcs.length > 0) {
    await conn.query(
      'INSERT INTO src_lpc_assignment (lesson_id, student_uid, lpc_uid, wechat_group_id) VALUES ? ON DUPLICATE KEY UPDATE lpc_uid = VALUES(lpc_uid), wechat_group_id = VALUES(wechat_group_id)',
      [lpcs.map((l) => [lessonId, l.uid, l.lpcUid, l.wechatGroupId])],
    );
  }
}

/** Sets the lesson's teacher. */
export async function setLessonTeacher(conn: PoolConnection, lessonId: number, teacherUid: number): Promise<void> {
  await conn.query('UPDATE lesson SET teacher_uid = ? WHERE lesson_id = ?', [teacherUid, lessonId]);
}

/** Sets the lesson's time (ms). */
export async function setLessonTime(conn: PoolConnection, lessonId: number, startTime: number, endTime: number): Promise<void> {
  await conn.query('UPDATE lesson SET start_time = ?, end_time = ? WHERE lesson_id = ?', [new Date(startTime), new Date(endTime), lessonId]);
}
