// `orgengine reconcile`: compares a lesson's in-class state in Redis (the source
// of truth during class) with the state tables in MySQL and reports the
// differences. With repair, it re-journals the Redis value of every differing
// key as a fresh write-behind record (newer than anything MySQL holds) and
// flushes it, so repairs go through the same guarded path as live changes and
// can never overwrite a change made while reconcile runs. After Redis rolled
// back (its state older than MySQL's: reported as `rollback`), repair with
// `from: 'mysql'` puts MySQL's value of every differing key back into Redis
// instead (picks, sign-ins, mutes; groups created in class and presence are
// reported, not restored).
import type { Logger } from 'pino';
import type { WriteBehindConfig } from '../config.js';
import { OrgError } from '../errors.js';
import type { Pool } from '../store/mysql/pool.js';
import { diffTotals, recomputeTotals, type TotalDifference, type TotalKind } from '../model/scores.js';
import { readLedger } from '../store/mysql/scoreLedger.js';
import { readSeatEvents, readStoredInteractions, readStoredState, STATE_ENTITIES, type StateEntity, type StoredState } from '../store/mysql/stateTables.js';
import { PERMISSION_MASKS } from '../model/interaction.js';
import { InteractionStore } from '../store/redis/interactionStore.js';
import type { RedisClient } from '../store/redis/client.js';
import { readInClassState, readSeats, rejournal, RESTORABLE, restoreFromMysql, unflushedRecords, type InClassState } from '../store/redis/inClassState.js';
import { lessonKeys } from '../store/redis/keys.js';
import { readLesson } from '../store/redis/lessonReader.js';
import { applyScoreFixes, readScoreSnapshot, type ScoreSnapshot } from '../store/redis/scoreStore.js';
import { oldestUnflushedVersion } from '../store/redis/writeBehindStream.js';
import { Flusher } from '../writebehind/flusher.js';
import { detectRollback, type RollbackCheck } from '../writebehind/rollback.js';

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

/** A flusher of one lesson's stream under its own consumer name: what a reconcile drains before comparing. */
function lessonFlusher(deps: ReconcileDeps, lessonId: number, consumer: string): Flusher {
  return new Flusher({ redis: deps.redis, pool: deps.pool, keyPrefix: deps.keyPrefix, wb: deps.wb, batchRows: deps.batchRows, lessons: [lessonId], consumer, log: deps.log });
}

/** Options of one reconcile. */
export interface ReconcileOptions {
  repair?: boolean;
  /** Which side a repair trusts: redis (default: Redis is the truth in class) or mysql (after a rollback). */
  from?: 'redis' | 'mysql';
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
  /** Redis's version counter against MySQL's newest state version; rolledBack: Redis lost acknowledged writes. */
  rollback: RollbackCheck;
  /** Records re-journaled by a repair from Redis. */
  rejournaled: number;
  /** Keys a repair from MySQL changed in Redis. */
  restored: number;
  /** Differences left after a repair (null without repair). */
  remaining: number | null;
  /** The interaction center's sessions and links, Redis against MySQL. */
  interaction: InteractionReconcile;
}

/**
 * Interaction sessions and links compared (the link ledger has no Redis copy to compare with); each
 * session's mic seats are compared with the seat ledger replayed (a difference names `seats:<sid>`).
 */
export interface InteractionReconcile {
  sessions: number;
  links: number;
  /** Differing sessions and links. */
  differing: number;
  /** The first `maxReported` differences; uid null: the session row itself. */
  differences: Array<{ sessionId: string; uid: number | null; redis: string | null; mysql: string | null }>;
  /** Sessions a repair re-journaled. */
  rejournaled: number;
}
// Room admin grants are compared too: a difference names `admin:<roomId>` with the uids on each side;
// a repair from MySQL grants again in Redis what MySQL holds.

