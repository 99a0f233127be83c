// What the business systems (tutoring, sales) provide for one lesson, already
// read from the source schema. The compile step turns this plus a policy into
// a topology; nothing here does I/O.

/** The lesson as scheduled by the sales side. Times are epoch milliseconds. */
export interface LessonInfo {
  lessonId: number;
  courseId: number;
  title: string;
  teacherUid: number;
  startTime: number;
  endTime: number;
}

/** A staff member working the lesson: a tutor (class teacher) or an LPC (supervisor). */
export interface LessonStaff {
  uid: number;
  name: string;
  role: 'tutor' | 'lpc';
  onCamera: boolean;
}

/** A student enrolled in the lesson; enrolment order is the join order. */
export interface Enrolment {
  studentUid: number;
  enrolledAt: number;
}

/** Tutoring side: which tutor (and, for class policies, which class) a student belongs to. */
export interface TutorAssignment {
  studentUid: number;
  tutorUid: number;
  classId: number | null;
}

/** A class a tutor formed before the lesson. */
export interface SourceClass {
  classId: number;
  tutorUid: number;
  name: string;
  capacity: number;
}

/** A wechat group an LPC formed before the lesson. */
export interface WechatGroup {
  groupId: number;
  lpcUid: number;
  name: string;
}

/** Supervision side: which LPC (and wechat group) a student belongs to. */
export interface LpcAssignment {
  studentUid: number;
  lpcUid: number;
  wechatGroupId: number | null;
}

/** Everything the compile step needs about one lesson. */
export interface LessonSource {
  lesson: LessonInfo;
  staff: LessonStaff[];
  enrolments: Enrolment[];
  tutorAssignments: TutorAssignment[];
  classes: SourceClass[];
  wechatGroups: WechatGroup[];
  lpcAssignments: LpcAssignment[];
}
