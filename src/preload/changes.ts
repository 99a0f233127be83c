// Pre-class and in-class changes from the business systems, applied to a
// preloaded lesson without a new preload: a student moves to another tutor,
// class, LPC or wechat group; the teacher changes; the lesson's time changes; a
// lesson is reopened (preloaded again from its source).
//
// Each change runs in one MySQL transaction holding the lesson row's lock, so
// concurrent batches of one lesson apply in one order to both places: validate
// against the source, write the source tables (so a later preload agrees),
// apply to the readable version by one Lua script (atomic, idempotent: a move
// says where a student goes, not how far), commit. The lesson's change counter
// is bumped before the source write and again by the script, so a preload
// compiled from the source before the change never switches in over it
// (switch_version refuses), and a check running meanwhile looks again instead
// of reporting a false mismatch.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { OrgError } from '../errors.js';
import { nodeIds } from '../model/compile.js';
import { jsonObject as obj, onlyFields as onlyKeys } from '../model/input.js';
import { parsePolicyConf, type PolicyConf } from '../model/policy.js';
import { ROOT_NODE_ID } from '../model/topology.js';
import { getBoundPolicy } from '../store/mysql/policies.js';
import type { Pool } from '../store/mysql/pool.js';
import { readLessonInfo } from '../store/mysql/source.js';
import { readMoveSource, setLessonTeacher, setLessonTime, withLessonLock, writeAssignments, type LpcAssignment, type TutorAssignment } from '../store/mysql/sourceChanges.js';
import { refreshNodeCount, replaceRoomUsers, updateRooms, upsertNodes } from '../store/mysql/topologyChanges.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import { bumpChangeSeq, changeLesson, missingNodes, moveStudents as moveInRedis, type NodeMove } from '../store/redis/lessonChanges.js';

/** What a change needs. */
export interface ChangeDeps {
  pool: Pool;
  redis: RedisClient;
  config: Pick<Config, 'keyPrefix' | 'ttlSeconds' | 'defaultPartitionSize' | 'mysqlBatchRows'> & { jobs: Pick<Config['jobs'], 'maxChangeBatch'> };
  log?: Logger;
  now?: () => number;
  /** Enqueues a new preload of a lesson (reopen); provided by the jobs layer. */
  enqueuePreload?: (lessonId: number, startTime: number) => Promise<'enqueued' | 'pending'>;
}

/**
 * One student's move. Only the fields given change; a new tutor without a class
 * clears the class (classes belong to one tutor), likewise LPC and wechat group.
 */
export interface StudentMove {
  uid: number;
  tutorUid?: number;
  classId?: number | null;
  lpcUid?: number;
  wechatGroupId?: number | null;
}

/** A change request, as the change API and queue accept it. */
export type ChangeRequest =
  | { type: 'move'; lessonId: number; moves: StudentMove[] }
  | { type: 'teacher'; lessonId: number; teacherUid: number }
  | { type: 'time'; lessonId: number; startTime: number; endTime: number }
  | { type: 'reopen'; lessonId: number };

/** How a change ended. */
export interface ChangeResult {
  lessonId: number;
  type: ChangeRequest['type'];
  /**
   * redis: applied to the readable version; source-only: the lesson has no readable
   * version with positions (not preloaded yet, or minimal mode), the next preload
   * picks it up; preload-enqueued / preload-pending: a (re)preload will apply it.
   */
  applied: 'redis' | 'source-only' | 'preload-enqueued' | 'preload-pending';
  version: number | null;
  moved?: number;
  unchanged?: number;
  roomsChanged?: number;
}

const MAX_ID = 2 ** 53 - 1;
/** Times accepted for a lesson: 2000-01-01 to 2100-01-01. */
const MIN_TIME = 946_684_800_000;
const MAX_TIME = 4_102_444_800_000;
/** Longest lesson accepted by a time change: 24 hours. */
const MAX_LESSON_MS = 86_400_000;

