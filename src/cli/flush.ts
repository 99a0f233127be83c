// Commands of the write-behind path: the flusher that writes in-class changes
// to MySQL, and the reconcile that compares (and repairs) what it wrote.
import { OrgError } from '../errors.js';
import { createFlusher, stopSignal } from '../main.js';
import { createRegistry } from '../metrics.js';
import { serveMetrics } from '../metricsServer.js';
import { createTracing } from '../tracing.js';
import { reconcileLesson, reconcileScores, type ReconcileReport, type ScoreReconcileReport } from '../services/reconcile.js';
import { intOpt, LESSON, withApp, type Command, type Values } from './command.js';

/** Lesson ids from `--lesson 1,2,3` (none when absent). */
function lessonList(v: Values): number[] | undefined {
  const raw = v.lesson;
  if (raw === undefined) return undefined;
  const ids = String(raw).split(',').map((x) => Number(x.trim()));
  if (ids.length === 0 || ids.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new OrgError('BAD_REQUEST', `--lesson must be positive integers separated by commas, got ${JSON.stringify(raw)}`);
  }
  return ids;
}

/** `orgengine flush`. */
const flushCommand: Command = {
  name: 'flush',
  summary: 'write in-class changes behind to MySQL until SIGINT/SIGTERM (--drain: until the streams are empty)',
  usage: ['flush [--lesson ID[,ID...]] [--drain] [--metrics-port P]'],
  options: {
    lesson: { type: 'string', value: 'ID[,ID...]', help: 'flush these lessons only (default: every registered lesson)' },
    drain: { type: 'boolean', help: 'flush until the streams are empty (at most 10 min), then exit; exit 1 if not drained' },
    'metrics-port': { type: 'string', value: 'P', help: 'serve /metrics on this port (0: any free port)' },
  },
  example: 'orgengine flush --metrics-port 9466',
  run({ config, values: v, out }) {
    return withApp(config, async (app) => {
      const metrics = createRegistry({ defaultMetrics: true });
      const tracing = await createTracing(app.config.otlpEndpoint, 'orgengine-flusher');
      const flusher = createFlusher(app, { lessons: lessonList(v), metrics, tracing });
      if (v.drain) {
        const ok = await flusher.drain(10 * 60_000);
        const n = (await metrics.getSingleMetric('orgengine_wb_records_total')?.get())?.values[0]?.value ?? 0;
        out.result({ drained: ok, records: n }, ok ? `drained: ${n} record(s) flushed` : 'not drained within 10 min');
        await tracing.shutdown();
        return ok ? 0 : 1;
      }
      const stop = stopSignal();
      const server = v['metrics-port'] === undefined ? null : await serveMetrics({ registry: metrics }, intOpt(v, 'metrics-port'));
      flusher.start();
      app.log.info({ consumer: flusher.consumer, metricsPort: server?.port ?? null }, 'flusher started');
      await stop;
      await flusher.stop();
      await tracing.shutdown();
      server?.server.close();
      app.log.info('flusher stopped');
      return 0;
    });
  },
};

function reconcileLines(r: ReconcileReport): string {
  const lines = [`lesson ${r.lessonId}: unflushed=${r.unflushed}${r.unflushed > 0 && r.remaining === null ? ' (differences may be changes not flushed yet; --repair flushes first)' : ''}`];
  for (const e of Object.keys(r.compared) as Array<keyof ReconcileReport['compared']>) {
    lines.push(`  ${e.padEnd(9)} compared=${r.compared[e]} differing=${r.differing[e]}`);
  }
  for (const d of r.differences) lines.push(`  ! ${d.entity} ${d.roomId ? `${d.roomId} ` : ''}${d.key}: redis=${d.redis ?? '-'} mysql=${d.mysql ?? '-'}`);
  for (const m of r.seatMismatches.slice(0, 20)) lines.push(`  ! seats ${m.groupId}: counter=${m.seats} students=${m.members}`);
  const ia = r.interaction;
  lines.push(`  interaction sessions=${ia.sessions} links=${ia.links} differing=${ia.differing}${ia.rejournaled ? ` rejournaled=${ia.rejournaled}` : ''}`);
  for (const d of ia.differences) lines.push(`  ! interaction ${d.sessionId}${d.uid === null ? '' : ` ${d.uid}`}: redis=${d.redis ?? '-'} mysql=${d.mysql ?? '-'}`);
  const rb = r.rollback;
  lines.push(`  versions: redis=${rb.redisVersion ?? '-'} mysql=${rb.mysqlVersion}${rb.rolledBack ? '  ROLLED BACK: Redis lost acknowledged writes MySQL has; repair with --repair --from mysql' : ''}`);
  if (r.remaining !== null) lines.push(`  repaired: rejournaled=${r.rejournaled} restored=${r.restored} remaining=${r.remaining}`);
  return lines.join('\n');
}

