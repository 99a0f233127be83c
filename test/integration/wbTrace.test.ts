// A mutation made inside a trace scope stamps its write-behind record with the
// trace; one made outside stamps nothing. The flusher names the traces of a
// batch it could not write and (at debug) of one it wrote, and, exporting
// spans, links its batch span to them.
import { createServer, type Server } from 'node:http';
import type { RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/auth/caller.js';
import { loadConfig, type Config } from '../../src/config.js';
import { inTrace, type TraceContext } from '../../src/model/trace.js';
import { preloadLesson } from '../../src/preload/preload.js';
import { MutationService } from '../../src/services/mutations.js';
import { createMysqlPool } from '../../src/store/mysql/pool.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { createTracing } from '../../src/tracing.js';
import { Flusher, type FlusherOptions } from '../../src/writebehind/flusher.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, seedLesson } from '../support/lesson.js';
import { createTestDb, type TestDb } from '../support/mysql.js';
import { testRedis } from '../support/redis.js';

const service: Caller = { uid: 1, role: 'service', lesson: '*' };
const LESSON = 731;
const CTX: TraceContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 };

/** A logger writing JSON lines into `lines`. */
function capture(lines: Array<Record<string, unknown>>) {
  return pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
}

describe('trace through write-behind', () => {
  let db: TestDb;
  let redis: RedisClient;
  let config: Config;
  let uids: number[];
  let receiver: Server;
  const docs: any[] = [];

  beforeAll(async () => {
    db = await createTestDb('wbtrace');
    redis = testRedis('single');
    config = loadConfig({ ORGENGINE_KEY_PREFIX: uniquePrefix('wbtr').slice(0, 30) });
    const src = await seedLesson(db.pool, LESSON, 'group', 20, 2);
    await preloadLesson({ pool: db.pool, redis, config }, LESSON);
    uids = src.enrolments.map((e) => e.studentUid);
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        docs.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  });

  afterAll(async () => {
    if (redis && config) await dropLessonKeys(redis, config.keyPrefix, LESSON);
    await redis?.quit();
    await db?.drop();
    await new Promise((r) => receiver?.close(r));
  });

  it('stamps records made in a trace scope, flushes them, and names the trace in logs and the batch span', async () => {
    const svc = new MutationService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind });
    const [traced, untraced, picker] = [uids[0]!, uids[1]!, uids[2]!];
    await inTrace(CTX, () => svc.signIn(service, { lessonId: LESSON, uid: traced }));
    await svc.signIn(service, { lessonId: LESSON, uid: untraced });
    await inTrace(CTX, () => svc.pickGroup(service, { lessonId: LESSON, uid: picker, groupId: null }));

    const stream = lessonKeys(config.keyPrefix, LESSON).writeBehind;
    const entries = (await redis.xrange(stream, '-', '+')).map(([, f]) => {
      const o: Record<string, string> = {};
      for (let i = 0; i < f.length; i += 2) o[f[i]!] = f[i + 1]!;
      return o;
    });
    const signin = (uid: number) => entries.find((e) => e.e === 'signin' && e.u === String(uid))!;
    expect(signin(traced).tr).toBe(`${CTX.traceId}-${CTX.spanId}`);
    expect(signin(untraced)).toBeDefined();
    expect('tr' in signin(untraced)).toBe(false);
    expect(entries.find((e) => e.e === 'group' && e.u === String(picker))?.tr).toBe(`${CTX.traceId}-${CTX.spanId}`);

    const base: FlusherOptions = {
      redis,
      pool: db.pool,
      keyPrefix: config.keyPrefix,
      wb: { ...config.writeBehind, pollMs: 5 },
      batchRows: 200,
      lessons: [LESSON],
      consumer: `trace-${process.pid}`,
      rollbackCheckEveryMs: 0,
    };
    // MySQL unreachable: the batch is not written and its warning names the trace.
    const failed: Array<Record<string, unknown>> = [];
    const bad = createMysqlPool('mysql://root@127.0.0.1:1/none', 1);
    try {
      // Drain passes until one has read the records and failed to write them.
      const f = new Flusher({ ...base, pool: bad, log: capture(failed) });
      expect(await f.drain(1500, [LESSON])).toBe(false);
    } finally {
      await bad.end().catch(() => {});
    }
    const warn = failed.find((l) => l.msg === 'write-behind batch not written; records stay pending');
    expect(warn?.traceIds).toEqual([CTX.traceId]);
    expect(warn?.records).toBe(entries.length);
    expect(String(warn?.err)).toMatch(/ECONNREFUSED/);

    // The same consumer re-reads its pending records and writes them: debug line and an exported, linked span.
    const written: Array<Record<string, unknown>> = [];
    const tracing = await createTracing(`http://127.0.0.1:${(receiver.address() as { port: number }).port}/v1/traces`, 'orgengine-test');
    const good = new Flusher({ ...base, log: capture(written), tracing });
    expect(await good.drain(30_000, [LESSON])).toBe(true);
    await tracing.shutdown();
    const batches = written.filter((l) => l.msg === 'write-behind batch written');
    expect(batches.flatMap((l) => l.traceIds as string[])).toContain(CTX.traceId);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT uid FROM state_signin WHERE lesson_id = ? AND uid IN (?, ?)', [LESSON, traced, untraced]);
    expect(rows.map((r) => Number(r.uid)).sort((a, b) => a - b)).toEqual([traced, untraced].sort((a, b) => a - b));

    const spans = docs.flatMap((d) => d.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)));
    const batch = spans.filter((s: any) => s.name === 'write-behind batch');
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.flatMap((s: any) => s.links ?? [])).toContainEqual(expect.objectContaining({ traceId: CTX.traceId, spanId: CTX.spanId }));
  });
});
