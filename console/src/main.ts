// The console app: sign-in with an operator token, the navigation, and the
// routes of the monitor pages (day, lesson) and the config pages (policies,
// alarm settings), plus alarms and the audit trail.
import { html, type TemplateResult } from 'lit';
import { Router } from '@lit-labs/router';
import { api, ApiError, signIn, signOut, token } from './api.js';
import { onNavigate, Page } from './ui.js';
import './style.css';
import './day.js';
import './lesson.js';
import './policies.js';
import './settings.js';
import './records.js';

let router: Router | null = null;
onNavigate((path) => void router?.goto(path));

class OeSignIn extends Page {
  static override properties = { error: { state: true } };
  declare error: string;
  constructor() {
    super();
    this.error = '';
  }

  private async submit(e: Event): Promise<void> {
    e.preventDefault();
    const t = (this.querySelector('#token') as HTMLTextAreaElement).value.trim();
    try {
      const me = await api('GET', '/api/me', undefined, t);
      signIn(t);
      this.dispatchEvent(new CustomEvent('signed-in', { detail: me, bubbles: true }));
    } catch (err) {
      this.error = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
    }
  }

  override render(): TemplateResult {
    return html`<form class="signin card" @submit=${this.submit}>
      <h1>orgengine console</h1>
      <p>Sign in with an operator token: <code>orgengine token --uid U --role operator --lesson '*'</code></p>
      <label for="token">Operator token</label>
      <textarea id="token" rows="3" required></textarea>
      ${this.error ? html`<p class="error" id="signin-error">${this.error}</p>` : ''}
      <button type="submit" class="primary">Sign in</button>
    </form>`;
  }
}
customElements.define('oe-signin', OeSignIn);

class OeApp extends Page {
  static override properties = { me: { state: true }, firing: { state: true } };
  declare me: { uid: number; role: string } | null;
  declare firing: number;
  private timer: number | undefined;

  constructor() {
    super();
    this.me = null;
    this.firing = 0;
    router = new Router(
      this,
      [
        { path: '/', render: () => html`<oe-day></oe-day>` },
        { path: '/day', render: () => html`<oe-day></oe-day>` },
        { path: '/lessons/:id', render: ({ id }) => html`<oe-lesson .lessonId=${Number(id)}></oe-lesson>` },
        { path: '/policies', render: () => html`<oe-policies></oe-policies>` },
        { path: '/policies/:name', render: ({ name }) => html`<oe-policy .name=${name ?? 'new'}></oe-policy>` },
        { path: '/settings', render: () => html`<oe-settings></oe-settings>` },
        { path: '/alarms', render: () => html`<oe-alarms></oe-alarms>` },
        { path: '/audit', render: () => html`<oe-audit></oe-audit>` },
      ],
      { fallback: { render: () => html`<p class="card">No such page. <a href="/">The day</a></p>` } },
    );
    window.addEventListener('oe-signed-out', () => (this.me = null));
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (token()) void api('GET', '/api/me').then((me) => (this.me = me)).catch(() => undefined);
    this.timer = window.setInterval(() => void this.poll(), 5000);
    void this.poll();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (!this.me) return;
    const a = await api('GET', '/api/alarms?limit=1').catch(() => null);
    if (a) this.firing = a.open.length;
  }

  override render(): TemplateResult {
    if (!this.me) return html`<oe-signin @signed-in=${(e: CustomEvent) => ((this.me = e.detail), void this.poll())}></oe-signin>`;
    return html`<header class="top">
        <a class="brand" href="/">orgengine console</a>
        <nav>
          <a href="/">Day</a>
          <a href="/policies">Policies</a>
          <a href="/settings">Alarm settings</a>
          <a href="/alarms">Alarms ${this.firing > 0 ? html`<span class="count firing" id="firing-count">${this.firing}</span>` : ''}</a>
          <a href="/audit">Audit</a>
        </nav>
        <span class="who">operator ${this.me.uid} <button class="link" @click=${() => signOut()}>sign out</button></span>
      </header>
      <main>${router!.outlet()}</main>`;
  }
}
customElements.define('oe-app', OeApp);
