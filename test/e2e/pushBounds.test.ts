// WebSocket bounds and lifecycle on a real gateway: a slow consumer is closed
// with 4008, the connection bound refuses upgrades with 503, the gRPC twin of
// the broadcast route, the push metrics on /metrics, the drain (1001), and
// `orgengine serve --workers 2` as a real process: each worker serves its own
// sockets and every client still sees every signal once.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Topology } from '../../src/model/topology.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { call, grpcClients, rpc } from '../support/clients.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { dropLessonKeys, loadSyntheticLesson } from '../support/lesson.js';
import { spawnServe } from '../support/serve.js';
import { hour, until } from '../support/wait.js';
import { connectWs, upgradeStatus, type WsClient } from '../support/ws.js';

const SECRET = 'bounds-secret-0123456789-abcdefghijklmn';
const log = pino({ level: 'silent' });

describe('websocket bounds and lifecycle', () => {
  const LESSON = 620_000 + Math.floor(Math.random() * 90_000);
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let base: string;
  let topo: Topology;
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1000 });
  const tok = (uid: number, role: 'student' | 'teacher' | 'service' = 'student'): string => tokens.mint({ uid, role, lesson: role === 'service' ? '*' : LESSON, exp: hour() });
  const env = (): Record<string, string> => ({
    ORGENGINE_REDIS_URL: TEST_REDIS_URL,
    ORGENGINE_KEY_PREFIX: prefix,
    ORGENGINE_TOKEN_SECRET: SECRET,
    ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES: '60000',
    ORGENGINE_SIGNAL_RETAIN: '50',
    ORGENGINE_WS_MAX_BUFFERED_BYTES: '65536',
    ORGENGINE_WS_MAX_CONNECTIONS: '4',
  });

  beforeAll(async () => {
    prefix = uniquePrefix('wsb');
    config = loadConfig(env());
    redis = createRedis(config.redis);
    topo = await loadSyntheticLesson(redis, prefix, LESSON, { students: 30, tutors: 1 });
    gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
    base = `http://127.0.0.1:${gw.httpPort}`;
  });

  afterAll(async () => {
    await gw?.close();
    await dropLessonKeys(redis, prefix, LESSON);
    redis?.disconnect();
  });

  it('closes a slow consumer with 4008 once its send buffer passes the bound, and counts it', async () => {
    const c = await connectWs(base, tok(topo.positions[0]!.uid));
    c.send({ type: 'subscribe', id: 's', room: 'main' });
    await c.next((m) => m.id === 's');
    // The client stops reading: the kernel buffers fill, then uWS's.
    (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const teacher = { uid: 9001, role: 'teacher' as const, lesson: LESSON };
    const big = 'x'.repeat(59_000);
    let closedAt = -1;
    for (let i = 0; i < 300 && closedAt < 0; i++) {
      await gw.push.writePresence(); // a round trip, so the pump keeps up
      await gw.signals.service.publish(teacher, LESSON, 'main', big);
      if (gw.push.connectionCount === 0) closedAt = i;
    }
    expect(closedAt).toBeGreaterThan(0);
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await c.closed).code).toBe(4008);
    const m = await call(base, '/metrics');
    expect(m.body).toMatch(/orgengine_ws_slow_consumer_closes_total 1\b/);
  });

  it('refuses upgrades past the connection bound with 503, and exports connection metrics', async () => {
    const cs: WsClient[] = [];
    for (let i = 0; i < 4; i++) cs.push(await connectWs(base, tok(topo.positions[i]!.uid)));
    expect(await upgradeStatus(base, tok(topo.positions[5]!.uid))).toBe(503);
    const m = await call(base, '/metrics');
    expect(m.body).toMatch(/orgengine_ws_connections 4\b/);
    expect(m.body).toMatch(/orgengine_ws_upgrades_refused_total\{code="OVERLOADED"\} 1\b/);
    for (const c of cs) c.close();
    await until('closed', async () => (gw.push.connectionCount === 0 ? true : undefined));
  });

  it('broadcasts over gRPC to the students under the node', async () => {
    const tutor = topo.nodes.find((n) => n.kind === 'tutor')!;
    const c = await connectWs(base, tok(topo.positions.find((p) => p.nodeId === tutor.nodeId)!.uid));
    const g = grpcClients(gw.grpcPort!);
    try {
      const r = await rpc(g.push, 'Broadcast', { lessonId: LESSON, nodeId: tutor.nodeId, data: 'via grpc' }, tok(1, 'service'));
      expect(r.value).toMatchObject({ nodeId: tutor.nodeId });
      expect(await c.next((m) => m.type === 'node')).toMatchObject({ nodeId: tutor.nodeId, data: 'via grpc', by: 1 });
      const bad = await rpc(g.push, 'Broadcast', { lessonId: LESSON, nodeId: 'nope', data: 'x' }, tok(1, 'service'));
      expect(bad.error?.orgCode).toBe('NODE_NOT_FOUND');
    } finally {
      g.close();
      c.close();
    }
  });

  it('pings idle connections and closes the one that never answers after the idle timeout', async () => {
    const config2 = loadConfig({ ...env(), ORGENGINE_WS_IDLE_TIMEOUT_SECONDS: '8' });
    const gw2 = await startGateway(config2, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false });
    try {
      const b = `http://127.0.0.1:${gw2.httpPort}`;
      const deaf = await connectWs(b, tok(topo.positions[0]!.uid), { autoPong: false });
      const alive = await connectWs(b, tok(topo.positions[1]!.uid));
      let pinged = false;
      deaf.ws.on('ping', () => (pinged = true));
      const t0 = Date.now();
      const closed = await deaf.closed;
      expect(pinged).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(4000); // uWS timers tick every 4 s
      expect(closed.code).toBe(1006); // uWS drops an idle socket without a close frame
      // The one that answers the pings is still up past the timeout.
      alive.send({ type: 'ping', id: 'still' });
      expect((await alive.next((m) => m.id === 'still')).type).toBe('pong');
      alive.close();
    } finally {
      await gw2.close();
    }
  }, 40_000);

  it('drains: open sockets are closed with 1001 going away', async () => {
    const config2 = loadConfig(env());
    const gw2 = await startGateway(config2, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false });
    const c = await connectWs(`http://127.0.0.1:${gw2.httpPort}`, tok(topo.positions[0]!.uid));
    await gw2.close();
    expect((await c.closed).code).toBe(1001);
  });

  it('serves --workers 2: each worker its own sockets, every client sees every signal once, in order', async () => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env(), ORGENGINE_WS_MAX_CONNECTIONS: '1000', ORGENGINE_LOG_LEVEL: 'warn' };
    delete childEnv.ORGENGINE_REDIS_CLUSTER_NODES;
    const served = await spawnServe(childEnv, ['--workers', '2']);
    try {
      const b = `http://127.0.0.1:${served.httpPort}`;
      const clients = await Promise.all(topo.positions.slice(0, 24).map((p) => connectWs(b, tok(p.uid))));
      const subs = await Promise.all(
        clients.map((c, i) => {
          c.send({ type: 'subscribe', id: `s${i}`, room: 'main' });
          return c.next((m) => m.id === `s${i}`);
        }),
      );
      const start = subs[0]!.lastSeq as number;
      const sent: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await call(b, `/v1/lessons/${LESSON}/rooms/main/signals`, { token: tok(9001, 'teacher'), method: 'POST', body: JSON.stringify({ data: `w${i}` }) });
        sent.push(r.body.seq as number);
      }
      expect(sent[0]).toBeGreaterThan(start);
      const seqsOf = (c: WsClient) => c.messages.filter((m) => m.type === 'signal').map((m) => m.seq as number);
      await until('all delivered', async () => (clients.every((c) => seqsOf(c).length >= 10) ? true : undefined), 10_000, 20);
      for (const c of clients) expect(seqsOf(c)).toEqual(sent);
      const m = await call(b, '/metrics');
      expect(m.body).toMatch(/orgengine_ws_connections 24\b/);
      for (const c of clients) c.close();
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });
});
