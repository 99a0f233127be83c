// Single-lesson preload: read the source, compile with the bound policy, write a
// new Redis version and the MySQL rows, then switch readers to the new version
// last. Every attempt is recorded in preload_run, including failed ones.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { OrgError, toOrgError } from '../errors.js';
import { compileLesson } from '../model/compile.js';
import { parsePolicyConf, type PreloadMode } from '../model/policy.js';
import type { Topology } from '../model/topology.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import { dropVersion, writeVersion } from '../store/redis/lessonWriter.js';
import { beginPreload, endPreload, preloadLockHolder, readPreloadHead, switchVersion } from '../store/redis/preloadLock.js';
import { getBoundPolicy } from '../store/mysql/policies.js';
import type { Pool } from '../store/mysql/pool.js';
import { abandonRun, finishRun, startRun } from '../store/mysql/preloadRuns.js';
import { readLessonInfo, readLessonSource } from '../store/mysql/source.js';
import { setLessonStatus, writeTopology } from '../store/mysql/topology.js';

/** Stages a preload passes through, reported to `onStage` (progress, tests); both write stages are reported once both writes are done. */
export type PreloadStage = 'compiled' | 'redis-written' | 'mysql-written' | 'switched';

/** What a preload needs. */
export interface PreloadDeps {
  pool: Pool;
  redis: RedisClient;
  config: Pick<
    Config,
    'keyPrefix' | 'ttlSeconds' | 'defaultPartitionSize' | 'maxStudentsPerLesson' | 'redisFieldsPerCommand' | 'redisCommandsPerPipeline' | 'mysqlBatchRows' | 'preloadLockSeconds'
  >;
  log?: Logger;
  now?: () => number;
}

/** Options of one preload. */
export interface PreloadOptions {
  /** Overrides the policy's preloadMode. */
  mode?: PreloadMode;
  onStage?: (stage: PreloadStage, topo: Topology) => void | Promise<void>;
  /** Lock token (default: a random one). A job passes `<jobKey>#<random>`. */
  lockToken?: string;
  /**
   * A lock held by a token starting with this prefix is taken over: the holder was an
   * earlier attempt of the same job, which the queue has given up on (its worker died).
   */
  takeOverPrefix?: string;
  /** Recorded on the lesson head, so a retry can tell that this job's run already switched. */
  jobKey?: string;
}

/** What a successful preload did. */
export interface PreloadResult {
  runId: number;
  lessonId: number;
  policyId: number;
  mode: PreloadMode;
  version: number;
  previousVersion: number;
  counts: Topology['counts'];
  redisCommands: number;
  mysqlRows: number;
  durationMs: number;
  timings: Record<'read' | 'compile' | 'redis' | 'mysql' | 'switch', number>;
  /** The stalled attempt this run took the lesson over from, if any. */
  tookOver?: { runId: number; version: number };
}

