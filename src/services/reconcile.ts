// `orgengine reconcile`: compares a lesson's in-class state in Redis (the source
// of truth during class) with the state tables in MySQL and reports the
// differences. With repair, it re-journals the Redis value of every differing
// key as a fresh write-behind record (newer than anything MySQL holds) and
// flushes it, so repairs go through the same guarded path as live changes and
// can never overwrite a change made while reconcile runs.
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { WriteBehindConfig } from '../config.js';
import { OrgError } from '../errors.js';
import type { RedisClient } from '../store/redis/client.js';
import { unpack } from '../store/redis/codec.js';
import { lessonKeys, type LessonKeys } from '../store/redis/keys.js';
import { readLesson } from '../store/redis/lessonReader.js';
import { MUTATION_CODES } from '../store/redis/replyCodes.js';
import type { OrgNode } from '../model/topology.js';
import { Flusher } from '../writebehind/flusher.js';
import { STATE_ENTITIES, TABLES, type StateEntity } from '../writebehind/records.js';

/** What reconcile needs. */
export interface ReconcileDeps {
  redis: RedisClient;
  pool: Pool;
  keyPrefix: string;
  ttlSeconds: number;
  wb: WriteBehindConfig;
  batchRows: number;
  log?: Logger;
  now?: () => number;
}

/** Options of one reconcile. */
export interface ReconcileOptions {
  repair?: boolean;
  /** Differences listed in the report (all are counted). */
  maxReported?: number;
  /** How long flushing may take before and after a repair. */
  drainTimeoutMs?: number;
}

/** One key whose value differs. */
export interface Difference {
  entity: StateEntity;
  roomId: string | null;
  key: string;
  redis: string | null;
  mysql: string | null;
}

/** The outcome of a reconcile. */
export interface ReconcileReport {
  lessonId: number;
  /** Records in the lesson's stream not yet in MySQL when the comparison ran. */
  unflushed: number;
  /** Keys compared per entity. */
  compared: Record<StateEntity, number>;
  /** Differing keys per entity. */
  differing: Record<StateEntity, number>;
  /** The first `maxReported` differences. */
  differences: Difference[];
  /** Groups whose seat counter disagrees with the students recorded in them (Redis-internal). */
  seatMismatches: Array<{ groupId: string; seats: number; members: number }>;
  /** Records re-journaled by a repair. */
  rejournaled: number;
  /** Differences left after a repair (null without repair). */
  remaining: number | null;
}

interface Side {
  value: string | null;
  room: string | null;
  partition?: number;
}

type SideMap = Map<string, Side>;

const emptyCounts = (): Record<StateEntity, number> => Object.fromEntries(STATE_ENTITIES.map((e) => [e, 0])) as Record<StateEntity, number>;
const msOf = (d: unknown): string | null => (d instanceof Date ? String(d.getTime()) : d === null || d === undefined ? null : String(d));

async function hscanAll(redis: RedisClient, key: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 1000);
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function sscanAll(redis: RedisClient, key: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, members] = await redis.sscan(key, cursor, 'COUNT', 1000);
    out.push(...members);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** Redis in-class state of a lesson, keyed like the MySQL rows. */
async function redisState(redis: RedisClient, lk: LessonKeys, rooms: Array<{ roomId: string; partitions: number }>): Promise<Map<StateEntity, SideMap>> {
  const s = new Map<StateEntity, SideMap>(STATE_ENTITIES.map((e) => [e, new Map()]));
  for (const [uid, g] of await hscanAll(redis, lk.stateGroup)) s.get('group')!.set(uid, { value: g, room: null });
  for (const [uid, t] of await hscanAll(redis, lk.stateSignIn)) s.get('signin')!.set(uid, { value: t, room: null });
  const dyn = await redis.hgetallBuffer(lk.stateDynamicNodes);
  for (const [id, blob] of Object.entries(dyn)) {
    const n = unpack<OrgNode>(blob);
    s.get('node')!.set(id, { value: `${n.parentId}|${n.capacity}|${n.path}`, room: null });
  }
  for (const r of rooms) {
    for (const uid of await sscanAll(redis, lk.stateMuted(r.roomId))) s.get('mute')!.set(`${r.roomId}\u0000${uid}`, { value: '1', room: r.roomId });
    for (const id of await sscanAll(redis, lk.stateMutedNodes(r.roomId))) s.get('mutenode')!.set(`${r.roomId}\u0000${id}`, { value: '1', room: r.roomId });
    for (let p = 0; p < r.partitions; p++) {
      const flat = await redis.zrange(lk.stateOnline(r.roomId, p), 0, -1, 'WITHSCORES');
      for (let i = 0; i + 1 < flat.length; i += 2) {
        s.get('online')!.set(`${r.roomId}\u0000${flat[i]}`, { value: `${p}|${Number(flat[i + 1])}`, room: r.roomId, partition: p });
      }
    }
  }
  return s;
}

