// Commands of the distributed preload: queue workers, the day's schedule, its
// status and the sweep that re-enqueues what is not ready.
import { OrgError } from '../errors.js';
import { createInteractionService, stopSignal } from '../main.js';
import { InteractionChecker } from '../services/interactionChecker.js';
import { serveMetrics } from '../metricsServer.js';
import { WorkerMetrics } from '../preload/metrics.js';
import { ensureSweep, scheduleDay, sweepAll, sweepDay } from '../preload/schedule.js';
import { dayStatus, type DayStatus } from '../preload/status.js';
import { startWorkers, WORKER_ROLES, type WorkerRole } from '../preload/worker.js';
import { createTracing } from '../tracing.js';
import { boundedIntOpt, DATE, strOpt, withJobs, type Command } from './command.js';

/**
 * `orgengine worker`: runs until SIGINT/SIGTERM, then drains (finishes running jobs) and exits.
 * Every worker also runs the leased interaction timeout checker (services/interactionChecker.ts).
 */
const workerCommand: Command = {
  name: 'worker',
  summary: 'run queue workers and the interaction timeout checker until SIGINT/SIGTERM (serves /metrics); run as many as you like',
  usage: ['worker [--concurrency N] [--roles preload,check,changes,sweep]'],
  options: {
    concurrency: { type: 'string', value: 'N', help: 'preload jobs at once, 1-64 (default ORGENGINE_PRELOAD_CONCURRENCY)' },
    roles: { type: 'string', value: 'R,R', help: `the queues to work, of ${WORKER_ROLES.join(',')} (default: all)` },
  },
  example: 'orgengine worker --concurrency 4 --roles preload,check',
  async run({ config, values: v }) {
    const roles = (typeof v.roles === 'string' ? v.roles.split(',').map((r) => r.trim()) : WORKER_ROLES) as WorkerRole[];
    for (const r of roles) if (!WORKER_ROLES.includes(r)) throw new OrgError('BAD_REQUEST', `--roles: unknown role ${JSON.stringify(r)} (${WORKER_ROLES.join(',')})`);
    const concurrency = boundedIntOpt(v, 'concurrency', 1, 64);
    return withJobs(config, async (app, jobs) => {
      const stop = stopSignal();
      const metrics = new WorkerMetrics();
      const tracing = await createTracing(config.otlpEndpoint, 'orgengine-worker');
      const workers = startWorkers({ pool: app.pool, redis: app.redis, jobs, config, log: app.log, metrics, tracing }, { roles, preloadConcurrency: concurrency });
      if (roles.includes('sweep')) await ensureSweep(jobs, config.jobs.sweepMinutes);
      // Interaction deadlines and RTC reconciliation: a leased loop beside the queues (every worker runs one).
      const checker = new InteractionChecker({
        redis: app.redis,
        service: createInteractionService(app),
        keyPrefix: config.keyPrefix,
        ia: config.interaction,
        ttlSeconds: config.ttlSeconds,
        log: app.log,
      });
      checker.start();
      let server: import('node:http').Server | undefined;
      if (config.jobs.metricsPort > 0) {
        const today = () => new Date().toISOString().slice(0, 10);
        const m = await serveMetrics(metrics, config.jobs.metricsPort, async () => {
          const dates = new Set([today(), ...(await jobs.connection.zrange(jobs.keys.sweptDates, 0, -1))]);
          metrics.setDays(await Promise.all([...dates].map((d) => dayStatus(app.pool, jobs, d, config.jobs))));
        });
        server = m.server;
        app.log.info({ port: m.port, roles }, 'worker started; /metrics served');
      } else app.log.info({ roles }, 'worker started');
      await stop;
      app.log.info('worker stopping: finishing running jobs');
      server?.close();
      await checker.stop();
      await workers.close();
      await tracing.shutdown();
      return 0;
    });
  },
};

/** `orgengine schedule`. */
const scheduleCommand: Command = {
  name: 'schedule',
  summary: "enqueue the day's lessons (earliest first) and the repeatable sweep",
  usage: ['schedule --date YYYY-MM-DD [--sweep-minutes M]'],
  options: { date: DATE, 'sweep-minutes': { type: 'string', value: 'M', help: 'period of the sweep, 1-1440 (default ORGENGINE_SWEEP_MINUTES)' } },
  example: 'orgengine schedule --date 2026-03-02',
  async run({ config, values: v, out }) {
    const minutes = boundedIntOpt(v, 'sweep-minutes', 1, 1440);
    return withJobs(config, async (app, jobs) => {
      const r = await scheduleDay(jobs, app.pool, strOpt(v, 'date'), { sweepMinutes: minutes });
      out.result(r, `${r.date}: ${r.lessons} lesson(s), ${r.added} enqueued, ${r.existing} already queued; sweep every ${r.sweepEveryMinutes} min`);
      return 0;
    });
  },
};

function statusText(st: DayStatus): string {
  const t = (ms: number | null) => (ms === null ? '-' : `${ms}ms`);
  const lines = st.lessons.map(
    (l) =>
      `${l.lessonId} ${new Date(l.startTime).toISOString().slice(11, 16)} ${l.state.padEnd(12)} students=${l.students} ` +
      `rooms=${l.rooms ?? '-'} nodes=${l.nodes ?? '-'} v=${l.version ?? '-'} preload=${t(l.preloadMs)}/${l.expectedMs}ms${l.overrun ? ' OVERRUN' : ''} ` +
      `check=${l.checkStatus ?? '-'} ${t(l.checkMs)}${l.mismatches ? ` mismatches=${l.mismatches}` : ''}${l.error ? ` (${l.error})` : ''}`,
  );
  const totals = Object.entries(st.totals).filter(([, n]) => n > 0).map(([s, n]) => `${s}=${n}`).join(' ');
  return [...lines, `${st.date}: ${st.lessons.length} lesson(s) ${totals}`].join('\n');
}

/** `orgengine status`. */
const statusCommand: Command = {
  name: 'status',
  summary: 'per-lesson preload state with counts and durations',
  usage: ['status --date YYYY-MM-DD'],
  options: { date: DATE },
  example: 'orgengine status --date 2026-03-02',
  run({ config, values: v, out }) {
    return withJobs(config, async (app, jobs) => {
      const st = await dayStatus(app.pool, jobs, strOpt(v, 'date'), config.jobs);
      out.result(st, statusText(st));
      return 0;
    });
  },
};

/** `orgengine sweep`. */
const sweepCommand: Command = {
  name: 'sweep',
  summary: 'run the sweep once now (all watched days by default)',
  usage: ['sweep [--date YYYY-MM-DD]'],
  options: { date: { ...DATE, help: 'sweep this day only' } },
  example: 'orgengine sweep --date 2026-03-02',
  run({ config, values: v, out }) {
    return withJobs(config, async (app, jobs) => {
      const r = v.date !== undefined ? [await sweepDay(jobs, app.pool, strOpt(v, 'date'), config.jobs, app.log)] : await sweepAll(jobs, app.pool, config.jobs, app.log);
      const text = r.map((d) => `${d.date}: ${d.lessons} lesson(s), re-enqueued ${d.requeued.length} [${d.requeued.join(' ')}], busy ${d.busy.length}, overruns ${d.overruns.length}`);
      out.result(r, text.join('\n') || 'no watched days');
      return 0;
    });
  },
};

/** The distributed preload's commands. */
export const JOBS_COMMANDS: readonly Command[] = [workerCommand, scheduleCommand, statusCommand, sweepCommand];
