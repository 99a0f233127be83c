// The gateway's reads beyond lessonReader.ts: enter, node with relatives, a
// members page across partitions, and online counts. Each is one Lua script, one
// round trip; replies are decoded here and status codes become typed errors
// in replyCodes.ts.
import { OrgError } from '../../errors.js';
import type { OrgNode, Room } from '../../model/topology.js';
import type { RedisClient } from './client.js';
import { unpack } from './codec.js';
import type { LessonKeys } from './keys.js';
import { decodeLessonHash, decodePosition, type StoredLesson, type StoredPosition } from './lessonReader.js';
import { REPLY_CODES, replyError } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const ENTER = scriptCommand('enter');
const READ_ENTER_SHARED = scriptCommand('readEnterShared');
const READ_NODE_VIEW = scriptCommand('readNodeView');
const READ_MEMBERS_PAGE = scriptCommand('readMembersPage');
const READ_ONLINE = scriptCommand('readOnline');

const str = (b: unknown): string => (Buffer.isBuffer(b) ? b.toString('latin1') : String(b));
const utf8 = (b: unknown): string => (Buffer.isBuffer(b) ? b.toString('utf8') : String(b));
const blobLen = (b: unknown): number => (Buffer.isBuffer(b) ? b.length : 0);

/** What enter.lua found for one student. */
export interface EnterRead {
  version: number;
  /** Change sequence of the version's lesson-level part (bumped by in-place changes). */
  changeSeq: number;
  /**
   * True when the reply left out the lesson-level part because the caller holds
   * it for this version and change sequence: `lesson` is null, `rooms` empty, and
   * `node` is null unless the student's node was made or changed in class.
   */
  shared: boolean;
  lesson: StoredLesson | null;
  position: StoredPosition;
  node: OrgNode | null;
  /** The student's rooms, in position order (a room missing from the version is left out). */
  rooms: Room[];
  roomId: string;
  groupId: string | null;
  group: OrgNode | null;
  mutedSelf: boolean;
  mutedNode: string | null;
  signedInAt: number | null;
  /** Reply size, for cache accounting. */
  bytes: number;
  /** Fingerprint of this answer (enter.lua): handed back on a refresh, Redis answers `unchanged` while it holds. */
  fingerprint: string;
  unchanged: false;
}

/** enter.lua's answer to a refresh whose fingerprint still holds: nothing changed. */
export interface EnterUnchanged {
  unchanged: true;
  version: number;
  changeSeq: number;
  fingerprint: string;
}

/**
 * Runs enter.lua: one round trip. `held` names the lesson-level part the caller
 * holds (version, change sequence, position bucket count), if any;
 * `fingerprint` the answer it holds for this student and room, if any (then
 * the reply is EnterUnchanged while that answer is still current).
 */
export async function readEnter(
  redis: RedisClient,
  lk: LessonKeys,
  uid: number,
  roomId: string,
  held: { version: number; changeSeq: number; posBuckets: number } | null = null,
  fingerprint = '',
): Promise<EnterRead | EnterUnchanged> {
  const r = await redis[ENTER](lk.head, uid, roomId, held?.version ?? 0, held ? String(held.changeSeq) : '', held?.posBuckets ?? 0, fingerprint);
  if (Number(r[0]) !== REPLY_CODES.enter.OK) throw replyError('enter', r, { lessonId: lk.lessonId, uid, roomId });
  if (Number(r[15]) === 1) return { unchanged: true, version: Number(str(r[1])), changeSeq: Number(str(r[12])), fingerprint: str(r[14]) };
  const lessonFlat = r[2] as Buffer[] | null;
  const roomBlobs = (r[5] as Array<Buffer | null>) ?? [];
  const rooms: Room[] = [];
  let bytes = 0;
  for (const b of roomBlobs) {
    if (Buffer.isBuffer(b)) {
      rooms.push(unpack<Room>(b));
      bytes += b.length;
    }
  }
  if (lessonFlat) for (const b of lessonFlat) bytes += blobLen(b);
  bytes += blobLen(r[3]) + blobLen(r[4]) + blobLen(r[8]) + 64;
  return {
    version: Number(str(r[1])),
    changeSeq: Number(str(r[12])),
    shared: Number(r[13]) === 1,
    lesson: lessonFlat ? decodeLessonHash(lessonFlat) : null,
    position: decodePosition(r[3] as Buffer),
    node: Buffer.isBuffer(r[4]) ? unpack<OrgNode>(r[4]) : null,
    rooms,
    roomId: utf8(r[6]),
    groupId: r[7] === null ? null : utf8(r[7]),
    group: Buffer.isBuffer(r[8]) ? unpack<OrgNode>(r[8]) : null,
    mutedSelf: Number(r[9]) === 1,
    mutedNode: r[10] === null ? null : utf8(r[10]),
    signedInAt: r[11] === null ? null : Number(str(r[11])),
    bytes,
    fingerprint: str(r[14]),
    unchanged: false,
  };
}

