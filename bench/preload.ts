// bench:preload — preloads a 30k-student and a 600k-student lesson (group
// policy, tutors on camera: 3n+1 rooms) and prints seconds, Redis commands,
// MySQL rows and peak RSS. Run pinned: `npm run bench:preload` (see README).
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createApp } from '../src/main.js';
import { syntheticLesson } from '../src/model/synthetic.js';
import { preloadLesson, type PreloadResult } from '../src/preload/preload.js';
import { installBuiltinPolicies } from '../src/preload/seed.js';
import { ensureDatabase, migrate } from '../src/store/mysql/pool.js';
import { bindPolicy } from '../src/store/mysql/policies.js';
import { writeLessonSource } from '../src/store/mysql/source.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { dropVersion } from '../src/store/redis/lessonWriter.js';
import { commandDelta, commandStats, writeResult } from './support.js';
import { pino } from 'pino';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '30000,600000' },
    runs: { type: 'string', default: '3' },
    policy: { type: 'string', default: 'group' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const runs = Number(values.runs);

const config = loadConfig({
  ...process.env,
  ORGENGINE_MYSQL_URL: process.env.ORGENGINE_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/orgengine_bench',
  ORGENGINE_KEY_PREFIX: process.env.ORGENGINE_KEY_PREFIX ?? 'bench:',
  ORGENGINE_LOG_LEVEL: 'warn',
});
await ensureDatabase(config.mysqlUrl);
const app = createApp(config, { log: pino({ level: 'warn' }) });
await migrate(app.pool);
await installBuiltinPolicies(app.pool);

interface Row {
  students: number;
  tutors: number;
  run: number;
  kind: 'first' | 'rerun';
  seconds: number;
  redisCommands: number;
  redisCommandsByType: Record<string, number>;
  mysqlRows: number;
  rooms: number;
  nodes: number;
  roomUsers: number;
  timings: PreloadResult['timings'];
  peakRssMb: number;
}
const rows: Row[] = [];

for (const students of sizes) {
  const tutors = Math.ceil(students / 500);
  const lessonId = 9_000_000 + students;
  const t0 = Date.now();
  const src = syntheticLesson({ lessonId, ordinal: 1, students, tutors, seed: 11, startTime: Date.UTC(2026, 10, 21, 10) });
  await writeLessonSource(app.pool, src, config.mysqlBatchRows);
  await bindPolicy(app.pool, lessonId, values.policy);
  process.stderr.write(`seeded ${students} students / ${tutors} tutors in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  // Run 1 is a first preload (nothing in MySQL or Redis); later runs are re-runs.
  await app.pool.query('DELETE FROM room_user WHERE lesson_id = ?', [lessonId]);
  await app.pool.query('DELETE FROM org_node WHERE lesson_id = ?', [lessonId]);
  await app.pool.query('DELETE FROM live_room WHERE lesson_id = ?', [lessonId]);
  for (let run = 1; run <= runs; run++) {
    const before = await commandStats(app.redis);
    const start = process.hrtime.bigint();
    const r = await preloadLesson({ pool: app.pool, redis: app.redis, config }, lessonId);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const d = commandDelta(before, await commandStats(app.redis));
    rows.push({
      students,
      tutors,
      run,
      kind: run === 1 ? 'first' : 'rerun',
      seconds,
      redisCommands: d.total,
      redisCommandsByType: d.byCommand,
      mysqlRows: r.mysqlRows,
      rooms: r.counts.rooms,
      nodes: r.counts.nodes,
      roomUsers: r.counts.roomUsers,
      timings: r.timings,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    });
    process.stderr.write(`  run ${run}: ${seconds.toFixed(2)} s ${JSON.stringify(r.timings)}\n`);
  }
  // Leave nothing behind: drop the readable version and the head.
  const lk = lessonKeys(config.keyPrefix, lessonId);
  const v = Number(await app.redis.hget(lk.head, 'version'));
  if (v) await dropVersion(app.redis, lk, v);
  await app.redis.del(lk.head, lk.versionSeq);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('students  tutors  rooms  nodes   roomUsers  run     seconds(median [min-max])  redisCmds  mysqlRowsWritten  peakRSS');
for (const students of sizes) {
  for (const kind of ['first', 'rerun'] as const) {
    const rs = rows.filter((r) => r.students === students && r.kind === kind);
    if (rs.length === 0) continue;
    const s = rs.map((r) => r.seconds);
    const r = rs[0]!;
    console.log(
      `${String(students).padEnd(9)} ${String(r.tutors).padEnd(7)} ${String(r.rooms).padEnd(6)} ${String(r.nodes).padEnd(7)} ${String(r.roomUsers).padEnd(10)} ${kind.padEnd(7)} ` +
        `${median(s).toFixed(2)} [${Math.min(...s).toFixed(2)}-${Math.max(...s).toFixed(2)}]`.padEnd(27) +
        ` ${String(r.redisCommands).padEnd(10)} ${String(r.mysqlRows).padEnd(17)} ${Math.max(...rs.map((x) => x.peakRssMb))} MB`,
    );
  }
}
console.log(`results: ${writeResult('preload', { date: new Date().toISOString(), cpu: process.env.ORGENGINE_BENCH_CPUS ?? 'unpinned', rows })}`);
await app.close();
