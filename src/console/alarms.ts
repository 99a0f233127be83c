// Alarm evaluation and webhook notification. Every ORGENGINE_ALARM_EVAL_MS the
// console observes the watched days' preloads and checks, the write-behind
// backlog of every lesson a flusher watches, and each configured gateway's
// /readyz; the conditions that hold (model/alarms.ts) are matched with the open
// episodes in MySQL. A new condition opens an episode and sends one "firing"
// message; a condition that clears closes it and sends one "resolved" message.
// While it holds nothing more is sent. The database decides who raises and who
// resolves, so several console processes still notify once.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { toOrgError } from '../errors.js';
import { counter, createRegistry, gauge, registerMetrics } from '../metrics.js';
import { ALARM_KINDS, alarmConditions, type AlarmCondition, type AlarmSettings, type Observation, type ObservedGateway, type ObservedStream } from '../model/alarms.js';
import type { Jobs } from '../preload/jobs.js';
import { dayStatus } from '../preload/status.js';
import { openAlarms, raiseAlarm, resolveAlarm, type AlarmRow } from '../store/mysql/console.js';
import type { Pool } from '../store/mysql/pool.js';
import type { RedisClient } from '../store/redis/client.js';
import { watchedLessons, writeBehindBacklog } from '../store/redis/inClassState.js';
import { lessonKeys, writeBehindRegistryKey } from '../store/redis/keys.js';
import type { AlarmSettingsStore } from './settings.js';

const CONSOLE_METRICS = {
  firing: gauge({ name: 'orgengine_alarms_firing', help: 'Alarm episodes open now, by kind', labelNames: ['kind'] }),
  raised: counter({ name: 'orgengine_alarms_raised_total', help: 'Alarm episodes opened, by kind', labelNames: ['kind'] }),
  resolved: counter({ name: 'orgengine_alarms_resolved_total', help: 'Alarm episodes closed because their condition cleared, by kind', labelNames: ['kind'] }),
  deliveries: counter({ name: 'orgengine_alarm_webhook_deliveries_total', help: 'Webhook messages by outcome (delivered, or failed after every try)', labelNames: ['result'] }),
  retries: counter({ name: 'orgengine_alarm_webhook_retries_total', help: 'Webhook POSTs tried again after a failure' }),
  evaluations: counter({ name: 'orgengine_alarm_evaluations_total', help: 'Alarm evaluations by result', labelNames: ['result'] }),
  requests: counter({ name: 'orgengine_console_requests_total', help: 'Console API calls by route and status', labelNames: ['route', 'status'] }),
};

/** The metrics the console process exports on /metrics. */
export class ConsoleMetrics {
  readonly registry = createRegistry({ defaultMetrics: true });
  readonly m = registerMetrics(this.registry, CONSOLE_METRICS);
}

/** A message sent to every webhook. */
export interface AlarmMessage {
  source: 'orgengine';
  status: 'firing' | 'resolved';
  alarm: { id: number; key: string; kind: string; lessonId: number | null; message: string; raisedAt: number; resolvedAt: number | null };
  at: number;
}

/** What the monitor works with. */
export interface AlarmMonitorDeps {
  pool: Pool;
  redis: RedisClient;
  jobs: Jobs;
  config: Config;
  log: Logger;
  settings: AlarmSettingsStore;
  metrics: ConsoleMetrics;
  now?: () => number;
}

/** Watched lessons whose write-behind backlog one evaluation reads at most. */
const MAX_STREAMS = 5000;