/** Preloads one lesson. Throws OrgError with a code on any failure (after recording it). */
export async function preloadLesson(deps: PreloadDeps, lessonId: number, opts: PreloadOptions = {}): Promise<PreloadResult> {
  const { pool, redis, config } = deps;
  const now = deps.now ?? Date.now;
  if (!Number.isSafeInteger(lessonId) || lessonId < 1) throw new OrgError('BAD_REQUEST', `lesson id must be a positive integer, got ${lessonId}`);
  const t0 = now();
  const runId = await startRun(pool, lessonId, t0);
  const lk = lessonKeys(config.keyPrefix, lessonId);
  const token = opts.lockToken ?? randomUUID();
  let locked = false;
  let version = 0;
  let policyId: number | null = null;
  let mode: PreloadMode | null = null;
  let topo: Topology | undefined;
  let redisCommands = 0;
  let tookOver: PreloadResult['tookOver'];
  const timings = { read: 0, compile: 0, redis: 0, mysql: 0, switch: 0 };
  let mark = t0;
  const lap = (k: keyof typeof timings) => {
    const t = now();
    timings[k] = t - mark;
    mark = t;
  };

  try {
    const lesson = await readLessonInfo(pool, lessonId);
    if (!lesson) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
    const bound = await getBoundPolicy(pool, lessonId);
    if (!bound) throw new OrgError('POLICY_NOT_BOUND', `lesson ${lessonId} has no policy bound`);
    if (!bound.policy) throw new OrgError('POLICY_NOT_FOUND', `lesson ${lessonId} is bound to policy ${bound.policyId}, which does not exist`);
    policyId = bound.policy.policyId;
    let conf;
    try {
      conf = parsePolicyConf(bound.policy.confText, config.defaultPartitionSize);
    } catch (e) {
      const err = toOrgError(e);
      throw new OrgError(err.code, `policy ${JSON.stringify(bound.policy.name)}: ${err.message}`, err.details);
    }
    mode = opts.mode ?? conf.preloadMode;

    const begun = await beginPreload(redis, lk, {
      token,
      lockMs: config.preloadLockSeconds * 1000,
      runId,
      now: now(),
      ttlSeconds: config.ttlSeconds,
      takeOverPrefix: opts.takeOverPrefix,
      jobKey: opts.jobKey,
    });
    locked = true;
    version = begun.version;
    if (begun.takenOver) {
      // The attempt we took over never switched: its half-written version goes, its run is marked.
      const { version: staleVersion, runId: staleRun } = begun.takenOver;
      tookOver = { runId: staleRun, version: staleVersion };
      if (staleVersion > 0) await dropVersion(redis, lk, staleVersion);
      if (staleRun > 0) await abandonRun(pool, staleRun, 'PRELOAD_STALLED', `worker stopped mid-run; run ${runId} took the lesson over`, now());
      deps.log?.warn({ lessonId, runId, staleRun, staleVersion }, 'took over a stalled preload');
    }
    await setLessonStatus(pool, lessonId, 'preloading');

    const source = await readLessonSource(pool, lesson);
    lap('read');
    topo = compileLesson(source, { ...conf, preloadMode: mode }, { policyId, maxStudents: config.maxStudentsPerLesson });
    lap('compile');
    await opts.onStage?.('compiled', topo);

    // Redis and MySQL are written side by side; MySQL commits only after the
    // Redis version is complete, so a failed Redis write leaves MySQL untouched.
    const timed = <T>(k: 'redis' | 'mysql', p: Promise<T>) => p.finally(() => (timings[k] = now() - mark));
    const redisWrite = timed(
      'redis',
      writeVersion(redis, lk, topo, version, {
        ttlSeconds: config.ttlSeconds,
        fieldsPerCommand: config.redisFieldsPerCommand,
        commandsPerPipeline: config.redisCommandsPerPipeline,
        mode,
      }),
    );
    // Committed only while the lock is still ours: a run that lost the lesson must not
    // overwrite MySQL rows of the run that took it over.
    const stillOurs = async (): Promise<void> => {
      if ((await preloadLockHolder(redis, lk)) !== token) throw new OrgError('PRELOAD_IN_PROGRESS', `lesson ${lessonId}: the preload lock was lost before the MySQL commit`);
    };
    const mysqlWrite = timed(
      'mysql',
      writeTopology(pool, topo, version, config.mysqlBatchRows, mode !== 'minimal', async () => {
        await redisWrite;
        await stillOurs();
      }),
    );
    const [w, m] = await Promise.allSettled([redisWrite, mysqlWrite]);
    if (w.status === 'rejected') throw w.reason;
    if (m.status === 'rejected') throw m.reason;
    redisCommands += w.value.commands;
    const mysqlRows = m.value;
    mark = now();
    await opts.onStage?.('redis-written', topo);
    await opts.onStage?.('mysql-written', topo);

    // Last: readers move to the new version in one step.
    redisCommands++;
    const previousVersion = await switchVersion(redis, lk, { version, token, runId, now: now(), ttlSeconds: config.ttlSeconds, changeSeq: begun.changeSeq });
    lap('switch');
    await opts.onStage?.('switched', topo);
    if (previousVersion > 0) {
      await dropVersion(redis, lk, previousVersion).catch((e: unknown) => {
        // Not fatal: the old version is unreadable already and expires with its TTL.
        deps.log?.warn({ lessonId, previousVersion, err: String(e) }, 'could not drop the previous version');
      });
    }
    await endPreload(redis, lk, token, false, now());
    locked = false;

    const durationMs = now() - t0;
    const result: PreloadResult = {
      runId,
      lessonId,
      policyId,
      mode,
      version,
      previousVersion,
      counts: topo.counts,
      redisCommands,
      mysqlRows,
      durationMs,
      timings,
      ...(tookOver ? { tookOver } : {}),
    };
    await finishRun(pool, runId, { status: 'succeeded', policyId, mode, version, counts: topo.counts, redisCommands, mysqlRows, durationMs }, now());
    deps.log?.info({ lessonId, runId, version, counts: topo.counts, durationMs, timings }, 'preload succeeded');
    return result;
  } catch (e) {
    const err = toOrgError(e);
    // Undo what is not readable anyway, so nothing half-written lingers.
    if (locked) {
      if (version > 0) await dropVersion(redis, lk, version).catch(() => undefined);
      await endPreload(redis, lk, token, true, now()).catch(() => undefined);
      const head = await readPreloadHead(redis, lk).catch(() => null);
      await setLessonStatus(pool, lessonId, head?.version ? 'ready' : 'failed').catch(() => undefined);
    }
    await finishRun(
      pool,
      runId,
      { status: 'failed', policyId, mode, version: version || null, counts: topo?.counts ?? null, redisCommands, durationMs: now() - t0, errorCode: err.code, errorMessage: err.message },
      now(),
    ).catch(() => undefined);
    deps.log?.warn({ lessonId, runId, code: err.code, err: err.message }, 'preload failed');
    throw err;
  }
}