/** Sessions and links of a lesson, Redis against MySQL. */
async function compareInteractions(store: InteractionStore, pool: Pool, lessonId: number) {
  const inRedis = await store.allSessions(lessonId);
  const stored = await readStoredInteractions(pool, lessonId);
  const sess = new Map(
    stored.sessions.map((s) => [s.sessionId, `${s.status}|${s.endReason ?? ''}|${s.version}|${s.kind}|${s.capacity}|${s.creator}|${s.channelId}|${s.roomId}|${s.template}`]),
  );
  // The mic seat ledger replayed: each session's seats as MySQL's rows leave them.
  const replayed = new Map<string, Map<number, string>>();
  for (const e of await readSeatEvents(pool, lessonId)) {
    let m = replayed.get(e.sessionId);
    if (!m) replayed.set(e.sessionId, (m = new Map()));
    m.set(e.seat, `${e.uid}|${e.locked}|${e.mic}|${e.cam}`);
  }
  const links = new Map(stored.links.map((l) => [`${l.sessionId}\u0000${l.uid}`, `${l.state}|${l.generation}|${l.origin}|${l.by}`]));
  const differences: InteractionReconcile['differences'] = [];
  const bad = new Set<string>();
  let nLinks = 0;
  for (const s of inRedis) {
    const r = `${s.status}|${s.endReason ?? ''}|${s.version}|${s.kind}|${s.capacity}|${s.creator}|${s.channelId}|${s.roomId}|${s.template}`;
    const m = sess.get(s.sessionId) ?? null;
    sess.delete(s.sessionId);
    if (m !== r) {
      differences.push({ sessionId: s.sessionId, uid: null, redis: r, mysql: m });
      bad.add(s.sessionId);
    }
    const seatsRedis = s.seats.map((q) => `${q.uid ?? 0}|${q.locked ? 1 : 0}|${q.mic ? 1 : 0}|${q.cam ? 1 : 0}`).join(',');
    const rows = replayed.get(s.sessionId);
    const seatsMysql = s.seats.map((q) => rows?.get(q.seat) ?? '0|0|0|0').join(',');
    if (seatsRedis !== seatsMysql) {
      differences.push({ sessionId: `seats:${s.sessionId}`, uid: null, redis: seatsRedis, mysql: seatsMysql });
      bad.add(s.sessionId);
    }
    for (const l of s.links) {
      nLinks++;
      const k = `${s.sessionId}\u0000${l.uid}`;
      const rl = `${l.state}|${l.generation}|${l.origin}|${l.by}`;
      const ml = links.get(k) ?? null;
      links.delete(k);
      if (ml !== rl) {
        differences.push({ sessionId: s.sessionId, uid: l.uid, redis: rl, mysql: ml });
        bad.add(s.sessionId);
      }
    }
  }
  // Room admins: MySQL keeps the grants, Redis serves them (uid null, sessionId 'admin:<room>').
  const granted = stored.admins.filter((a) => a.granted);
  const rooms = [...new Set(stored.admins.map((a) => a.roomId))];
  const cached = await store.admins(lessonId, rooms);
  const lostAdmins: Array<{ roomId: string; uid: number }> = [];
  for (const r of rooms) {
    const want = granted.filter((a) => a.roomId === r).map((a) => a.uid).sort((a, b) => a - b);
    const have = cached.get(r) ?? [];
    if (want.join(',') !== have.join(',')) differences.push({ sessionId: `admin:${r}`, uid: null, redis: have.join(','), mysql: want.join(',') });
    for (const u of want) if (!have.includes(u)) lostAdmins.push({ roomId: r, uid: u });
  }
  // Rows MySQL holds for sessions whose Redis keys expired are history, not differences.
  return { sessions: inRedis.length, links: nLinks, differences, bad: [...bad], lostAdmins };
}

interface Side {
  value: string | null;
  room: string | null;
  partition?: number;
}

type SideMap = Map<string, Side>;

const emptyCounts = (): Record<StateEntity, number> => Object.fromEntries(STATE_ENTITIES.map((e) => [e, 0])) as Record<StateEntity, number>;
const sides = (): Map<StateEntity, SideMap> => new Map(STATE_ENTITIES.map((e) => [e, new Map()]));
const roomKey = (roomId: string, id: string | number): string => `${roomId}\u0000${id}`;

