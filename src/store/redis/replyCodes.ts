// The return codes of the Lua scripts, named per script, and the one place that
// turns a code into a typed error. A script answers with a small number first
// (its Lua constants OK, E_<NAME>); the same number means different things in
// different scripts (3 is STUDENT_NOT_FOUND in enter.lua, ROOM_NOT_FOUND in
// publish_signal.lua), so each script's table says what its numbers mean. A
// unit test reads the constants out of the Lua files and compares them with
// these tables, so the two sides cannot drift apart.
import { OrgError } from '../../errors.js';
import type { ScriptName } from './scripts.js';
import { rolesOf } from '../../model/interaction.js';

/** Codes of every script that reads the readable version (lua/_head.lua). */
export const HEAD_CODES = { OK: 0, LESSON_NOT_READY: 1, LESSON_NOT_FOUND: 2 } as const;

/** Codes of the in-class mutation scripts (lua/_mutation.lua). */
export const MUTATION_CODES = {
  ...HEAD_CODES,
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

/** Codes of the score scripts (lua/_score.lua). */
export const SCORE_CODES = {
  ...MUTATION_CODES,
  PK_ROUND_RUNNING: 14,
  PK_ROUND_CLOSED: 15,
  PK_ROUND_NOT_FOUND: 16,
  PK_SIDES_INVALID: 17,
} as const;

/** Codes of the interaction scripts (lua/_interaction.lua): the mutation codes and the interaction center's own. */
export const INTERACTION_CODES = {
  ...MUTATION_CODES,
  USER_NOT_FOUND: 20,
  SESSION_NOT_FOUND: 21,
  LINK_NOT_FOUND: 22,
  INVALID_TRANSITION: 23,
  USER_BUSY: 24,
  SESSION_FULL: 25,
  SESSION_ENDED: 26,
  FORBIDDEN: 27,
  CHANNEL_IN_USE: 28,
  LIMIT_REACHED: 29,
  BAD_INPUT: 30,
  SEAT_NOT_FOUND: 31,
  SEAT_TAKEN: 32,
  SEAT_LOCKED: 33,
  SEAT_HOST_ONLY: 34,
  SEAT_CAPABILITY: 35,
  NO_FREE_SEAT: 36,
  NO_SEATED_LINK: 37,
  NOT_SEATED: 38,
  SEATS_DO_NOT_FIT: 39,
  SEAT_EMPTY: 40,
} as const;

/**
 * Every script that answers with a code first, and what its codes mean. The
 * others (end_preload, check_slot, wb_ack, wb_retire, wb_forget) answer with a
 * count or a flag.
 */
export const REPLY_CODES = {
  beginPreload: { OK: 0, LOCKED: 1 },
  switchVersion: { OK: 0, LOCK_LOST: 1, NOT_NEWER: 2, SOURCE_CHANGED: 3 },
  readLesson: HEAD_CODES,
  readRoom: HEAD_CODES,
  readPosition: HEAD_CODES,
  readNodeView: HEAD_CODES,
  enter: { ...HEAD_CODES, STUDENT_NOT_FOUND: 3, ROOM_NOT_FOUND: 4, ROOM_NOT_MEMBER: 5 },
  readEnterShared: HEAD_CODES,
  readMembersPage: { ...HEAD_CODES, ROOM_NOT_FOUND: 3 },
  readOnline: { ...HEAD_CODES, ROOM_NOT_FOUND: 3 },
  readSignals: { ...HEAD_CODES, ROOM_NOT_FOUND: 3 },
  publishSignal: { ...HEAD_CODES, ROOM_NOT_FOUND: 3, PAYLOAD_TOO_LARGE: 4, BACKPRESSURE: 5 },
  moveStudents: { ...HEAD_CODES, STUDENT_NOT_FOUND: 4, NODE_NOT_FOUND: 5, NO_POSITIONS: 6 },
  changeLesson: HEAD_CODES,
  pickGroup: MUTATION_CODES,
  mute: MUTATION_CODES,
  signIn: MUTATION_CODES,
  heartbeat: MUTATION_CODES,
  wbRejournal: MUTATION_CODES,
  wbRestore: { OK: 0 },
  award: SCORE_CODES,
  pkStart: SCORE_CODES,
  pkEnd: { OK: 0, BACKPRESSURE: 12, PK_ROUND_CLOSED: 15, PK_ROUND_NOT_FOUND: 16 },
  readScores: SCORE_CODES,
  iaCreate: INTERACTION_CODES,
  iaLink: INTERACTION_CODES,
  iaEnd: INTERACTION_CODES,
  iaRtc: INTERACTION_CODES,
  iaExpire: INTERACTION_CODES,
  iaRtcCheck: INTERACTION_CODES,
  iaInfo: INTERACTION_CODES,
  iaAdmin: INTERACTION_CODES,
  iaRejournal: INTERACTION_CODES,
  iaSeat: INTERACTION_CODES,
} as const satisfies Partial<Record<ScriptName, Readonly<Record<string, number>>>>;

/** A script whose reply starts with a code. */
export type CodedScript = keyof typeof REPLY_CODES;

/** What a failed call was about, for the error's message: the caller's inputs, or a script's own detail. */
export interface ReplyContext {
  lessonId: number;
  uid?: number;
  roomId?: string;
  nodeId?: string;
  /** A PK round's scope (`s:<sessionId>` or `r:<roomId>`) and id. */
  scope?: string;
  roundId?: string;
  /** The version a preload run wrote (switchVersion). */
  version?: number;
  /** The interaction session acted on. */
  sessionId?: string;
}

const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** The name a script gives to a code, or undefined for a code it does not have. */
function reasonOf(script: CodedScript, code: number): string | undefined {
  for (const [name, c] of Object.entries(REPLY_CODES[script])) if (c === code) return name;
  return undefined;
}

/**
 * The typed error for a script reply whose code is not OK: the one translation
 * of script codes to error codes. Details beyond the code come from the reply
 * (a status, a count) or from `ctx`.
 */
export function replyError(script: CodedScript, reply: ReadonlyArray<unknown>, ctx: ReplyContext): OrgError {
  const L = `lesson ${ctx.lessonId}`;
  const who = ctx.uid !== undefined ? `student ${ctx.uid}` : 'student';
  const room = JSON.stringify(ctx.roomId ?? '');
  const node = JSON.stringify(ctx.nodeId ?? '');
  const reason = reasonOf(script, Number(reply[0]));
  switch (reason) {
    case 'LESSON_NOT_READY':
      return new OrgError('LESSON_NOT_READY', `${L} is not ready (${str(reply[1])})`, { status: str(reply[1]) });
    case 'LESSON_NOT_FOUND':
      return new OrgError('LESSON_NOT_FOUND', `${L} is not preloaded`);
    case 'STUDENT_NOT_FOUND':
      return new OrgError('STUDENT_NOT_FOUND', `${who} has no position in ${L}`);
    case 'NODE_NOT_FOUND':
      return new OrgError('NODE_NOT_FOUND', `${L} has no org node ${node}`);
    case 'ROOM_NOT_FOUND':
      return new OrgError('ROOM_NOT_FOUND', `${L} has no room ${room}`);
    case 'ROOM_NOT_MEMBER':
      return new OrgError('ROOM_NOT_MEMBER', `${who} is not a member of room ${room} of ${L}`);
    case 'GROUPS_NOT_ENABLED':
      return new OrgError('GROUPS_NOT_ENABLED', `${L} has no groups to pick (org policy ${str(reply[1]) || 'unknown'}; groups need /lesson/tutor/team/group)`);
    case 'GROUP_FULL':
      return new OrgError('GROUP_FULL', `group ${node} is full (${str(reply[1])}/${str(reply[2])})`, { taken: Number(reply[1]), capacity: Number(reply[2]) });
    case 'NOT_A_GROUP':
      return new OrgError('NOT_A_GROUP', `node ${node} is a ${str(reply[1]) || 'node'}, not a group`);
    case 'GROUP_NOT_IN_TEAM':
      return new OrgError('GROUP_NOT_IN_TEAM', `group ${node} is not in a team of ${who}'s tutor`);
    case 'STUDENT_NOT_IN_ROOM':
      return new OrgError('STUDENT_NOT_IN_ROOM', `${who} is not a member of room ${room}`);
    case 'NODE_NOT_IN_ROOM':
      return new OrgError('NODE_NOT_IN_ROOM', `node ${node} is not under room ${room}'s root node`);
    case 'BACKPRESSURE':
      return new OrgError('BACKPRESSURE', `${L}: ${str(reply[1])} changes are waiting to be written to MySQL; retry later`, { streamLength: Number(reply[1]) });
    case 'NO_FREE_GROUP':
      return new OrgError('NO_FREE_GROUP', `every group of ${who}'s tutor is full and no more may be created`);
    case 'PAYLOAD_TOO_LARGE':
      return new OrgError('PAYLOAD_TOO_LARGE', `signal payload of ${Number(reply[1])} bytes is too large`);
    case 'PK_ROUND_RUNNING':
      return new OrgError('PK_ROUND_RUNNING', `${L}: PK round ${str(reply[1])} runs in ${ctx.scope ?? 'this scope'} until ${str(reply[2])}; one round at a time`, {
        roundId: Number(reply[1]),
        endsAt: Number(reply[2]),
      });
    case 'PK_ROUND_CLOSED':
      return new OrgError('PK_ROUND_CLOSED', `${L}: PK round ${str(reply[1])} is not running (ended ${str(reply[2]) || 'or not started'})`, {
        roundId: Number(reply[1]),
        endedAt: reply[2] === '' || reply[2] === undefined ? null : Number(reply[2]),
      });
    case 'PK_ROUND_NOT_FOUND':
      return new OrgError('PK_ROUND_NOT_FOUND', `${L}: no PK round ${ctx.roundId ? `${ctx.roundId} ` : ''}in ${ctx.scope ?? 'this scope'}`);
    case 'PK_SIDES_INVALID':
      return new OrgError('BAD_REQUEST', `${L}: PK sides ${node}: ${str(reply[1])}`);
    case 'USER_NOT_FOUND':
      return new OrgError('USER_NOT_FOUND', `user ${str(reply[1])} is not a member of ${L}`, { uid: Number(str(reply[1])) });
    case 'SESSION_NOT_FOUND':
      return new OrgError('SESSION_NOT_FOUND', `${L} has no interaction session ${JSON.stringify(str(reply[1] ?? ctx.sessionId ?? ''))}`);
    case 'LINK_NOT_FOUND':
      return new OrgError('LINK_NOT_FOUND', `user ${str(reply[1])} has no link in session ${ctx.sessionId ?? '?'} of ${L}`);
    case 'INVALID_TRANSITION':
      return new OrgError('INVALID_TRANSITION', `a link cannot go from ${str(reply[1])} to ${str(reply[2])}`, { from: str(reply[1]), to: str(reply[2]) });
    case 'USER_BUSY':
      return new OrgError('USER_BUSY', `user ${str(reply[1])} is already in interaction ${str(reply[2])} of ${L}`, { uid: Number(str(reply[1])), sessionId: str(reply[2]) });
    case 'SESSION_FULL':
      return new OrgError('SESSION_FULL', `session ${ctx.sessionId ?? ''} is full (${str(reply[1])}/${str(reply[2])} seats)`, { seated: Number(reply[1]), capacity: Number(reply[2]) });
    case 'SESSION_ENDED':
      return new OrgError('SESSION_ENDED', `session ${ctx.sessionId ?? ''} has ended (${str(reply[1])})`, { reason: str(reply[1]) });
    case 'FORBIDDEN':
      return new OrgError('FORBIDDEN', `roles ${rolesOf(Number(reply[2])).join(', ') || 'none'} may not ${str(reply[1])} in session ${ctx.sessionId ?? ''}`, {
        permission: str(reply[1]),
        roles: rolesOf(Number(reply[2])),
      });
    case 'CHANNEL_IN_USE':
      return new OrgError('CHANNEL_IN_USE', `the RTC channel is held by active session ${str(reply[1])}`, { sessionId: str(reply[1]) });
    case 'LIMIT_REACHED':
      return new OrgError('LIMIT_REACHED', `too many ${str(reply[1])} (${str(reply[2])}/${str(reply[3])})`, { what: str(reply[1]), count: Number(reply[2]), max: Number(reply[3]) });
    case 'BAD_INPUT':
      return new OrgError('BAD_REQUEST', str(reply[1]));
    case 'SEAT_NOT_FOUND':
      return new OrgError('SEAT_NOT_FOUND', `session ${ctx.sessionId ?? ''} has no seat ${JSON.stringify(str(reply[1]))}`, { seat: str(reply[1]) });
    case 'SEAT_TAKEN':
      return new OrgError('SEAT_TAKEN', `seat ${str(reply[1])} is taken by user ${str(reply[2])}`, { seat: Number(reply[1]), uid: Number(str(reply[2])) });
    case 'SEAT_LOCKED':
      return new OrgError('SEAT_LOCKED', `seat ${str(reply[1])} is locked`, { seat: Number(reply[1]) });
    case 'SEAT_HOST_ONLY':
      return new OrgError('SEAT_HOST_ONLY', `seat ${str(reply[1])} is the host's (the session's creator's) only`, { seat: Number(reply[1]) });
    case 'SEAT_CAPABILITY':
      return new OrgError('SEAT_CAPABILITY', `seat ${str(reply[1])} carries no ${str(reply[2])}`, { seat: Number(reply[1]), media: str(reply[2]) });
    case 'NO_FREE_SEAT':
      return new OrgError('NO_FREE_SEAT', `session ${ctx.sessionId ?? ''} has no free unlocked seat for user ${ctx.uid ?? '?'}`);
    case 'NO_SEATED_LINK':
      return new OrgError('NO_SEATED_LINK', `user ${str(reply[1])} has no accepted (connecting or connected) link in session ${ctx.sessionId ?? ''}`, { uid: Number(str(reply[1])) });
    case 'NOT_SEATED':
      return new OrgError('NOT_SEATED', `user ${str(reply[1])} holds no seat in session ${ctx.sessionId ?? ''}`, { uid: Number(str(reply[1])) });
    case 'SEATS_DO_NOT_FIT':
      return new OrgError('SEATS_DO_NOT_FIT', `${str(reply[1])} seated user(s) do not fit the ${str(reply[2])} seat(s) of the new layout`, { occupants: Number(reply[1]), seats: Number(reply[2]) });
    case 'SEAT_EMPTY':
      return new OrgError('SEAT_EMPTY', `seat ${str(reply[1])} is empty`, { seat: Number(reply[1]) });
    case 'LOCKED':
      return new OrgError('PRELOAD_IN_PROGRESS', `${L} is being preloaded by another run`);
    case 'LOCK_LOST':
      return new OrgError('PRELOAD_IN_PROGRESS', `${L}: the preload lock expired before the switch; another run owns the lesson`);
    case 'NOT_NEWER':
      return new OrgError('PRELOAD_IN_PROGRESS', `${L}: version ${str(reply[1])} is newer than this run's ${ctx.version ?? '?'}`);
    case 'SOURCE_CHANGED':
      return new OrgError('SOURCE_CHANGED', `${L}: a change arrived while version ${ctx.version ?? '?'} was compiled; preload again`);
    default:
      // OK, NO_POSITIONS and unknown codes are not errors a caller can act on: a bug.
      return new OrgError('INTERNAL', `${L}: script ${script} answered code ${JSON.stringify(reply[0])}${reason ? ` (${reason})` : ''} where an error was expected`);
  }
}
