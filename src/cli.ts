// The `orgengine` command line. Reads config once, wires parts through main.ts,
// prints human text (or --json), and exits non-zero with the error code on failure.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError, CONFIG_VARS, loadConfig, requireTokenSecret, type Config } from './config.js';
import { OrgError, toOrgError } from './errors.js';
import { createApp, createFlusher, type App } from './main.js';
import { reconcileLesson, type ReconcileReport } from './services/reconcile.js';
import { PRELOAD_MODES, type PreloadMode } from './model/policy.js';
import { preloadLesson, type PreloadResult } from './preload/preload.js';
import { lessonsOfDay, seedDay } from './preload/seed.js';
import { ensureDatabase, migrate } from './store/mysql/pool.js';
import { bindPolicy, putPolicy } from './store/mysql/policies.js';
import { listRuns } from './store/mysql/preloadRuns.js';
import { lessonKeys } from './store/redis/keys.js';
import { pino } from 'pino';
import { TokenVerifier } from './auth/tokens.js';
import { ROLES, type Role } from './services/caller.js';

import { readHead, readLesson } from './store/redis/lessonReader.js';
import { runCheck } from './preload/check.js';
import { acquireCheckSlot, releaseCheckSlot } from './store/redis/checkSlots.js';
import { applyChange, parseChangeRequest } from './preload/changes.js';
import { diffPolicies, type DiffReport } from './preload/diff.js';
import { createQueueConnection, Jobs } from './preload/jobs.js';
import { serveMetrics, WorkerMetrics } from './preload/metrics.js';
import { enqueueReopen, ensureSweep, scheduleDay, sweepAll, sweepDay } from './preload/schedule.js';
import { dayStatus, type DayStatus } from './preload/status.js';
import { startWorkers, WORKER_ROLES, type WorkerRole } from './preload/worker.js';

const USAGE = `orgengine <command> [options]

commands:
  migrate                          create the database if needed and apply schema migrations
  seed --lessons N --students S --tutors T --policy NAME --seed X [--date YYYY-MM-DD] [--lpcs L] [--on-camera-ratio R]
                                   write a synthetic day of source data, bound to policy NAME
  policy put --name NAME --file F  validate and store a policy (JSON conf) [--description TEXT]
  bind --lesson ID --policy NAME   bind a lesson to a policy
  preload --lesson ID [--mode minimal|simple|full]
  preload --date YYYY-MM-DD        preload every lesson of a day, one after another
  show --lesson ID                 what readers see for a lesson, and its latest preload runs
  worker [--concurrency N] [--roles preload,check,changes,sweep]
                                   run queue workers until SIGINT/SIGTERM (serves /metrics)
  schedule --date YYYY-MM-DD [--sweep-minutes M]
                                   enqueue the day's lessons (earliest first) and the repeatable sweep
  status --date YYYY-MM-DD         per-lesson preload state with counts and durations
  sweep [--date YYYY-MM-DD]        run the sweep once now (all watched days by default)
  check --lesson ID [--redis-only] compare Redis and MySQL with the source recompiled; exit 1 on a mismatch
  diff --lesson ID --policy A --policy B [--keep]
                                   preload the lesson under both policies (scratch keys and databases), list every difference
  change --file F [--now]          queue a change (JSON: move | teacher | time | reopen), or apply it now
  flush [--lesson ID[,ID...]] [--drain] [--metrics-port P]
                                   write in-class changes behind to MySQL until SIGINT/SIGTERM
                                   (--drain: until the streams are empty, then exit)
  reconcile --lesson ID [--repair] compare a lesson's in-class state in Redis with MySQL; --repair
                                   re-journals Redis's value of every differing key and flushes it
  config                           list the environment variables and their current values
  serve --port P [--grpc-port G] [--workers N] [--host H]
                                   run the edge gateway (HTTP on P, gRPC on G); N worker processes share P
  token --uid U --role student|teacher|tutor|service --lesson ID|'*' [--ttl SECONDS]
                                   mint an access token (needs ORGENGINE_TOKEN_SECRET)
options: --json (machine-readable output), --help`;

type Values = Record<string, string | boolean | undefined>;

