// Gateway security end to end over real sockets: operator endpoints moved to
// the internal listener, per-caller rate limits over HTTP and gRPC, key
// rotation without refusing a valid token, TLS for both transports with a
// certificate reload, and token revocation applied by every worker of
// `orgengine serve --workers 2` on the Redis Cluster.
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { Topology } from '../../src/model/topology.js';
import { createRedis, type RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { call, grpcClients, rpc } from '../support/clients.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { compileTestLesson, dropLesson, loadTopology } from '../support/lesson.js';
import { spawnServe } from '../support/serve.js';
import { connectWs, upgradeStatus } from '../support/ws.js';
import { hour, until } from '../support/wait.js';

const SECRET = 'security-secret-0123456789-abcdefghijk';
const KEY_A = 'rotation-key-a-0123456789-abcdefghijklm';
const KEY_B = 'rotation-key-b-0123456789-abcdefghijklm';
const LESSON = 7401;
const root = fileURLToPath(new URL('../..', import.meta.url));
const log = pino({ level: 'silent' });

/** One GET on a fresh connection (so the kernel may hand it to any worker sharing the port). */
function freshGet(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close', ...(token ? { authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** One HTTPS GET on a fresh connection trusting only `ca`; the status and the fingerprint of the certificate the server showed. */
function tlsGet(port: number, path: string, ca: Buffer): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, agent: false, headers: { connection: 'close' } }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs the CLI; resolves with its exit code and output. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['bin/orgengine.js', ...args], { cwd: root, env: { ...process.env, ORGENGINE_LOG_LEVEL: 'warn', ...env } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.once('exit', (code) => resolve({ code, out, err }));
  });
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl in `dir`. */
function selfSigned(dir: string, name: string): { cert: string; key: string; fingerprint: string } {
  const cert = join(dir, `${name}.cert.pem`);
  const key = join(dir, `${name}.key.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}

describe('gateway security', () => {
  const prefix = uniquePrefix('sec');
  let redis: RedisClient;
  let topo: Topology;
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 100 });
  const service = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
  const studentToken = (uid: number) => tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour() });
  const baseEnv = () => ({ ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET });

  beforeAll(async () => {
    redis = createRedis({ mode: 'single', url: TEST_REDIS_URL });
    topo = compileTestLesson({ lessonId: LESSON, students: 100, tutors: 1, policy: 'group', seed: 4 });
    await loadTopology(redis, prefix, topo);
  });

  afterAll(async () => {
    await dropLesson(redis, prefix, LESSON, [lessonKeys(prefix, LESSON).revocations]);
    redis.disconnect();
  });

  it('serves /readyz and /metrics only on the internal listener once it is set; the public port keeps /healthz', async () => {
    const gw = await startGateway(loadConfig(baseEnv()), { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false, internalPort: 0 });
    try {
      expect(gw.internalPort).not.toBeNull();
      const pub = `http://127.0.0.1:${gw.httpPort}`;
      const internal = `http://127.0.0.1:${gw.internalPort}`;
      expect((await call(pub, '/healthz')).status).toBe(200);
      for (const path of ['/metrics', '/readyz']) {
        const r = await call(pub, path);
        expect(r.status, path).toBe(404);
        expect(r.body.error.code).toBe('NOT_FOUND');
      }
      const metrics = await call(internal, '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('orgengine_requests_total');
      expect((await call(internal, '/readyz')).body.status).toBe('ready');
      expect((await call(internal, '/healthz')).status).toBe(200);
      // The API stays on the public port only.
      expect((await call(internal, `/v1/lessons/${LESSON}`, { token: service })).status).toBe(404);
      expect((await call(pub, `/v1/lessons/${LESSON}`, { token: service })).status).toBe(200);
    } finally {
      await gw.close();
    }
    // Without an internal listener everything stays on the public port.
    const plain = await startGateway(loadConfig(baseEnv()), { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false });
    try {
      expect(plain.internalPort).toBeNull();
      expect((await call(`http://127.0.0.1:${plain.httpPort}`, '/metrics')).status).toBe(200);
    } finally {
      await plain.close();
    }
  });

  describe('rate limits', () => {
    let gw: Gateway;
    let base: string;
    let grpcc: ReturnType<typeof grpcClients>;

    beforeAll(async () => {
      const config = loadConfig({
        ...baseEnv(),
        ORGENGINE_RATE_LIMITS: 'true',
        // Slow refills (one token per 4 s): a busy machine does not refill a bucket between the calls that empty it.
        ORGENGINE_RATE_READ_PER_SECOND: '0.25',
        ORGENGINE_RATE_READ_BURST: '2',
        ORGENGINE_RATE_MUTATION_PER_SECOND: '0.5',
        ORGENGINE_RATE_MUTATION_BURST: '1',
        ORGENGINE_RATE_SERVICE_PER_SECOND: '0.25',
        ORGENGINE_RATE_SERVICE_BURST: '3',
        ORGENGINE_RATE_ADDRESS_PER_SECOND: '0',
      });
      gw = await startGateway(config, { port: 0, grpcPort: 0, host: '127.0.0.1', log, defaultMetrics: false });
      base = `http://127.0.0.1:${gw.httpPort}`;
      grpcc = grpcClients(gw.grpcPort!);
    });

    afterAll(async () => {
      grpcc?.close();
      await gw?.close();
    });

    it('answers 429 TOO_MANY_REQUESTS with Retry-After over HTTP past the burst, and serves again after the window', async () => {
      const uid = topo.positions[3]!.uid;
      const tok = studentToken(uid);
      const path = `/v1/lessons/${LESSON}/students/${uid}/position`;
      for (let i = 0; i < 2; i++) expect((await call(base, path, { token: tok })).status).toBe(200);
      const refused = await call(base, path, { token: tok });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('TOO_MANY_REQUESTS');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Another caller and another class are not affected.
      const other = topo.positions[4]!.uid;
      expect((await call(base, `/v1/lessons/${LESSON}/students/${other}/position`, { token: studentToken(other) })).status).toBe(200);
      // Recovery: the bucket refills.
      await until('a read allowed again', async () => ((await call(base, path, { token: tok })).status === 200 ? true : undefined), 30_000, 200);
      const metrics = await call(base, '/metrics');
      expect(metrics.body).toMatch(/orgengine_rate_limited_total\{class="read",by="uid"\} [1-9]/);
      // A WebSocket upgrade is charged as a read of the same bucket.
      const ws = topo.positions[8]!.uid;
      const wsTok = studentToken(ws);
      const upgrades: number[] = [];
      for (let i = 0; i < 3; i++) upgrades.push(await upgradeStatus(base, wsTok));
      expect(upgrades).toEqual([101, 101, 429]);
    });

    it('answers RESOURCE_EXHAUSTED with the code and retry-after over gRPC (service class), and serves again after the window', async () => {
      const req = { lessonId: LESSON };
      let first: Awaited<ReturnType<typeof rpc>> | undefined;
      // The service bucket holds 3; within a few calls one is refused.
      for (let i = 0; i < 6 && !first?.error; i++) first = await rpc(grpcc.read, 'GetLesson', req, service);
      expect(first?.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(first?.error?.orgCode).toBe('TOO_MANY_REQUESTS');
      expect(Number(first?.error?.retryAfter)).toBeGreaterThanOrEqual(1);
      await until('a call allowed again', async () => ((await rpc(grpcc.read, 'GetLesson', req, service)).error ? undefined : true), 30_000, 200);
      expect((await call(base, '/metrics')).body).toMatch(/orgengine_rate_limited_total\{class="service",by="uid"\} [1-9]/);
    });

    it('limits a client address over every caller when configured', async () => {
      const byAddress = await startGateway(loadConfig({ ...baseEnv(), ORGENGINE_RATE_LIMITS: 'true', ORGENGINE_RATE_ADDRESS_PER_SECOND: '0.1', ORGENGINE_RATE_ADDRESS_BURST: '2' }), {
        port: 0,
        grpcPort: null,
        host: '127.0.0.1',
        log,
        defaultMetrics: false,
      });
      try {
        const b = `http://127.0.0.1:${byAddress.httpPort}`;
        const statuses: number[] = [];
        for (const p of topo.positions.slice(10, 13)) statuses.push((await call(b, `/v1/lessons/${LESSON}/students/${p.uid}/position`, { token: studentToken(p.uid) })).status);
        expect(statuses).toEqual([200, 200, 429]);
        // Open endpoints are not charged.
        expect((await call(b, '/healthz')).status).toBe(200);
      } finally {
        await byAddress.close();
      }
    });
  });

  it('rotates keys without refusing a valid token: add the new key, switch signing, drop the old one', async () => {
    const uid = topo.positions[5]!.uid;
    const path = `/v1/lessons/${LESSON}/students/${uid}/position`;
    const mint = async (env: Record<string, string>): Promise<string> => {
      const r = await cli(['token', '--uid', String(uid), '--role', 'student', '--lesson', String(LESSON), '--ttl', '600'], env);
      expect(r.code, r.err).toBe(0);
      return r.out.trim();
    };
    const kid = (t: string) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).k as string | undefined;
    const steps: Array<{ env: Record<string, string>; signs: string | undefined }> = [
      // The single secret of old: tokens without a key id.
      { env: { ORGENGINE_TOKEN_SECRET: SECRET }, signs: undefined },
      // Named keys added beside it; the secret still signs.
      { env: { ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_TOKEN_KEYS: `a=${KEY_A}` }, signs: undefined },
      // Signing switched to a.
      { env: { ORGENGINE_TOKEN_SECRET: SECRET, ORGENGINE_TOKEN_KEYS: `a=${KEY_A}`, ORGENGINE_TOKEN_SIGNING_KID: 'a' }, signs: 'a' },
      // The secret dropped; b added.
      { env: { ORGENGINE_TOKEN_KEYS: `a=${KEY_A},b=${KEY_B}` }, signs: 'a' },
      // b signs.
      { env: { ORGENGINE_TOKEN_KEYS: `a=${KEY_A},b=${KEY_B}`, ORGENGINE_TOKEN_SIGNING_KID: 'b' }, signs: 'b' },
      // a dropped.
      { env: { ORGENGINE_TOKEN_KEYS: `b=${KEY_B}` }, signs: 'b' },
    ];
    const minted: Array<{ token: string; kid: string | undefined }> = [];
    for (const [i, step] of steps.entries()) {
      const env = { ORGENGINE_REDIS_URL: TEST_REDIS_URL, ORGENGINE_KEY_PREFIX: prefix, ...step.env };
      const gw = await startGateway(loadConfig(env), { port: 0, grpcPort: null, host: '127.0.0.1', log, defaultMetrics: false });
      try {
        const token = await mint(step.env);
        expect(kid(token), `step ${i} signs with`).toBe(step.signs);
        minted.push({ token, kid: kid(token) });
        const accepted = (k: string | undefined) => (k === undefined ? 'ORGENGINE_TOKEN_SECRET' in step.env : (step.env.ORGENGINE_TOKEN_KEYS ?? '').split(',').some((e) => e.startsWith(`${k}=`)));
        for (const m of minted) {
          const r = await call(`http://127.0.0.1:${gw.httpPort}`, path, { token: m.token });
          // Every token whose key is still configured passes; only tokens of a dropped key are refused.
          expect(r.status, `step ${i}, token of key ${m.kid ?? '(none)'}`).toBe(accepted(m.kid) ? 200 : 401);
        }
      } finally {
        await gw.close();
      }
    }
    // The last step refuses the tokens of the secret and of a: the drops were real.
    expect(minted.map((m) => m.kid)).toEqual([undefined, undefined, 'a', 'a', 'b', 'b']);
  });

  describe('TLS', () => {
    let dir: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'oe-tls-'));
    });

    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('handshakes over HTTPS and gRPC with a self-signed certificate, and serves a new certificate after a reload', async () => {
      const first = selfSigned(dir, 'first');
      const second = selfSigned(dir, 'second');
      const cert = join(dir, 'serving.cert.pem');
      const key = join(dir, 'serving.key.pem');
      copyFileSync(first.cert, cert);
      copyFileSync(first.key, key);
      const gw = await startGateway(loadConfig({ ...baseEnv(), ORGENGINE_TLS_CERT_FILE: cert, ORGENGINE_TLS_KEY_FILE: key }), {
        port: 0,
        grpcPort: 0,
        host: '127.0.0.1',
        log,
        defaultMetrics: false,
      });
      const clients: Array<ReturnType<typeof grpcClients>> = [];
      try {
        const ca1 = readFileSync(first.cert);
        const ca2 = readFileSync(second.cert);
        const r = await tlsGet(gw.httpPort, '/healthz', ca1);
        expect(r).toEqual({ status: 200, fingerprint: first.fingerprint });
        // Plaintext HTTP on the TLS port gets no answer.
        await expect(freshGet(gw.httpPort, '/healthz')).rejects.toThrow();
        const g1 = grpcClients(gw.grpcPort!, grpc.credentials.createSsl(ca1));
        clients.push(g1);
        const lesson = await rpc(g1.read, 'GetLesson', { lessonId: LESSON }, service);
        expect(lesson.error).toBeUndefined();
        expect(lesson.value.lesson.lessonId).toBe(LESSON);
        const plain = grpcClients(gw.grpcPort!);
        clients.push(plain);
        expect((await rpc(plain.read, 'GetLesson', { lessonId: LESSON }, service)).error?.code).toBe(grpc.status.UNAVAILABLE);

        // An unusable file is refused and the old certificate stays in use.
        writeFileSync(cert, 'not a certificate');
        await expect(gw.reloadTls()).rejects.toThrow(/TLS/);
        expect((await tlsGet(gw.httpPort, '/healthz', ca1)).fingerprint).toBe(first.fingerprint);

        copyFileSync(second.cert, cert);
        copyFileSync(second.key, key);
        await gw.reloadTls();
        expect(await tlsGet(gw.httpPort, '/healthz', ca2)).toEqual({ status: 200, fingerprint: second.fingerprint });
        const g2 = grpcClients(gw.grpcPort!, grpc.credentials.createSsl(ca2));
        clients.push(g2);
        expect((await rpc(g2.read, 'GetLesson', { lessonId: LESSON }, service)).error).toBeUndefined();
      } finally {
        for (const c of clients) c.close();
        await gw.close();
      }
    });

    it('reloads the certificate on SIGHUP in `orgengine serve --workers 2`', async () => {
      const first = selfSigned(dir, 'hup1');
      const second = selfSigned(dir, 'hup2');
      const cert = join(dir, 'hup.cert.pem');
      const key = join(dir, 'hup.key.pem');
      copyFileSync(first.cert, cert);
      copyFileSync(first.key, key);
      const served = await spawnServe({ ...process.env, ...baseEnv(), ORGENGINE_LOG_LEVEL: 'warn', ORGENGINE_TLS_CERT_FILE: cert, ORGENGINE_TLS_KEY_FILE: key }, ['--workers', '2']);
      try {
        expect((await tlsGet(served.httpPort, '/healthz', readFileSync(first.cert))).fingerprint).toBe(first.fingerprint);
        copyFileSync(second.cert, cert);
        copyFileSync(second.key, key);
        served.child.kill('SIGHUP');
        const ca2 = readFileSync(second.cert);
        // Every worker reloads: fresh connections (spread over both) all show the new certificate.
        await until(
          'every fresh connection served with the new certificate',
          async () => {
            for (let i = 0; i < 12; i++) {
              const r = await tlsGet(served.httpPort, '/healthz', ca2).catch(() => null);
              if (r?.fingerprint !== second.fingerprint) return undefined;
            }
            return true;
          },
          20_000,
          100,
        );
      } finally {
        expect(await served.stop()).toBe(0);
      }
    });
  });
});

