// The console end to end in headless Chromium (Debian's, driven by
// playwright-core): sign in; the day view shows a seeded day; a lesson turns
// ready after a preload started from its page; a policy with a bad field shows
// that field's error and is not saved; an action needs confirmation and lands
// in the audit trail; a forced check mismatch raises an alarm that a local
// webhook receiver gets once (through a failed first try), then a resolved
// message. Screenshots of every page go to test-results/console/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createQueueConnection, Jobs } from '../../src/preload/jobs.js';
import { startWorkers, type PreloadWorkers } from '../../src/preload/worker.js';
import { listAudit } from '../../src/store/mysql/console.js';
import { startTestConsole, type TestConsole } from '../support/console.js';
import { waitFor } from '../support/jobs.js';
import { seedLesson } from '../support/lesson.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHOTS = join(ROOT, 'test-results/console');
const CHROMIUM = process.env.ORGENGINE_CHROMIUM ?? '/usr/bin/chromium';
const LESSONS = [320_001, 320_002, 320_003];
// Lessons of today (UTC), around now, kept inside the day: the alarms watch the days around now.
const DAY_START = Math.floor(Date.now() / 86_400_000) * 86_400_000;
const ANCHOR = Math.min(Math.max(Date.now(), DAY_START + 15 * 60_000), DAY_START + 23.5 * 3_600_000);
const STARTS = [ANCHOR + 10 * 60_000, ANCHOR + 20 * 60_000, ANCHOR - 10 * 60_000];
const DATE = new Date(DAY_START).toISOString().slice(0, 10);
const EXTRA_UID = 9_999_001;
const silent = (await import('pino')).pino({ level: 'silent' });

interface Hook {
  status: number;
  body: any;
}

