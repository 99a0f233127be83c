// Who is calling a service, as the transport authenticated it, and the checks
// every service applies before touching a lesson.
import { OrgError } from '../errors.js';

/** Roles a caller may have. */
export const ROLES = ['student', 'teacher', 'tutor', 'service'] as const;
/** One of ROLES. */
export type Role = (typeof ROLES)[number];

/** An authenticated caller: a client (student, teacher, tutor) or a platform service. */
export interface Caller {
  uid: number;
  role: Role;
  /** Lessons the caller may act on ('all' for platform services). */
  lessonScope: readonly number[] | 'all';
}

/** Throws FORBIDDEN unless the caller may act on `lessonId`. */
export function assertLessonScope(caller: Caller, lessonId: number): void {
  if (caller.lessonScope !== 'all' && !caller.lessonScope.includes(lessonId)) {
    throw new OrgError('FORBIDDEN', `${caller.role} ${caller.uid} may not act on lesson ${lessonId}`);
  }
}

/** Throws FORBIDDEN unless the caller's role is one of `roles`. */
export function assertRole(caller: Caller, roles: readonly Role[], what: string): void {
  if (!roles.includes(caller.role)) throw new OrgError('FORBIDDEN', `a ${caller.role} may not ${what}`);
}

/** Throws FORBIDDEN when a student acts for another student. */
export function assertSelfIfStudent(caller: Caller, uid: number, what: string): void {
  if (caller.role === 'student' && caller.uid !== uid) throw new OrgError('FORBIDDEN', `student ${caller.uid} may not ${what} for student ${uid}`);
}
