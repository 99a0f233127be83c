// Prometheus metrics of a preload worker process: job outcomes and durations,
// overrun alarms, check outcomes and delays, and (collected on scrape) the state
// of every lesson of the watched days, as `orgengine status` prints it.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LESSON_STATES, type DayStatus } from './status.js';

/** The metrics one worker process exports. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly preloads = new Counter({ name: 'orgengine_preload_jobs_total', help: 'Preload job attempts by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly preloadSeconds = new Histogram({
    name: 'orgengine_preload_duration_seconds',
    help: 'Duration of successful preloads',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly overruns = new Counter({ name: 'orgengine_preload_overrun_total', help: 'Preloads that ran longer than expected (alarm)', registers: [this.registry] });
  readonly checks = new Counter({ name: 'orgengine_check_jobs_total', help: 'Checks by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly checkDelays = new Counter({ name: 'orgengine_check_delayed_total', help: 'Checks delayed because the cluster-wide limit was reached', registers: [this.registry] });
  readonly checksRunning = new Gauge({ name: 'orgengine_checks_running', help: 'Checks running in this process', registers: [this.registry] });
  readonly changes = new Counter({ name: 'orgengine_change_jobs_total', help: 'Change batches by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly lessons = new Gauge({ name: 'orgengine_preload_lessons', help: 'Lessons of a watched day by preload state', labelNames: ['date', 'state'] as const, registers: [this.registry] });

  /** Sets the per-state lesson gauge from day statuses (called on scrape). */
  setDays(days: readonly DayStatus[]): void {
    this.lessons.reset();
    for (const d of days) for (const s of LESSON_STATES) this.lessons.set({ date: d.date, state: s }, d.totals[s]);
  }
}

/**
 * Serves GET /metrics on `port` (0 picks a free one). `beforeScrape` refreshes
 * collected gauges; a failure there is logged by the caller and the rest served.
 */
export async function serveMetrics(metrics: Pick<WorkerMetrics, 'registry'>, port: number, beforeScrape?: () => Promise<void>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    void (async () => {
      await beforeScrape?.().catch(() => undefined);
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
    })().catch((e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(e)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : port };
}
