// The score ledger on single Redis and the Cluster with real MariaDB: totals
// rolled up the org tree, idempotent replays and reorderings, PK round
// boundaries under an injected clock, refusals that write nothing, a random
// run reconciled against MySQL's ledger (and repaired), and kill -9 of the
// awarding process and the flusher mid-stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/auth/caller.js';
import { loadConfig, type Config } from '../../src/config.js';
import { prng } from '../../src/model/synthetic.js';
import type { OrgNode } from '../../src/model/topology.js';
import { preloadLesson } from '../../src/preload/preload.js';
import { MutationService } from '../../src/services/mutations.js';
import { reconcileScores } from '../../src/services/reconcile.js';
import { parseAward } from '../../src/services/scoreInputs.js';
import { ScoreService } from '../../src/services/scores.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { unpack } from '../../src/store/redis/codec.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import type { ScoreEvent } from '../../src/store/redis/scoreStore.js';
import { FLUSH_GROUP, Flusher } from '../../src/writebehind/flusher.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { freezeWhileHolding } from '../support/wait.js';
import { dropLessonKeys, seedLesson } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { REDIS_MODES, testRedis } from '../support/redis.js';
import { outcomeOf } from '../support/errors.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const LESSON = 801;
const CRASH_LESSON = 802;
const STUDENTS = 600;
const TUTORS = 4;
const T0 = Date.UTC(2026, 10, 21, 10, 5);

const service: Caller = { uid: 1, role: 'service', lesson: '*' };
const teacher: Caller = { uid: 2, role: 'teacher', lesson: LESSON };
type Rows = RowDataPacket[];


/** A score event to a student or a node in the main room, with defaults. */
const ev = (over: Partial<ScoreEvent> & { key: string }): ScoreEvent => ({
  lessonId: LESSON,
  roomId: 'main',
  sessionId: null,
  uid: null,
  nodeId: null,
  seatId: null,
  side: null,
  kind: 'reward',
  points: 1,
  roundId: null,
  ...over,
});