const OPTIONS: ParseArgsConfig['options'] = {
  lessons: { type: 'string' },
  students: { type: 'string' },
  tutors: { type: 'string' },
  lpcs: { type: 'string' },
  policy: { type: 'string' },
  seed: { type: 'string' },
  date: { type: 'string' },
  'on-camera-ratio': { type: 'string' },
  lesson: { type: 'string' },
  mode: { type: 'string' },
  name: { type: 'string' },
  file: { type: 'string' },
  description: { type: 'string' },
  json: { type: 'boolean' },
  drain: { type: 'boolean' },
  repair: { type: 'boolean' },
  'metrics-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string' },
  'grpc-port': { type: 'string' },
  workers: { type: 'string' },
  host: { type: 'string' },
  uid: { type: 'string' },
  role: { type: 'string' },
  ttl: { type: 'string' },
  concurrency: { type: 'string' },
  roles: { type: 'string' },
  'sweep-minutes': { type: 'string' },
  'redis-only': { type: 'boolean' },
  keep: { type: 'boolean' },
  now: { type: 'boolean' },
};

function intOpt(v: Values, name: string, def?: number): number {
  const raw = v[name];
  if (raw === undefined) {
    if (def === undefined) throw new OrgError('BAD_REQUEST', `--${name} is required`);
    return def;
  }
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isSafeInteger(n)) throw new OrgError('BAD_REQUEST', `--${name} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
}

function strOpt(v: Values, name: string, def?: string): string {
  const raw = v[name];
  if (typeof raw !== 'string' || raw === '') {
    if (def === undefined) throw new OrgError('BAD_REQUEST', `--${name} is required`);
    return def;
  }
  return raw;
}

function modeOpt(v: Values): PreloadMode | undefined {
  const m = v.mode;
  if (m === undefined) return undefined;
  if (typeof m !== 'string' || !(PRELOAD_MODES as readonly string[]).includes(m)) {
    throw new OrgError('BAD_REQUEST', `--mode must be one of ${PRELOAD_MODES.join('|')}, got ${JSON.stringify(m)}`);
  }
  return m as PreloadMode;
}

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

function reconcileLines(r: ReconcileReport): string {
  const lines = [`lesson ${r.lessonId}: unflushed=${r.unflushed}${r.unflushed > 0 && r.remaining === null ? ' (differences may be changes not flushed yet; --repair flushes first)' : ''}`];
  for (const e of Object.keys(r.compared) as Array<keyof ReconcileReport['compared']>) {
    lines.push(`  ${e.padEnd(9)} compared=${r.compared[e]} differing=${r.differing[e]}`);
  }
  for (const d of r.differences) lines.push(`  ! ${d.entity} ${d.roomId ? `${d.roomId} ` : ''}${d.key}: redis=${d.redis ?? '-'} mysql=${d.mysql ?? '-'}`);
  for (const m of r.seatMismatches.slice(0, 20)) lines.push(`  ! seats ${m.groupId}: counter=${m.seats} students=${m.members}`);
  if (r.remaining !== null) lines.push(`  repaired: rejournaled=${r.rejournaled} remaining=${r.remaining}`);
  return lines.join('\n');
}

/** Writes one result line (text) or one JSON document. */
function out(json: boolean, data: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${text}\n`);
}

function preloadLine(r: PreloadResult): string {
  const c = r.counts;
  return (
    `lesson ${r.lessonId}: ready v${r.version} (${r.mode}) rooms=${c.rooms} nodes=${c.nodes} positions=${c.positions} ` +
    `roomUsers=${c.roomUsers} partitions=${c.memberPartitions} redisCmds=${r.redisCommands} mysqlRows=${r.mysqlRows} ${r.durationMs} ms (run ${r.runId})`
  );
}

