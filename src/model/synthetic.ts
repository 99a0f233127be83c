// Deterministic synthetic source data standing in for the tutoring and sales
// systems: realistic shapes (<= 500 students per tutor, classes, wechat groups)
// from a seed, so demos, tests and benchmarks are reproducible. Pure: no I/O.
import type { LessonSource, LessonStaff } from './source.js';

/** Parameters of one synthetic lesson. */
export interface SyntheticLessonParams {
  lessonId: number;
  /** Position of the lesson in its generated day; keeps uids of lessons apart. */
  ordinal: number;
  students: number;
  tutors: number;
  /** LPCs (supervisors); defaults to the tutor count. */
  lpcs?: number;
  seed: number;
  startTime: number;
  durationMinutes?: number;
  classCapacity?: number;
  wechatGroupCapacity?: number;
  /** Share of tutors on camera, 0-1 (default 1). */
  onCameraRatio?: number;
}

/** Students one tutor may have at most (the business rule quoted by the tutoring side). */
export const MAX_STUDENTS_PER_TUTOR = 500;
/** Largest lesson the generator makes (uids are laid out per lesson in blocks of this size). */
export const MAX_SYNTHETIC_STUDENTS = 1_000_000;
/** Most tutors (and LPCs) per synthetic lesson. */
export const MAX_SYNTHETIC_STAFF = 4_999;

/** mulberry32: a tiny seeded PRNG; the same seed gives the same sequence everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Checks generator parameters; returns a message naming the bad one, or null. */
export function checkSyntheticParams(p: Pick<SyntheticLessonParams, 'students' | 'tutors' | 'lpcs'>): string | null {
  if (!Number.isInteger(p.students) || p.students < 0 || p.students > MAX_SYNTHETIC_STUDENTS) {
    return `students must be an integer from 0 to ${MAX_SYNTHETIC_STUDENTS}`;
  }
  if (!Number.isInteger(p.tutors) || p.tutors < 1 || p.tutors > MAX_SYNTHETIC_STAFF) {
    return `tutors must be an integer from 1 to ${MAX_SYNTHETIC_STAFF}`;
  }
  const lpcs = p.lpcs ?? p.tutors;
  if (!Number.isInteger(lpcs) || lpcs < 1 || lpcs > MAX_SYNTHETIC_STAFF) return `lpcs must be an integer from 1 to ${MAX_SYNTHETIC_STAFF}`;
  if (p.students > p.tutors * MAX_STUDENTS_PER_TUTOR) {
    return `${p.students} students need at least ${Math.ceil(p.students / MAX_STUDENTS_PER_TUTOR)} tutors (at most ${MAX_STUDENTS_PER_TUTOR} per tutor)`;
  }
  if (p.students > lpcs * MAX_STUDENTS_PER_TUTOR) {
    return `${p.students} students need at least ${Math.ceil(p.students / MAX_STUDENTS_PER_TUTOR)} LPCs (at most ${MAX_STUDENTS_PER_TUTOR} per LPC)`;
  }
  return null;
}