describe.each(REDIS_MODES)('scores on %s Redis', (mode) => {
  let db: TestDb;
  let redis: RedisClient;
  let config: Config;
  let svc: ScoreService;
  let flusher: Flusher;
  let now = T0;
  let uids: number[] = [];
  let crashUids: number[] = [];
  const nodes = new Map<string, OrgNode>();
  const groupOf = new Map<number, string>();
  const deps = () => ({ redis, pool: db.pool, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, batchRows: 500 });
  const lk = () => lessonKeys(config.keyPrefix, LESSON);
  /** Every score key of the lesson a write could touch, with the stream: to show a refused write wrote nothing. */
  const snapshot = async () => ({
    stream: await redis.xlen(lk().writeBehind),
    ver: await redis.get(lk().stateVersion),
    idem: await redis.hlen(lk().scoreIdem),
    users: await redis.zrange(lk().scoreUsers, 0, -1, 'WITHSCORES'),
    room: await redis.zrange(lk().scoreRoom('main'), 0, -1, 'WITHSCORES'),
    nodes: await redis.hgetall(lk().scoreNodes),
    pk: await redis.hgetall(lk().scorePk('r:main')),
  });

  beforeAll(async () => {
    db = await createTestDb(`scores_${mode}`);
    redis = testRedis(mode);
    config = loadConfig({ ORGENGINE_KEY_PREFIX: uniquePrefix(`sc${mode[0]}`).slice(0, 30) });
    const src = await seedLesson(db.pool, LESSON, 'group', STUDENTS, TUTORS);
    const crashSrc = await seedLesson(db.pool, CRASH_LESSON, 'group', 300, 2);
    const r = await preloadLesson({ pool: db.pool, redis, config }, LESSON);
    await preloadLesson({ pool: db.pool, redis, config }, CRASH_LESSON);
    uids = src.enrolments.map((e) => e.studentUid).sort((a, b) => a - b);
    crashUids = crashSrc.enrolments.map((e) => e.studentUid);
    for (const [k, v] of Object.entries(await redis.hgetallBuffer(lk().version(r.version).nodes))) nodes.set(k, unpack<OrgNode>(v));
    // Half the students pick a group, so awards roll up group -> team -> tutor -> root.
    const mut = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind });
    for (const uid of uids.slice(0, STUDENTS / 2)) groupOf.set(uid, (await mut.pickGroup(service, { lessonId: LESSON, uid, groupId: null })).groupId);
    svc = new ScoreService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, scores: config.scores, wb: config.writeBehind, now: () => now });
    flusher = new Flusher({ redis, pool: db.pool, keyPrefix: config.keyPrefix, wb: { ...config.writeBehind, claimIdleMs: 300, pollMs: 5 }, batchRows: 500, lessons: [LESSON] });
  }, 120_000);

  afterAll(async () => {
    if (redis && config) {
      await dropLessonKeys(redis, config.keyPrefix, [LESSON, CRASH_LESSON]);
    }
    await redis?.quit();
    await db?.drop();
  });

  /** The path of a node, as ids from the root. */
  const pathOf = (id: string): string[] => nodes.get(id)!.path.split('/').filter(Boolean);

  it('an award to a student counts for the student, its room board and every node up its group path', async () => {
    const uid = uids[0]!;
    const group = groupOf.get(uid)!;
    const path = pathOf(group);
    expect(path.length).toBe(4); // root / tutor / team / group
    const before = await Promise.all(path.map(async (id) => Number((await redis.hget(lk().scoreNodes, id)) ?? 0)));
    const r = await svc.award(teacher, ev({ key: 'first', uid, points: 5 }));
    expect(r).toMatchObject({ replayed: false, nodeId: group, uid, points: 5, userTotal: 5, roomTotal: 5, nodeTotal: before[3]! + 5, roundId: null, at: T0 });
    for (const [i, id] of path.entries()) expect(Number(await redis.hget(lk().scoreNodes, id))).toBe(before[i]! + 5);
    // Level boards: the group in its team's, the team in its tutor's, the tutor in the root's.
    const team = await svc.nodeScores(service, LESSON, path[2]!, 10);
    expect(team.children.find((c) => c.nodeId === group)?.points).toBe(before[3]! + 5);
    const tutor = await svc.nodeScores(service, LESSON, path[1]!, 10);
    expect(tutor.points).toBe(before[1]! + 5);
    expect(tutor.children.map((c) => c.nodeId)).toContain(path[2]);
    const board = await svc.userBoard(service, LESSON, 'main', 3);
    expect(board.entries[0]).toEqual({ uid, points: 5, rank: 0 });
    const me = await svc.student({ uid, role: 'student', lesson: LESSON }, LESSON, uid, 'main');
    expect(me).toMatchObject({ lessonPoints: 5, lessonRank: 0, roomPoints: 5, roomRank: 0 });
    // A node award counts for the node and its ancestors, not for any student.
    const n = await svc.award(service, ev({ key: 'node-1', nodeId: path[2]!, points: 7 }));
    expect(n).toMatchObject({ nodeId: path[2], uid: null, userTotal: null });
    expect(Number(await redis.hget(lk().scoreNodes, path[1]!))).toBe(before[1]! + 12);
    expect(Number(await redis.hget(lk().scoreNodes, group))).toBe(before[3]! + 5);
  });

  it('a replayed key changes nothing and answers the first result, even with another payload', async () => {
    const uid = uids[1]!;
    const first = await svc.award(service, ev({ key: 'replay-1', uid, points: 3 }));
    const before = await snapshot();
    const again = await svc.award(service, ev({ key: 'replay-1', uid, points: 3 }));
    const other = await svc.award(service, ev({ key: 'replay-1', uid: uids[2]!, points: 9 }));
    expect(again).toEqual({ ...first, replayed: true });
    expect(other).toMatchObject({ replayed: true, version: first.version, uid: uids[2], userTotal: first.userTotal });
    expect(await snapshot()).toEqual(before);
  });

  it('concurrent, shuffled and repeated keys count each event once', async () => {
    const rand = prng(42);
    const events = Array.from({ length: 300 }, (_, i) => ev({ key: `conc-${i}`, uid: uids[10 + (i % 40)]!, points: 1 + (i % 4) }));
    const sends = [...events, ...events, ...events.slice(0, 100)].sort(() => rand() - 0.5);
    const before = new Map<number, number>();
    for (const e of events) before.set(e.uid!, Number((await redis.zscore(lk().scoreUsers, String(e.uid))) ?? 0));
    const results = await Promise.all(sends.map((e) => svc.award(service, e)));
    expect(results.filter((r) => !r.replayed).length).toBe(events.length);
    const want = new Map(before);
    for (const e of events) want.set(e.uid!, want.get(e.uid!)! + e.points);
    for (const [uid, total] of want) expect(Number(await redis.zscore(lk().scoreUsers, String(uid)))).toBe(total);
  });

  it('refusals write nothing: a student awarding (403), points out of range (400), unknown student, node or room (404), another lesson (403)', async () => {
    const before = await snapshot();
    const uid = uids[3]!;
    expect(await outcomeOf(svc.award({ uid, role: 'student', lesson: LESSON }, ev({ key: 'bad-1', uid, points: 1 })))).toBe('FORBIDDEN');
    expect(await outcomeOf(svc.award({ uid: 9, role: 'teacher', lesson: LESSON + 1 }, ev({ key: 'bad-2', uid, points: 1 })))).toBe('FORBIDDEN');
    const raw = { lessonId: LESSON, key: 'bad-3', roomId: 'main', uid, kind: 'reward', points: config.scores.maxPoints + 1 };
    expect(await outcomeOf(() => parseAward(raw, config.scores))).toBe('BAD_REQUEST');
    expect(await outcomeOf(() => parseAward({ ...raw, points: -1 }, config.scores))).toBe('BAD_REQUEST'); // only adjust takes points away
    expect(await outcomeOf(() => parseAward({ ...raw, points: 0, kind: 'adjust' }, config.scores))).toBe('BAD_REQUEST');
    expect(await outcomeOf(() => parseAward({ ...raw, points: config.scores.minPoints - 1, kind: 'adjust' }, config.scores))).toBe('BAD_REQUEST');
    expect(await outcomeOf(() => parseAward({ ...raw, points: 1, nodeId: 'root' }, config.scores))).toBe('BAD_REQUEST'); // both uid and nodeId
    expect(await outcomeOf(() => parseAward({ ...raw, points: 1, kind: 'bribe' }, config.scores))).toBe('BAD_REQUEST');
    expect(await outcomeOf(svc.award(service, ev({ key: 'bad-4', uid: 999_999_999, points: 1 })))).toBe('STUDENT_NOT_FOUND');
    expect(await outcomeOf(svc.award(service, ev({ key: 'bad-5', nodeId: 'no.such.node', points: 1 })))).toBe('NODE_NOT_FOUND');
    expect(await outcomeOf(svc.award(service, ev({ key: 'bad-6', uid, roomId: 'no-room', points: 1 })))).toBe('ROOM_NOT_FOUND');
    expect(await outcomeOf(svc.award(service, ev({ key: 'bad-7', uid, points: 1, roundId: 999 })))).toBe('PK_ROUND_NOT_FOUND');
    expect(await outcomeOf(svc.startPk({ uid, role: 'student', lesson: LESSON }, { lessonId: LESSON, roomId: 'main', sessionId: null, kind: 'seat', a: 'left', b: 'right', durationMs: 1000 }))).toBe('FORBIDDEN');
    expect(await snapshot()).toEqual(before);
    // A refused key was not burnt: it can still be used.
    expect((await svc.award(service, ev({ key: 'bad-4', uid, points: 1 }))).replayed).toBe(false);
  });

  it('PK rounds: points count only from start to end, one round at a time, a closed round refuses, the result states the winner or a tie', async () => {
    const tutors = [...nodes.values()].filter((n) => n.kind === 'tutor').map((n) => n.nodeId).sort();
    const [ta, tb] = [tutors[0]!, tutors[1]!];
    const under = (t: string) => uids.find((u) => groupOf.has(u) && pathOf(groupOf.get(u)!)[1] === t)!;
    const [ua, ub] = [under(ta), under(tb)];
    now = T0 + 100_000;
    // Before the round starts: counted for the student, not for any side.
    expect((await svc.award(service, ev({ key: 'pk-before', uid: ua, points: 4 }))).roundId).toBeNull();
    const round = await svc.startPk(teacher, { lessonId: LESSON, roomId: 'main', sessionId: null, kind: 'node', a: ta, b: tb, durationMs: 10_000 });
    expect(round).toMatchObject({ running: true, startAt: now, endAt: now + 10_000, pointsA: 0, pointsB: 0, winner: null, scope: 'r:main' });
    expect(await outcomeOf(svc.startPk(teacher, { lessonId: LESSON, roomId: 'main', sessionId: null, kind: 'node', a: ta, b: tb, durationMs: 5000 }))).toBe('PK_ROUND_RUNNING');
    // A session has its own scope: a round may run there at the same time.
    const inSession = await svc.startPk(teacher, { lessonId: LESSON, roomId: 'main', sessionId: 'sess-1', kind: 'seat', a: 'left', b: 'right', durationMs: 10_000 });
    expect(inSession.scope).toBe('s:sess-1');
    // Overlapping sides are refused.
    expect(await outcomeOf(svc.startPk(teacher, { lessonId: LESSON, roomId: 'main', sessionId: 'sess-2', kind: 'node', a: ta, b: 'root', durationMs: 5000 }))).toBe('BAD_REQUEST');

    now += 1;
    const a1 = await svc.award(service, ev({ key: 'pk-a1', uid: ua, points: 6, roundId: round.roundId }));
    expect(a1).toMatchObject({ roundId: round.roundId, side: 'a', sideTotal: 6 });
    const b1 = await svc.award(service, ev({ key: 'pk-b1', nodeId: tb, points: 2 }));
    expect(b1).toMatchObject({ side: 'b', sideTotal: 2 });
    expect((await svc.award(service, ev({ key: 'pk-root', nodeId: 'root', points: 50 }))).side).toBeNull(); // above both sides
    const s1 = await svc.award(service, ev({ key: 'pk-s1', uid: ub, sessionId: 'sess-1', seatId: 'seat-3', side: 'right', points: 3 }));
    expect(s1).toMatchObject({ roundId: inSession.roundId, side: 'b', sideTotal: 3 });
    expect(Number(await redis.hget(lk().scoreSeats('s:sess-1'), 'seat-3'))).toBe(3);
    now = round.endAt - 1;
    await svc.award(service, ev({ key: 'pk-b2', uid: ub, points: 4 }));
    // At the end (exclusive) and after: not counted; naming the round is refused and writes nothing.
    now = round.endAt;
    expect((await svc.award(service, ev({ key: 'pk-at-end', uid: ub, points: 100 }))).side).toBeNull();
    const before = await snapshot();
    expect(await outcomeOf(svc.award(service, ev({ key: 'pk-late', uid: ub, points: 1, roundId: round.roundId })))).toBe('PK_ROUND_CLOSED');
    expect(await snapshot()).toEqual(before);
    expect(await outcomeOf(svc.endPk(teacher, { lessonId: LESSON, roomId: 'main', sessionId: null, roundId: round.roundId }))).toBe('PK_ROUND_CLOSED');
    const result = await svc.pk(service, { lessonId: LESSON, roomId: 'main', sessionId: null });
    expect(result).toMatchObject({ roundId: round.roundId, running: false, pointsA: 6, pointsB: 6, winner: 'tie', winnerSide: null });

    // A new round may start now; ended early, its totals are final and the winner stated.
    const r2 = await svc.startPk(teacher, { lessonId: LESSON, roomId: 'main', sessionId: null, kind: 'node', a: ta, b: tb, durationMs: 60_000 });
    await svc.award(service, ev({ key: 'pk2-a', uid: ua, points: 2 }));
    now += 10;
    const ended = await svc.endPk(teacher, { lessonId: LESSON, roomId: 'main', sessionId: null, roundId: r2.roundId });
    expect(ended).toMatchObject({ running: false, pointsA: 2, pointsB: 0, winner: 'a', winnerSide: ta, endAt: now });
    expect((await svc.award(service, ev({ key: 'pk2-after', uid: ub, points: 9 }))).side).toBeNull();
    expect(await svc.pk(service, { lessonId: LESSON, roomId: 'main', sessionId: null })).toMatchObject({ pointsA: 2, pointsB: 0, winner: 'a' });
    now = T0;
  });

  it('after a random run, MySQL ledger recomputation equals every live total; a drifted total is reported and repaired from the ledger', async () => {
    const rand = prng(20261129);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const groupsAndTeams = [...nodes.values()].filter((n) => n.kind === 'group' || n.kind === 'team').map((n) => n.nodeId);
    const kinds = ['reward', 'answer', 'gift', 'adjust'] as const;
    const events: ScoreEvent[] = [];
    for (let i = 0; i < 1500; i++) {
      const toNode = rand() < 0.3;
      const kind = pick(kinds);
      const points = kind === 'adjust' ? pick([-3, -1, 2, 5]) : 1 + Math.floor(rand() * 10);
      const seat = rand() < 0.2;
      events.push(ev({ key: `rnd-${i}`, uid: toNode ? null : pick(uids), nodeId: toNode ? pick(groupsAndTeams) : null, kind, points, sessionId: seat ? pick(['sess-1', 'sess-9']) : null, seatId: seat ? `seat-${Math.floor(rand() * 9)}` : null }));
    }
    flusher.start();
    try {
      // In bursts, with replays mixed in.
      for (let i = 0; i < events.length; i += 100) {
        const burst = events.slice(i, i + 100);
        await Promise.all([...burst, ...burst.filter(() => rand() < 0.2)].map((e) => svc.award(service, e)));
      }
    } finally {
      await flusher.stop();
    }
    const report = await reconcileScores(deps(), LESSON);
    expect(report.differences).toEqual([]);
    expect(report.unflushed).toBe(0);
    const [[{ n }]] = (await db.pool.query<Rows>('SELECT COUNT(*) AS n FROM score_ledger WHERE lesson_id = ?', [LESSON])) as unknown as [[{ n: number }]];
    expect(report.ledgerEvents).toBe(Number(n));
    expect(Number(n)).toBe(await redis.hlen(lk().scoreIdem));
    // The test's own sum for the random events: every user's lesson total grew by exactly its events.
    const rows = (await db.pool.query<Rows>("SELECT uid, SUM(points) AS p FROM score_ledger WHERE lesson_id = ? AND uid IS NOT NULL GROUP BY uid", [LESSON]))[0];
    for (const r of rows) expect(Number(await redis.zscore(lk().scoreUsers, String(r.uid))), `uid ${r.uid}`).toBe(Number(r.p));
    const rootSum = (await db.pool.query<Rows>('SELECT SUM(points) AS p FROM score_ledger WHERE lesson_id = ?', [LESSON]))[0][0]!.p;
    expect(Number(await redis.hget(lk().scoreNodes, 'root'))).toBe(Number(rootSum));

    // Drift Redis: a user total, a node total, a level board and a seat; reconcile reports each, repair restores them.
    const team = groupsAndTeams.find((id) => nodes.get(id)!.kind === 'team')!;
    await redis.zincrby(lk().scoreUsers, 5, String(uids[7]));
    await redis.hincrby(lk().scoreNodes, 'root', -3);
    await redis.zincrby(lk().scoreChildren(nodes.get(team)!.parentId!), 11, team);
    await redis.hincrby(lk().scoreSeats('s:sess-9'), 'seat-100', 2);
    const drift = await reconcileScores(deps(), LESSON);
    expect(drift.differences.map((d) => `${d.what}:${d.of}:${d.member}:${d.live - d.ledger}`).sort()).toEqual(
      [`user::${uids[7]}:5`, 'node::root:-3', `child:${nodes.get(team)!.parentId}:${team}:11`, 's:sess-9'.replace(/^/, 'seat:') + ':seat-100:2'].sort(),
    );
    const repaired = await reconcileScores(deps(), LESSON, { repair: true });
    expect(repaired).toMatchObject({ repaired: 4, remaining: 0 });
    expect((await reconcileScores(deps(), LESSON)).differences).toEqual([]);
  }, 120_000);

  it('reconciles cleanly while events keep arriving: the totals at one moment against the ledger up to that version', async () => {
    let stop = false;
    let sent = 0;
    const load = (async () => {
      while (!stop) {
        await Promise.all(Array.from({ length: 32 }, () => svc.award(service, ev({ key: `live-${sent++}`, uid: uids[sent % uids.length]!, points: 1 + (sent % 3) }))));
      }
    })();
    try {
      while (sent < 500) await new Promise((r) => setTimeout(r, 10));
      const report = await reconcileScores(deps(), LESSON);
      expect(report.unflushed).toBe(0);
      expect(report.differences).toEqual([]);
    } finally {
      stop = true;
      await load;
    }
  }, 60_000);

  it('kill -9 of the awarding process and of the flusher mid-stream: every acknowledged event is in the ledger once, and the totals reconcile', async () => {
    const env = {
      ...process.env,
      ORGENGINE_KEY_PREFIX: config.keyPrefix,
      ORGENGINE_MYSQL_URL: db.url,
      ...(mode === 'single' ? { ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_REDIS_CLUSTER_NODES: '' } : { ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(',') }),
      ORGENGINE_WB_CLAIM_IDLE_MS: '300',
      ORGENGINE_WB_READ_COUNT: '200',
      ORGENGINE_WB_MAX_BATCH_RECORDS: '400',
      ORGENGINE_LOG_LEVEL: 'error',
    };
    const acks: string[] = [];
    let partial = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/scoreChild.ts', String(CRASH_LESSON), crashUids.join(','), 'root'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const flush = spawn(process.execPath, ['bin/orgengine.js', 'flush'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.startsWith('ack ')) acks.push(l);
    });
    const stream = lessonKeys(config.keyPrefix, CRASH_LESSON).writeBehind;
    try {
      const flushed = async () => Number((await db.pool.query<Rows>('SELECT COUNT(*) AS n FROM score_ledger WHERE lesson_id = ?', [CRASH_LESSON]))[0][0]!.n);
      const deadline = Date.now() + 40_000;
      while (Date.now() < deadline && (acks.length < 3000 || (await flushed()) < 200)) await new Promise((r) => setTimeout(r, 50));
      expect(acks.length).toBeGreaterThanOrEqual(3000);
      // Kill while the flusher holds read but unacknowledged events (frozen first, so it cannot acknowledge them meanwhile).
      expect(await freezeWhileHolding(flush, async () => Number(((await redis.xpending(stream, FLUSH_GROUP)) as [number])[0]))).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
      flush.kill('SIGKILL');
      await Promise.all([exited(child), exited(flush)]);
    }
    expect(await redis.xlen(stream)).toBeGreaterThan(0);
    const restarted = new Flusher({ redis, pool: db.pool, keyPrefix: config.keyPrefix, wb: { ...config.writeBehind, claimIdleMs: 300, pollMs: 5 }, batchRows: 500, lessons: [CRASH_LESSON] });
    expect(await restarted.drain(30_000)).toBe(true);
    const [rows] = await db.pool.query<Rows>('SELECT idem_key, points FROM score_ledger WHERE lesson_id = ?', [CRASH_LESSON]);
    const stored = new Map(rows.map((r) => [String(r.idem_key), Number(r.points)]));
    const missing = acks.map((l) => l.split(' ')).filter(([, key, , p]) => stored.get(key!) !== Number(p));
    expect(missing).toEqual([]);
    // Exactly once: the ledger holds one row per event Redis took (acknowledged or not yet printed), and the totals agree.
    expect(stored.size).toBe(await redis.hlen(lessonKeys(config.keyPrefix, CRASH_LESSON).scoreIdem));
    const report = await reconcileScores(deps(), CRASH_LESSON);
    expect(report.differences).toEqual([]);
    expect(report.ledgerEvents).toBe(stored.size);
  }, 90_000);
});
