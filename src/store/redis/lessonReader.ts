// Reads of the readable version of a lesson: each is one Lua script, one round
// trip. A lesson with no readable version answers LESSON_NOT_READY (a preload is
// running or failed) or LESSON_NOT_FOUND (never preloaded here).
import { OrgError } from '../../errors.js';
import type { BizType, OrgPolicy, PreloadMode, StreamPolicy } from '../../model/policy.js';
import type { LessonRecord, Room } from '../../model/topology.js';
import type { RedisClient } from './client.js';
import { unpack } from './codec.js';
import type { LessonKeys } from './keys.js';
import { REPLY_CODES, replyError, type CodedScript } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const READ_LESSON = scriptCommand('readLesson');
const READ_ROOM = scriptCommand('readRoom');
const READ_POSITION = scriptCommand('readPosition');

/** The lesson record of a version, plus how positions are bucketed. */
export interface StoredLesson extends LessonRecord {
  version: number;
  posBuckets: number;
}

/** A student's position as stored: org node and (room, partition) pairs. */
export interface StoredPosition {
  nodeId: string;
  rooms: Array<{ roomId: string; partition: number }>;
}

const str = (b: unknown): string => (Buffer.isBuffer(b) ? b.toString('utf8') : String(b));

/** Checks the status prefix every read script returns; returns the version and the rest. */
function unwrap(script: CodedScript, lessonId: number, reply: unknown[]): { version: number; rest: unknown[] } {
  if (Number(reply[0]) !== REPLY_CODES[script].OK) throw replyError(script, reply, { lessonId });
  return { version: Number(str(reply[1])), rest: reply.slice(2) };
}

/** Turns an HGETALL flat reply of the lesson hash into a record. */
export function decodeLessonHash(flat: unknown[]): StoredLesson {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[str(flat[i])] = str(flat[i + 1]);
  const n = (k: string) => Number(h[k]);
  return {
    lessonId: n('lessonId'),
    courseId: n('courseId'),
    title: h.title ?? '',
    teacherUid: n('teacherUid'),
    startTime: n('startTime'),
    endTime: n('endTime'),
    policyId: n('policyId'),
    bizType: h.bizType as BizType,
    streamPolicy: h.streamPolicy as StreamPolicy,
    orgPolicy: h.orgPolicy as OrgPolicy,
    preloadMode: h.preloadMode as PreloadMode,
    partitionSize: n('partitionSize'),
    studentCount: n('studentCount'),
    roomCount: n('roomCount'),
    nodeCount: n('nodeCount'),
    version: n('version'),
    posBuckets: n('posBuckets'),
  };
}

/** Decodes a stored position blob. */
export function decodePosition(blob: Buffer): StoredPosition {
  const p = unpack<{ n: string; r: Array<[string, number]> }>(blob);
  return { nodeId: p.n, rooms: p.r.map(([roomId, partition]) => ({ roomId, partition })) };
}

/** The lesson and all its rooms. */
export async function readLesson(redis: RedisClient, lk: LessonKeys): Promise<{ lesson: StoredLesson; rooms: Room[] }> {
  const { rest } = unwrap('readLesson', lk.lessonId, await redis[READ_LESSON](lk.head));
  const roomsFlat = rest[1] as Buffer[];
  const rooms: Room[] = [];
  for (let i = 1; i < roomsFlat.length; i += 2) rooms.push(unpack<Room>(roomsFlat[i]!));
  return { lesson: decodeLessonHash(rest[0] as unknown[]), rooms };
}

/** One room. */
export async function readRoom(redis: RedisClient, lk: LessonKeys, roomId: string): Promise<Room> {
  const { rest } = unwrap('readRoom', lk.lessonId, await redis[READ_ROOM](lk.head, roomId));
  if (!rest[0]) throw new OrgError('ROOM_NOT_FOUND', `lesson ${lk.lessonId} has no room ${JSON.stringify(roomId)}`);
  return unpack<Room>(rest[0] as Buffer);
}

/** A student's position. */
export async function readPosition(redis: RedisClient, lk: LessonKeys, uid: number): Promise<StoredPosition> {
  const { rest } = unwrap('readPosition', lk.lessonId, await redis[READ_POSITION](lk.head, uid));
  if (!rest[0]) throw new OrgError('STUDENT_NOT_FOUND', `student ${uid} has no position in lesson ${lk.lessonId}`);
  return decodePosition(rest[0] as Buffer);
}

/** How much a version holds, from its lesson record (NaN where the record lacks a count). */
export async function readVersionCounts(redis: RedisClient, lk: LessonKeys, version: number): Promise<{ rooms: number; nodes: number; positions: number }> {
  const [rooms, nodes, positions] = await redis.hmget(lk.version(version).lesson, 'roomCount', 'nodeCount', 'studentCount');
  return { rooms: Number(rooms), nodes: Number(nodes), positions: Number(positions) };
}

/** Head of a lesson: status and readable version (0 when none). */
export async function readHead(redis: RedisClient, lk: LessonKeys): Promise<{ status: string | null; version: number }> {
  const [status, version] = await redis.hmget(lk.head, 'status', 'version');
  return { status: status ?? null, version: version ? Number(version) : 0 };
}
