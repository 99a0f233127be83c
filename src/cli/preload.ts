// Commands about one lesson's preloaded state: preload it, show what readers
// see, check it against the source, diff two policies, and apply changes from
// the business systems.
import { readFileSync } from 'node:fs';
import { OrgError, toOrgError } from '../errors.js';
import { PRELOAD_MODES, type PreloadMode } from '../model/policy.js';
import { applyChange, parseChangeRequest } from '../preload/changes.js';
import { runCheck } from '../preload/check.js';
import { acquireCheckSlot, releaseCheckSlot } from '../store/redis/checkSlots.js';
import { diffPolicies, type DiffReport } from '../preload/diff.js';
import { preloadLesson, type PreloadResult } from '../preload/preload.js';
import { enqueueReopen } from '../preload/schedule.js';
import { lessonsOfDay } from '../preload/seed.js';
import { listRuns } from '../store/mysql/preloadRuns.js';
import { lessonKeys } from '../store/redis/keys.js';
import { readHead, readLesson } from '../store/redis/lessonReader.js';
import { DATE, intOpt, LESSON, strOpt, withApp, withJobs, type Command, type Values } from './command.js';

function modeOpt(v: Values): PreloadMode | undefined {
  const m = v.mode;
  if (m === undefined) return undefined;
  if (typeof m !== 'string' || !(PRELOAD_MODES as readonly string[]).includes(m)) {
    throw new OrgError('BAD_REQUEST', `--mode must be one of ${PRELOAD_MODES.join('|')}, got ${JSON.stringify(m)}`);
  }
  return m as PreloadMode;
}

function preloadLine(r: PreloadResult): string {
  const c = r.counts;
  return (
    `lesson ${r.lessonId}: ready v${r.version} (${r.mode}) rooms=${c.rooms} nodes=${c.nodes} positions=${c.positions} ` +
    `roomUsers=${c.roomUsers} partitions=${c.memberPartitions} redisCmds=${r.redisCommands} mysqlRows=${r.mysqlRows} ${r.durationMs} ms (run ${r.runId})`
  );
}

/** `orgengine preload`. */
const preloadCommand: Command = {
  name: 'preload',
  summary: 'preload one lesson, or every lesson of a day one after another',
  usage: ['preload --lesson ID [--mode minimal|simple|full]', 'preload --date YYYY-MM-DD [--mode minimal|simple|full]'],
  options: {
    lesson: LESSON,
    date: { ...DATE, help: 'preload every lesson starting that day instead (exit 1 if any fails)' },
    mode: { type: 'string', value: 'MODE', help: `${PRELOAD_MODES.join('|')} (default: the policy's preloadMode)` },
  },
  example: 'orgengine preload --lesson 100001',
  run({ config, values: v, out }) {
    return withApp(config, async (app) => {
      const mode = modeOpt(v);
      const ids = v.date !== undefined ? await lessonsOfDay(app.pool, strOpt(v, 'date')) : [intOpt(v, 'lesson')];
      let failed = 0;
      for (const id of ids) {
        try {
          const r = await preloadLesson({ pool: app.pool, redis: app.redis, config, log: app.log }, id, { mode });
          out.result(r, preloadLine(r));
        } catch (e) {
          const err = toOrgError(e);
          failed++;
          out.result({ lessonId: id, error: err.toJSON() }, `lesson ${id}: failed ${err.code}: ${err.message}`);
          if (ids.length === 1) throw err;
        }
      }
      if (ids.length > 1 || v.date !== undefined) out.note(`${ids.length - failed}/${ids.length} lesson(s) preloaded`);
      return failed > 0 ? 1 : 0;
    });
  },
};

/** `orgengine show`. */
const showCommand: Command = {
  name: 'show',
  summary: 'what readers see for a lesson, and its latest preload runs',
  usage: ['show --lesson ID'],
  options: { lesson: LESSON },
  example: 'orgengine show --lesson 100001 --json',
  run({ config, values: v, out }) {
    return withApp(config, async (app) => {
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
      out.result(data, lines.join('\n'));
      return 0;
    });
  },
};

