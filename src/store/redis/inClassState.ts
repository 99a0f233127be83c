// A lesson's in-class state read whole from Redis (the source of truth during
// class), for reconcile to compare with MySQL, and the repair that re-journals
// chosen keys as fresh write-behind records (lua/wb_rejournal.lua). Scans in
// pages (HSCAN/SSCAN), never one command over a whole big key.
import type { OrgNode } from '../../model/topology.js';
import type { StateEntity } from '../mysql/stateTables.js';
import type { RedisClient } from './client.js';
import { unpack } from './codec.js';
import type { LessonKeys } from './keys.js';
import { REPLY_CODES, replyError } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const WB_REJOURNAL = scriptCommand('wbRejournal');
const WB_RESTORE = scriptCommand('wbRestore');

/** Keys per scan page. */
const SCAN_COUNT = 1000;

/** A lesson's in-class state in Redis. */
export interface InClassState {
  /** uid -> picked group id. */
  groups: Map<string, string>;
  /** uid -> first sign-in (ms, as stored). */
  signIns: Map<string, string>;
  /** Group nodes created in class, by id. */
  dynamicNodes: Map<string, OrgNode>;
  /** Per room: the muted uids and the muted node ids. */
  muted: Map<string, string[]>;
  mutedNodes: Map<string, string[]>;
  /** Last heartbeat of each online member, per room partition. */
  online: Array<{ roomId: string; partition: number; uid: string; lastSeenAt: number }>;
}