/** The lesson-level part of enter every student of a lesson shares, as read_enter_shared.lua returns it. */
export interface EnterSharedRead {
  version: number;
  changeSeq: number;
  /** Position bucket count of the version (the lesson record's posBuckets). */
  posBuckets: number;
  lesson: StoredLesson;
  rooms: Map<string, Room>;
  /** The version's preloaded org nodes by id. */
  nodes: Map<string, OrgNode>;
  /** Reply size, for cache accounting. */
  bytes: number;
}

/** Runs read_enter_shared.lua: one round trip, once per lesson version and change sequence per gateway worker. */
export async function readEnterShared(redis: RedisClient, lk: LessonKeys): Promise<EnterSharedRead> {
  const r = await redis[READ_ENTER_SHARED](lk.head);
  if (Number(r[0]) !== REPLY_CODES.readEnterShared.OK) throw replyError('readEnterShared', r, { lessonId: lk.lessonId });
  let bytes = 0;
  const byId = <T>(flat: unknown): Map<string, T> => {
    const out = new Map<string, T>();
    const a = (flat as Buffer[]) ?? [];
    for (let i = 0; i + 1 < a.length; i += 2) {
      out.set(utf8(a[i]), unpack<T>(a[i + 1]!));
      bytes += a[i + 1]!.length;
    }
    return out;
  };
  const lessonFlat = r[3] as Buffer[];
  for (const b of lessonFlat) bytes += blobLen(b);
  const lesson = decodeLessonHash(lessonFlat);
  return { version: Number(str(r[1])), changeSeq: Number(str(r[2])), posBuckets: lesson.posBuckets, lesson, rooms: byId<Room>(r[4]), nodes: byId<OrgNode>(r[5]), bytes };
}

/** A node with its children and ancestors (root first). */
export interface NodeRead {
  version: number;
  node: OrgNode;
  children: OrgNode[];
  ancestors: OrgNode[];
  bytes: number;
}

/** Runs read_node_view.lua: one round trip. */
export async function readNodeView(redis: RedisClient, lk: LessonKeys, nodeId: string): Promise<NodeRead> {
  const r = await redis[READ_NODE_VIEW](lk.head, nodeId);
  if (Number(r[0]) !== REPLY_CODES.readNodeView.OK) throw replyError('readNodeView', r, { lessonId: lk.lessonId, nodeId });
  if (!Buffer.isBuffer(r[2])) throw new OrgError('NODE_NOT_FOUND', `lesson ${lk.lessonId} has no org node ${JSON.stringify(nodeId)}`);
  let bytes = r[2].length;
  const list = (x: unknown): OrgNode[] => {
    const out: OrgNode[] = [];
    for (const b of (x as Array<Buffer | null>) ?? []) {
      if (Buffer.isBuffer(b)) {
        out.push(unpack<OrgNode>(b));
        bytes += b.length;
      }
    }
    return out;
  };
  const children = list(r[3]);
  const ancestors = list(r[4]);
  const node = unpack<OrgNode>(r[2]);
  // Groups created in class under this node (a team): its children list names them too.
  if (Buffer.isBuffer(r[5])) {
    const extra = unpack<string[]>(r[5]);
    node.childIds = [...(node.childIds ?? []), ...extra];
    bytes += r[5].length;
  }
  return { version: Number(str(r[1])), node, children, ancestors, bytes };
}

/** One member of a page. */
export interface MemberRead {
  uid: number;
  order: number;
  partition: number;
}

/** A page of members and whether more follow. */
export interface MembersRead {
  version: number;
  partitions: number;
  members: MemberRead[];
  more: boolean;
}

/** Runs read_members_page.lua: one round trip, continuing across partitions unless `onePartition`. */
export async function readMembersPage(
  redis: RedisClient,
  lk: LessonKeys,
  roomId: string,
  partition: number,
  afterOrder: number | null,
  limit: number,
  onePartition: boolean,
): Promise<MembersRead> {
  const r = await redis[READ_MEMBERS_PAGE](lk.head, roomId, partition, afterOrder === null ? '-inf' : String(afterOrder), limit, onePartition ? '1' : '0');
  if (Number(r[0]) !== REPLY_CODES.readMembersPage.OK) throw replyError('readMembersPage', r, { lessonId: lk.lessonId, roomId });
  const flat = r[3] as Array<string | number>;
  const members: MemberRead[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) members.push({ uid: Number(flat[i]), order: Number(flat[i + 1]), partition: Number(flat[i + 2]) });
  return { version: Number(r[1]), partitions: Number(r[2]), members, more: Number(r[4]) === 1 };
}

/** Online members of a room: in total and per member partition. */
export interface OnlineRead {
  version: number;
  online: number;
  partitions: number[];
}

/**
 * Runs read_online.lua: members of the room with a heartbeat at or after `since`
 * (ms). The one reader of the online sets heartbeat.lua writes.
 */
export async function readOnline(redis: RedisClient, lk: LessonKeys, roomId: string, since: number): Promise<OnlineRead> {
  const r = await redis[READ_ONLINE](lk.head, roomId, since);
  if (Number(r[0]) !== REPLY_CODES.readOnline.OK) throw replyError('readOnline', r, { lessonId: lk.lessonId, roomId });
  return { version: Number(r[1]), online: Number(r[2]), partitions: ((r[3] as unknown[]) ?? []).map(Number) };
}
