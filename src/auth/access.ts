// Who may do what, in one table of rules: every operation of the edge API has
// one function here, and the service that runs the operation calls it (the
// transports only authenticate and pass the caller on), so HTTP, gRPC and any
// later transport cannot disagree. A caller acts only on the lesson it names
// (service tokens may name '*'); a student reads and changes only its own
// data; teachers, tutors and services act for any student of their lesson.
import { OrgError } from '../errors.js';
import { assertLessonScope, assertRole, assertSelfIfStudent, type Actor, type Caller, type Role } from './caller.js';

/** Roles allowed to publish signals. */
export const PUBLISHER_ROLES: readonly Role[] = ['teacher', 'tutor', 'service'];
/** Roles allowed to mute and unmute. */
export const MUTER_ROLES: readonly Role[] = ['teacher', 'tutor', 'service'];
/** Roles allowed to broadcast to an org node over the long connection. */
export const BROADCASTER_ROLES: readonly Role[] = ['teacher', 'tutor', 'service'];
/** Roles allowed to award points and run PK rounds. */
export const SCORER_ROLES: readonly Role[] = ['teacher', 'tutor', 'service'];
/** Roles allowed to send heartbeats (a student for itself, a platform service for any student). */
export const HEARTBEAT_ROLES: readonly Role[] = ['student', 'service'];

/** Reads of what every member of a lesson sees (lesson, rooms, nodes, members, online counts, signals): any role of the lesson. */
export function authorizeLessonRead(c: Caller, lessonId: number): void {
  assertLessonScope(c, lessonId);
}

/** Reads of one student's own data (its position): the student itself, or staff and services of the lesson. */
export function authorizeStudentRead(c: Caller, lessonId: number, uid: number): void {
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

/** Publishing a signal into a room of the lesson: teachers, tutors and services. */
export function authorizePublish(c: Caller, lessonId: number): void {
  assertRole(c, PUBLISHER_ROLES, 'publish signals');
  assertLessonScope(c, lessonId);
}

/**
 * Broadcasting to an org node and everything under it: teachers and services
 * anywhere in the lesson, a tutor only within its own subtree (its node `t<uid>`
 * on the target's path, as the preload names tutor nodes).
 */
export function authorizeBroadcast(c: Caller, lessonId: number, nodePath: string): void {
  assertRole(c, BROADCASTER_ROLES, 'broadcast to org nodes');
  assertLessonScope(c, lessonId);
  if (c.role === 'tutor' && !nodePath.split('/').includes(`t${c.uid}`)) {
    throw new OrgError('FORBIDDEN', `tutor ${c.uid} may broadcast only within its own subtree (t${c.uid}), not to ${nodePath}`);
  }
}

/**
 * Subscribing to a room's live signals: any role of the lesson, and a student
 * only to the rooms of its own position (`studentRooms`, known since it connected).
 */
export function authorizeRoomSubscribe(c: Caller, lessonId: number, roomId: string, studentRooms: ReadonlyMap<string, number> | null): void {
  assertLessonScope(c, lessonId);
  if (c.role === 'student' && !studentRooms?.has(roomId)) throw new OrgError('ROOM_NOT_MEMBER', `student ${c.uid} is not a member of room ${roomId}`);
}

/** Picking a group: a student for itself, staff and services for any student. */
export function authorizePickGroup(c: Caller, lessonId: number, uid: number): void {
  assertLessonScope(c, lessonId);
  assertSelfIfStudent(c, uid, 'pick a group');
}

/** Muting or unmuting a student or an org node: teachers, tutors and services. */
export function authorizeMute(c: Caller, lessonId: number, muted: boolean): void {
  assertLessonScope(c, lessonId);
  assertRole(c, MUTER_ROLES, muted ? 'mute' : 'unmute');
}

/** Signing in: a student itself, staff and services for any student. */
export function authorizeSignIn(c: Caller, lessonId: number, uid: number): void {
  assertLessonScope(c, lessonId);
  assertSelfIfStudent(c, uid, 'sign in');
}

/** A heartbeat: the student itself, or a platform service on its behalf. */
export function authorizeHeartbeat(c: Caller, lessonId: number, uid: number): void {
  assertLessonScope(c, lessonId);
  assertRole(c, HEARTBEAT_ROLES, 'send heartbeats');
  assertSelfIfStudent(c, uid, 'send heartbeats');
}

/** Awarding points (or adjusting them): teachers, tutors and services of the lesson; never a student. */
export function authorizeAward(c: Caller, lessonId: number): void {
  assertLessonScope(c, lessonId);
  assertRole(c, SCORER_ROLES, 'award points');
}

/** Starting or ending a PK round: teachers, tutors and services of the lesson. */
export function authorizePk(c: Caller, lessonId: number): void {
  assertLessonScope(c, lessonId);
  assertRole(c, SCORER_ROLES, 'run PK rounds');
}

/**
 * Who acts in an interaction operation. The lesson roles map onto session
 * roles (model/interaction.ts ROLE_PERMISSIONS): the teacher is admin in every
 * room of its lesson, a tutor in its own rooms and over its own students (the
 * scripts check both against the room and the student's org path), a student
 * holds only the roles its session gives it, and a platform service acts for
 * anyone with every role: `by` names the user it acts for (0: nobody in
 * particular). A client may name only itself as `by`.
 */
export function interactionActor(c: Caller, lessonId: number, by: number | null): Actor {
  assertLessonScope(c, lessonId);
  if (c.role === 'service') return { uid: by ?? 0, admin: true, tutor: false, service: true };
  if (by !== null && by !== c.uid) throw new OrgError('FORBIDDEN', `${c.role} ${c.uid} may not act for user ${by}`);
  return { uid: c.uid, admin: c.role === 'teacher', tutor: c.role === 'tutor', service: false };
}

/** Reporting RTC membership changes: platform services only (the RTC service's callback). */
export function authorizeRtcEvent(c: Caller, lessonId: number): void {
  assertLessonScope(c, lessonId);
  assertRole(c, ['service'], 'report RTC events');
}

/** Granting or revoking a room's interaction admins: the lesson's teacher and services. */
export function authorizeRoomAdmin(c: Caller, lessonId: number): void {
  assertLessonScope(c, lessonId);
  assertRole(c, ['teacher', 'service'], 'grant or revoke room admins');
}

/** Every call of the operations console (its reads and its actions): operators only. */
export function authorizeConsole(c: Caller, what: string): void {
  assertRole(c, ['operator'], what);
}

/**
 * Throws FORBIDDEN unless the caller is a platform service. A rule about a
 * transport, not an operation (gRPC is for platform services), so the gRPC
 * transport applies it; the operation's own rule still runs in the service.
 */
export function requireService(c: Caller): void {
  assertRole(c, ['service'], 'call the gRPC API');
}

/**
 * Revoking tokens of a lesson: platform services only (the interaction
 * center's kick, an operator's tooling), scoped to the lesson like every call.
 */
export function authorizeRevoke(c: Caller, lessonId: number): void {
  assertRole(c, ['service'], 'revoke tokens');
  assertLessonScope(c, lessonId);
}

/**
 * A kick that also revokes the kicked user's tokens of the lesson (expelling a
 * student from class, not only from a session): services and the lesson's
 * teacher.
 */
export function authorizeKickRevoke(c: Caller, lessonId: number): void {
  assertRole(c, ['service', 'teacher'], 'revoke tokens on kick');
  assertLessonScope(c, lessonId);
}