function posInt(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_ID) throw new OrgError('BAD_REQUEST', `${path}: expected a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function optId(o: Record<string, unknown>, k: string, path: string, nullable: boolean): number | null | undefined {
  if (!(k in o) || o[k] === undefined) return undefined;
  if (o[k] === null) {
    if (!nullable) throw new OrgError('BAD_REQUEST', `${path}.${k}: may not be null`);
    return null;
  }
  return posInt(o[k], `${path}.${k}`);
}

/** Validates a change request from outside (JSON); BAD_REQUEST names the bad field. */
export function parseChangeRequest(input: unknown, maxBatch: number): ChangeRequest {
  const o = obj(input, 'change');
  const lessonId = posInt(o.lessonId, 'change.lessonId');
  switch (o.type) {
    case 'move': {
      onlyKeys(o, 'change', ['type', 'lessonId', 'moves']);
      if (!Array.isArray(o.moves) || o.moves.length === 0) throw new OrgError('BAD_REQUEST', 'change.moves: expected a non-empty array');
      if (o.moves.length > maxBatch) throw new OrgError('LIMIT_EXCEEDED', `change.moves: ${o.moves.length} moves exceed the batch limit of ${maxBatch}`);
      const seen = new Set<number>();
      const moves = o.moves.map((m, i): StudentMove => {
        const path = `change.moves[${i}]`;
        const mo = obj(m, path);
        onlyKeys(mo, path, ['uid', 'tutorUid', 'classId', 'lpcUid', 'wechatGroupId']);
        const uid = posInt(mo.uid, `${path}.uid`);
        if (seen.has(uid)) throw new OrgError('BAD_REQUEST', `${path}.uid: student ${uid} appears twice in the batch`);
        seen.add(uid);
        const move: StudentMove = { uid };
        const tutorUid = optId(mo, 'tutorUid', path, false);
        const classId = optId(mo, 'classId', path, true);
        const lpcUid = optId(mo, 'lpcUid', path, false);
        const wechatGroupId = optId(mo, 'wechatGroupId', path, true);
        if (tutorUid != null) move.tutorUid = tutorUid;
        if (classId !== undefined) move.classId = classId;
        if (lpcUid != null) move.lpcUid = lpcUid;
        if (wechatGroupId !== undefined) move.wechatGroupId = wechatGroupId;
        if (Object.keys(move).length === 1) throw new OrgError('BAD_REQUEST', `${path}: says nothing to change (give tutorUid, classId, lpcUid or wechatGroupId)`);
        return move;
      });
      return { type: 'move', lessonId, moves };
    }
    case 'teacher':
      onlyKeys(o, 'change', ['type', 'lessonId', 'teacherUid']);
      return { type: 'teacher', lessonId, teacherUid: posInt(o.teacherUid, 'change.teacherUid') };
    case 'time': {
      onlyKeys(o, 'change', ['type', 'lessonId', 'startTime', 'endTime']);
      const startTime = posInt(o.startTime, 'change.startTime');
      const endTime = posInt(o.endTime, 'change.endTime');
      if (startTime < MIN_TIME || startTime > MAX_TIME) throw new OrgError('BAD_REQUEST', 'change.startTime: must be epoch ms between 2000 and 2100');
      if (endTime <= startTime || endTime - startTime > MAX_LESSON_MS) throw new OrgError('BAD_REQUEST', 'change.endTime: must be after startTime, at most 24 hours later');
      return { type: 'time', lessonId, startTime, endTime };
    }
    case 'reopen':
      onlyKeys(o, 'change', ['type', 'lessonId']);
      return { type: 'reopen', lessonId };
    default:
      throw new OrgError('BAD_REQUEST', `change.type: expected move | teacher | time | reopen, got ${JSON.stringify(o.type)}`);
  }
}

async function lessonPolicy(deps: ChangeDeps, lessonId: number): Promise<{ conf: PolicyConf; startTime: number }> {
  const lesson = await readLessonInfo(deps.pool, lessonId);
  if (!lesson) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
  const bound = await getBoundPolicy(deps.pool, lessonId);
  if (!bound?.policy) throw new OrgError('POLICY_NOT_BOUND', `lesson ${lessonId} has no policy bound`);
  return { conf: parsePolicyConf(bound.policy.confText, deps.config.defaultPartitionSize), startTime: lesson.startTime };
}

/** Moves students (one batch, atomic in Redis, one transaction in the source). */
export async function moveStudents(deps: ChangeDeps, lessonId: number, moves: StudentMove[]): Promise<ChangeResult> {
  const { pool, redis, config } = deps;
  const now = deps.now ?? Date.now;
  if (moves.length === 0) throw new OrgError('BAD_REQUEST', 'no moves given');
  if (moves.length > config.jobs.maxChangeBatch) throw new OrgError('LIMIT_EXCEEDED', `${moves.length} moves exceed the batch limit of ${config.jobs.maxChangeBatch}`);
  const { conf } = await lessonPolicy(deps, lessonId);
  const uids = moves.map((m) => m.uid);
  const lk = lessonKeys(config.keyPrefix, lessonId);
  await bumpChangeSeq(redis, lk, config.ttlSeconds);
  return withLessonLock(pool, lessonId, async (conn) => {
    const { enrolled, tutorOf, lpcOf, tutors, lpcs, classTutor, groupLpc } = await readMoveSource(conn, lessonId, uids);
    const org = conf.orgPolicy;

    // The source rows after the batch, and where each student lands in the tree.
    const tutorUpserts: Array<{ uid: number } & TutorAssignment> = [];
    const lpcUpserts: Array<{ uid: number } & LpcAssignment> = [];
    const nodeMoves: NodeMove[] = [];
    for (const m of moves) {
      const at = `student ${m.uid}`;
      if (!enrolled.has(m.uid)) throw new OrgError('STUDENT_NOT_FOUND', `lesson ${lessonId}: ${at} is not enrolled`);
      let t: TutorAssignment | null = tutorOf.get(m.uid) ?? null;
      if (m.tutorUid !== undefined || m.classId !== undefined) {
        const tutorUid = m.tutorUid ?? t?.tutorUid;
        if (tutorUid === undefined) throw new OrgError('BAD_REQUEST', `${at} has no tutor; give tutorUid with the class`);
        if (!tutors.has(tutorUid)) throw new OrgError('SOURCE_MISSING_TUTOR', `lesson ${lessonId}: ${tutorUid} is not a tutor of the lesson (${at})`);
        const classId = m.classId !== undefined ? m.classId : t && t.tutorUid === tutorUid ? t.classId : null;
        if (classId !== null) {
          const owner = classTutor.get(classId);
          if (owner === undefined) throw new OrgError('SOURCE_MISSING_CLASS', `lesson ${lessonId}: class ${classId} does not exist (${at})`);
          if (owner !== tutorUid) throw new OrgError('SOURCE_INCONSISTENT', `lesson ${lessonId}: class ${classId} belongs to tutor ${owner}, not ${tutorUid} (${at})`);
        } else if (org === '/lesson/tutor/class') {
          throw new OrgError('BAD_REQUEST', `${at}: a class is required under ${org}`);
        }
        t = { tutorUid, classId };
        tutorUpserts.push({ uid: m.uid, ...t });
      }
      let l: LpcAssignment | null = lpcOf.get(m.uid) ?? null;
      if (m.lpcUid !== undefined || m.wechatGroupId !== undefined) {
        const lpcUid = m.lpcUid ?? l?.lpcUid;
        if (lpcUid === undefined) throw new OrgError('BAD_REQUEST', `${at} has no LPC; give lpcUid with the wechat group`);
        if (!lpcs.has(lpcUid)) throw new OrgError('SOURCE_MISSING_LPC', `lesson ${lessonId}: ${lpcUid} is not an LPC of the lesson (${at})`);
        const groupId = m.wechatGroupId !== undefined ? m.wechatGroupId : l && l.lpcUid === lpcUid ? l.wechatGroupId : null;
        if (groupId !== null) {
          const owner = groupLpc.get(groupId);
          if (owner === undefined) throw new OrgError('SOURCE_MISSING_WECHAT_GROUP', `lesson ${lessonId}: wechat group ${groupId} does not exist (${at})`);
          if (owner !== lpcUid) throw new OrgError('SOURCE_INCONSISTENT', `lesson ${lessonId}: wechat group ${groupId} belongs to LPC ${owner}, not ${lpcUid} (${at})`);
        } else if (org === '/lesson/lpc/wechatGroup') {
          throw new OrgError('BAD_REQUEST', `${at}: a wechat group is required under ${org}`);
        }
        l = { lpcUid, wechatGroupId: groupId };
        lpcUpserts.push({ uid: m.uid, ...l });
      }
      const node =
        org === '/lesson'
          ? ROOT_NODE_ID
          : org === '/lesson/tutor/team/group'
            ? t && nodeIds.tutor(t.tutorUid)
            : org === '/lesson/tutor/class'
              ? t?.classId != null && nodeIds.class(t.classId)
              : org === '/lesson/lpc'
                ? l && nodeIds.lpc(l.lpcUid)
                : l?.wechatGroupId != null && nodeIds.wechatGroup(l.wechatGroupId);
      if (!node) throw new OrgError('SOURCE_UNASSIGNED_STUDENT', `lesson ${lessonId}: ${at} would have no place under ${org}`);
      nodeMoves.push({ uid: m.uid, nodeId: node, tutorUid: t ? t.tutorUid : null });
    }

    // Nodes the batch needs must be in the preloaded tree (a class created after the
    // preload is not): found before anything is written.
    const missing = await missingNodes(redis, lk, [...new Set(nodeMoves.map((m) => m.nodeId))]);
    if (missing.length > 0) {
      throw new OrgError('NODE_NOT_FOUND', `lesson ${lessonId}: org node(s) ${missing.slice(0, 5).join(', ')} are not in the preloaded version; reopen the lesson to preload it again`);
    }

    await writeAssignments(conn, lessonId, tutorUpserts, lpcUpserts);
    const out = await moveInRedis(redis, lk, nodeMoves, {
      now: now(),
      ttlSeconds: config.ttlSeconds,
      groupCapacity: org === '/lesson/tutor/team/group' ? conf.groups.groupCapacity : 0,
      groupsPerTeam: conf.groups.groupsPerTeam,
      tutorPhases: conf.rooms.tutorOnCamera,
    });
    if (!out) return { lessonId, type: 'move', applied: 'source-only', version: null };
    // MySQL's compiled rows follow in the same transaction, from what the script wrote.
    await replaceRoomUsers(conn, lessonId, out.version, out.positions, config.mysqlBatchRows);
    await upsertNodes(conn, lessonId, out.version, out.nodes, out.deletedNodeIds, config.mysqlBatchRows);
    await updateRooms(conn, lessonId, out.rooms);
    if (out.nodes.length > 0 || out.deletedNodeIds.length > 0) await refreshNodeCount(conn, lessonId);
    const moved = out.moved.filter(Boolean).length;
    deps.log?.info({ lessonId, version: out.version, moved, unchanged: out.moved.length - moved }, 'students moved');
    return { lessonId, type: 'move', applied: 'redis', version: out.version, moved, unchanged: out.moved.length - moved };
  });
}

/** Changes the lesson's teacher (lesson record and main room). */
export async function changeTeacher(deps: ChangeDeps, lessonId: number, teacherUid: number): Promise<ChangeResult> {
  posInt(teacherUid, 'teacherUid');
  await lessonPolicy(deps, lessonId);
  const lk = lessonKeys(deps.config.keyPrefix, lessonId);
  await bumpChangeSeq(deps.redis, lk, deps.config.ttlSeconds);
  return withLessonLock(deps.pool, lessonId, async (conn) => {
    await setLessonTeacher(conn, lessonId, teacherUid);
    const out = await changeLesson(deps.redis, lk, { now: (deps.now ?? Date.now)(), teacherUid });
    if (!out) return { lessonId, type: 'teacher', applied: 'source-only', version: null };
    await updateRooms(conn, lessonId, out.rooms);
    return { lessonId, type: 'teacher', applied: 'redis', version: out.version, roomsChanged: out.rooms.length };
  });
}

/** Changes the lesson's time (lesson record, main room, tutor rooms' windows). */
export async function changeLessonTime(deps: ChangeDeps, lessonId: number, startTime: number, endTime: number): Promise<ChangeResult> {
  parseChangeRequest({ type: 'time', lessonId, startTime, endTime }, 1);
  const { conf } = await lessonPolicy(deps, lessonId);
  const lk = lessonKeys(deps.config.keyPrefix, lessonId);
  await bumpChangeSeq(deps.redis, lk, deps.config.ttlSeconds);
  return withLessonLock(deps.pool, lessonId, async (conn) => {
    await setLessonTime(conn, lessonId, startTime, endTime);
    const out = await changeLesson(deps.redis, lk, {
      now: (deps.now ?? Date.now)(),
      time: { startTime, endTime, beforeMs: conf.rooms.beforeMinutes * 60_000, afterMs: conf.rooms.afterMinutes * 60_000 },
    });
    if (!out) return { lessonId, type: 'time', applied: 'source-only', version: null };
    await updateRooms(conn, lessonId, out.rooms);
    return { lessonId, type: 'time', applied: 'redis', version: out.version, roomsChanged: out.rooms.length };
  });
}

/**
 * Reopens a lesson: preloads it again from its source (for changes too large for
 * an incremental update, e.g. classes created after the preload). Readers keep the
 * current version until the new one switches in; in-class state is untouched.
 */
export async function reopenLesson(deps: ChangeDeps, lessonId: number): Promise<ChangeResult> {
  const { startTime } = await lessonPolicy(deps, lessonId);
  if (!deps.enqueuePreload) throw new OrgError('INTERNAL', 'reopen needs the preload queue');
  const r = await deps.enqueuePreload(lessonId, startTime);
  return { lessonId, type: 'reopen', applied: r === 'enqueued' ? 'preload-enqueued' : 'preload-pending', version: null };
}

/** Applies one validated change request. */
export async function applyChange(deps: ChangeDeps, req: ChangeRequest): Promise<ChangeResult> {
  switch (req.type) {
    case 'move':
      return moveStudents(deps, req.lessonId, req.moves);
    case 'teacher':
      return changeTeacher(deps, req.lessonId, req.teacherUid);
    case 'time':
      return changeLessonTime(deps, req.lessonId, req.startTime, req.endTime);
    case 'reopen':
      return reopenLesson(deps, req.lessonId);
  }
}
