// The return codes of the mutation scripts (see lua/_mutation.lua) and the one
// place that turns them into typed errors.
import { OrgError } from '../../errors.js';

/** Codes the mutation scripts return as the first element of their reply. */
export const MutationCode = {
  OK: 0,
  LESSON_NOT_READY: 1,
  LESSON_NOT_FOUND: 2,
  STUDENT_NOT_FOUND: 3,
  NODE_NOT_FOUND: 4,
  ROOM_NOT_FOUND: 5,
  GROUPS_NOT_ENABLED: 6,
  GROUP_FULL: 7,
  NOT_A_GROUP: 8,
  GROUP_NOT_IN_TEAM: 9,
  STUDENT_NOT_IN_ROOM: 10,
  NODE_NOT_IN_ROOM: 11,
  BACKPRESSURE: 12,
  NO_FREE_GROUP: 13,
} as const;

/** What a mutation was about, for error messages. */
export interface MutationContext {
  lessonId: number;
  uid?: number;
  roomId?: string;
  nodeId?: string;
}

const s = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** The typed error for a script reply whose code is not OK. */
export function mutationError(reply: ReadonlyArray<unknown>, ctx: MutationContext): OrgError {
  const code = Number(reply[0]);
  const L = `lesson ${ctx.lessonId}`;
  const who = ctx.uid !== undefined ? `student ${ctx.uid}` : 'student';
  const room = JSON.stringify(ctx.roomId ?? '');
  const node = JSON.stringify(ctx.nodeId ?? '');
  switch (code) {
    case MutationCode.LESSON_NOT_READY:
      return new OrgError('LESSON_NOT_READY', `${L} is not ready (${s(reply[1])})`, { status: s(reply[1]) });
    case MutationCode.LESSON_NOT_FOUND:
      return new OrgError('LESSON_NOT_FOUND', `${L} is not preloaded`);
    case MutationCode.STUDENT_NOT_FOUND:
      return new OrgError('STUDENT_NOT_FOUND', `${who} has no position in ${L}`);
    case MutationCode.NODE_NOT_FOUND:
      return new OrgError('NODE_NOT_FOUND', `${L} has no org node ${node}`);
    case MutationCode.ROOM_NOT_FOUND:
      return new OrgError('ROOM_NOT_FOUND', `${L} has no room ${room}`);
    case MutationCode.GROUPS_NOT_ENABLED:
      return new OrgError('GROUPS_NOT_ENABLED', `${L} has no groups to pick (org policy ${s(reply[1]) || 'unknown'}; groups need /lesson/tutor/team/group)`);
    case MutationCode.GROUP_FULL:
      return new OrgError('GROUP_FULL', `group ${node} is full (${s(reply[1])}/${s(reply[2])})`, { taken: Number(reply[1]), capacity: Number(reply[2]) });
    case MutationCode.NOT_A_GROUP:
      return new OrgError('NOT_A_GROUP', `node ${node} is a ${s(reply[1]) || 'node'}, not a group`);
    case MutationCode.GROUP_NOT_IN_TEAM:
      return new OrgError('GROUP_NOT_IN_TEAM', `group ${node} is not in a team of ${who}'s tutor`);
    case MutationCode.STUDENT_NOT_IN_ROOM:
      return new OrgError('STUDENT_NOT_IN_ROOM', `${who} is not a member of room ${room}`);
    case MutationCode.NODE_NOT_IN_ROOM:
      return new OrgError('NODE_NOT_IN_ROOM', `node ${node} is not under room ${room}'s root node`);
    case MutationCode.BACKPRESSURE:
      return new OrgError('BACKPRESSURE', `${L}: ${s(reply[1])} changes are waiting to be written to MySQL; retry later`, { streamLength: Number(reply[1]) });
    case MutationCode.NO_FREE_GROUP:
      return new OrgError('NO_FREE_GROUP', `every group of ${who}'s tutor is full and no more may be created`);
    default:
      return new OrgError('INTERNAL', `${L}: mutation script returned unknown code ${JSON.stringify(reply[0])}`);
  }
}
