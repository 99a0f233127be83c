// Commands that set up the database and its source data: the schema, a
// synthetic day, policies and which policy a lesson follows.
import { readFileSync } from 'node:fs';
import { OrgError } from '../errors.js';
import { seedDay } from '../preload/seed.js';
import { ensureDatabase, migrate } from '../store/mysql/pool.js';
import { bindPolicy, putPolicy } from '../store/mysql/policies.js';
import { DATE, intOpt, LESSON, strOpt, withApp, type Command } from './command.js';

/** `orgengine migrate`. */
const migrateCommand: Command = {
  name: 'migrate',
  summary: 'create the database if needed and apply schema migrations (idempotent, versioned)',
  usage: ['migrate'],
  options: {},
  example: 'ORGENGINE_MYSQL_URL=mysql://root@127.0.0.1:3306/orgengine orgengine migrate',
  async run({ config, out }) {
    await ensureDatabase(config.mysqlUrl);
    return withApp(config, async (app) => {
      const r = await migrate(app.pool);
      out.result(r, r.applied.length ? `applied ${r.applied.map((m) => `${m.version} (${m.name})`).join(', ')}; schema at ${r.current}` : `schema up to date at ${r.current}`);
      return 0;
    });
  },
};

/** `orgengine seed`. */
const seedCommand: Command = {
  name: 'seed',
  summary: 'write a synthetic day of source data, bound to policy NAME (re-running replaces it)',
  usage: ['seed --lessons N --students S --tutors T --policy NAME --seed X [--date YYYY-MM-DD] [--lpcs L] [--on-camera-ratio R]'],
  options: {
    lessons: { type: 'string', value: 'N', help: 'lessons to write' },
    students: { type: 'string', value: 'S', help: 'students per lesson' },
    tutors: { type: 'string', value: 'T', help: 'tutors per lesson' },
    policy: { type: 'string', value: 'NAME', help: 'policy every lesson is bound to (built-in: three-screen, group, small-class, short-training, conversion)' },
    seed: { type: 'string', value: 'X', help: 'random seed; also the lesson id block' },
    date: { ...DATE, help: 'day of the lessons (default: today, UTC)' },
    lpcs: { type: 'string', value: 'L', help: 'LPCs per lesson' },
    'on-camera-ratio': { type: 'string', value: 'R', help: 'share of tutors on camera, 0-1' },
  },
  example: 'orgengine seed --lessons 4 --students 3000 --tutors 6 --policy group --seed 1 --date 2026-03-02',
  run({ config, values: v, out }) {
    return withApp(config, async (app) => {
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
        out.json ? undefined : (id, rows) => out.progress(`seeded lesson ${id} (${rows} rows)`),
      );
      out.result(r, `seeded ${r.lessonIds.length} lesson(s), ${r.rows} rows`);
      return 0;
    });
  },
};

/** `orgengine policy put`. */
const policyCommand: Command = {
  name: 'policy',
  summary: 'validate and store a policy (JSON conf)',
  usage: ['policy put --name NAME --file F [--description TEXT]'],
  subcommands: ['put'],
  options: {
    name: { type: 'string', value: 'NAME', help: 'policy name (replaces a policy of that name)' },
    file: { type: 'string', value: 'F', help: 'JSON file of the policy conf (bizType, streamPolicy, orgPolicy, ...)' },
    description: { type: 'string', value: 'TEXT', help: 'free text kept with the policy' },
  },
  example: 'orgengine policy put --name my-group --file my-group.json --description "groups of 8"',
  async run({ config, values: v, out }) {
    const file = strOpt(v, 'file');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new OrgError('BAD_REQUEST', `cannot read ${file}: ${(e as Error).message}`);
    }
    return withApp(config, async (app) => {
      const r = await putPolicy(app.pool, strOpt(v, 'name'), text, strOpt(v, 'description', ''));
      out.result(r, `policy ${strOpt(v, 'name')} stored as ${r.policyId}`);
      return 0;
    });
  },
};

/** `orgengine bind`. */
const bindCommand: Command = {
  name: 'bind',
  summary: 'bind a lesson to a policy',
  usage: ['bind --lesson ID --policy NAME'],
  options: { lesson: LESSON, policy: { type: 'string', value: 'NAME', help: 'policy name' } },
  example: 'orgengine bind --lesson 100001 --policy small-class',
  run({ config, values: v, out }) {
    return withApp(config, async (app) => {
      const lessonId = intOpt(v, 'lesson');
      const policyId = await bindPolicy(app.pool, lessonId, strOpt(v, 'policy'));
      out.result({ lessonId, policyId }, `lesson ${lessonId} bound to policy ${policyId}`);
      return 0;
    });
  },
};

/** The database and source-data commands. */
export const DB_COMMANDS: readonly Command[] = [migrateCommand, seedCommand, policyCommand, bindCommand];
