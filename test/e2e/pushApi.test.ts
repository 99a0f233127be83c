// Live push over WebSocket end to end: a real gateway (uWS, in process) on a
// real single Redis and a real Redis Cluster, real `ws` clients. Upgrade
// authentication, the protocol and its bad input, fan-out from the local tail
// (each signal once and in order at every client, at most one tail fetch per
// signal), the recovery contract, state and node messages, bounds, presence.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Position, Topology } from '../../src/model/topology.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { call } from '../support/clients.js';
import { uniquePrefix } from '../support/env.js';
import { dropLessonKeys, loadSyntheticLesson } from '../support/lesson.js';
import { GATEWAY_REDIS_MODES } from '../support/redis.js';
import { hour, sleep, until } from '../support/wait.js';
import { connectWs, upgradeStatus, type WsClient, type WsMessage } from '../support/ws.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const log = pino({ level: 'silent' });

describe.each(GATEWAY_REDIS_MODES)('websocket push on %s', (_mode, target) => {
  const LESSON = 710_000 + Math.floor(Math.random() * 90_000);
  const tag = `w${randomUUID().slice(0, 8)}`;
  let config: Config;
  let prefix: string;
  let redis: RedisClient;
  let gw: Gateway;
  let base: string;
  let topo: Topology;
  let tokens: TokenVerifier;
  const open: WsClient[] = [];
  const tok = (uid: number, role: 'student' | 'teacher' | 'tutor' | 'service' = 'student', lesson: number | '*' = LESSON, exp = hour()): string =>
    tokens.mint({ uid, role, lesson, exp });
  const teacher = (): string => tok(9001, 'teacher');
  const connect = async (token: string | null, o: Parameters<typeof connectWs>[2] = {}): Promise<WsClient> => {
    const c = await connectWs(base, token, o);
    open.push(c);
    return c;
  };
  const publish = async (data: string, room = 'main'): Promise<number> => {
    const r = await call(base, `/v1/lessons/${LESSON}/rooms/${room}/signals`, { token: teacher(), method: 'POST', body: JSON.stringify({ data }) });
    expect(r.status).toBe(201);
    return r.body.seq as number;
  };
  const subscribe = async (c: WsClient, room: string, after?: number): Promise<WsMessage> => {
    const id = randomUUID().slice(0, 8);
    const from = c.messages.length;
    c.send({ type: 'subscribe', id, room, ...(after === undefined ? {} : { after }) });
    // A liveness bound, not a speed goal: each first subscribe reads the student's
    // position (a cold enter), and the bulk test opens 180 at once on a shared machine
    // that, in a whole-suite run, also runs every other test file.
    return c.next((m) => m.id === id, 60_000, from);
  };
  const seqs = (c: WsClient, room = 'main'): number[] => c.messages.filter((m) => m.type === 'signal' && m.room === room).map((m) => m.seq as number);
  let students: Position[];

  beforeAll(async () => {
    prefix = uniquePrefix('ws');
    config = loadConfig({
      ...target(),
      ORGENGINE_KEY_PREFIX: prefix,
      ORGENGINE_TOKEN_SECRET: SECRET,
      ORGENGINE_SIGNAL_RETAIN: '20',
      ORGENGINE_SIGNAL_READ_LIMIT_MAX: '8',
      ORGENGINE_WS_MAX_SUBSCRIPTIONS: '3',
      ORGENGINE_WS_MAX_PAYLOAD_BYTES: '512',
      ORGENGINE_WS_PRESENCE_INTERVAL_MS: '100',
      ORGENGINE_ONLINE_WINDOW_MS: '1500',
      ORGENGINE_ONLINE_CACHE_MS: '0',
    });
    redis = createRedis(config.redis);
    topo = await loadSyntheticLesson(redis, prefix, LESSON, { students: 60, tutors: 2 });
    students = topo.positions;
    gw = await startGateway(config, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false, connectionTag: tag });
    base = `http://127.0.0.1:${gw.httpPort}`;
    tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1000 });
  });

  afterAll(async () => {
    for (const c of open) c.close();
    await gw?.close();
    await dropLessonKeys(redis, prefix, LESSON);
    redis?.disconnect();
  });

  it('authenticates at upgrade: 401 without, with a forged or an expired token, 403 for another lesson; header, query and subprotocol all work', async () => {
    const s = students[0]!.uid;
    expect(await upgradeStatus(base, null)).toBe(401);
    expect(await upgradeStatus(base, `${tok(s).slice(0, -3)}xyz`)).toBe(401);
    expect(await upgradeStatus(base, tok(s, 'student', LESSON, Math.floor(Date.now() / 1000) - 5))).toBe(401);
    expect(await upgradeStatus(base, tok(s, 'student', LESSON + 1), { query: `lesson=${LESSON}` })).toBe(403);
    expect(await upgradeStatus(base, tok(1, 'service', '*'))).toBe(400); // a service names the lesson
    expect(await upgradeStatus(base, tok(1, 'service', '*'), { query: `lesson=${LESSON}` })).toBe(101);
    expect(await upgradeStatus(base, tok(s))).toBe(101);
    expect(await upgradeStatus(base, tok(s), { via: 'query' })).toBe(101);
    const c = await connect(tok(s), { via: 'protocol' });
    expect(c.ws.protocol).toBe('orgengine.v1');
  });

  it('answers ping, and malformed frames, unknown commands and bad fields with error messages while the connection stays up', async () => {
    const c = await connect(tok(students[1]!.uid));
    c.send({ type: 'ping', id: 'p1' });
    expect(await c.next((m) => m.id === 'p1')).toEqual({ type: 'pong', id: 'p1' });
    for (const bad of ['not json', '[1]', JSON.stringify({ type: 'dance' }), JSON.stringify({ type: 'subscribe', room: 'main', after: -1 }), JSON.stringify({ type: 'ping', extra: 1 })]) {
      const from = c.messages.length;
      c.send(bad);
      const e = await c.next((m) => m.type === 'error', 5000, from);
      expect(e.code).toBe('BAD_REQUEST');
    }
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await c.next((m) => m.type === 'error' && /binary/.test(m.message))).code).toBe('BAD_REQUEST');
    // A student may subscribe only to rooms of its own position; staff get ROOM_NOT_FOUND for an unknown room.
    const notMine = topo.rooms.find((r) => !students[1]!.rooms.some((x) => x.roomId === r.roomId));
    if (notMine) c.send({ type: 'subscribe', id: 'nm', room: notMine.roomId });
    if (notMine) expect((await c.next((m) => m.id === 'nm')).code).toBe('ROOM_NOT_MEMBER');
    const t = await connect(teacher());
    t.send({ type: 'subscribe', id: 'x', room: 'nope' });
    expect((await t.next((m) => m.id === 'x')).code).toBe('ROOM_NOT_FOUND');
    c.send({ type: 'ping', id: 'p2' });
    expect((await c.next((m) => m.id === 'p2')).type).toBe('pong');
  });

  it('closes a connection that sends a frame over the limit with 1009 (and cuts a far larger one)', async () => {
    const c = await connect(tok(students[2]!.uid));
    c.send(JSON.stringify({ type: 'ping', id: 'x'.repeat(600) }));
    expect((await c.closed).code).toBe(1009);
    const d = await connect(tok(students[2]!.uid));
    d.send('x'.repeat(4 * 512 + 1));
    expect((await d.closed).code).toBe(1006);
  });

  it('bounds subscriptions per connection', async () => {
    const c = await connect(teacher());
    for (const r of topo.rooms.slice(0, 3)) expect((await subscribe(c, r.roomId)).type).toBe('subscribed');
    const extra = await subscribe(c, topo.rooms[3]!.roomId);
    expect(extra).toMatchObject({ type: 'error', code: 'LIMIT_EXCEEDED' });
    expect((await subscribe(c, topo.rooms[0]!.roomId)).code).toBe('BAD_REQUEST'); // twice
    c.send({ type: 'unsubscribe', id: 'u', room: topo.rooms[0]!.roomId });
    expect((await c.next((m) => m.id === 'u')).type).toBe('unsubscribed');
    expect((await subscribe(c, topo.rooms[3]!.roomId)).type).toBe('subscribed');
  });

  it('delivers every signal exactly once and in order to hundreds of clients, with at most one tail fetch per signal', async () => {
    const clients = await Promise.all(students.slice(0, 60).flatMap((p) => [connect(tok(p.uid)), connect(tok(p.uid)), connect(tok(p.uid))]));
    const starts = await Promise.all(clients.map((c) => subscribe(c, 'main')));
    const start = Math.max(...starts.map((s) => s.lastSeq as number));
    expect(starts.every((s) => s.lastSeq === start)).toBe(true);
    const fetches0 = gw.signals.cache!.snapshot().total.tailFetches;
    const N = 30;
    // Published by another process's connection, as a teacher on another gateway would.
    const sent: number[] = [];
    for (let i = 0; i < N; i++) {
      sent.push(await publish(`{"page":${i}}`));
      if (i % 5 === 0) await sleep(5);
    }
    // A liveness bound: hundreds of clients' frames share a busy 2-core machine with the rest of the suite.
    await until('every client got every signal', async () => (clients.every((c) => seqs(c).length >= N) ? true : undefined), 45_000, 20);
    for (const c of clients) expect(seqs(c)).toEqual(sent);
    const fetches = gw.signals.cache!.snapshot().total.tailFetches - fetches0;
    expect(fetches).toBeLessThanOrEqual(N);
    for (const c of clients) c.close();
  }, 120_000);

  it('replays what a reconnecting client missed, then goes live: no gap, no duplicate, even while a publisher runs', async () => {
    const uid = students[3]!.uid;
    const a = await connect(tok(uid));
    const s0 = await subscribe(a, 'main');
    let last = s0.lastSeq as number;
    await publish('a1');
    await a.next((m) => m.type === 'signal' && m.seq === last + 1);
    last += 1;
    a.close();
    const missed = [await publish('m1'), await publish('m2'), await publish('m3')];
    // A publisher keeps going while the client reconnects and replays.
    let stop = false;
    const during: number[] = [];
    const publisher = (async () => {
      while (!stop) during.push(await publish('live'));
    })();
    const b = await connect(tok(uid));
    const sub = await subscribe(b, 'main', last);
    expect(sub).toMatchObject({ type: 'subscribed', recovered: true, restarted: false });
    await sleep(100);
    stop = true;
    await publisher;
    const final = during[during.length - 1]!;
    await b.next((m) => m.type === 'signal' && m.seq === final, 10_000);
    const got = seqs(b);
    expect(got.slice(0, 3)).toEqual(missed);
    expect(got).toEqual(Array.from({ length: final - last }, (_, i) => last + 1 + i));
  });

  it('says recovered: false with the first retained seq when the missed signals were trimmed, and restarted when the log restarted', async () => {
    const uid = students[4]!.uid;
    const c = await connect(tok(uid));
    const s0 = await subscribe(c, 'main');
    const before = s0.lastSeq as number;
    for (let i = 0; i < 25; i++) await publish(`t${i}`); // retain is 20
    // The replay covers what the gateway has already pushed; the rest comes live.
    // Wait until it pushed all 25 (the live subscriber has them) so the replay is all of them.
    await until('the gateway pushed every signal', async () => (seqs(c).includes(before + 25) ? true : undefined), 5000, 5);
    const d = await connect(tok(uid));
    const sub = await subscribe(d, 'main', before);
    expect(sub).toMatchObject({ recovered: false, restarted: false, firstSeq: before + 6, lastSeq: before + 25, replayed: 20 });
    // A log that restarted: the counter is below what the client saw.
    const e = await connect(tok(uid));
    const r = await subscribe(e, 'main', before + 1000);
    expect(r).toMatchObject({ recovered: false, restarted: true });
    expect(seqs(e)[0]).toBe(before + 6);
  });

  it('tells live subscribers when a room log restarts, then delivers the new log from its start', async () => {
    const room = topo.rooms.find((r) => r.roomId !== 'main')!.roomId;
    const t = await connect(teacher());
    await subscribe(t, room);
    for (let i = 0; i < 3; i++) await publish(`old${i}`, room);
    await t.next((m) => m.type === 'signal' && m.data === 'old2');
    // The log is lost (expired, or Redis restarted empty): its counter starts over.
    const lk = lessonKeys(prefix, LESSON);
    await redis.unlink(lk.signals(room), lk.signalSeq(room));
    expect(await publish('new0', room)).toBe(1);
    expect(await t.next((m) => m.type === 'reset', 10_000)).toMatchObject({ room, reason: 'restarted' });
    expect(await t.next((m) => m.type === 'signal' && m.data === 'new0', 10_000)).toMatchObject({ seq: 1 });
  });

  it('recovers on another gateway of the same lesson: the reconnect lands elsewhere and still gets exactly what it missed', async () => {
    const gw2 = await startGateway(config, { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false, connectionTag: `${tag}b` });
    try {
      const base2 = `http://127.0.0.1:${gw2.httpPort}`;
      const uid = students[5]!.uid;
      const a = await connect(tok(uid));
      const s0 = await subscribe(a, 'main');
      const seq = await publish('x1');
      await a.next((m) => m.type === 'signal' && m.seq === seq);
      a.close();
      const missed = [await publish('x2'), await publish('x3')];
      const b = await connectWs(base2, tok(uid));
      open.push(b);
      const sub = await subscribe(b, 'main', seq);
      expect(sub).toMatchObject({ recovered: true, restarted: false });
      const live = await publish('x4');
      await b.next((m) => m.type === 'signal' && m.seq === live);
      expect(seqs(b)).toEqual([...missed, live]);
      expect(s0.lastSeq).toBeLessThan(seq);
    } finally {
      await gw2.close();
    }
  });

  it('pushes a node broadcast to the students under that node only; tutors only within their own subtree', async () => {
    const tutorNodes = topo.nodes.filter((n) => n.kind === 'tutor');
    const [ta, tb] = tutorNodes as [typeof tutorNodes[0], typeof tutorNodes[0]];
    const under = students.filter((p) => p.nodeId === ta.nodeId).slice(0, 5);
    const other = students.filter((p) => p.nodeId === tb.nodeId).slice(0, 5);
    const cs = await Promise.all([...under, ...other].map((p) => connect(tok(p.uid))));
    const staff = await connect(teacher());
    const tutorUid = Number(ta.nodeId.slice(1));
    const path = (node: string) => `/v1/lessons/${LESSON}/nodes/${node}/broadcast`;
    const r = await call(base, path(ta.nodeId), { token: tok(tutorUid, 'tutor'), method: 'POST', body: JSON.stringify({ data: 'hello team' }) });
    expect(r.status).toBe(201);
    for (const c of cs.slice(0, under.length)) expect(await c.next((m) => m.type === 'node')).toMatchObject({ nodeId: ta.nodeId, data: 'hello team', by: tutorUid });
    expect((await call(base, path(tb.nodeId), { token: tok(tutorUid, 'tutor'), method: 'POST', body: JSON.stringify({ data: 'x' }) })).status).toBe(403);
    expect((await call(base, path(ta.nodeId), { token: tok(under[0]!.uid), method: 'POST', body: JSON.stringify({ data: 'x' }) })).status).toBe(403);
    expect((await call(base, path('nope'), { token: teacher(), method: 'POST', body: JSON.stringify({ data: 'x' }) })).status).toBe(404);
    expect((await call(base, path(ta.nodeId), { token: teacher(), method: 'POST', body: JSON.stringify({ data: '' }) })).status).toBe(400);
    // The root reaches everyone; a ping round trip later nobody else got the first.
    expect((await call(base, path('root'), { token: teacher(), method: 'POST', body: JSON.stringify({ data: 'all' }) })).status).toBe(201);
    for (const c of cs) await c.next((m) => m.type === 'node' && m.data === 'all');
    for (const c of cs.slice(under.length)) expect(c.messages.filter((m) => m.type === 'node' && m.data === 'hello team')).toEqual([]);
    expect(staff.messages.filter((m) => m.type === 'node')).toEqual([]);
  });

  it("pushes a student's own mute, group change and node mute to that student only", async () => {
    const [me, peer] = students.filter((p) => p.nodeId === students[10]!.nodeId).slice(0, 2) as [Position, Position];
    const a = await connect(tok(me.uid));
    const b = await connect(tok(peer.uid));
    const muted = await call(base, `/v1/lessons/${LESSON}/rooms/main/students/${me.uid}/mute`, { token: teacher(), method: 'PUT' });
    expect(muted.status).toBe(200);
    expect(await a.next((m) => m.type === 'state')).toMatchObject({ uid: me.uid, muted: true, mutedBy: 'self', cause: 'changed' });
    const picked = await call(base, `/v1/lessons/${LESSON}/students/${me.uid}/group`, { token: tok(me.uid), method: 'POST', body: '{}' });
    expect(picked.status).toBe(200);
    const st = await a.next((m) => m.type === 'state' && m.groupId !== null);
    expect(st.groupId).toBe(picked.body.groupId);
    // Now under its group: a broadcast to the group reaches it.
    await call(base, `/v1/lessons/${LESSON}/nodes/${st.groupId}/broadcast`, { token: teacher(), method: 'POST', body: JSON.stringify({ data: 'group!' }) });
    await a.next((m) => m.type === 'node' && m.data === 'group!');
    b.send({ type: 'ping', id: 'z' });
    await b.next((m) => m.id === 'z');
    expect(b.messages.filter((m) => m.type === 'state' || m.data === 'group!')).toEqual([]);
    // A node mute reaches the students under the node with mutedBy = the node; a self-muted student stays 'self'.
    const nodeMute = `/v1/lessons/${LESSON}/rooms/main/nodes/${peer.nodeId}/mute`;
    expect((await call(base, nodeMute, { token: teacher(), method: 'PUT' })).status).toBe(200);
    expect(await b.next((m) => m.type === 'state')).toMatchObject({ uid: peer.uid, muted: true, mutedBy: peer.nodeId });
    expect((await call(base, nodeMute, { token: teacher(), method: 'DELETE' })).status).toBe(200);
    expect(await b.next((m) => m.type === 'state' && m.muted === false)).toMatchObject({ uid: peer.uid, mutedBy: null });
    a.send({ type: 'ping', id: 'y' });
    await a.next((m) => m.id === 'y');
    expect(a.messages.filter((m) => m.type === 'state' && m.mutedBy !== 'self' && m.muted)).toEqual([]);
  });

  it('counts subscribed connections online in the room, and drops them within the online window after they close', async () => {
    const online = async (): Promise<number> => (await call(base, `/v1/lessons/${LESSON}/rooms/main/online`, { token: teacher() })).body.online as number;
    for (const c of open.splice(0)) c.close();
    await until('earlier connections aged out', async () => ((await online()) === 0 ? true : undefined), 10_000, 100);
    const cs = await Promise.all(students.slice(20, 30).map((p) => connect(tok(p.uid))));
    await Promise.all(cs.map((c) => subscribe(c, 'main')));
    await until('10 online', async () => ((await online()) === 10 ? true : undefined), 5000, 50);
    // Still online after more than a window: the gateway refreshes them.
    await sleep(1800);
    expect(await online()).toBe(10);
    for (const c of cs.slice(0, 4)) c.close();
    await until('6 online', async () => ((await online()) === 6 ? true : undefined), 5000, 100);
  });
});