/** Redis in-class state of a lesson, keyed like the MySQL rows. */
function redisSides(r: InClassState): Map<StateEntity, SideMap> {
  const s = sides();
  for (const [uid, g] of r.groups) s.get('group')!.set(uid, { value: g, room: null });
  for (const [uid, t] of r.signIns) s.get('signin')!.set(uid, { value: t, room: null });
  for (const [id, n] of r.dynamicNodes) s.get('node')!.set(id, { value: `${n.parentId}|${n.capacity}|${n.path}`, room: null });
  for (const [room, uids] of r.muted) for (const uid of uids) s.get('mute')!.set(roomKey(room, uid), { value: '1', room });
  for (const [room, ids] of r.mutedNodes) for (const id of ids) s.get('mutenode')!.set(roomKey(room, id), { value: '1', room });
  for (const o of r.online) s.get('online')!.set(roomKey(o.roomId, o.uid), { value: `${o.partition}|${o.lastSeenAt}`, room: o.roomId, partition: o.partition });
  return s;
}

/** MySQL state of a lesson, keyed like redisSides; absent/false values are null. */
function mysqlSides(m: StoredState): Map<StateEntity, SideMap> {
  const s = sides();
  for (const r of m.group) s.get('group')!.set(String(r.uid), { value: r.groupId, room: null });
  for (const r of m.signin) s.get('signin')!.set(String(r.uid), { value: r.signedInAt === null ? null : String(r.signedInAt), room: null });
  for (const r of m.node) s.get('node')!.set(r.nodeId, { value: `${r.parentId}|${r.capacity}|${r.path}`, room: null });
  for (const r of m.mute) s.get('mute')!.set(roomKey(r.roomId, r.uid), { value: r.muted ? '1' : null, room: r.roomId });
  for (const r of m.mutenode) s.get('mutenode')!.set(roomKey(r.roomId, r.nodeId), { value: r.muted ? '1' : null, room: r.roomId });
  for (const r of m.online) s.get('online')!.set(roomKey(r.roomId, r.uid), { value: `${r.partition}|${r.lastSeenAt}`, room: r.roomId, partition: r.partition });
  return s;
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
  const from = opts.from ?? 'redis';
  if (from !== 'redis' && from !== 'mysql') throw new OrgError('BAD_REQUEST', `from must be redis or mysql, got ${JSON.stringify(from)}`);
  const flusher = lessonFlusher(deps, lessonId, `reconcile:${process.pid}:${now()}`);
  if (opts.repair && !(await flusher.drain(drainMs))) {
    throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: could not flush pending records within ${drainMs} ms; not repairing`);
  }

  const compare = async () => {
    const unflushed = await unflushedRecords(redis, lk);
    const r = redisSides(await readInClassState(redis, lk, rooms));
    const m = await readStoredState(pool, lessonId);
    return { unflushed, r, maxVersion: m.maxVersion, d: diff(r, mysqlSides(m)) };
  };
  const first = await compare();
  const rollback = await detectRollback(redis, pool, lk);

  // Seats are derived in Redis only; check the counter against the picks it counts.
  const members = new Map<string, number>();
  for (const { value } of first.r.get('group')!.values()) if (value) members.set(value, (members.get(value) ?? 0) + 1);
  const seatMismatches: ReconcileReport['seatMismatches'] = [];
  for (const [g, n] of await readSeats(redis, lk)) {
    if (Number(n) !== (members.get(g) ?? 0)) seatMismatches.push({ groupId: g, seats: Number(n), members: members.get(g) ?? 0 });
    members.delete(g);
  }
  for (const [g, n] of members) seatMismatches.push({ groupId: g, seats: 0, members: n });

  let rejournaled = 0;
  let restored = 0;
  let remaining: number | null = null;
  if (opts.repair && from === 'mysql') {
    // Everything Redis had is flushed (drained above): what still differs is what Redis lost.
    const byKey = new Map<string, { entity: StateEntity; roomId: string; pairs: Array<[string, string]> }>();
    for (const d of first.d.differences) {
      if (!RESTORABLE.has(d.entity)) continue;
      const k = `${d.entity}|${d.roomId ?? ''}`;
      let g = byKey.get(k);
      if (!g) byKey.set(k, (g = { entity: d.entity, roomId: d.roomId ?? '', pairs: [] }));
      g.pairs.push([d.key, d.mysql ?? '']);
    }
    for (const g of byKey.values()) {
      for (let i = 0; i < g.pairs.length; i += 500) {
        restored += await restoreFromMysql(redis, lk, { entity: g.entity, roomId: g.roomId, pairs: g.pairs.slice(i, i + 500), minVersion: first.maxVersion, ttlSeconds: deps.ttlSeconds });
      }
    }
    const after = await compare();
    remaining = after.d.differences.filter((d) => RESTORABLE.has(d.entity)).length;
  } else if (opts.repair) {
    for (const f of first.d.fix) {
      for (let i = 0; i < f.keys.length; i += 500) {
        const chunk = f.keys.slice(i, i + 500);
        for (;;) {
          const written = await rejournal(redis, lk, {
            entity: f.entity,
            roomId: f.room,
            partition: f.partition,
            keys: chunk,
            now: now(),
            minVersion: first.maxVersion,
            maxStreamLength: deps.wb.maxStreamLength,
            ttlSeconds: deps.ttlSeconds,
          });
          if (written !== null) {
            rejournaled += written;
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
  // The interaction center: sessions and links (drained above when repairing).
  const store = new InteractionStore({
    redis, keyPrefix: deps.keyPrefix, ttlSeconds: deps.ttlSeconds, maxStreamLength: deps.wb.maxStreamLength,
    inviteTimeoutMs: 1, connectTimeoutMs: 1, maxSessionsPerRoom: 1, maxPendingPerSession: 1, maxRtcEventsPerSession: 1, permissionMasks: PERMISSION_MASKS,
  });
  let ia = await compareInteractions(store, pool, lessonId);
  const iaFirst = ia;
  let iaRejournaled = 0;
  if (opts.repair && from === 'mysql' && ia.lostAdmins.length > 0) {
    // Room admins granted in MySQL but gone from Redis (expired, or lost with a rollback) are granted again.
    for (const a of ia.lostAdmins) await store.setAdmin(lessonId, a.roomId, a.uid, true, now());
    if (!(await flusher.drain(drainMs))) throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: restored admins not flushed within ${drainMs} ms`);
    ia = await compareInteractions(store, pool, lessonId);
    remaining = (remaining ?? 0) + ia.differences.filter((d) => d.sessionId.startsWith('admin:')).length;
  }
  if (opts.repair && from === 'redis' && ia.bad.length > 0) {
    for (let i = 0; i < ia.bad.length; i += 100) {
      const chunk = ia.bad.slice(i, i + 100);
      for (;;) {
        const n = await store.rejournal(lessonId, chunk, now());
        if (n !== null) {
          iaRejournaled += n;
          break;
        }
        if (!(await flusher.drain(drainMs))) throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: stream stays full; repair stopped`);
      }
    }
    if (!(await flusher.drain(drainMs))) throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: repair records not flushed within ${drainMs} ms`);
    ia = await compareInteractions(store, pool, lessonId);
    remaining = (remaining ?? 0) + ia.differences.length;
  }
  const max = opts.maxReported ?? 20;
  return {
    interaction: {
      sessions: iaFirst.sessions,
      links: iaFirst.links,
      differing: iaFirst.differences.length,
      differences: iaFirst.differences.slice(0, max),
      rejournaled: iaRejournaled,
    },
    lessonId,
    unflushed: first.unflushed,
    compared: first.d.compared,
    differing: first.d.differing,
    differences: first.d.differences.slice(0, max),
    seatMismatches,
    rollback,
    rejournaled,
    restored,
    remaining,
  };
}