async function withApp<T>(config: Config, fn: (app: App) => Promise<T>): Promise<T> {
  // One-shot commands print their own results; their logs stay quiet unless asked for.
  const quiet = process.env.ORGENGINE_LOG_LEVEL === undefined ? { ...config, logLevel: 'warn' as const } : config;
  const app = createApp(quiet);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

/** Runs the CLI with `argv` (without node and script). Returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`error BAD_REQUEST: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const v = parsed.values as Values;
  const [cmd, sub] = parsed.positionals;
  const json = v.json === true;
  if (v.help || !cmd) {
    process.stdout.write(`${USAGE}\n`);
    return cmd || v.help ? 0 : 2;
  }
  try {
    const config = loadConfig();
    switch (cmd) {
      case 'config': {
        const rows = CONFIG_VARS.map((c) => ({ ...c, value: process.env[c.name] ?? null }));
        out(json, rows, rows.map((r) => `${r.name}=${r.value ?? `(default ${r.default})`}  # ${r.meaning}`).join('\n'));
        return 0;
      }
      case 'migrate': {
        await ensureDatabase(config.mysqlUrl);
        return await withApp(config, async (app) => {
          const r = await migrate(app.pool);
          out(json, r, r.applied.length ? `applied ${r.applied.map((m) => `${m.version} (${m.name})`).join(', ')}; schema at ${r.current}` : `schema up to date at ${r.current}`);
          return 0;
        });
      }
      case 'seed':
        return await withApp(config, async (app) => {
          const r = await seedDay(
            app.pool,
            {
              lessons: intOpt(v, 'lessons'),
              students: intOpt(v, 'students'),
              tutors: intOpt(v, 'tutors'),
              lpcs: v.lpcs === undefined ? undefined : intOpt(v, 'lpcs'),
              policy: strOpt(v, 'policy'),
              seed: intOpt(v, 'seed'),
              date: strOpt(v, 'date', new Date().toISOString().slice(0, 10)),
              onCameraRatio: v['on-camera-ratio'] === undefined ? undefined : Number(v['on-camera-ratio']),
              batchRows: config.mysqlBatchRows,
            },
            json ? undefined : (id, rows) => process.stdout.write(`seeded lesson ${id} (${rows} rows)\n`),
          );
          out(json, r, `seeded ${r.lessonIds.length} lesson(s), ${r.rows} rows`);
          return 0;
        });
      case 'policy': {
        if (sub !== 'put') throw new OrgError('BAD_REQUEST', 'usage: orgengine policy put --name NAME --file conf.json');
        const file = strOpt(v, 'file');
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (e) {
          throw new OrgError('BAD_REQUEST', `cannot read ${file}: ${(e as Error).message}`);
        }
        return await withApp(config, async (app) => {
          const r = await putPolicy(app.pool, strOpt(v, 'name'), text, strOpt(v, 'description', ''));
          out(json, r, `policy ${strOpt(v, 'name')} stored as ${r.policyId}`);
          return 0;
        });
      }
      case 'bind':
        return await withApp(config, async (app) => {
          const lessonId = intOpt(v, 'lesson');
          const policyId = await bindPolicy(app.pool, lessonId, strOpt(v, 'policy'));
          out(json, { lessonId, policyId }, `lesson ${lessonId} bound to policy ${policyId}`);
          return 0;
        });
      case 'preload':
        return await withApp(config, async (app) => {
          const mode = modeOpt(v);
          const ids = v.date !== undefined ? await lessonsOfDay(app.pool, strOpt(v, 'date')) : [intOpt(v, 'lesson')];
          let failed = 0;
          for (const id of ids) {
            try {
              const r = await preloadLesson({ pool: app.pool, redis: app.redis, config, log: app.log }, id, { mode });
              out(json, r, preloadLine(r));
            } catch (e) {
              const err = toOrgError(e);
              failed++;
              out(json, { lessonId: id, error: err.toJSON() }, `lesson ${id}: failed ${err.code}: ${err.message}`);
              if (ids.length === 1) throw err;
            }
          }
          if (ids.length > 1 || v.date !== undefined) process.stderr.write(`${ids.length - failed}/${ids.length} lesson(s) preloaded\n`);
          return failed > 0 ? 1 : 0;
        });
      case 'show':
        return await withApp(config, async (app) => {
          const lessonId = intOpt(v, 'lesson');
          const lk = lessonKeys(config.keyPrefix, lessonId);
          const head = await readHead(app.redis, lk);
          const runs = await listRuns(app.pool, lessonId, 5);
          let view: Awaited<ReturnType<typeof readLesson>> | null = null;
          if (head.version > 0) view = await readLesson(app.redis, lk);
          const data = { lessonId, head, lesson: view?.lesson ?? null, rooms: view?.rooms.length ?? 0, runs };
          const lines = [`lesson ${lessonId}: status=${head.status ?? 'not preloaded'} version=${head.version || '-'}`];
          if (view) {
            const l = view.lesson;
            lines.push(`  ${l.title}: ${l.bizType} ${l.streamPolicy} ${l.orgPolicy} mode=${l.preloadMode}`);
            lines.push(`  students=${l.studentCount} rooms=${l.roomCount} nodes=${l.nodeCount} partitionSize=${l.partitionSize}`);
          }
          for (const r of runs) {
            lines.push(`  run ${r.runId}: ${r.status} ${r.durationMs} ms${r.errorCode ? ` ${r.errorCode}: ${r.errorMessage}` : ''}`);
          }
          out(json, data, lines.join('\n'));
          return 0;
        });
      case 'serve': {
        const port = intOpt(v, 'port');
        const grpcPort = v['grpc-port'] === undefined ? null : intOpt(v, 'grpc-port');
        const workers = intOpt(v, 'workers', 1);
        for (const [name, p] of [['port', port], ['grpc-port', grpcPort]] as const) {
          if (p !== null && (p < 0 || p > 65535)) throw new OrgError('BAD_REQUEST', `--${name} must be 0-65535, got ${p}`);
        }
        // Loaded here so other commands never load the native HTTP server.
        const { MAX_WORKERS, serve } = await import('./serve.js');
        if (workers < 1 || workers > MAX_WORKERS) throw new OrgError('BAD_REQUEST', `--workers must be 1-${MAX_WORKERS}, got ${workers}`);
        requireTokenSecret(config);
        const log = pino({ level: config.logLevel, base: { svc: 'orgengine' } }, pino.destination(2));
        await serve(config, { port, host: strOpt(v, 'host', '0.0.0.0'), grpcPort, workers, log }, (ports) =>
          out(json, ports, `listening http=${ports.httpPort}${ports.grpcPort === null ? '' : ` grpc=${ports.grpcPort}`} workers=${workers}`),
        );
        return 0;
      }
      case 'token': {
        const role = strOpt(v, 'role');
        if (!(ROLES as readonly string[]).includes(role)) throw new OrgError('BAD_REQUEST', `--role must be one of ${ROLES.join('|')}, got ${JSON.stringify(role)}`);
        const lessonRaw = strOpt(v, 'lesson');
        const lesson = lessonRaw === '*' ? ('*' as const) : intOpt(v, 'lesson');
        const ttl = intOpt(v, 'ttl', 3600);
        if (ttl < 1 || ttl > 366 * 86400) throw new OrgError('BAD_REQUEST', `--ttl must be 1-${366 * 86400} seconds, got ${ttl}`);
        const tokens = new TokenVerifier({ secret: requireTokenSecret(config), cacheEntries: 1 });
        const claims = { uid: intOpt(v, 'uid'), role: role as Role, lesson, exp: Math.floor(Date.now() / 1000) + ttl };
        const token = tokens.mint(claims);
        out(json, { token, claims }, token);
        return 0;
      }
      case 'worker':
        return await runWorker(config, v);
      case 'schedule':
        return await withJobs(config, async (app, jobs) => {
          const minutes = v['sweep-minutes'] === undefined ? undefined : intOpt(v, 'sweep-minutes');
          if (minutes !== undefined && (minutes < 1 || minutes > 1440)) throw new OrgError('BAD_REQUEST', '--sweep-minutes must be from 1 to 1440');
          const r = await scheduleDay(jobs, app.pool, strOpt(v, 'date'), { sweepMinutes: minutes });
          out(json, r, `${r.date}: ${r.lessons} lesson(s), ${r.added} enqueued, ${r.existing} already queued; sweep every ${r.sweepEveryMinutes} min`);
          return 0;
        });
      case 'status':
        return await withJobs(config, async (app, jobs) => {
          const st = await dayStatus(app.pool, jobs, strOpt(v, 'date'), config.jobs);
          out(json, st, statusText(st));
          return 0;
        });
      case 'sweep':
        return await withJobs(config, async (app, jobs) => {
          const r = v.date !== undefined ? [await sweepDay(jobs, app.pool, strOpt(v, 'date'), config.jobs, app.log)] : await sweepAll(jobs, app.pool, config.jobs, app.log);
          const text = r.map((d) => `${d.date}: ${d.lessons} lesson(s), re-enqueued ${d.requeued.length} [${d.requeued.join(' ')}], busy ${d.busy.length}, overruns ${d.overruns.length}`);
          out(json, r, text.join('\n') || 'no watched days');
          return 0;
        });
      case 'check':
        return await withJobs(config, async (app, jobs) => {
          const lessonId = intOpt(v, 'lesson');
          const holder = `cli:${process.pid}:${lessonId}`;
          // The cluster-wide limit applies to checks run by hand too: wait for a slot.
          while (!(await acquireCheckSlot(jobs.connection, jobs.keys.runningChecks, holder, config.jobs.checkLeaseMs, config.jobs.checkClusterMax)).granted) {
            await new Promise((r) => setTimeout(r, config.jobs.checkDelayMs));
          }
          try {
            const r = await runCheck({ pool: app.pool, redis: app.redis, config, log: app.log }, lessonId, { targets: v['redis-only'] ? ['redis'] : ['redis', 'mysql'] });
            out(json, r, `lesson ${lessonId} v${r.version}: check ${r.status} (${r.counts.positions} positions, ${r.counts.members} members, ${r.durationMs} ms, check ${r.checkId})`);
            return 0;
          } finally {
            await releaseCheckSlot(jobs.connection, jobs.keys.runningChecks, holder);
          }
        });
      case 'diff': {
        const again = parseArgs({ args: argv, options: { ...OPTIONS, policy: { type: 'string', multiple: true } }, allowPositionals: true, strict: true });
        const names = (again.values.policy as string[] | undefined) ?? [];
        if (names.length !== 2) throw new OrgError('BAD_REQUEST', 'diff needs --policy A --policy B');
        return await withApp(config, async (app) => {
          const r = await diffPolicies({ pool: app.pool, redis: app.redis, config, log: app.log }, intOpt(v, 'lesson'), names[0]!, names[1]!, { keep: v.keep === true });
          out(json, r, diffText(r));
          return r.differences.count > 0 ? 1 : 0;
        });
      }
      case 'change': {
        const file = strOpt(v, 'file');
        let body: unknown;
        try {
          body = JSON.parse(readFileSync(file, 'utf8'));
        } catch (e) {
          throw new OrgError('BAD_REQUEST', `cannot read ${file} as JSON: ${(e as Error).message}`);
        }
        const req = parseChangeRequest(body, config.jobs.maxChangeBatch);
        return await withJobs(config, async (app, jobs) => {
          if (v.now) {
            const r = await applyChange({ pool: app.pool, redis: app.redis, config, log: app.log, enqueuePreload: (id, start) => enqueueReopen(jobs, app.pool, id, start) }, req);
            out(json, r, `lesson ${r.lessonId}: ${r.type} applied (${r.applied})${r.moved !== undefined ? `, moved ${r.moved}, unchanged ${r.unchanged}` : ''}`);
            return 0;
          }
          const job = await jobs.changes.add(req.type, req, { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } });
          out(json, { jobId: job.id, change: req }, `change queued as job ${job.id}`);
          return 0;
        });
      }
      case 'flush':
        return await withApp(config, async (app) => {
          const { Registry, collectDefaultMetrics } = await import('prom-client');
          const metrics = new Registry();
          collectDefaultMetrics({ register: metrics });
          const flusher = createFlusher(app, { lessons: lessonList(v), metrics });
          if (v.drain) {
            const ok = await flusher.drain(10 * 60_000);
            const n = await metrics.getSingleMetric('orgengine_wb_records_total')?.get();
            out(json, { drained: ok, records: n?.values[0]?.value ?? 0 }, ok ? `drained: ${n?.values[0]?.value ?? 0} record(s) flushed` : 'not drained within 10 min');
            return ok ? 0 : 1;
          }
          const server = v['metrics-port'] === undefined ? null : await serveMetrics({ registry: metrics }, intOpt(v, 'metrics-port'));
          flusher.start();
          app.log.info({ consumer: flusher.consumer, metricsPort: server?.port ?? null }, 'flusher started');
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          await flusher.stop();
          server?.server.close();
          app.log.info('flusher stopped');
          return 0;
        });
      case 'reconcile':
        return await withApp(config, async (app) => {
          const r = await reconcileLesson(
            { redis: app.redis, pool: app.pool, keyPrefix: config.keyPrefix, ttlSeconds: config.ttlSeconds, wb: config.writeBehind, batchRows: config.mysqlBatchRows, log: app.log },
            intOpt(v, 'lesson'),
            { repair: v.repair === true },
          );
          out(json, r, reconcileLines(r));
          const left = r.remaining ?? r.differences.length + r.seatMismatches.length;
          return left === 0 ? 0 : 1;
        });
      default:
        throw new OrgError('BAD_REQUEST', `unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`error CONFIG_INVALID: ${e.message}\n`);
      return 2;
    }
    const err = toOrgError(e);
    if (json) process.stdout.write(`${JSON.stringify({ error: err.toJSON() })}\n`);
    process.stderr.write(`error ${err.code}: ${err.message}\n`);
    return err.code === 'BAD_REQUEST' ? 2 : 1;
  }
}

async function withJobs<T>(config: Config, fn: (app: App, jobs: Jobs) => Promise<T>): Promise<T> {
  return withApp(config, async (app) => {
    const conn = createQueueConnection(config.jobs.redis, 'orgengine-cli');
    const jobs = new Jobs(conn, config.jobs);
    try {
      return await fn(app, jobs);
    } finally {
      await jobs.close();
      await conn.quit().catch(() => undefined);
    }
  });
}

/** `orgengine worker`: runs until SIGINT/SIGTERM, then drains (finishes running jobs) and exits. */
async function runWorker(config: Config, v: Values): Promise<number> {
  const roles = (typeof v.roles === 'string' ? v.roles.split(',').map((r) => r.trim()) : WORKER_ROLES) as WorkerRole[];
  for (const r of roles) if (!WORKER_ROLES.includes(r)) throw new OrgError('BAD_REQUEST', `--roles: unknown role ${JSON.stringify(r)} (${WORKER_ROLES.join(',')})`);
  const concurrency = v.concurrency === undefined ? undefined : intOpt(v, 'concurrency');
  if (concurrency !== undefined && (concurrency < 1 || concurrency > 64)) throw new OrgError('BAD_REQUEST', '--concurrency must be from 1 to 64');
  return withJobs(config, async (app, jobs) => {
    const metrics = new WorkerMetrics();
    const workers = startWorkers({ pool: app.pool, redis: app.redis, jobs, config, log: app.log, metrics }, { roles, preloadConcurrency: concurrency });
    if (roles.includes('sweep')) await ensureSweep(jobs, config.jobs.sweepMinutes);
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
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    app.log.info('worker stopping: finishing running jobs');
    server?.close();
    await workers.close();
    return 0;
  });
}

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

function diffText(r: DiffReport): string {
  const side = (n: string, s: DiffReport['a']) => `  ${n}: policy ${s.policy} v${s.version} rooms=${s.counts.rooms} nodes=${s.counts.nodes} positions=${s.counts.positions} ${s.durationMs} ms`;
  const lines = [`lesson ${r.lessonId}: ${r.differences.count} difference(s)`, side('a', r.a), side('b', r.b)];
  for (const [k, n] of Object.entries(r.differences.byKind)) lines.push(`  ${k}: ${n}`);
  const short = (x: unknown) => {
    const j = JSON.stringify(x) ?? 'null';
    return j.length > 80 ? `${j.slice(0, 77)}...` : j;
  };
  for (const d of r.differences.samples.slice(0, 20)) lines.push(`  ${d.between} ${d.kind} ${d.id} ${d.field}: ${short(d.expected)} -> ${short(d.actual)}`);
  return lines.join('\n');
}