/** MySQL state of a lesson, keyed like redisState; absent/false values are null. */
async function mysqlState(pool: Pool, lessonId: number): Promise<{ state: Map<StateEntity, SideMap>; maxVersion: number }> {
  const s = new Map<StateEntity, SideMap>(STATE_ENTITIES.map((e) => [e, new Map()]));
  const q = async (sql: string) => (await pool.query<RowDataPacket[]>(sql, [lessonId]))[0];
  for (const r of await q('SELECT uid, group_id FROM state_group WHERE lesson_id = ?')) s.get('group')!.set(String(r.uid), { value: r.group_id ?? null, room: null });
  for (const r of await q('SELECT uid, signed_in_at FROM state_signin WHERE lesson_id = ?')) s.get('signin')!.set(String(r.uid), { value: msOf(r.signed_in_at), room: null });
  for (const r of await q('SELECT node_id, parent_id, capacity, path FROM state_dyn_node WHERE lesson_id = ?')) {
    s.get('node')!.set(String(r.node_id), { value: `${r.parent_id}|${r.capacity}|${r.path}`, room: null });
  }
  for (const r of await q('SELECT room_id, uid, muted FROM state_mute WHERE lesson_id = ?')) {
    s.get('mute')!.set(`${r.room_id}\u0000${r.uid}`, { value: Number(r.muted) === 1 ? '1' : null, room: String(r.room_id) });
  }
  for (const r of await q('SELECT room_id, node_id, muted FROM state_mute_node WHERE lesson_id = ?')) {
    s.get('mutenode')!.set(`${r.room_id}\u0000${r.node_id}`, { value: Number(r.muted) === 1 ? '1' : null, room: String(r.room_id) });
  }
  for (const r of await q('SELECT room_id, uid, partition_no, last_seen_at FROM state_online WHERE lesson_id = ?')) {
    s.get('online')!.set(`${r.room_id}\u0000${r.uid}`, { value: `${r.partition_no}|${msOf(r.last_seen_at)}`, room: String(r.room_id), partition: Number(r.partition_no) });
  }
  let maxVersion = 0;
  for (const e of STATE_ENTITIES) {
    const [rows] = await pool.query<RowDataPacket[]>(`SELECT COALESCE(MAX(version), 0) AS v FROM ${TABLES[e].table} WHERE lesson_id = ?`, [lessonId]);
    maxVersion = Math.max(maxVersion, Number(rows[0]?.v ?? 0));
  }
  return { state: s, maxVersion };
}

interface Diffed {
  differences: Difference[];
  compared: Record<StateEntity, number>;
  differing: Record<StateEntity, number>;
  /** Differing keys to re-journal: entity -> room|'' -> partition|'' -> keys. */
  fix: Array<{ entity: StateEntity; room: string; partition: string; keys: string[] }>;
}

function diff(r: Map<StateEntity, SideMap>, m: Map<StateEntity, SideMap>): Diffed {
  const compared = emptyCounts();
  const differing = emptyCounts();
  const differences: Difference[] = [];
  const fix = new Map<string, { entity: StateEntity; room: string; partition: string; keys: string[] }>();
  const add = (entity: StateEntity, room: string | null, partition: number | undefined, key: string) => {
    const k = `${entity}|${room ?? ''}|${partition ?? ''}`;
    let f = fix.get(k);
    if (!f) fix.set(k, (f = { entity, room: room ?? '', partition: partition === undefined ? '' : String(partition), keys: [] }));
    f.keys.push(key);
  };
  for (const e of STATE_ENTITIES) {
    const rs = r.get(e)!;
    const ms = m.get(e)!;
    const keys = new Set<string>([...rs.keys(), ...(e === 'online' ? [] : ms.keys())]);
    for (const key of keys) {
      compared[e]++;
      const a = rs.get(key);
      const b = ms.get(key);
      const av = a?.value ?? null;
      const bv = b?.value ?? null;
      if (av === bv) continue;
      differing[e]++;
      const room = a?.room ?? b?.room ?? null;
      const plain = room === null ? key : key.slice(room.length + 1);
      differences.push({ entity: e, roomId: room, key: plain, redis: av, mysql: bv });
      // Only Redis values can be re-journaled; a node MySQL has but Redis lost is reported, not deleted.
      if (e === 'node' && a === undefined) continue;
      add(e, room, a?.partition, plain);
    }
  }
  return { differences, compared, differing, fix: [...fix.values()] };
}