/** The outcome of a score reconcile. */
export interface ScoreReconcileReport {
  lessonId: number;
  /** st:ver of the Redis snapshot: the ledger was read up to this version. */
  version: number;
  /** Ledger rows the totals were recomputed from. */
  ledgerEvents: number;
  /** Records still in the stream when compared, when those up to `version` could not all be flushed in time (differences may be pending records). */
  unflushed: number;
  compared: Record<TotalKind, number>;
  differing: number;
  /** The first `maxReported` differences. */
  differences: TotalDifference[];
  /** Increments a repair applied. */
  repaired: number;
  /** Differences left after a repair (null without repair). */
  remaining: number | null;
}

/**
 * Compares a lesson's live score totals in Redis with a recomputation from
 * MySQL's ledger, at one moment: every total is read in one MULTI with the
 * lesson's version counter V, the stream is flushed so every event up to V is
 * in MySQL, and the ledger is read up to V. Events arriving meanwhile are in
 * neither side, so a lesson in use reconciles cleanly. Repair moves each
 * differing total to the ledger's value by an increment (an award landing
 * meanwhile keeps its effect), publishes `score:<room>`, and compares again.
 */
export async function reconcileScores(deps: ReconcileDeps, lessonId: number, opts: Pick<ReconcileOptions, 'repair' | 'maxReported' | 'drainTimeoutMs'> = {}): Promise<ScoreReconcileReport> {
  if (!Number.isSafeInteger(lessonId) || lessonId < 1) throw new OrgError('BAD_REQUEST', `lesson id must be a positive integer, got ${lessonId}`);
  const { redis, pool } = deps;
  const now = deps.now ?? Date.now;
  const lk = lessonKeys(deps.keyPrefix, lessonId);
  const { lesson, rooms } = await readLesson(redis, lk);
  const roomIds = rooms.map((r) => r.roomId);
  // Every node may head a level board: the readable version's and those created in class.
  const nodeIds = [...new Set([...(await redis.hkeys(lk.version(lesson.version).nodes)), ...(await redis.hkeys(lk.stateDynamicNodes))])];
  const drainMs = opts.drainTimeoutMs ?? 30_000;
  const flusher = lessonFlusher(deps, lessonId, `reconcile-scores:${process.pid}:${now()}`);

  /**
   * Flushes until every record up to `version` is in MySQL (the stream's oldest
   * record is newer, or it is empty), or the deadline: events keep arriving in a
   * lesson in use, so waiting for an empty stream could take forever.
   */
  const flushedUpTo = async (version: number): Promise<boolean> => {
    const deadline = now() + drainMs;
    for (;;) {
      const oldest = await oldestUnflushedVersion(redis, lk.writeBehind);
      if (oldest === null || oldest > version) return true;
      if (now() >= deadline) return false;
      const r = await flusher.cycle().catch((e: unknown) => {
        deps.log?.warn({ err: e instanceof Error ? e.message : String(e) }, 'score reconcile: flush cycle failed; retrying');
        return null;
      });
      if (!r || r.records === 0) await new Promise((res) => setTimeout(res, deps.wb.pollMs));
    }
  };

  const compare = async () => {
    const live: ScoreSnapshot = await readScoreSnapshot(redis, deps.keyPrefix, lessonId, roomIds, nodeIds);
    const flushed = await flushedUpTo(live.version);
    const unflushed = flushed ? 0 : await unflushedRecords(redis, lk);
    const rows = await readLedger(pool, lessonId, live.version);
    const rounds = new Map([...live.pk].map(([scope, p]) => [scope, p.roundId]));
    return { live, unflushed, events: rows.length, ...diffTotals(live, recomputeTotals(rows, rounds)) };
  };
  const first = await compare();
  let repaired = 0;
  let remaining: number | null = null;
  if (opts.repair) {
    if (first.unflushed > 0) throw new OrgError('BACKEND_UNAVAILABLE', `lesson ${lessonId}: could not flush pending score events within ${drainMs} ms; not repairing`);
    const fixes = first.differences.map((d) => ({ what: d.what, of: d.of, member: d.member, delta: d.ledger - d.live }));
    repaired = fixes.length === 0 ? 0 : await applyScoreFixes(redis, deps.keyPrefix, lessonId, fixes, deps.ttlSeconds, roomIds[0] ?? 'main');
    remaining = (await compare()).differences.length;
  }
  return {
    lessonId,
    version: first.live.version,
    ledgerEvents: first.events,
    unflushed: first.unflushed,
    compared: first.compared,
    differing: first.differences.length,
    differences: first.differences.slice(0, opts.maxReported ?? 20),
    repaired,
    remaining,
  };
}