/** Generates one lesson's source rows. */
export function syntheticLesson(p: SyntheticLessonParams): LessonSource {
  const bad = checkSyntheticParams(p);
  if (bad) throw new RangeError(bad);
  const rnd = prng((p.seed * 1_000_003 + p.ordinal) >>> 0);
  const lpcCount = p.lpcs ?? p.tutors;
  const classCap = p.classCapacity ?? 40;
  const groupCap = p.wechatGroupCapacity ?? 200;
  const ratio = p.onCameraRatio ?? 1;
  const studentBase = 100_000_000 + p.ordinal * MAX_SYNTHETIC_STUDENTS;
  const staffBase = 900_000_000 + p.ordinal * 10_000;

  const staff: LessonStaff[] = [];
  for (let i = 0; i < p.tutors; i++) {
    staff.push({ uid: staffBase + i, name: `tutor-${p.ordinal}-${i}`, role: 'tutor', onCamera: i < Math.round(p.tutors * ratio) });
  }
  for (let i = 0; i < lpcCount; i++) {
    staff.push({ uid: staffBase + 5_000 + i, name: `lpc-${p.ordinal}-${i}`, role: 'lpc', onCamera: false });
  }

  // Class and wechat-group ids are lessonId * 1e6 + a slot below 1e6 (tutor * 100 +
  // class, or 500,000 + LPC * 100 + group), so lesson ids must stay below 9e9.
  if (p.lessonId < 1 || p.lessonId >= 9_000_000_000) throw new RangeError('lessonId must be from 1 to 8,999,999,999');
  // Enrolment times spread over the two weeks before the lesson; shuffled uids
  // make tutor and LPC membership independent of join order.
  const uids = new Array<number>(p.students);
  for (let i = 0; i < p.students; i++) uids[i] = studentBase + i;
  for (let i = uids.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = uids[i]!;
    uids[i] = uids[j]!;
    uids[j] = t;
  }
  const twoWeeks = 14 * 86_400_000;
  const enrolments = uids.map((studentUid) => ({ studentUid, enrolledAt: p.startTime - twoWeeks + Math.floor(rnd() * twoWeeks) }));

  // Round-robin over the shuffled students: every tutor gets floor or ceil of S/T.
  const tutorAssignments: LessonSource['tutorAssignments'] = [];
  const classes: LessonSource['classes'] = [];
  const perTutor: number[][] = Array.from({ length: p.tutors }, () => []);
  uids.forEach((uid, i) => perTutor[i % p.tutors]!.push(uid));
  perTutor.forEach((list, t) => {
    const tutorUid = staffBase + t;
    const classCount = Math.ceil(list.length / classCap);
    for (let c = 0; c < classCount; c++) {
      classes.push({ classId: p.lessonId * 1_000_000 + t * 100 + c, tutorUid, name: `class ${t}-${c}`, capacity: classCap });
    }
    list.forEach((studentUid, k) => {
      tutorAssignments.push({ studentUid, tutorUid, classId: p.lessonId * 1_000_000 + t * 100 + Math.floor(k / classCap) });
    });
  });

  const wechatGroups: LessonSource['wechatGroups'] = [];
  const lpcAssignments: LessonSource['lpcAssignments'] = [];
  const perLpc: number[][] = Array.from({ length: lpcCount }, () => []);
  uids.forEach((uid, i) => perLpc[(i * 7 + 3) % lpcCount]!.push(uid));
  perLpc.forEach((list, l) => {
    const lpcUid = staffBase + 5_000 + l;
    const groupCount = Math.ceil(list.length / groupCap);
    for (let g = 0; g < groupCount; g++) {
      wechatGroups.push({ groupId: p.lessonId * 1_000_000 + 500_000 + l * 100 + g, lpcUid, name: `wechat ${l}-${g}` });
    }
    list.forEach((studentUid, k) => {
      lpcAssignments.push({ studentUid, lpcUid, wechatGroupId: p.lessonId * 1_000_000 + 500_000 + l * 100 + Math.floor(k / groupCap) });
    });
  });

  const duration = (p.durationMinutes ?? 90) * 60_000;
  return {
    lesson: {
      lessonId: p.lessonId,
      courseId: 7_000_000 + (p.lessonId % 100_000),
      title: `Synthetic lesson ${p.lessonId}`,
      teacherUid: 800_000_000 + p.ordinal,
      startTime: p.startTime,
      endTime: p.startTime + duration,
    },
    staff,
    enrolments,
    tutorAssignments,
    classes,
    wechatGroups,
    lpcAssignments,
  };
}

/** The policies `orgengine seed` installs, one per org shape. */
export const BUILTIN_POLICIES: ReadonlyArray<{ name: string; description: string; conf: Record<string, unknown> }> = [
  {
    name: 'three-screen',
    description: 'Three-screen lesson: everyone together under the lesson, rtmp',
    conf: { bizType: 'threeScreen', streamPolicy: 'rtmp+longconn', orgPolicy: '/lesson', preloadMode: 'full' },
  },
  {
    name: 'group',
    description: 'Group lesson: tutors on camera before/in/after class, students pick groups in class, rtc',
    conf: {
      bizType: 'group',
      streamPolicy: 'rtc+longconn',
      orgPolicy: '/lesson/tutor/team/group',
      preloadMode: 'full',
      rooms: { tutorOnCamera: ['before', 'in', 'after'] },
      groups: { groupCapacity: 6, groupsPerTeam: 6, expandBelowFreeSeats: 6 },
    },
  },
  {
    name: 'small-class',
    description: 'Small class: classes formed by tutors before class, rtc',
    conf: { bizType: 'smallClass', streamPolicy: 'rtc+longconn', orgPolicy: '/lesson/tutor/class', preloadMode: 'full' },
  },
  {
    name: 'short-training',
    description: 'Short training course: LPC wechat groups, rtmp',
    conf: { bizType: 'threeScreen', streamPolicy: 'rtmp+longconn', orgPolicy: '/lesson/lpc/wechatGroup', preloadMode: 'full' },
  },
  {
    name: 'conversion',
    description: 'Conversion course: students under their LPC, self-study room, rtmp',
    conf: { bizType: 'selfStudy', streamPolicy: 'rtmp+longconn', orgPolicy: '/lesson/lpc', preloadMode: 'full' },
  },
];