function scoreLines(r: ScoreReconcileReport): string {
  const counts = Object.entries(r.compared).map(([k, n]) => `${k}=${n}`).join(' ');
  const lines = [`  scores    ledger=${r.ledgerEvents} events up to version ${r.version}; compared ${counts}; differing=${r.differing}${r.unflushed > 0 ? ` (unflushed=${r.unflushed}: may be pending events)` : ''}`];
  for (const d of r.differences) lines.push(`  ! score ${d.what} ${d.of ? `${d.of} ` : ''}${d.member}: redis=${d.live} ledger=${d.ledger}`);
  if (r.remaining !== null) lines.push(`  scores repaired: increments=${r.repaired} remaining=${r.remaining}`);
  return lines.join('\n');
}

/** `--from`: which side a repair trusts (only with --repair). */
function fromOpt(v: Values): 'redis' | 'mysql' {
  const raw = v.from === undefined ? 'redis' : String(v.from);
  if (raw !== 'redis' && raw !== 'mysql') throw new OrgError('BAD_REQUEST', `--from must be redis or mysql, got ${JSON.stringify(raw)}`);
  if (v.from !== undefined && v.repair !== true) throw new OrgError('BAD_REQUEST', '--from applies to --repair only');
  return raw;
}

/** `orgengine reconcile`. */
const reconcileCommand: Command = {
  name: 'reconcile',
  summary: "compare a lesson's in-class state, interaction sessions and score totals in Redis with MySQL; exit 1 while differences remain",
  usage: ['reconcile --lesson ID [--repair [--from redis|mysql]] [--every SECONDS]'],
  options: {
    lesson: LESSON,
    every: { type: 'string', value: 'SECONDS', help: 'run again every SECONDS until SIGINT/SIGTERM (the periodic reconciliation job); exit 1 if the last run left differences' },
    repair: {
      type: 'boolean',
      help: "re-journal Redis's value of every differing key and flush it (--from mysql: put MySQL's value back into Redis instead); score totals are always set to the ledger's",
    },
    from: { type: 'string', value: 'redis|mysql', help: 'the side a repair trusts: redis (default) or mysql, after Redis rolled back (picks, sign-ins, mutes)' },
  },
  example: 'orgengine reconcile --lesson 100001 --repair --from mysql',
  run({ config, values: v, out }) {
    const every = v.every === undefined ? null : intOpt(v, 'every');
    if (every !== null && every < 1) throw new OrgError('BAD_REQUEST', `--every must be at least 1 second, got ${every}`);
    return withApp(config, async (app) => {
      const deps = { redis: app.redis, pool: app.pool, keyPrefix: config.keyPrefix, ttlSeconds: config.ttlSeconds, wb: config.writeBehind, batchRows: config.mysqlBatchRows, log: app.log };
      const lessonId = intOpt(v, 'lesson');
      const from = fromOpt(v);
      const once = async (): Promise<number> => {
        const r = await reconcileLesson(deps, lessonId, { repair: v.repair === true, from });
        const s = await reconcileScores(deps, lessonId, { repair: v.repair === true });
        out.result({ ...r, scores: s }, `${reconcileLines(r)}\n${scoreLines(s)}`);
        const left = (r.remaining ?? r.differences.length + r.seatMismatches.length + r.interaction.differing) + (s.remaining ?? s.differing);
        return left === 0 ? 0 : 1;
      };
      if (every === null) return once();
      const stop = stopSignal();
      let stopped = false;
      void stop.then(() => (stopped = true));
      let code = 0;
      while (!stopped) {
        code = await once();
        await Promise.race([stop, new Promise((r) => setTimeout(r, every * 1000).unref())]);
      }
      return code;
    });
  },
};

/** The write-behind commands. */
export const FLUSH_COMMANDS: readonly Command[] = [flushCommand, reconcileCommand];