/** Evaluates alarms on a timer and notifies webhooks. */
export class AlarmMonitor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly deliveries = new Set<Promise<void>>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly d: AlarmMonitorDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Evaluates now and then every ORGENGINE_ALARM_EVAL_MS. */
  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.running = this.evaluate()
        .then(() => undefined)
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.d.config.console.alarmEvalMs);
        });
    };
    loop();
  }

  /** Stops the timer and waits for the running evaluation and the deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.allSettled([...this.deliveries]);
  }

  /** Resolves when every webhook delivery started so far has ended (tests). */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.deliveries]);
  }

  /** What holds now. */
  async observe(settings: AlarmSettings): Promise<Observation> {
    const { pool, redis, jobs, config } = this.d;
    const now = this.now();
    // Yesterday, today and tomorrow (UTC: lessons around midnight) and every day the sweep still watches.
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const dates = new Set([day(now - 86_400_000), day(now), day(now + 86_400_000), ...(await jobs.connection.zrangebyscore(jobs.keys.sweptDates, now, '+inf'))]);
    const lessons = [];
    for (const date of dates) lessons.push(...(await dayStatus(pool, jobs, date, settings, now)).lessons);
    const streams: ObservedStream[] = [];
    for (const lessonId of (await watchedLessons(redis, writeBehindRegistryKey(config.keyPrefix))).slice(0, MAX_STREAMS)) {
      const b = await writeBehindBacklog(redis, lessonKeys(config.keyPrefix, lessonId));
      streams.push({ lessonId, length: b.length, oldestAgeMs: b.oldestAt === null ? null : Math.max(0, now - b.oldestAt) });
    }
    const gateways = await Promise.all(config.console.gateways.map((u) => this.probe(u)));
    return { lessons, streams, gateways };
  }

  private async probe(base: string): Promise<ObservedGateway> {
    const url = `${base.replace(/\/+$/, '')}/readyz`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.d.config.console.webhookTimeoutMs) });
      const text = (await res.text()).slice(0, 200);
      return { url: base, ready: res.status === 200, detail: res.status === 200 ? 'ready' : `/readyz answered ${res.status} ${text}` };
    } catch (e) {
      return { url: base, ready: false, detail: `/readyz unreachable: ${(e as Error).message}` };
    }
  }

  /** One evaluation: raises new conditions, resolves cleared ones, notifies. Returns the open alarms after it. */
  async evaluate(): Promise<AlarmRow[]> {
    const { pool, log, metrics } = this.d;
    try {
      const settings = await this.d.settings.get();
      const conditions = alarmConditions(await this.observe(settings), settings);
      const open = await openAlarms(pool);
      const openKeys = new Map(open.map((a) => [a.key, a]));
      const holding = new Set(conditions.map((c) => c.key));
      const urls = [...new Set([...this.d.config.console.webhooks, ...settings.webhooks])];
      for (const c of conditions) {
        if (openKeys.has(c.key)) continue;
        const at = this.now();
        const id = await raiseAlarm(pool, c, at);
        if (id === null) continue;
        metrics.m.raised.inc({ kind: c.kind });
        log.error({ alarm: c.key, lessonId: c.lessonId }, `ALARM ${c.message}`);
        this.notify(urls, 'firing', { ...c, alarmId: id, raisedAt: at, resolvedAt: null });
      }
      for (const a of open) {
        if (holding.has(a.key)) continue;
        const at = this.now();
        if (!(await resolveAlarm(pool, a.alarmId, at))) continue;
        metrics.m.resolved.inc({ kind: a.kind });
        log.warn({ alarm: a.key, lessonId: a.lessonId }, `alarm resolved: ${a.message}`);
        this.notify(urls, 'resolved', { ...a, resolvedAt: at });
      }
      const after = await openAlarms(pool);
      for (const k of ALARM_KINDS) metrics.m.firing.set({ kind: k }, after.filter((a) => a.kind === k).length);
      metrics.m.evaluations.inc({ result: 'ok' });
      return after;
    } catch (e) {
      metrics.m.evaluations.inc({ result: 'error' });
      log.warn({ err: toOrgError(e).message }, 'alarm evaluation failed; open alarms left as they were');
      throw e;
    }
  }

  private notify(urls: readonly string[], status: AlarmMessage['status'], a: AlarmCondition & { alarmId: number; raisedAt: number; resolvedAt: number | null }): void {
    const msg: AlarmMessage = {
      source: 'orgengine',
      status,
      alarm: { id: a.alarmId, key: a.key, kind: a.kind, lessonId: a.lessonId, message: a.message, raisedAt: a.raisedAt, resolvedAt: a.resolvedAt },
      at: this.now(),
    };
    for (const url of urls) {
      const p = this.deliver(url, msg).finally(() => this.deliveries.delete(p));
      this.deliveries.add(p);
    }
  }

  /** POSTs `msg` to `url`, trying again with doubling back-off until a 2xx or the tries run out. */
  private async deliver(url: string, msg: AlarmMessage): Promise<void> {
    const { webhookAttempts, webhookBackoffMs, webhookTimeoutMs } = this.d.config.console;
    const body = JSON.stringify(msg);
    let last = '';
    for (let attempt = 1; attempt <= webhookAttempts; attempt++) {
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(webhookTimeoutMs) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          this.d.metrics.m.deliveries.inc({ result: 'delivered' });
          return;
        }
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (attempt < webhookAttempts) {
        this.d.metrics.m.retries.inc();
        await new Promise((r) => setTimeout(r, webhookBackoffMs * 2 ** (attempt - 1)));
      }
    }
    this.d.metrics.m.deliveries.inc({ result: 'failed' });
    this.d.log.error({ url, alarm: msg.alarm.key, status: msg.status, err: last }, 'alarm webhook failed after every try');
  }
}
