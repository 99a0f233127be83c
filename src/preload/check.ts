// The check: what readers see (the readable Redis version) and what MySQL holds
// are compared with the lesson's source recompiled now, field by field: the
// lesson record, rooms, nodes, every position and every member partition. The
// report goes on a preload_check row tied to the run that wrote the version; a
// mismatch fails loudly (CHECK_FAILED) after a second pass confirms it, so a
// change landing mid-check is not mistaken for corruption.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { OrgError } from '../errors.js';
import { compileLesson } from '../model/compile.js';
import { parsePolicyConf, type PreloadMode } from '../model/policy.js';
import { getBoundPolicy } from '../store/mysql/policies.js';
import type { Pool } from '../store/mysql/pool.js';
import { finishCheck, startCheck } from '../store/mysql/preloadChecks.js';
import { readLessonInfo, readLessonSource } from '../store/mysql/source.js';
import { readStoredTopology, type StoredTopology } from '../store/mysql/topology.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import { positionBuckets } from '../store/redis/lessonWriter.js';
import { readPreloadHead, type PreloadHead } from '../store/redis/preloadLock.js';
import { readVersionSnapshot, type VersionSnapshot } from '../store/redis/versionSnapshot.js';
import { compareViews, Differences, topologyView, type LessonView, type ViewMember, type ViewPosition } from './compare.js';

/** What a check needs. */
export interface CheckDeps {
  pool: Pool;
  redis: RedisClient;
  config: Pick<Config, 'keyPrefix' | 'defaultPartitionSize' | 'maxStudentsPerLesson' | 'redisCommandsPerPipeline'>;
  log?: Logger;
  now?: () => number;
}

/** Options of one check. */
export interface CheckOptions {
  /** Wait before the confirming pass after a mismatch (default 500 ms). */
  confirmDelayMs?: number;
  /** Passes at most when changes keep landing mid-check (default 3). */
  maxPasses?: number;
  /** Differences kept in the report (all are counted). */
  maxSamples?: number;
  /** What is compared with the source (default both): 'redis' alone checks what readers see, quickest. */
  targets?: ReadonlyArray<'redis' | 'mysql'>;
}

/** The outcome of a check, as stored on preload_check. */
export interface CheckReport {
  lessonId: number;
  version: number;
  /** The run that switched the checked version in. */
  runId: number | null;
  policyId: number;
  mode: PreloadMode;
  status: 'passed' | 'failed' | 'superseded';
  mismatches: number;
  differences: ReturnType<Differences['toJSON']>;
  counts: { rooms: number; nodes: number; positions: number; members: number; roomUsers: number };
  passes: number;
  durationMs: number;
  targets: Array<'redis' | 'mysql'>;
}

/** The Redis snapshot as a comparable view. */
export function redisView(s: VersionSnapshot): LessonView {
  const view: LessonView = {
    lesson: s.lesson ? { ...s.lesson } : {},
    rooms: new Map(s.rooms.map((r) => [r.roomId, r])),
    nodes: new Map(s.nodes.map((n) => [n.nodeId, n])),
    posBuckets: s.lesson?.posBuckets,
  };
  const mode = s.lesson?.preloadMode;
  if (mode !== 'minimal') {
    view.positions = new Map(
      s.positions.map((p) => [p.uid, { nodeId: p.position.nodeId, rooms: p.position.rooms.map((r) => [r.roomId, r.partition] as [string, number]), bucket: p.bucket }]),
    );
  }
  if (mode === 'full') {
    const members = new Map<string, Map<number, ViewMember>>();
    for (const r of s.rooms) members.set(r.roomId, new Map());
    for (const m of s.members) {
      let room = members.get(m.roomId);
      if (!room) members.set(m.roomId, (room = new Map()));
      room.set(m.uid, { partition: m.partition, order: m.order });
    }
    view.members = members;
  }
  return view;
}

