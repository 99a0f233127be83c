// Commands of the write-behind path: the flusher that writes in-class changes
// to MySQL, and the reconcile that compares (and repairs) what it wrote.
import { OrgError } from '../errors.js';
import { createFlusher, stopSignal } from '../main.js';
import { createRegistry } from '../metrics.js';
import { serveMetrics } from '../metricsServer.js';
import { reconcileLesson, type ReconcileReport } from '../services/reconcile.js';
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
      const flusher = createFlusher(app, { lessons: lessonList(v), metrics });
      if (v.drain) {
        const ok = await flusher.drain(10 * 60_000);
        const n = (await metrics.getSingleMetric('orgengine_wb_records_total')?.get())?.values[0]?.value ?? 0;
        out.result({ drained: ok, records: n }, ok ? `drained: ${n} record(s) flushed` : 'not drained within 10 min');
        return ok ? 0 : 1;
      }
      const stop = stopSignal();
      const server = v['metrics-port'] === undefined ? null : await serveMetrics({ registry: metrics }, intOpt(v, 'metrics-port'));
      flusher.start();
      app.log.info({ consumer: flusher.consumer, metricsPort: server?.port ?? null }, 'flusher started');
      await stop;
      await flusher.stop();
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
  summary: "compare a lesson's in-class state in Redis with MySQL; exit 1 while differences remain",
  usage: ['reconcile --lesson ID [--repair [--from redis|mysql]]'],
  options: {
    lesson: LESSON,
    repair: { type: 'boolean', help: "re-journal Redis's value of every differing key and flush it (--from mysql: put MySQL's value back into Redis instead)" },
    from: { type: 'string', value: 'redis|mysql', help: 'the side a repair trusts: redis (default) or mysql, after Redis rolled back (picks, sign-ins, mutes)' },
  },
  example: 'orgengine reconcile --lesson 100001 --repair --from mysql',
  run({ config, values: v, out }) {
    return withApp(config, async (app) => {
      const r = await reconcileLesson(
        { redis: app.redis, pool: app.pool, keyPrefix: config.keyPrefix, ttlSeconds: config.ttlSeconds, wb: config.writeBehind, batchRows: config.mysqlBatchRows, log: app.log },
        intOpt(v, 'lesson'),
        { repair: v.repair === true, from: fromOpt(v) },
      );
      out.result(r, reconcileLines(r));
      const left = r.remaining ?? r.differences.length + r.seatMismatches.length + r.interaction.differing;
      return left === 0 ? 0 : 1;
    });
  },
};

/** The write-behind commands. */
export const FLUSH_COMMANDS: readonly Command[] = [flushCommand, reconcileCommand];
