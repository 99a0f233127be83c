// `orgengine diff`: preloads one real lesson twice, with policy A and with
// policy B, each into its own key prefix and its own scratch MySQL database,
// then reports every difference in rooms, nodes, positions and members (Redis)
// and in the MySQL rows. A policy change is checked against real lessons this
// way before it ships; the live keys and tables are only read.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { OrgError } from '../errors.js';
import { createMysqlPool, dropDatabase, ensureDatabase, migrate, type Pool } from '../store/mysql/pool.js';
import { bindPolicy, getPolicyByName, putPolicy } from '../store/mysql/policies.js';
import { readLessonInfo, readLessonSource, writeLessonSource } from '../store/mysql/source.js';
import { readStoredTopology } from '../store/mysql/topology.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import { dropPreloadedLesson } from '../store/redis/lessonWriter.js';
import { readVersionSnapshot } from '../store/redis/versionSnapshot.js';
import { mysqlView, redisView } from './check.js';
import { compareViews, Differences } from './compare.js';
import { preloadLesson, type PreloadResult } from './preload.js';

/** What a diff needs: the live database and Redis (read only) and the config. */
export interface DiffDeps {
  pool: Pool;
  redis: RedisClient;
  config: Config;
  log?: Logger;
}

/** One side of a diff. */
export interface DiffSide {
  policy: string;
  keyPrefix: string;
  database: string;
  version: number;
  counts: PreloadResult['counts'];
  durationMs: number;
}

/** The diff of one lesson under two policies. */
export interface DiffReport {
  lessonId: number;
  a: DiffSide;
  b: DiffSide;
  /** Every difference, B compared with A, in Redis and in MySQL. */
  differences: ReturnType<Differences['toJSON']>;
  kept: boolean;
}

/** The URL of database `name` on the server of `url`. */
function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Preloads `lessonId` with policies `policyA` and `policyB` into scratch places and compares them. */
export async function diffPolicies(deps: DiffDeps, lessonId: number, policyA: string, policyB: string, opts: { keep?: boolean; maxSamples?: number } = {}): Promise<DiffReport> {
  const { pool, redis, config } = deps;
  const info = await readLessonInfo(pool, lessonId);
  if (!info) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
  const policies = await Promise.all([policyA, policyB].map((n) => getPolicyByName(pool, n)));
  policies.forEach((p, i) => {
    if (!p) throw new OrgError('POLICY_NOT_FOUND', `no policy named ${JSON.stringify(i === 0 ? policyA : policyB)}`);
  });
  const source = await readLessonSource(pool, info);
  const tag = randomUUID().slice(0, 8);
  const mainDb = new URL(config.mysqlUrl).pathname.replace(/^\//, '').slice(0, 40);

  const sides: Array<{ side: DiffSide; pool: Pool }> = [];
  try {
    for (const [i, name] of ['a', 'b'].entries()) {
      const policy = policies[i]!;
      const database = `${mainDb}_diff_${name}_${tag}`;
      const url = withDatabase(config.mysqlUrl, database);
      await ensureDatabase(url);
      const scratch = createMysqlPool(url, 4);
      const keyPrefix = `${config.keyPrefix}diff:${tag}:${name}:`;
      sides.push({ pool: scratch, side: { policy: policy.name, keyPrefix, database, version: 0, counts: { rooms: 0, nodes: 0, positions: 0, roomUsers: 0, memberPartitions: 0 }, durationMs: 0 } });
      await migrate(scratch);
      await writeLessonSource(scratch, source, config.mysqlBatchRows);
      await putPolicy(scratch, policy.name, policy.confText, policy.description);
      await bindPolicy(scratch, lessonId, policy.name);
      const r = await preloadLesson({ pool: scratch, redis, config: { ...config, keyPrefix }, log: deps.log }, lessonId);
      Object.assign(sides[i]!.side, { version: r.version, counts: r.counts, durationMs: r.durationMs });
    }

    const [a, b] = sides as [(typeof sides)[number], (typeof sides)[number]];
    const diffs = new Differences(opts.maxSamples ?? 200);
    const snap = async (s: DiffSide) => redisView(await readVersionSnapshot(redis, lessonKeys(s.keyPrefix, lessonId), s.version, config.redisCommandsPerPipeline));
    const [ra, rb] = await Promise.all([snap(a.side), snap(b.side)]);
    compareViews(ra, rb, 'a/b redis', diffs);
    const [ma, mb] = await Promise.all([readStoredTopology(a.pool, lessonId), readStoredTopology(b.pool, lessonId)]);
    if (ma && mb) compareViews(mysqlView(ma, ma.roomUsers.length > 0), mysqlView(mb, mb.roomUsers.length > 0), 'a/b mysql', diffs);
    return { lessonId, a: a.side, b: b.side, differences: diffs.toJSON(), kept: opts.keep === true };
  } finally {
    for (const { side, pool: scratch } of sides) {
      if (!opts.keep) {
        await dropPreloadedLesson(redis, lessonKeys(side.keyPrefix, lessonId), side.version).catch(() => undefined);
        await dropDatabase(scratch, side.database).catch(() => undefined);
      }
      await scratch.end().catch(() => undefined);
    }
  }
}