/** `orgengine check`. */
const checkCommand: Command = {
  name: 'check',
  summary: 'compare Redis and MySQL with the source recompiled; exit 1 on a mismatch',
  usage: ['check --lesson ID [--redis-only]'],
  options: { lesson: LESSON, 'redis-only': { type: 'boolean', help: 'check Redis only, not the MySQL copy' } },
  example: 'orgengine check --lesson 100001',
  run({ config, values: v, out }) {
    return withJobs(config, async (app, jobs) => {
      const lessonId = intOpt(v, 'lesson');
      const holder = `cli:${process.pid}:${lessonId}`;
      // The cluster-wide limit applies to checks run by hand too: wait for a slot.
      while (!(await acquireCheckSlot(jobs.connection, jobs.keys.runningChecks, holder, config.jobs.checkLeaseMs, config.jobs.checkClusterMax)).granted) {
        await new Promise((r) => setTimeout(r, config.jobs.checkDelayMs));
      }
      try {
        const r = await runCheck({ pool: app.pool, redis: app.redis, config, log: app.log }, lessonId, { targets: v['redis-only'] ? ['redis'] : ['redis', 'mysql'] });
        out.result(r, `lesson ${lessonId} v${r.version}: check ${r.status} (${r.counts.positions} positions, ${r.counts.members} members, ${r.durationMs} ms, check ${r.checkId})`);
        return 0;
      } finally {
        await releaseCheckSlot(jobs.connection, jobs.keys.runningChecks, holder);
      }
    });
  },
};

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

/** `orgengine diff`. */
const diffCommand: Command = {
  name: 'diff',
  summary: 'preload the lesson under both policies (scratch keys and databases), list every difference',
  usage: ['diff --lesson ID --policy A --policy B [--keep]'],
  options: {
    lesson: LESSON,
    policy: { type: 'string', value: 'NAME', multiple: true, help: 'a policy to compare; exactly two' },
    keep: { type: 'boolean', help: 'keep the scratch keys and databases for a look afterwards' },
  },
  example: 'orgengine diff --lesson 100001 --policy group --policy small-class',
  async run({ config, values: v, out }) {
    const names = (v.policy as string[] | undefined) ?? [];
    if (names.length !== 2) throw new OrgError('BAD_REQUEST', 'diff needs --policy A --policy B');
    return withApp(config, async (app) => {
      const r = await diffPolicies({ pool: app.pool, redis: app.redis, config, log: app.log }, intOpt(v, 'lesson'), names[0]!, names[1]!, { keep: v.keep === true });
      out.result(r, diffText(r));
      return r.differences.count > 0 ? 1 : 0;
    });
  },
};

/** `orgengine change`. */
const changeCommand: Command = {
  name: 'change',
  summary: 'queue a change (JSON: move | teacher | time | reopen), or apply it now',
  usage: ['change --file F [--now]'],
  options: {
    file: { type: 'string', value: 'F', help: 'JSON file of the change request' },
    now: { type: 'boolean', help: 'apply it in this process instead of queueing it for a worker' },
  },
  example: 'orgengine change --file move.json --now',
  async run({ config, values: v, out }) {
    const file = strOpt(v, 'file');
    let body: unknown;
    try {
      body = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OrgError('BAD_REQUEST', `cannot read ${file} as JSON: ${(e as Error).message}`);
    }
    const req = parseChangeRequest(body, config.jobs.maxChangeBatch);
    return withJobs(config, async (app, jobs) => {
      if (v.now) {
        const r = await applyChange({ pool: app.pool, redis: app.redis, config, log: app.log, enqueuePreload: (id, start) => enqueueReopen(jobs, app.pool, id, start) }, req);
        out.result(r, `lesson ${r.lessonId}: ${r.type} applied (${r.applied})${r.moved !== undefined ? `, moved ${r.moved}, unchanged ${r.unchanged}` : ''}`);
        return 0;
      }
      const job = await jobs.changes.add(req.type, req, { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } });
      out.result({ jobId: job.id, change: req }, `change queued as job ${job.id}`);
      return 0;
    });
  },
};

/** The commands about one lesson's preloaded state. */
export const PRELOAD_COMMANDS: readonly Command[] = [preloadCommand, showCommand, checkCommand, diffCommand, changeCommand];
