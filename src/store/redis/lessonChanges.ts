// Changes applied to the readable version of a lesson without a new preload
// (preload/changes.ts): students moved (move_students.lua), teacher or time
// changed (change_lesson.lua), and the change counter that fences a preload
// compiled before the change. Each script is atomic and idempotent; its reply
// comes back here as the rows MySQL must follow.
import type { OrgNode, Room } from '../../model/topology.js';
import type { RedisClient } from './client.js';
import { unpack } from './codec.js';
import type { LessonKeys } from './keys.js';
import { decodePosition, type StoredPosition } from './lessonReader.js';
import { REPLY_CODES, replyError } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const MOVE_STUDENTS = scriptCommand('moveStudents');
const CHANGE_LESSON = scriptCommand('changeLesson');

/** One student's move: where it goes in the tree, and its new tutor (null: none). */
export interface NodeMove {
  uid: number;
  nodeId: string;
  tutorUid: number | null;
}

/** How the moves are applied: the lesson's group rules and tutor rooms. */
export interface MoveOptions {
  now: number;
  /** Expiry of member keys the moves create. */
  ttlSeconds: number;
  /** Seats per group (0: the lesson keeps no group seats). */
  groupCapacity: number;
  groupsPerTeam: number;
  /** Tutor phases that have rooms ('before', 'in', 'after'). */
  tutorPhases: readonly string[];
}

/** What the moves changed in the readable version. */
export interface MovesApplied {
  version: number;
  /** Per move, in order: true moved, false already there. */
  moved: boolean[];
  /** Nodes written (new or changed). */
  nodes: OrgNode[];
  deletedNodeIds: string[];
  rooms: Room[];
  /** The moved students' new positions. */
  positions: Array<StoredPosition & { uid: number }>;
}

/** What a teacher or time change changed in the readable version. */
export interface LessonChanged {
  version: number;
  /** The rooms whose teacher or time changed, as they are now. */
  rooms: Room[];
}

const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** The values of a flat [id, msgpack blob, ...] reply. */
function unpackPairs<T>(flat: readonly Buffer[]): T[] {
  const out: T[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push(unpack<T>(flat[i + 1]!));
  return out;
}

/** True when the script found nothing to apply to: no readable version (1, 2) or, for moves, no positions (minimal mode). */
function notApplied(code: number): boolean {
  const c = REPLY_CODES.moveStudents;
  return code === c.LESSON_NOT_READY || code === c.LESSON_NOT_FOUND || code === c.NO_POSITIONS;
}

/** Marks a change in flight before the source is written, so a preload compiled before it never switches in. */
export async function bumpChangeSeq(redis: RedisClient, lk: LessonKeys, ttlSeconds: number): Promise<void> {
  const res = await redis.multi().hincrby(lk.head, 'changeSeq', 1).expire(lk.head, ttlSeconds).exec();
  for (const [err] of res ?? []) if (err) throw err;
}

/** Of `nodeIds`, those the readable version does not hold (none when nothing is readable). */
export async function missingNodes(redis: RedisClient, lk: LessonKeys, nodeIds: readonly string[]): Promise<string[]> {
  const [version] = await redis.hmget(lk.head, 'version');
  if (!version || nodeIds.length === 0) return [];
  const present = await redis.hmget(lk.version(Number(version)).nodes, ...nodeIds);
  return nodeIds.filter((_, i) => present[i] === null);
}

/**
 * Moves students in the readable version (atomic; a move to where a student is
 * already changes nothing). Null when there is nothing to move them in: not
 * preloaded yet, or a minimal version without positions. STUDENT_NOT_FOUND or
 * NODE_NOT_FOUND when the version lacks one, and then nothing changed.
 */
export async function moveStudents(redis: RedisClient, lk: LessonKeys, moves: readonly NodeMove[], o: MoveOptions): Promise<MovesApplied | null> {
  const triples: string[] = [];
  for (const m of moves) triples.push(String(m.uid), m.nodeId, m.tutorUid === null ? '' : String(m.tutorUid));
  const reply = await redis[MOVE_STUDENTS](lk.head, o.now, o.ttlSeconds, o.groupCapacity, o.groupsPerTeam, o.tutorPhases.join(','), ...triples);
  const code = Number(reply[0]);
  if (notApplied(code)) return null;
  // {4, uid} and {5, node id}: the detail names the student or node.
  if (code !== REPLY_CODES.moveStudents.OK) throw replyError('moveStudents', reply, { lessonId: lk.lessonId, uid: Number(str(reply[1])), nodeId: str(reply[1]) });
  const [statuses, nodesFlat, deleted, roomsFlat, movedFlat] = reply.slice(3) as [number[], Buffer[], Buffer[], Buffer[], Buffer[]];
  const positions: MovesApplied['positions'] = [];
  for (let i = 0; i + 1 < movedFlat.length; i += 2) positions.push({ uid: Number(str(movedFlat[i])), ...decodePosition(movedFlat[i + 1]!) });
  return {
    version: Number(reply[1]),
    moved: statuses.map((s) => Number(s) === 1),
    nodes: unpackPairs<OrgNode>(nodesFlat),
    deletedNodeIds: deleted.map(str),
    rooms: unpackPairs<Room>(roomsFlat),
    positions,
  };
}

/** A teacher change, a time change (with the tutor rooms' windows around it), or both. */
export interface LessonChange {
  now: number;
  teacherUid?: number;
  time?: { startTime: number; endTime: number; beforeMs: number; afterMs: number };
}

/** Changes the teacher and/or time of the readable version and the rooms that follow it; null when nothing is readable. */
export async function changeLesson(redis: RedisClient, lk: LessonKeys, c: LessonChange): Promise<LessonChanged | null> {
  const t = c.time;
  const reply = await redis[CHANGE_LESSON](
    lk.head,
    c.now,
    c.teacherUid === undefined ? '' : String(c.teacherUid),
    t ? String(t.startTime) : '',
    t ? String(t.endTime) : '',
    t?.beforeMs ?? 0,
    t?.afterMs ?? 0,
  );
  const code = Number(reply[0]);
  if (code === REPLY_CODES.changeLesson.LESSON_NOT_READY || code === REPLY_CODES.changeLesson.LESSON_NOT_FOUND) return null;
  if (code !== REPLY_CODES.changeLesson.OK) throw replyError('changeLesson', reply, { lessonId: lk.lessonId });
  return { version: Number(reply[1]), rooms: unpackPairs<Room>(reply[4] as Buffer[]) };
}