describe('token revocation on `orgengine serve --workers 2` over the Redis Cluster', () => {
  const prefix = uniquePrefix('revoke-e2e');
  const REFRESH_MS = 1000;
  let redis: RedisClient;
  let topo: Topology;
  let served: Awaited<ReturnType<typeof spawnServe>>;
  let grpcc: ReturnType<typeof grpcClients>;
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 100 });
  const service = tokens.mint({ uid: 1, role: 'service', lesson: '*', exp: hour() });
  const env = () => ({ ORGENGINE_REDIS_CLUSTER_NODES: testClusterNodes().join(','), ORGENGINE_KEY_PREFIX: prefix, ORGENGINE_TOKEN_SECRET: SECRET });

  beforeAll(async () => {
    const cfg = loadConfig(env());
    redis = createRedis(cfg.redis);
    topo = compileTestLesson({ lessonId: LESSON, students: 100, tutors: 1, policy: 'group', seed: 5 });
    await loadTopology(redis, prefix, topo);
    served = await spawnServe({ ...process.env, ...env(), ORGENGINE_LOG_LEVEL: 'warn', ORGENGINE_REVOCATION_REFRESH_MS: String(REFRESH_MS) }, [
      '--workers',
      '2',
      '--grpc-port',
      '0',
      '--internal-port',
      '0',
    ]);
    grpcc = grpcClients(served.grpcPort!);
  });

  afterAll(async () => {
    grpcc?.close();
    if (served) expect(await served.stop()).toBe(0);
    await dropLesson(redis, prefix, LESSON, [lessonKeys(prefix, LESSON).revocations]);
    redis?.disconnect();
  });

  const position = (uid: number, token: string) => freshGet(served.httpPort, `/v1/lessons/${LESSON}/students/${uid}/position`, token);

  /** Waits until both workers hold the lesson's revocation list (the merged gauge counts both). */
  async function bothWorkersHold(uid: number, token: string): Promise<void> {
    await until(
      'both workers serving the lesson',
      async () => {
        for (let i = 0; i < 8; i++) expect((await position(uid, token)).status).toBe(200);
        const m = await freshGet(served.internalPort!, '/metrics');
        return /^orgengine_revocation_lessons 2$/m.test(m.body) ? true : undefined;
      },
      20_000,
      50,
    );
  }

  /** Waits (within the bound README states, with slack for a busy machine) until `n` fresh connections in a row are refused. */
  async function refusedEverywhere(uid: number, token: string): Promise<void> {
    await until(
      'the token refused on every worker',
      async () => {
        for (let i = 0; i < 16; i++) if ((await position(uid, token)).status !== 401) return undefined;
        return true;
      },
      REFRESH_MS + 10_000,
      20,
    );
  }

  it('keeps operator endpoints off the public port of every worker', async () => {
    expect(served.internalPort).not.toBeNull();
    for (let i = 0; i < 4; i++) expect((await freshGet(served.httpPort, '/metrics')).status).toBe(404);
    expect((await freshGet(served.internalPort!, '/readyz')).status).toBe(200);
  });

  it('refuses a user revoked over HTTP on every worker, and accepts the user\'s token issued afterwards', async () => {
    const uid = topo.positions[1]!.uid;
    const old = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour() });
    await bothWorkersHold(uid, old);
    const r = await call(`http://127.0.0.1:${served.httpPort}`, `/v1/lessons/${LESSON}/revocations`, { token: service, method: 'POST', body: JSON.stringify({ uid }) });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ lessonId: LESSON, uid });
    await refusedEverywhere(uid, old);
    const body = JSON.parse((await position(uid, old)).body);
    expect(body.error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'token revoked' });
    const fresh = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour(), iat: r.body.before + 1 });
    for (let i = 0; i < 8; i++) expect((await position(uid, fresh)).status).toBe(200);
    // Another user of the lesson is untouched; a student may not revoke.
    const other = topo.positions[2]!.uid;
    const otherTok = tokens.mint({ uid: other, role: 'student', lesson: LESSON, exp: hour() });
    expect((await position(other, otherTok)).status).toBe(200);
    const denied = await call(`http://127.0.0.1:${served.httpPort}`, `/v1/lessons/${LESSON}/revocations`, { token: otherTok, method: 'POST', body: '{}' });
    expect(denied.status).toBe(403);
  });

  it('refuses every token of the lesson issued before a time, revoked over gRPC', async () => {
    const uid = topo.positions[3]!.uid;
    const tok = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour() });
    expect((await position(uid, tok)).status).toBe(200);
    const before = Date.now();
    const g = await rpc(grpcc.tokens, 'Revoke', { lessonId: LESSON, before }, service);
    expect(g.error).toBeUndefined();
    expect(g.value).toMatchObject({ lessonId: LESSON, uid: null, before });
    await refusedEverywhere(uid, tok);
    const fresh = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour(), iat: before + 1 });
    expect((await position(uid, fresh)).status).toBe(200);
    // The service token for every lesson is not revoked by a lesson's revocation.
    expect((await rpc(grpcc.read, 'GetLesson', { lessonId: LESSON }, service)).error).toBeUndefined();
    const bad = await rpc(grpcc.tokens, 'Revoke', { lessonId: LESSON, before: Date.now() + 3_600_000 }, service);
    expect(bad.error?.orgCode).toBe('BAD_REQUEST');
  });

  it('closes the revoked user\'s open WebSocket connections with 4001 and refuses new ones', async () => {
    const uid = topo.positions[6]!.uid;
    const other = topo.positions[7]!.uid;
    const tok = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour(), iat: Date.now() });
    const otherTok = tokens.mint({ uid: other, role: 'student', lesson: LESSON, exp: hour() });
    const base = `http://127.0.0.1:${served.httpPort}`;
    const [mine, theirs] = await Promise.all([connectWs(base, tok), connectWs(base, otherTok)]);
    try {
      const r = await call(base, `/v1/lessons/${LESSON}/revocations`, { token: service, method: 'POST', body: JSON.stringify({ uid }) });
      expect(r.status).toBe(201);
      expect(await mine.closed).toEqual({ code: 4001, reason: 'token revoked' });
      await expect(connectWs(base, tok)).rejects.toMatchObject({ status: 401 });
      // The other student's connection stays open (generous bound: two gateway processes on a busy machine).
      theirs.send({ type: 'ping', id: 'p' });
      const answer = await Promise.race([theirs.next((m) => m.type === 'pong', 20_000), theirs.closed.then((c) => ({ type: 'closed', ...c }))]);
      expect(answer).toMatchObject({ type: 'pong', id: 'p' });
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('refuses a user revoked with `orgengine token revoke`', async () => {
    const uid = topo.positions[4]!.uid;
    const tok = tokens.mint({ uid, role: 'student', lesson: LESSON, exp: hour(), iat: Date.now() });
    expect((await position(uid, tok)).status).toBe(200);
    const r = await cli(['token', 'revoke', '--lesson', String(LESSON), '--uid', String(uid), '--json'], env());
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ lessonId: LESSON, uid });
    await refusedEverywhere(uid, tok);
  });
});