/** MySQL's rows as a comparable view; positions list rooms sorted by id (rows carry no room order). */
export function mysqlView(t: StoredTopology, withRoomUsers: boolean): LessonView {
  const view: LessonView = {
    lesson: { status: t.status, preloadVersion: t.version },
    rooms: new Map(t.rooms.map((r) => [r.roomId, r])),
    nodes: new Map(t.nodes.map((n) => [n.nodeId, n])),
  };
  if (withRoomUsers) {
    const positions = new Map<number, ViewPosition>();
    const members = new Map<string, Map<number, ViewMember>>();
    for (const r of t.rooms) members.set(r.roomId, new Map());
    for (const u of t.roomUsers) {
      let p = positions.get(u.uid);
      if (!p) positions.set(u.uid, (p = { nodeId: u.nodeId, rooms: [] }));
      // Rows of one student that disagree on the node show up as a node difference.
      else if (p.nodeId !== u.nodeId) p.nodeId = `${p.nodeId}|${u.nodeId}`;
      p.rooms.push([u.roomId, u.partition]);
      let room = members.get(u.roomId);
      if (!room) members.set(u.roomId, (room = new Map()));
      room.set(u.uid, { partition: u.partition, order: u.order });
    }
    for (const p of positions.values()) p.rooms.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    view.positions = positions;
    view.members = members;
  }
  return view;
}

function sortedRooms(view: LessonView): LessonView {
  if (!view.positions) return view;
  const positions = new Map<number, ViewPosition>();
  for (const [uid, p] of view.positions) positions.set(uid, { nodeId: p.nodeId, rooms: [...p.rooms].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) });
  return { ...view, positions, posBuckets: undefined };
}

interface Pass {
  head: PreloadHead;
  report: Omit<CheckReport, 'passes' | 'durationMs' | 'status' | 'targets'>;
  changed: boolean;
  superseded: boolean;
}