/** Compares (and optionally repairs) one lesson's in-class state. */
export async function reconcileLesson(deps: ReconcileDeps, lessonId: number, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  if (!Number.isSafeInteger(lessonId) || lessonId < 1) throw new OrgError('BAD_REQUEST', `lesson id must be a positive integer, got ${lessonId}`);
  const { redis, pool } = deps;
  const now = deps.now ?? Date.now;
  const lk = lessonKeys(deps.keyPrefix, lessonId);
  const { rooms } = await readLesson(redis, lk);
  const drainMs = opts.drainTimeoutMs ?? 30_000;
  const flusher = new Flusher({
    redis,
    pool,
    keyPrefix: deps.keyPrefix,
    wb: deps.wb,
    batchRows: deps.batchRows,
    lessons: [lessonId],
    consumer: `reconcile:${process.pid}:${now()}`,
    log: deps.log,
  });
  if (opts.repair && !(await flusher.drain(drainMs))) {
    throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: could not flush pending records within ${drainMs} ms; not repairing`);
  }

  const compare = async () => {
    const unflushed = await redis.xlen(lk.writeBehind);
    const r = await redisState(redis, lk, rooms);
    const { state: m, maxVersion } = await mysqlState(pool, lessonId);
    return { unflushed, r, maxVersion, d: diff(r, m) };
  };
  const first = await compare();

  // Seats are derived in Redis only; check the counter against the picks it counts.
  const members = new Map<string, number>();
  for (const { value } of first.r.get('group')!.values()) if (value) members.set(value, (members.get(value) ?? 0) + 1);
  const seatMismatches: ReconcileReport['seatMismatches'] = [];
  for (const [g, n] of await hscanAll(redis, lk.stateSeats)) {
    if (Number(n) !== (members.get(g) ?? 0)) seatMismatches.push({ groupId: g, seats: Number(n), members: members.get(g) ?? 0 });
    members.delete(g);
  }
  for (const [g, n] of members) seatMismatches.push({ groupId: g, seats: 0, members: n });

  let rejournaled = 0;
  let remaining: number | null = null;
  if (opts.repair) {
    for (const f of first.d.fix) {
      const stateKey =
        f.entity === 'group' ? lk.stateGroup
        : f.entity === 'signin' ? lk.stateSignIn
        : f.entity === 'node' ? lk.stateDynamicNodes
        : f.entity === 'mute' ? lk.stateMuted(f.room)
        : f.entity === 'mutenode' ? lk.stateMutedNodes(f.room)
        : lk.stateOnline(f.room, Number(f.partition));
      for (let i = 0; i < f.keys.length; i += 500) {
        const chunk = f.keys.slice(i, i + 500);
        for (;;) {
          const r = await redis.oeWbRejournal1(
            stateKey, lk.stateVersion, lk.writeBehind,
            f.entity, now(), String(first.maxVersion), deps.wb.maxStreamLength, deps.ttlSeconds, f.room, f.partition, ...chunk,
          );
          if (Number(r[0]) === MUTATION_CODES.OK) {
            rejournaled += Number(r[1]);
            break;
          }
          // Back pressure: let the flush make room, then retry the chunk.
          if (!(await flusher.drain(drainMs))) throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: stream stays full; repair stopped`);
        }
      }
    }
    if (!(await flusher.drain(drainMs))) throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: repair records not flushed within ${drainMs} ms`);
    const after = await compare();
    remaining = after.d.differences.length;
  }
  const max = opts.maxReported ?? 20;
  return {
    lessonId,
    unflushed: first.unflushed,
    compared: first.d.compared,
    differing: first.d.differing,
    differences: first.d.differences.slice(0, max),
    seatMismatches,
    rejournaled,
    remaining,
  };
}
