// The source schema: stand-in for the tutoring and sales systems. Reads one
// lesson's rows for the preload; writes synthetic rows for `orgengine seed`.
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { LessonInfo, LessonSource } from '../../model/source.js';
import { insertBatches, updateAll } from './batch.js';
import { inTransaction } from './pool.js';

/** The scheduled lesson row, or undefined when the lesson is unknown. */
export async function readLessonInfo(pool: Pool, lessonId: number): Promise<LessonInfo | undefined> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT lesson_id, course_id, title, teacher_uid, start_time, end_time FROM lesson WHERE lesson_id = ?',
    [lessonId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    lessonId: Number(r.lesson_id),
    courseId: Number(r.course_id),
    title: String(r.title),
    teacherUid: Number(r.teacher_uid),
    startTime: (r.start_time as Date).getTime(),
    endTime: (r.end_time as Date).getTime(),
  };
}

/** Reads every source row of one lesson (the lesson itself must exist). */
export async function readLessonSource(pool: Pool, lesson: LessonInfo): Promise<LessonSource> {
  const id = lesson.lessonId;
  // Independent reads in parallel over the pool: the source read is a large share of preload time.
  const q = <T extends RowDataPacket[]>(sql: string) => pool.query<T>({ sql, values: [id], rowsAsArray: true });
  const [staff, enrol, tutorA, classes, groups, lpcA] = await Promise.all([
    q(`SELECT ls.staff_uid, s.name, s.role, ls.on_camera FROM src_lesson_staff ls
         LEFT JOIN src_staff s ON s.staff_uid = ls.staff_uid WHERE ls.lesson_id = ?`),
    q('SELECT student_uid, enrolled_at FROM src_enrolment WHERE lesson_id = ?'),
    q('SELECT student_uid, tutor_uid, class_id FROM src_tutor_assignment WHERE lesson_id = ?'),
    q('SELECT class_id, tutor_uid, name, capacity FROM src_class WHERE lesson_id = ?'),
    q('SELECT group_id, lpc_uid, name FROM src_wechat_group WHERE lesson_id = ?'),
    q('SELECT student_uid, lpc_uid, wechat_group_id FROM src_lpc_assignment WHERE lesson_id = ?'),
  ]);
  const rows = (r: [RowDataPacket[], unknown]) => r[0] as unknown as unknown[][];
  return {
    lesson,
    // Staff listed for the lesson but missing from src_staff count as neither tutor nor LPC,
    // so assignments to them are reported as missing tutors/LPCs.
    staff: rows(staff)
      .filter((r) => r[2] === 'tutor' || r[2] === 'lpc')
      .map((r) => ({ uid: Number(r[0]), name: String(r[1]), role: r[2] as 'tutor' | 'lpc', onCamera: Number(r[3]) === 1 })),
    enrolments: rows(enrol).map((r) => ({ studentUid: Number(r[0]), enrolledAt: (r[1] as Date).getTime() })),
    tutorAssignments: rows(tutorA).map((r) => ({ studentUid: Number(r[0]), tutorUid: Number(r[1]), classId: r[2] === null ? null : Number(r[2]) })),
    classes: rows(classes).map((r) => ({ classId: Number(r[0]), tutorUid: Number(r[1]), name: String(r[2]), capacity: Number(r[3]) })),
    wechatGroups: rows(groups).map((r) => ({ groupId: Number(r[0]), lpcUid: Number(r[1]), name: String(r[2]) })),
    lpcAssignments: rows(lpcA).map((r) => ({ studentUid: Number(r[0]), lpcUid: Number(r[1]), wechatGroupId: r[2] === null ? null : Number(r[2]) })),
  };
}

const SOURCE_TABLES = ['src_lesson_staff', 'src_enrolment', 'src_tutor_assignment', 'src_class', 'src_wechat_group', 'src_lpc_assignment'];

/**
 * Writes one lesson's source rows and its lesson row, replacing what the lesson
 * had, in one transaction. Returns the number of rows written.
 */
export async function writeLessonSource(pool: Pool, src: LessonSource, batchRows: number): Promise<number> {
  const id = src.lesson.lessonId;
  return inTransaction(pool, async (conn) => {
    for (const t of SOURCE_TABLES) await conn.query(`DELETE FROM ${t} WHERE lesson_id = ?`, [id]);
    const l = src.lesson;
    await conn.query(
      `INSERT INTO lesson (lesson_id, course_id, title, teacher_uid, start_time, end_time) VALUES (?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE course_id = VALUES(course_id), title = VALUES(title), teacher_uid = VALUES(teacher_uid),
         start_time = VALUES(start_time), end_time = VALUES(end_time)`,
      [id, l.courseId, l.title, l.teacherUid, new Date(l.startTime), new Date(l.endTime)],
    );
    let n = 1;
    const staffCols = ['staff_uid', 'name', 'role'];
    n += await insertBatches(conn, 'src_staff', staffCols, src.staff.map((s) => [s.uid, s.name, s.role]), batchRows, updateAll(['name', 'role']));
    n += await insertBatches(conn, 'src_lesson_staff', ['lesson_id', 'staff_uid', 'on_camera'], src.staff.map((s) => [id, s.uid, s.onCamera ? 1 : 0]), batchRows);
    n += await insertBatches(conn, 'src_enrolment', ['lesson_id', 'student_uid', 'enrolled_at'], src.enrolments.map((e) => [id, e.studentUid, new Date(e.enrolledAt)]), batchRows);
    n += await insertBatches(conn, 'src_tutor_assignment', ['lesson_id', 'student_uid', 'tutor_uid', 'class_id'], src.tutorAssignments.map((a) => [id, a.studentUid, a.tutorUid, a.classId]), batchRows);
    n += await insertBatches(conn, 'src_class', ['lesson_id', 'class_id', 'tutor_uid', 'name', 'capacity'], src.classes.map((c) => [id, c.classId, c.tutorUid, c.name, c.capacity]), batchRows);
    n += await insertBatches(conn, 'src_wechat_group', ['lesson_id', 'group_id', 'lpc_uid', 'name'], src.wechatGroups.map((g) => [id, g.groupId, g.lpcUid, g.name]), batchRows);
    n += await insertBatches(conn, 'src_lpc_assignment', ['lesson_id', 'student_uid', 'lpc_uid', 'wechat_group_id'], src.lpcAssignments.map((a) => [id, a.studentUid, a.lpcUid, a.wechatGroupId]), batchRows);
    return n;
  });
}
