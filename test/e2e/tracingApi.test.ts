// Request tracing on the gateway: with spans exported (ORGENGINE_OTLP_ENDPOINT,
// a local OTLP/HTTP receiver here) HTTP and gRPC continue the caller's W3C
// traceparent or start a trace, answer with their own, and export a span per
// request; a mutation's trace rides its write-behind record to the flusher,
// whose batch span links it; without an endpoint they send no traceparent at
// all (no tracing work).
import * as grpc from '@grpc/grpc-js';
import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { grpcClients } from '../support/clients.js';
import { createTestDb } from '../support/mysql.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { compileTestLesson, dropLesson, loadTopology } from '../support/lesson.js';
import type { Topology } from '../../src/model/topology.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const LESSON = 7301;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const TP = `00-${TRACE}-00f067aa0ba902b7-01`;
const log = pino({ level: 'silent' });

describe('gateway tracing', () => {
  let receiver: Server;
  const docs: any[] = [];
  let config: Config;
  let redis: RedisClient;
  let prefix: string;
  let token: string;
  let topo: Topology;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        docs.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    prefix = uniquePrefix('trace');
    config = loadConfig({ ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET });
    redis = createRedis(config.redis);
    topo = compileTestLesson({ lessonId: LESSON, students: 50, tutors: 2, policy: 'group', seed: 3 });
    await loadTopology(redis, prefix, topo);
    token = new TokenVerifier({ secret: SECRET, cacheEntries: 10 }).mint({ uid: 1, role: 'service', lesson: '*', exp: Math.floor(Date.now() / 1000) + 3600 });
  });
  afterAll(async () => {
    await dropLesson(redis, prefix, LESSON);
    await redis.quit();
    await new Promise((r) => receiver.close(r));
  });

  const getLessonGrpc = (gw: Gateway, traceparent: string | null) =>
    new Promise<{ md: grpc.Metadata | null; ok: boolean }>((resolve) => {
      const c = grpcClients(gw.grpcPort!);
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      if (traceparent) md.set('traceparent', traceparent);
      let got: grpc.Metadata | null = null;
      const call = c.read.GetLesson({ lessonId: LESSON }, md, (err: unknown) => {
        c.close();
        resolve({ md: got, ok: !err });
      });
      call.on('metadata', (m: grpc.Metadata) => (got = m));
    });

  it('continues or starts traces on HTTP and gRPC and exports a span per request', async () => {
    const exporting = loadConfig({ ...process.env, ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/v1/traces` });
    const gw = await startGateway(exporting, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
    try {
      const base = `http://127.0.0.1:${gw.httpPort}`;
      const a = await fetch(`${base}/v1/lessons/${LESSON}`, { headers: { authorization: `Bearer ${token}`, traceparent: TP } });
      expect(a.status).toBe(200);
      const answered = a.headers.get('traceparent')!;
      expect(answered).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
      const b = await fetch(`${base}/v1/lessons/${LESSON}`, { headers: { authorization: `Bearer ${token}`, traceparent: 'not-a-traceparent' } });
      expect(b.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(b.headers.get('traceparent')).not.toContain(TRACE);
      const g = await getLessonGrpc(gw, TP);
      expect(g.ok).toBe(true);
      expect(String(g.md?.get('traceparent')[0])).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    } finally {
      await gw.close();
    }
    const spans = docs.flatMap((d) => d.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)));
    const names = spans.filter((s: any) => s.traceId === TRACE).map((s: any) => s.name).sort();
    expect(names).toEqual(['HTTP lesson', 'gRPC GetLesson']);
    expect(spans.find((s: any) => s.name === 'HTTP lesson' && s.traceId === TRACE).parentSpanId).toBe('00f067aa0ba902b7');
  });

  it('carries a mutation\'s trace through its write-behind record to the flusher\'s batch span', async () => {
    const db = await createTestDb('trace_wb');
    const endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/v1/traces`;
    const exporting = loadConfig({
      ...process.env, ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_OTLP_ENDPOINT: endpoint,
      ORGENGINE_MYSQL_URL: db.url, ORGENGINE_FLUSH_IN_GATEWAY: 'true', ORGENGINE_WB_POLL_MS: '5', ORGENGINE_WB_IDLE_POLL_MAX_MS: '20',
    });
    const gw = await startGateway(exporting, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
    const TRACE2 = '5bf92f3577b34da6a3ce929d0e0e4737';
    try {
      const uid = topo.positions[0]!.uid;
      const r = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/lessons/${LESSON}/students/${uid}/sign-in`, { method: 'POST', headers: { authorization: `Bearer ${token}`, traceparent: `00-${TRACE2}-00f067aa0ba902b7-01` } });
      expect(r.status).toBe(200);
      const requestSpan = r.headers.get('traceparent')!.split('-')[2];
      // And over gRPC: the call's trace scope stamps its record too.
      const TRACE3 = '6bf92f3577b34da6a3ce929d0e0e4738';
      const callSpan = await new Promise<string>((resolve, reject) => {
        const c = grpcClients(gw.grpcPort!);
        const md = new grpc.Metadata();
        md.set('authorization', `Bearer ${token}`);
        md.set('traceparent', `00-${TRACE3}-00f067aa0ba902b7-01`);
        let tp = '';
        const call = c.mutations.SignIn({ lessonId: LESSON, uid: topo.positions[1]!.uid }, md, (err: unknown) => {
          c.close();
          if (err) reject(err as Error);
          else resolve(tp.split('-')[2]!);
        });
        call.on('metadata', (m: grpc.Metadata) => (tp = String(m.get('traceparent')[0])));
      });
      const stream = lessonKeys(prefix, LESSON).writeBehind;
      for (let i = 0; i < 400 && (await redis.xlen(stream)) > 0; i++) await new Promise((res) => setTimeout(res, 25));
      expect(await redis.xlen(stream)).toBe(0);
      const [rows] = await db.pool.query('SELECT uid FROM state_signin WHERE lesson_id = ?', [LESSON]);
      expect((rows as Array<{ uid: number }>).map((x) => Number(x.uid)).sort((a, b) => a - b)).toEqual([uid, topo.positions[1]!.uid].sort((a, b) => a - b));
      await gw.close();
      const spans = docs.flatMap((d) => d.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((sc: any) => sc.spans)));
      const batch = spans.filter((sp: any) => sp.name === 'write-behind batch');
      // The batch span links the request's span (the one whose traceparent the gateway answered with).
      const links = batch.flatMap((sp: any) => sp.links ?? []);
      expect(links).toContainEqual(expect.objectContaining({ traceId: TRACE2, spanId: requestSpan }));
      expect(links).toContainEqual(expect.objectContaining({ traceId: TRACE3, spanId: callSpan }));
    } finally {
      await gw.close().catch(() => {});
      await db.drop();
    }
  });

  it('does nothing for tracing without an endpoint', async () => {
    const gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
    try {
      const a = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/lessons/${LESSON}`, { headers: { authorization: `Bearer ${token}`, traceparent: TP } });
      expect(a.status).toBe(200);
      expect(a.headers.get('traceparent')).toBeNull();
      const g = await getLessonGrpc(gw, TP);
      expect(g.ok).toBe(true);
      expect(g.md?.get('traceparent') ?? []).toEqual([]);
    } finally {
      await gw.close();
    }
  });
});
