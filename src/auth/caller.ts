// Who is calling a service, as the transport authenticated it, and the three
// checks every access rule is made of. It lives in auth, not services, so the
// token verifier and the access rules need nothing above them: a verified
// token's claims are a Caller as they are (Claims extends Caller), and the
// transports hand them straight to the services, which apply auth/access.ts.
import { OrgError } from '../errors.js';

/** Roles a caller may have. */
export const ROLES = ['student', 'teacher', 'tutor', 'service', 'operator'] as const;
/** One of ROLES. */
export type Role = (typeof ROLES)[number];

/** An authenticated caller: a client (student, teacher, tutor), a platform service, or an operator (console only). */
export interface Caller {
  uid: number;
  role: Role;
  /** The one lesson the caller may act on, or '*' for every lesson (service and operator callers only). */
  lesson: number | '*';
}

/** Who acts in an interaction operation, as the scripts see it: a uid and what its lesson role makes it. */
export interface Actor {
  /** The acting user (0: a platform service acting for nobody in particular). */
  uid: number;
  /** Admin by lesson role (the lesson's teacher): admin in every room of the lesson. */
  admin: boolean;
  /** A tutor: admin in its own rooms and over its own students. */
  tutor: boolean;
  /** A platform service: every role, acts for anyone. */
  service: boolean;
}

/** Throws FORBIDDEN unless the caller may act on `lessonId`. */
export function assertLessonScope(caller: Caller, lessonId: number): void {
  // Operator tokens open the console, never the classroom API: a leaked one reads no lesson through a gateway.
  if (caller.role === 'operator') throw new OrgError('FORBIDDEN', 'an operator token is for the console, not the classroom API');
  if (caller.lesson !== '*' && caller.lesson !== lessonId) {
    throw new OrgError('FORBIDDEN', `${caller.role} ${caller.uid} is scoped to lesson ${caller.lesson}, not ${lessonId}`);
  }
}

/** Throws FORBIDDEN unless the caller's role is one of `roles`. */
export function assertRole(caller: Caller, roles: readonly Role[], what: string): void {
  if (!roles.includes(caller.role)) throw new OrgError('FORBIDDEN', `a ${caller.role} may not ${what} (needs ${roles.join(' or ')})`);
}

/** Throws FORBIDDEN when a student acts for another student. */
export function assertSelfIfStudent(caller: Caller, uid: number, what: string): void {
  if (caller.role === 'student' && caller.uid !== uid) throw new OrgError('FORBIDDEN', `student ${caller.uid} may not ${what} for student ${uid}`);
}
