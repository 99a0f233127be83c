// Who is asking, as the services see it once a transport has authenticated the
// request. Kept minimal: the transports map their token claims onto it.
import { OrgError } from '../errors.js';

/** Roles a caller can have. */
export type CallerRole = 'student' | 'teacher' | 'tutor' | 'service';

/** An authenticated caller: its uid, role and the lessons it may touch ('*' = all, for services). */
export interface Caller {
  uid: number;
  role: CallerRole;
  lessons: readonly number[] | '*';
}

/** Throws FORBIDDEN unless the caller may touch `lessonId`. */
export function authorizeLesson(caller: Caller, lessonId: number): void {
  if (caller.lessons !== '*' && !caller.lessons.includes(lessonId)) {
    throw new OrgError('FORBIDDEN', `caller ${caller.uid} (${caller.role}) may not access lesson ${lessonId}`);
  }
}

/** Throws FORBIDDEN unless the caller has one of `roles`. */
export function requireRole(caller: Caller, roles: readonly CallerRole[], action: string): void {
  if (!roles.includes(caller.role)) {
    throw new OrgError('FORBIDDEN', `a ${caller.role} may not ${action} (needs ${roles.join(' or ')})`);
  }
}