async function hscanAll(redis: RedisClient, key: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', SCAN_COUNT);
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function sscanAll(redis: RedisClient, key: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, members] = await redis.sscan(key, cursor, 'COUNT', SCAN_COUNT);
    out.push(...members);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** Reads a lesson's in-class state; `rooms` are the rooms of its readable version with their partition counts. */
export async function readInClassState(redis: RedisClient, lk: LessonKeys, rooms: ReadonlyArray<{ roomId: string; partitions: number }>): Promise<InClassState> {
  const s: InClassState = {
    groups: await hscanAll(redis, lk.stateGroup),
    signIns: await hscanAll(redis, lk.stateSignIn),
    dynamicNodes: new Map(),
    muted: new Map(),
    mutedNodes: new Map(),
    online: [],
  };
  for (const [id, blob] of Object.entries(await redis.hgetallBuffer(lk.stateDynamicNodes))) s.dynamicNodes.set(id, unpack<OrgNode>(blob));
  for (const r of rooms) {
    s.muted.set(r.roomId, await sscanAll(redis, lk.stateMuted(r.roomId)));
    s.mutedNodes.set(r.roomId, await sscanAll(redis, lk.stateMutedNodes(r.roomId)));
    for (let p = 0; p < r.partitions; p++) {
      const flat = await redis.zrange(lk.stateOnline(r.roomId, p), 0, -1, 'WITHSCORES');
      for (let i = 0; i + 1 < flat.length; i += 2) s.online.push({ roomId: r.roomId, partition: p, uid: flat[i]!, lastSeenAt: Number(flat[i + 1]) });
    }
  }
  return s;
}

/** Group id -> seats its counter says are taken (Redis-internal; reconcile checks it against the picks). */
export async function readSeats(redis: RedisClient, lk: LessonKeys): Promise<Map<string, string>> {
  return hscanAll(redis, lk.stateSeats);
}

/** Records in the lesson's write-behind stream not yet in MySQL. */
export async function unflushedRecords(redis: RedisClient, lk: LessonKeys): Promise<number> {
  return redis.xlen(lk.writeBehind);
}

/** What to re-journal: entity keys (uids or node ids) of one state key. */
export interface Rejournal {
  entity: StateEntity;
  /** The room of mute, mutenode and online keys ('' for the others). */
  roomId: string;
  /** The partition of online keys ('' for the others). */
  partition: string;
  keys: readonly string[];
  now: number;
  /** Every record written is newer than this (the highest version MySQL holds). */
  minVersion: number;
  maxStreamLength: number;
  ttlSeconds: number;
}

/** The state key that holds an entity's values. */
function stateKey(lk: LessonKeys, r: Pick<Rejournal, 'entity' | 'roomId' | 'partition'>): string {
  switch (r.entity) {
    case 'group':
      return lk.stateGroup;
    case 'signin':
      return lk.stateSignIn;
    case 'node':
      return lk.stateDynamicNodes;
    case 'mute':
      return lk.stateMuted(r.roomId);
    case 'mutenode':
      return lk.stateMutedNodes(r.roomId);
    case 'online':
      return lk.stateOnline(r.roomId, Number(r.partition));
  }
}

/**
 * Appends a fresh write-behind record with the current Redis value of each key.
 * Returns the records written, or null when the stream is full (back pressure:
 * flush, then try again).
 */
export async function rejournal(redis: RedisClient, lk: LessonKeys, r: Rejournal): Promise<number | null> {
  const reply = await redis[WB_REJOURNAL](
    stateKey(lk, r), lk.stateVersion, lk.writeBehind,
    r.entity, r.now, String(r.minVersion), r.maxStreamLength, r.ttlSeconds, r.roomId, r.partition, ...r.keys,
  );
  const code = Number(reply[0]);
  if (code === REPLY_CODES.wbRejournal.BACKPRESSURE) return null;
  if (code !== REPLY_CODES.wbRejournal.OK) throw replyError('wbRejournal', reply, { lessonId: lk.lessonId });
  return Number(reply[1]);
}

/** Entities whose MySQL value can be put back into Redis (groups created in class and presence cannot). */
export const RESTORABLE: ReadonlySet<StateEntity> = new Set(['group', 'signin', 'mute', 'mutenode']);

/** MySQL's values of chosen keys of one state key, to put back into Redis. */
export interface Restore {
  entity: StateEntity;
  roomId: string;
  /** key (uid or node id) -> value ('' = absent / not muted). */
  pairs: ReadonlyArray<readonly [string, string]>;
  /** MySQL's newest version: Redis's counter is raised to it. */
  minVersion: number;
  ttlSeconds: number;
}

/** Writes MySQL's values into Redis (lua/wb_restore.lua); returns the keys changed. */
export async function restoreFromMysql(redis: RedisClient, lk: LessonKeys, r: Restore): Promise<number> {
  if (!RESTORABLE.has(r.entity)) throw new RangeError(`restoreFromMysql: ${r.entity} cannot be restored`);
  const flat = r.pairs.flatMap(([k, v]) => [k, v]);
  const reply = await redis[WB_RESTORE](stateKey(lk, { entity: r.entity, roomId: r.roomId, partition: '' }), lk.stateSeats, lk.stateVersion, lk.channel, r.entity, String(r.minVersion), r.ttlSeconds, ...flat);
  if (Number(reply[0]) !== REPLY_CODES.wbRestore.OK) throw replyError('wbRestore', reply, { lessonId: lk.lessonId });
  return Number(reply[1]);
}

/** The lesson's write-behind version counter (null: none, never written or lost). */
export async function stateVersion(redis: RedisClient, lk: LessonKeys): Promise<number | null> {
  const v = await redis.get(lk.stateVersion);
  return v === null ? null : Number(v);
}

/** A lesson's write-behind backlog: records not yet in MySQL and the time of the oldest one (ms), null when empty. */
export async function writeBehindBacklog(redis: RedisClient, lk: LessonKeys): Promise<{ length: number; oldestAt: number | null }> {
  const [length, first] = await Promise.all([redis.xlen(lk.writeBehind), redis.xrange(lk.writeBehind, '-', '+', 'COUNT', 1)]);
  const id = first[0]?.[0];
  return { length, oldestAt: id === undefined ? null : Number(id.slice(0, id.indexOf('-'))) };
}

/** Lesson ids in the write-behind registry: every lesson a flusher watches (mutated recently). */
export async function watchedLessons(redis: RedisClient, registryKey: string): Promise<number[]> {
  return (await redis.zrange(registryKey, 0, -1)).map(Number).filter((n) => Number.isSafeInteger(n) && n > 0);
}

/** The last signal sequence number of each room (0 when none was published). */
export async function signalSeqs(redis: RedisClient, lk: LessonKeys, roomIds: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of roomIds) out.set(id, Number((await redis.get(lk.signalSeq(id))) ?? 0));
  return out;
}