describe.skipIf(!existsSync(CHROMIUM))('console in a browser', { timeout: 180_000 }, () => {
  let t: TestConsole;
  let ctx: BrowserContext;
  let page: Page;
  let workers: PreloadWorkers;
  let jobs: Jobs;
  let jobsConn: ReturnType<typeof createQueueConnection>;
  let receiver: Server;
  const hooks: Hook[] = [];
  let staticDir: string;
  let profile: string;

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // The web app is built fresh for this run, into a directory of its own.
    staticDir = mkdtempSync(join(tmpdir(), 'oe-console-'));
    const { build } = await import('vite');
    await build({ configFile: join(ROOT, 'console/vite.config.ts'), logLevel: 'warn', build: { outDir: staticDir, emptyOutDir: true, sourcemap: false } });

    // A webhook receiver that refuses the first message once, so delivery has to retry.
    let refusedOnce = false;
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        const status = refusedOnce ? 200 : 503;
        refusedOnce = true;
        hooks.push({ status, body: JSON.parse(text) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

    t = await startTestConsole(
      'console_browser',
      {
        ORGENGINE_CONSOLE_STATIC_DIR: staticDir,
        ORGENGINE_ALARM_EVAL_MS: '200',
        ORGENGINE_ALARM_WEBHOOKS: hookUrl,
        ORGENGINE_ALARM_WEBHOOK_BACKOFF_MS: '50',
        ORGENGINE_ROOM_STATUS_SECONDS: '1',
      },
      { alarms: true },
    );
    for (const [i, id] of LESSONS.entries()) await seedLesson(t.db.pool, id, 'group', 80, 2, STARTS[i]);
    jobsConn = createQueueConnection(t.config.jobs.redis, 'test-console-worker');
    jobs = new Jobs(jobsConn, t.config.jobs);
    workers = startWorkers({ pool: t.db.pool, redis: t.redis, jobs, config: t.config, log: silent }, { roles: ['preload', 'check', 'sweep'] });

    profile = mkdtempSync(join(tmpdir(), 'oe-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.setDefaultTimeout(30_000);
  });

  beforeEach(({ task, onTestFailed }) => {
    onTestFailed(() => shot(`failed-${task.name.slice(0, 40).replace(/\W+/g, '-')}`).then(() => undefined));
  });

  afterAll(async () => {
    await ctx?.close();
    await workers?.close();
    await jobs?.close();
    await jobsConn?.quit().catch(() => undefined);
    await t?.close();
    await new Promise((r) => receiver?.close(r));
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (staticDir) rmSync(staticDir, { recursive: true, force: true });
  });

  it('signs in with an operator token only', async () => {
    await page.goto(t.base);
    await page.locator('#token').fill(t.tokens.student);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toContain('FORBIDDEN');
    await shot('01-signin-refused');
    await page.locator('#token').fill(t.tokens.operator);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('header.top').waitFor();
    expect(await page.locator('header.top .who').textContent()).toContain('operator 7');
  });

  it('shows the seeded day', async () => {
    await page.goto(`${t.base}/day?date=${DATE}`);
    for (const id of LESSONS) await page.locator(`#day-table tr[data-row="${id}"]`).waitFor();
    expect(await page.locator('#day-table tbody tr').count()).toBe(LESSONS.length);
    expect(await page.locator(`#day-table tr[data-row="${LESSONS[0]}"]`).textContent()).toContain('unscheduled');
    await shot('02-day');
  });

  it('an action needs confirmation: cancelled it does nothing, confirmed it runs and is audited', async () => {
    await page.locator(`#day-table a[href="/lessons/${LESSONS[0]}"]`).click();
    await page.locator('#lesson-page').waitFor();
    expect(await page.locator('#lesson-status').textContent()).toContain('not preloaded');
    await page.locator('#act-preload').click();
    await page.locator('dialog.confirm').waitFor();
    await shot('03-confirm-dialog');
    await page.locator('dialog.confirm button[value=no]').click();
    await expect.poll(() => page.locator('#lesson-note').textContent()).toContain('cancelled');
    expect(await listAudit(t.db.pool, 10, 'lesson.preload')).toEqual([]);

    await page.locator('#act-preload').click();
    await page.locator('dialog.confirm button[value=yes]').click();
    await expect.poll(() => page.locator('#lesson-note').textContent()).toContain('enqueued');
    const audit = await listAudit(t.db.pool, 10, 'lesson.preload');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ uid: 7, role: 'operator', result: 'ok', params: { id: String(LESSONS[0]), body: { confirm: true } } });
  });

  it('the lesson turns ready after the preload run from the page', async () => {
    await expect.poll(() => page.locator('#lesson-status').textContent(), { timeout: 60_000, interval: 500 }).toContain('ready');
    await page.locator('#rooms-table tbody tr').first().waitFor();
    await expect.poll(() => page.locator('#runs-table').textContent(), { timeout: 30_000 }).toContain('succeeded');
    // The check the preload's flow runs after it.
    await expect.poll(() => page.locator('#checks-table').textContent(), { timeout: 60_000, interval: 500 }).toContain('passed');
    await page.locator('#tree-table button.link').first().click();
    await expect.poll(() => page.locator('#tree-crumbs').textContent()).toContain('/');
    await shot('04-lesson-ready');
    // Room status follows the rooms' times (the sweep worker moves it): each row shows what its times say now.
    await page.goto(`${t.base}/lessons/${LESSONS[2]}`);
    await page.locator('#act-preload').click();
    await page.locator('dialog.confirm button[value=yes]').click();
    await page.locator('#rooms-table tbody tr[data-row="main"]').waitFor({ timeout: 60_000 });
    const want = Date.now() < STARTS[2]! ? 'scheduled' : 'live';
    await expect.poll(() => page.locator('#rooms-table tr[data-row="main"]').textContent(), { timeout: 20_000, interval: 500 }).toContain(want);
    await shot('04b-lesson-live-rooms');
    await page.goto(`${t.base}/audit`);
    await page.locator('#audit-table tbody tr').first().waitFor();
    expect(await page.locator('#audit-table').textContent()).toContain('lesson.preload');
    await shot('05-audit');
  });

  it('a policy with a bad field shows the error beside the field and is not saved', async () => {
    await page.goto(`${t.base}/policies/new`);
    await page.locator('#policy-form input[name=name]').fill('ui-policy');
    await page.locator('#policy-form input[name=partitionSize]').fill('5');
    await page.locator('#policy-save').click();
    const err = page.locator('[data-error-for="conf.partitionSize"]');
    await err.waitFor();
    expect(await err.textContent()).toContain('between 100 and 100000');
    expect(await page.locator('[data-field="conf.partitionSize"]').getAttribute('class')).toContain('invalid');
    await shot('06-policy-invalid');
    expect((await t.call('GET', '/api/policies/ui-policy', t.tokens.operator)).status).toBe(404);

    await page.locator('#policy-form input[name=partitionSize]').fill('2000');
    await page.locator('#preview-lesson').fill(String(LESSONS[1]));
    await page.locator('#preview-go').click();
    await page.locator('#preview-result').waitFor();
    await page.locator('#policy-save').click();
    await expect.poll(() => page.locator('#policy-message').textContent()).toContain('Saved policy ui-policy');
    expect((await t.call('GET', '/api/policies/ui-policy', t.tokens.operator)).body.conf.partitionSize).toBe(2000);
    await shot('07-policy-saved-preview');
    await page.goto(`${t.base}/policies`);
    await page.locator('#policies-table tr[data-row="ui-policy"]').waitFor();
    await shot('08-policies');
  });

  it('alarm settings show a bad field beside it', async () => {
    await page.goto(`${t.base}/settings`);
    await expect.poll(() => page.locator('#settings-page input[name=wbLagMs]').inputValue()).not.toBe('');
    await page.locator('#settings-page input[name=wbLagMs]').fill('-5');
    await page.locator('#settings-save').click();
    await page.locator('[data-error-for="wbLagMs"]').waitFor();
    await shot('09-settings-invalid');
    await page.locator('#settings-page input[name=wbLagMs]').fill('60000');
    await page.locator('#settings-save').click();
    await expect.poll(() => page.locator('#settings-message').textContent()).toContain('Saved');
  });

  it('a forced check mismatch raises one alarm at the webhook, then one resolved message', async () => {
    const id = LESSONS[0]!;
    // The source gains a student the preloaded lesson does not have: the next check must fail.
    const [[a]] = (await t.db.pool.query('SELECT tutor_uid FROM src_tutor_assignment WHERE lesson_id = ? LIMIT 1', [id])) as any;
    await t.db.pool.query('INSERT INTO src_enrolment (lesson_id, student_uid, enrolled_at) VALUES (?, ?, NOW(3))', [id, EXTRA_UID]);
    await t.db.pool.query('INSERT INTO src_tutor_assignment (lesson_id, student_uid, tutor_uid, class_id) VALUES (?, ?, ?, NULL)', [id, EXTRA_UID, a.tutor_uid]);

    await page.goto(`${t.base}/lessons/${id}`);
    await page.locator('#act-recheck').click();
    await page.locator('dialog.confirm button[value=yes]').click();
    await expect.poll(() => page.locator('#lesson-note').textContent()).toContain('Check queued');
    const delivered = (status: string) => hooks.filter((h) => h.status === 200 && h.body.status === status && h.body.alarm.key === `check-mismatch:${id}`);
    await waitFor('the firing message', async () => delivered('firing').length === 1, 60_000);
    // Refused once (503), delivered on the retry.
    expect(hooks[0]).toMatchObject({ status: 503, body: { status: 'firing' } });
    expect(delivered('firing')[0]!.body).toMatchObject({ source: 'orgengine', alarm: { kind: 'check-mismatch', lessonId: id } });
    await expect.poll(() => page.locator('.alarm-banner').first().textContent(), { timeout: 15_000 }).toContain('check-mismatch');
    await shot('10-lesson-alarm');
    await page.goto(`${t.base}/day?date=${DATE}`);
    await expect.poll(() => page.locator(`#day-table tr[data-row="${id}"]`).textContent()).toContain('check-mismatch');
    await shot('11-day-alarm');
    await page.goto(`${t.base}/alarms`);
    await page.locator('#alarms-open tbody tr[data-row]').first().waitFor();
    await shot('12-alarms-firing');
    // Still firing many evaluations later: nothing more is sent.
    const before = (await t.call('GET', '/metrics', null)).body as string;
    await waitFor('more evaluations', async () => {
      const m = (await t.call('GET', '/metrics', null)).body as string;
      const n = (s: string) => Number(/orgengine_alarm_evaluations_total\{result="ok"\} (\d+)/.exec(s)?.[1] ?? 0);
      return n(m) >= n(before) + 5;
    });
    expect(delivered('firing')).toHaveLength(1);

    // The source is repaired; the next check passes and the alarm resolves.
    await t.db.pool.query('DELETE FROM src_tutor_assignment WHERE lesson_id = ? AND student_uid = ?', [id, EXTRA_UID]);
    await t.db.pool.query('DELETE FROM src_enrolment WHERE lesson_id = ? AND student_uid = ?', [id, EXTRA_UID]);
    await page.goto(`${t.base}/lessons/${id}`);
    await page.locator('#act-recheck').click();
    await page.locator('dialog.confirm button[value=yes]').click();
    await waitFor('the resolved message', async () => delivered('resolved').length === 1, 60_000);
    expect(delivered('firing')).toHaveLength(1);
    expect(delivered('resolved')[0]!.body.alarm.resolvedAt).toBeGreaterThan(0);
    await page.goto(`${t.base}/alarms`);
    await expect.poll(() => page.locator('#alarms-recent').textContent()).toContain('resolved');
    await shot('13-alarms-resolved');

    const metrics = (await t.call('GET', '/metrics', null)).body as string;
    expect(metrics).toContain('orgengine_alarms_raised_total{kind="check-mismatch"} 1');
    expect(metrics).toContain('orgengine_alarms_resolved_total{kind="check-mismatch"} 1');
    expect(metrics).toMatch(/orgengine_alarm_webhook_retries_total [1-9]/);
  });
});