async function onePass(deps: CheckDeps, lessonId: number, maxSamples: number, targets: ReadonlyArray<'redis' | 'mysql'>): Promise<Pass> {
  const { pool, redis, config } = deps;
  const lk = lessonKeys(config.keyPrefix, lessonId);
  const head = await readPreloadHead(redis, lk);
  if (head.version === 0) throw new OrgError('LESSON_NOT_READY', `lesson ${lessonId} has no readable version to check`);
  const lesson = await readLessonInfo(pool, lessonId);
  if (!lesson) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
  const bound = await getBoundPolicy(pool, lessonId);
  if (!bound?.policy) throw new OrgError('POLICY_NOT_BOUND', `lesson ${lessonId} has no policy bound`);
  const conf = parsePolicyConf(bound.policy.confText, config.defaultPartitionSize);

  const snap = await readVersionSnapshot(redis, lk, head.version, config.redisCommandsPerPipeline);
  const mode: PreloadMode = snap.lesson?.preloadMode ?? conf.preloadMode;
  const withMysql = targets.includes('mysql');
  const stored = withMysql ? await readStoredTopology(pool, lessonId) : undefined;
  const source = await readLessonSource(pool, lesson);
  const topo = compileLesson(source, { ...conf, preloadMode: mode }, { policyId: bound.policy.policyId, maxStudents: config.maxStudentsPerLesson });
  const after = await readPreloadHead(redis, lk);

  const withPositions = mode !== 'minimal';
  const posBuckets = withPositions ? positionBuckets(topo.positions.length, topo.lesson.partitionSize) : 0;
  const expected = topologyView(topo, { withPositions, withMembers: mode === 'full', posBuckets });
  expected.lesson = { ...expected.lesson, version: head.version, posBuckets };
  const diffs = new Differences(maxSamples);
  if (targets.includes('redis')) compareViews(expected, redisView(snap), 'source/redis', diffs);
  if (withMysql) {
    const expectedMysql = sortedRooms(topologyView(topo, { withPositions, withMembers: withPositions }));
    expectedMysql.lesson = { status: 'ready', preloadVersion: head.version };
    if (!stored) diffs.add({ kind: 'lesson', id: 'lesson', field: 'missing', expected: 'lesson row', actual: null, between: 'source/mysql' });
    else compareViews(expectedMysql, mysqlView(stored, withPositions), 'source/mysql', diffs);
  }

  return {
    head,
    changed: after.changeSeq !== head.changeSeq,
    superseded: after.version !== head.version,
    report: {
      lessonId,
      version: head.version,
      runId: head.runId,
      policyId: bound.policy.policyId,
      mode,
      mismatches: diffs.count,
      differences: diffs.toJSON(),
      counts: {
        rooms: snap.rooms.length,
        nodes: snap.nodes.length,
        positions: snap.positions.length,
        members: snap.members.length,
        roomUsers: stored?.roomUsers.length ?? 0,
      },
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks a lesson's readable version (no storing). */
export async function checkLesson(deps: CheckDeps, lessonId: number, opts: CheckOptions = {}): Promise<CheckReport> {
  const now = deps.now ?? Date.now;
  const t0 = now();
  const maxPasses = opts.maxPasses ?? 3;
  const targets = [...(opts.targets ?? ['redis', 'mysql'])];
  let passes = 0;
  let confirming = false;
  for (;;) {
    passes++;
    const p = await onePass(deps, lessonId, opts.maxSamples ?? 50, targets);
    const done = (status: CheckReport['status']): CheckReport => ({ ...p.report, status, passes, durationMs: now() - t0, targets });
    if (p.superseded) return done('superseded');
    if (p.report.mismatches === 0) return done('passed');
    // A change landed mid-pass, or this is the first sighting: look again before failing.
    if (passes < maxPasses && (p.changed || !confirming)) {
      confirming = true;
      await sleep(opts.confirmDelayMs ?? 500);
      continue;
    }
    return done('failed');
  }
}

/** Checks a lesson and stores the report; throws CHECK_FAILED (after storing) on a mismatch. */
export async function runCheck(deps: CheckDeps, lessonId: number, opts: CheckOptions = {}): Promise<CheckReport & { checkId: number }> {
  const now = deps.now ?? Date.now;
  const started = now();
  const lk = lessonKeys(deps.config.keyPrefix, lessonId);
  const head = await readPreloadHead(deps.redis, lk);
  const checkId = await startCheck(deps.pool, lessonId, head.runId, head.version || null, started);
  let report: CheckReport;
  try {
    report = await checkLesson(deps, lessonId, opts);
  } catch (e) {
    const err = e instanceof OrgError ? e : new OrgError('INTERNAL', e instanceof Error ? e.message : String(e));
    await finishCheck(
      deps.pool,
      checkId,
      { status: 'failed', runId: head.runId, version: head.version || null, mismatches: 0, report: { error: err.toJSON() }, durationMs: now() - started },
      now(),
    ).catch(() => undefined);
    throw err;
  }
  await finishCheck(
    deps.pool,
    checkId,
    { status: report.status, runId: report.runId, version: report.version, mismatches: report.mismatches, report, durationMs: report.durationMs },
    now(),
  );
  if (report.status === 'failed') {
    deps.log?.error({ lessonId, checkId, version: report.version, mismatches: report.mismatches, byKind: report.differences.byKind }, 'preload check FAILED');
    throw new OrgError('CHECK_FAILED', `lesson ${lessonId} v${report.version}: ${report.mismatches} difference(s) from the source (check ${checkId})`, {
      checkId,
      mismatches: report.mismatches,
      byKind: report.differences.byKind,
      samples: report.differences.samples.slice(0, 5),
    });
  }
  deps.log?.info({ lessonId, checkId, version: report.version, status: report.status, durationMs: report.durationMs }, 'preload check done');
  return { ...report, checkId };
}
