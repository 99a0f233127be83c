// The console API: every endpoint refuses a call without a token, with a
// token of any role but operator, and with bad input; refused calls and every
// change land in the audit trail; the operations read and act on the real
// Redis, MySQL and queues.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/console/http.js';
import { listAudit } from '../../src/store/mysql/console.js';
import { roomStatuses } from '../../src/store/mysql/roomStatus.js';
import { preloadLesson } from '../../src/preload/preload.js';
import { startTestConsole, type TestConsole } from '../support/console.js';
import { seedLesson } from '../support/lesson.js';

const LESSON = 310_001;
const DATE = '2026-11-21';
const silent = (await import('pino')).pino({ level: 'silent' });

/** A concrete call of every route: a good shape, and one with a bad input (null where the route takes none). */
const CALLS: Record<string, { path: string; body?: unknown; bad: { path: string; body?: unknown; field?: string } | null }> = {
  me: { path: '/api/me', bad: null },
  day: { path: `/api/day?date=${DATE}`, bad: { path: '/api/day?date=2026-13-01', field: 'date' } },
  lesson: { path: `/api/lessons/${LESSON}`, bad: { path: '/api/lessons/abc', field: 'lesson' } },
  nodes: { path: `/api/lessons/${LESSON}/nodes`, bad: { path: `/api/lessons/${LESSON}/nodes?node=${encodeURIComponent('a b')}`, field: 'node' } },
  'lesson.preload': { path: `/api/lessons/${LESSON}/preload`, body: { confirm: true }, bad: { path: `/api/lessons/${LESSON}/preload`, body: {}, field: 'confirm' } },
  'lesson.recheck': { path: `/api/lessons/${LESSON}/recheck`, body: { confirm: true }, bad: { path: `/api/lessons/${LESSON}/recheck`, body: { confirm: 'yes' }, field: 'confirm' } },
  'lesson.check': { path: `/api/lessons/${LESSON}/check`, body: { confirm: true }, bad: { path: `/api/lessons/0/check`, body: { confirm: true }, field: 'lesson' } },
  'lesson.reconcile': { path: `/api/lessons/${LESSON}/reconcile`, body: { confirm: true }, bad: { path: `/api/lessons/${LESSON}/reconcile`, body: { confirm: true, repair: 'y' }, field: 'repair' } },
  'lesson.bind': { path: `/api/lessons/${LESSON}/bind`, body: { policy: 'group' }, bad: { path: `/api/lessons/${LESSON}/bind`, body: { policy: 'no such/name' }, field: 'policy' } },
  'lesson.preview': { path: `/api/lessons/${LESSON}/preview`, body: { policy: 'group' }, bad: { path: `/api/lessons/${LESSON}/preview`, body: { policy: 7 }, field: 'policy' } },
  'lesson.diff': { path: `/api/lessons/${LESSON}/diff`, body: { a: 'group', b: 'small-class' }, bad: { path: `/api/lessons/${LESSON}/diff`, body: { a: 'group' }, field: 'b' } },
  sweep: { path: '/api/sweep', body: { date: DATE, confirm: true }, bad: { path: '/api/sweep', body: { date: 'today', confirm: true }, field: 'date' } },
  policies: { path: '/api/policies', bad: null },
  policy: { path: '/api/policies/group', bad: { path: `/api/policies/${encodeURIComponent('bad name')}`, field: 'name' } },
  'policy.put': {
    path: '/api/policies/console-test',
    body: { conf: { bizType: 'group', streamPolicy: 'rtc+longconn', orgPolicy: '/lesson' } },
    bad: { path: '/api/policies/console-test', body: { conf: { bizType: 'group', streamPolicy: 'rtc+longconn', orgPolicy: '/lesson', partitionSize: 5 } }, field: 'conf.partitionSize' },
  },
  settings: { path: '/api/settings/alarms', bad: null },
  'settings.put': { path: '/api/settings/alarms', body: { wbLagMs: 30_000 }, bad: { path: '/api/settings/alarms', body: { wbLagMs: -1 }, field: 'wbLagMs' } },
  alarms: { path: '/api/alarms', bad: { path: '/api/alarms?limit=0' } },
  audit: { path: '/api/audit', bad: { path: '/api/audit?limit=abc' } },
};

