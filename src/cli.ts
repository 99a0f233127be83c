// The `orgengine` command line. Reads config once, wires parts through main.ts,
// prints human text (or --json), and exits non-zero with the error code on failure.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError, CONFIG_VARS, loadConfig, type Config } from './config.js';
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
import { readHead, readLesson } from './store/redis/lessonReader.js';

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
  flush [--lesson ID[,ID...]] [--drain] [--metrics-port P]
                                   write in-class changes behind to MySQL until SIGINT/SIGTERM
                                   (--drain: until the streams are empty, then exit)
  reconcile --lesson ID [--repair] compare a lesson's in-class state in Redis with MySQL; --repair
                                   re-journals Redis's value of every differing key and flushes it
  config                           list the environment variables and their current values
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
  const app = createApp(config);
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
          const server = v['metrics-port'] === undefined ? null : await serveMetrics(metrics, intOpt(v, 'metrics-port'));
          flusher.start();
          app.log.info({ consumer: flusher.consumer, metricsPort: server?.port ?? null }, 'flusher started');
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          await flusher.stop();
          await server?.close();
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

/** Serves GET /metrics of `registry` on `port` (the standalone flusher's only endpoint). */
async function serveMetrics(registry: import('prom-client').Registry, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '0.0.0.0', resolve));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : port, close: () => new Promise((r) => server.close(() => r())) };
}
