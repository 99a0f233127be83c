// Prometheus metrics of a preload worker process: job outcomes and durations,
// overrun alarms, check outcomes and delays, and (collected on scrape) the state
// of every lesson of the watched days, as `orgengine status` prints it.
import { counter, createRegistry, gauge, histogram, registerMetrics } from '../metrics.js';
import { LESSON_STATES, type DayStatus } from './status.js';

const WORKER_METRICS = {
  preloads: counter({ name: 'orgengine_preload_jobs_total', help: 'Preload job attempts by result', labelNames: ['result'] }),
  preloadSeconds: histogram({
    name: 'orgengine_preload_duration_seconds',
    help: 'Duration of successful preloads',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  }),
  overruns: counter({ name: 'orgengine_preload_overrun_total', help: 'Preloads that ran longer than expected (alarm)' }),
  checks: counter({ name: 'orgengine_check_jobs_total', help: 'Checks by result', labelNames: ['result'] }),
  checkDelays: counter({ name: 'orgengine_check_delayed_total', help: 'Checks delayed because the cluster-wide limit was reached' }),
  checksRunning: gauge({ name: 'orgengine_checks_running', help: 'Checks running in this process' }),
  changes: counter({ name: 'orgengine_change_jobs_total', help: 'Change batches by result', labelNames: ['result'] }),
  roomStatusChanges: counter({ name: 'orgengine_room_status_changes_total', help: 'live_room rows moved along scheduled -> live -> closed by their times' }),
  lessons: gauge({ name: 'orgengine_preload_lessons', help: 'Lessons of a watched day by preload state', labelNames: ['date', 'state'] }),
};

/** The metrics one worker process exports. */
export class WorkerMetrics {
  readonly registry = createRegistry();
  private readonly m = registerMetrics(this.registry, WORKER_METRICS);
  readonly preloads = this.m.preloads;
  readonly preloadSeconds = this.m.preloadSeconds;
  readonly overruns = this.m.overruns;
  readonly checks = this.m.checks;
  readonly checkDelays = this.m.checkDelays;
  readonly checksRunning = this.m.checksRunning;
  readonly changes = this.m.changes;
  readonly lessons = this.m.lessons;
  readonly roomStatusChanges = this.m.roomStatusChanges;

  /** Sets the per-state lesson gauge from day statuses (called on scrape). */
  setDays(days: readonly DayStatus[]): void {
    this.lessons.reset();
    for (const d of days) for (const s of LESSON_STATES) this.lessons.set({ date: d.date, state: s }, d.totals[s]);
  }
}