describe('console API', () => {
  let t: TestConsole;

  beforeAll(async () => {
    t = await startTestConsole('console_api');
    await seedLesson(t.db.pool, LESSON, 'group', 60, 2);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('has a call for every route', () => {
    expect(Object.keys(CALLS).sort()).toEqual(ROUTES.map((r) => r.action).sort());
  });

  describe.each(ROUTES.map((r) => [r.action, r] as const))('%s', (action, route) => {
    const c = CALLS[action]!;
    it('refuses a call without a token (401) and audits it', async () => {
      const r = await t.call(route.method, c.path, null, c.body);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHENTICATED');
      const rows = await listAudit(t.db.pool, 5, action);
      expect(rows[0]).toMatchObject({ action, result: 'UNAUTHENTICATED', uid: null });
    });
    it('refuses a forged token (401)', async () => {
      const r = await t.call(route.method, c.path, `${t.tokens.operator.slice(0, -4)}AAAA`, c.body);
      expect(r.status).toBe(401);
    });
    it.each(['student', 'teacher', 'service'] as const)('refuses a %s token (403) and audits it', async (role) => {
      const r = await t.call(route.method, c.path, t.tokens[role], c.body);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
      const rows = await listAudit(t.db.pool, 5, action);
      expect(rows[0]).toMatchObject({ action, result: 'FORBIDDEN', role });
    });
    if (c.bad) {
      const bad = c.bad;
      it('refuses bad input (400) naming the field', async () => {
        const r = await t.call(route.method, bad.path, t.tokens.operator, bad.body);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(['BAD_REQUEST', 'POLICY_INVALID']).toContain(r.body.error.code);
        if (bad.field) {
          const d = r.body.error.details ?? {};
          expect([...(d.fields ?? []), d.field].filter(Boolean)).toContain(bad.field);
        }
      });
    }
  });

  it('refuses an unknown path and a wrong method', async () => {
    expect((await t.call('GET', '/api/nothing', t.tokens.operator)).status).toBe(404);
    expect((await t.call('DELETE', '/api/policies/group', t.tokens.operator)).status).toBe(400);
    expect((await t.call('GET', '/api/policies/%E0%A4%A', t.tokens.operator)).status).toBe(400);
    expect((await t.call('GET', '/%E0%A4%A', null)).status).toBe(400);
  });

  it('refuses a body over the limit with 413', async () => {
    const r = await t.call('PUT', '/api/policies/big', t.tokens.operator, { conf: {}, description: 'x'.repeat(t.config.console.maxBodyBytes) });
    expect(r.status).toBe(413);
  });

  it('mints operator tokens only for every lesson, and the classroom rules refuse them', async () => {
    const { TokenVerifier } = await import('../../src/auth/tokens.js');
    const { authorizeLessonRead } = await import('../../src/auth/access.js');
    const v = new TokenVerifier({ secret: 'x'.repeat(32), cacheEntries: 10 });
    expect(() => v.mint({ uid: 1, role: 'operator', lesson: 5, exp: 9e9 })).toThrow(/operator token covers every lesson/);
    const claims = v.verify(v.mint({ uid: 1, role: 'operator', lesson: '*', exp: 9e9 }));
    expect(() => authorizeLessonRead(claims, 5)).toThrow(/for the console/);
  });

  it('shows the day, a policy preview and the lesson after a preload, with room status from MySQL', async () => {
    const day = await t.call('GET', `/api/day?date=${DATE}`, t.tokens.operator);
    expect(day.status).toBe(200);
    expect(day.body.lessons.map((l: { lessonId: number }) => l.lessonId)).toContain(LESSON);
    const prev = await t.call('POST', `/api/lessons/${LESSON}/preview`, t.tokens.operator, { policy: 'group' });
    expect(prev.status).toBe(200);
    expect(prev.body.counts.positions).toBe(60);
    expect(prev.body.counts.rooms).toBeGreaterThan(0);

    await preloadLesson({ pool: t.db.pool, redis: t.redis, config: t.config, log: silent }, LESSON);
    const l = await t.call('GET', `/api/lessons/${LESSON}`, t.tokens.operator);
    expect(l.status).toBe(200);
    expect(l.body.head.status).toBe('ready');
    expect(l.body.policy.name).toBe('group');
    expect(l.body.preloaded.rooms.length).toBe(prev.body.counts.rooms);
    const stored = await roomStatuses(t.db.pool, LESSON);
    for (const r of l.body.preloaded.rooms) expect(r.status).toBe(stored.get(r.roomId));
    expect(l.body.runs[0].status).toBe('succeeded');

    const tree = await t.call('GET', `/api/lessons/${LESSON}/nodes`, t.tokens.operator);
    expect(tree.status).toBe(200);
    expect(tree.body.childCount).toBeGreaterThan(0);
    const child = tree.body.children[0].nodeId;
    const level2 = await t.call('GET', `/api/lessons/${LESSON}/nodes?node=${encodeURIComponent(child)}`, t.tokens.operator);
    expect(level2.body.ancestors.map((n: { nodeId: string }) => n.nodeId)).toContain(tree.body.node.nodeId);
  });

  it('stores a valid policy, refuses an invalid one without storing it, and audits both', async () => {
    const bad = await t.call('PUT', '/api/policies/console-bad', t.tokens.operator, { conf: { bizType: 'nope', streamPolicy: 'rtc+longconn', orgPolicy: '/lesson' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.fields).toEqual(['conf.bizType']);
    expect((await t.call('GET', '/api/policies/console-bad', t.tokens.operator)).status).toBe(404);
    const ok = await t.call('PUT', '/api/policies/console-good', t.tokens.operator, { conf: { bizType: 'group', streamPolicy: 'rtc+longconn', orgPolicy: '/lesson' }, description: 'd' });
    expect(ok.status).toBe(200);
    const audit = await listAudit(t.db.pool, 10, 'policy.put');
    expect(audit.slice(0, 2).map((a) => a.result)).toEqual(['ok', 'POLICY_INVALID']);
    expect(audit[0]).toMatchObject({ uid: 7, role: 'operator', params: { name: 'console-good' } });
  });

  it('an action without confirmation is refused and does nothing; confirmed, it is done and audited', async () => {
    const no = await t.call('POST', '/api/sweep', t.tokens.operator, { date: DATE });
    expect(no.status).toBe(400);
    const yes = await t.call('POST', '/api/sweep', t.tokens.operator, { date: DATE, confirm: true });
    expect(yes.status).toBe(200);
    expect(yes.body.date).toBe(DATE);
    const audit = await listAudit(t.db.pool, 2, 'sweep');
    expect(audit.map((a) => a.result)).toEqual(['ok', 'BAD_REQUEST']);
    expect(audit[0]!.params).toMatchObject({ body: { date: DATE, confirm: true } });
  });

  it('continues the caller\'s trace and carries it into the jobs an action enqueues', async () => {
    const { createQueueConnection, Jobs, preloadJobId, checkJobId } = await import('../../src/preload/jobs.js');
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await fetch(`${t.base}/api/lessons/${LESSON}/preload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.tokens.operator}`, 'content-type': 'application/json', traceparent: tp },
      body: JSON.stringify({ confirm: true }),
    });
    expect(res.status).toBe(200);
    const answered = res.headers.get('traceparent')!;
    expect(answered).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(answered).not.toBe(tp);
    const conn = createQueueConnection(t.config.jobs.redis, 'test-trace');
    const jobs = new Jobs(conn, t.config.jobs);
    try {
      const date = DATE;
      expect((await jobs.preload.getJob(preloadJobId(LESSON, date)))?.data.traceparent).toBe(answered);
      expect((await jobs.check.getJob(checkJobId(LESSON, date)))?.data.traceparent).toBe(answered);
    } finally {
      await jobs.close();
      await conn.quit();
    }
    expect((await listAudit(t.db.pool, 1, 'lesson.preload'))[0]!.params).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    // Without a traceparent a new trace starts.
    const fresh = await fetch(`${t.base}/api/me`, { headers: { authorization: `Bearer ${t.tokens.operator}` } });
    expect(fresh.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(fresh.headers.get('traceparent')).not.toContain('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('saves alarm settings field by field and shows them', async () => {
    const r = await t.call('PUT', '/api/settings/alarms', t.tokens.operator, { overrunFactor: 2.5, webhooks: ['http://127.0.0.1:9/hook'] });
    expect(r.status).toBe(200);
    const g = await t.call('GET', '/api/settings/alarms', t.tokens.operator);
    expect(g.body).toMatchObject({ overrunFactor: 2.5, webhooks: ['http://127.0.0.1:9/hook'] });
    const bad = await t.call('PUT', '/api/settings/alarms', t.tokens.operator, { overrunFactor: 0, webhooks: ['ftp://x'] });
    expect(bad.body.error.details.fields).toEqual(['overrunFactor', 'webhooks[0]']);
    expect((await t.call('GET', '/api/settings/alarms', t.tokens.operator)).body.overrunFactor).toBe(2.5);
  });
});
