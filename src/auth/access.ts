// Who may read what at the edge. A caller (a verified token's claims) acts only
// on the lesson it names (service tokens may name '*'); a student reads only its
// own position and enters only as itself. The lesson and role rules themselves
// live with the Caller type in services/caller.ts, shared by every service.
import { OrgError } from '../errors.js';
import { assertLessonScope, assertRole, assertSelfIfStudent, type Caller } from '../services/caller.js';

/** Throws FORBIDDEN unless the caller covers `lessonId` and may read student `uid`'s own data. */
export function authorizeStudent(c: Caller, lessonId: number, uid: number): void {
  assertLessonScope(c, lessonId);
  assertSelfIfStudent(c, uid, 'read the data');
}

/** The student an enter acts for: the caller's own uid for students, the given uid for staff and services. */
export function enterUid(c: Caller, lessonId: number, asked: number | null): number {
  assertLessonScope(c, lessonId);
  if (c.role === 'student') {
    if (asked !== null) assertSelfIfStudent(c, asked, 'enter');
    return c.uid;
  }
  if (asked === null) throw new OrgError('BAD_REQUEST', `uid is required when a ${c.role} enters on a student's behalf`);
  return asked;
}

/** Throws FORBIDDEN unless the caller is a platform service (gRPC is for platform services). */
export function requireService(c: Caller): void {
  assertRole(c, ['service'], 'call the gRPC API');
}
