// Who may read what. A token reads only the lesson it names (service tokens may
// name '*'); a student reads only its own position and enters only as itself.
import { OrgError } from '../errors.js';
import type { Claims } from './tokens.js';

/** Throws FORBIDDEN unless the token covers `lessonId`. */
export function authorizeLesson(c: Claims, lessonId: number): void {
  if (c.lesson !== '*' && c.lesson !== lessonId) {
    throw new OrgError('FORBIDDEN', `token is scoped to lesson ${c.lesson}, not ${lessonId}`);
  }
}

/** Throws FORBIDDEN unless the token covers `lessonId` and may read student `uid`'s own data. */
export function authorizeStudent(c: Claims, lessonId: number, uid: number): void {
  authorizeLesson(c, lessonId);
  if (c.role === 'student' && c.uid !== uid) throw new OrgError('FORBIDDEN', `a student may read only its own data (token uid ${c.uid}, asked ${uid})`);
}

/** The student an enter acts for: the token's own uid for students, the given uid for staff and services. */
export function enterUid(c: Claims, lessonId: number, asked: number | null): number {
  authorizeLesson(c, lessonId);
  if (c.role === 'student') {
    if (asked !== null && asked !== c.uid) throw new OrgError('FORBIDDEN', `a student may enter only as itself (token uid ${c.uid}, asked ${asked})`);
    return c.uid;
  }
  if (asked === null) throw new OrgError('BAD_REQUEST', `uid is required when a ${c.role} enters on a student's behalf`);
  return asked;
}

/** Throws FORBIDDEN unless the token is a service token (gRPC is for platform services). */
export function requireService(c: Claims): void {
  if (c.role !== 'service') throw new OrgError('FORBIDDEN', `gRPC needs a service token, got a ${c.role} token`);
}
