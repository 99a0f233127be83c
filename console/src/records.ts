// Alarms (open and recent episodes) and the audit trail of console actions.
import { html, type TemplateResult } from 'lit';
import { api } from './api.js';
import { badge, Page, stamp, type Col } from './ui.js';

class OeAlarms extends Page {
  static override properties = { data: { state: true } };
  declare data: any;
  private timer: number | undefined;
  constructor() {
    super();
    this.data = null;
  }
  override connectedCallback(): void {
    super.connectedCallback();
    const load = () => void api('GET', '/api/alarms?limit=200').then((d) => (this.data = d));
    load();
    this.timer = window.setInterval(load, 5000);
  }
  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
  }
  override render(): TemplateResult {
    const cols: Col<any>[] = [
      { id: 'id', header: '#', value: (a) => a.alarmId, num: true },
      { id: 'state', header: 'State', value: (a) => a.state, cell: (a) => badge(a.state) },
      { id: 'kind', header: 'Kind', value: (a) => a.kind },
      { id: 'lesson', header: 'Lesson', value: (a) => a.lessonId, cell: (a) => (a.lessonId ? html`<a href="/lessons/${a.lessonId}">${a.lessonId}</a>` : '–') },
      { id: 'message', header: 'Message', value: (a) => a.message },
      { id: 'raised', header: 'Raised', value: (a) => a.raisedAt, cell: (a) => stamp(a.raisedAt) },
      { id: 'resolved', header: 'Resolved', value: (a) => a.resolvedAt, cell: (a) => stamp(a.resolvedAt) },
    ];
    return html`<section class="page" id="alarms-page">
      <div class="toolbar"><h2>Alarms</h2><span class="muted">evaluated by the console every ORGENGINE_ALARM_EVAL_MS; sent to the webhooks once when raised and once when resolved</span></div>
      ${this.data
        ? html`<h3>Firing (${this.data.open.length})</h3><oe-table id="alarms-open" .columns=${cols} .rows=${this.data.open} empty="nothing is firing"></oe-table>
            <h3>Recent</h3><oe-table id="alarms-recent" .columns=${cols} .rows=${this.data.recent} empty="no alarm yet"></oe-table>`
        : html`<p>loading…</p>`}
    </section>`;
  }
}
customElements.define('oe-alarms', OeAlarms);

class OeAudit extends Page {
  static override properties = { rows: { state: true }, search: { state: true } };
  declare rows: any[] | null;
  declare search: string;
  constructor() {
    super();
    this.rows = null;
    this.search = '';
  }
  override connectedCallback(): void {
    super.connectedCallback();
    void api('GET', '/api/audit?limit=500').then((r) => (this.rows = r));
  }
  override render(): TemplateResult {
    const cols: Col<any>[] = [
      { id: 'id', header: '#', value: (a) => a.auditId, num: true },
      { id: 'at', header: 'When (UTC)', value: (a) => a.at, cell: (a) => html`<span class="nowrap">${stamp(a.at)}</span>` },
      { id: 'who', header: 'Who', value: (a) => (a.uid === null ? 'anonymous' : `${a.role} ${a.uid}`), cell: (a) => html`<span class="nowrap">${a.uid === null ? 'anonymous' : `${a.role} ${a.uid}`}</span>` },
      { id: 'action', header: 'What', value: (a) => a.action },
      { id: 'params', header: 'Parameters', value: (a) => JSON.stringify(a.params), cell: (a) => html`<code class="small">${JSON.stringify(a.params)}</code>` },
      { id: 'result', header: 'Result', value: (a) => a.result, cell: (a) => (a.result === 'ok' ? badge('ok') : html`${badge('refused')} ${a.result}`) },
      { id: 'detail', header: 'Detail', value: (a) => a.detail },
    ];
    return html`<section class="page" id="audit-page">
      <div class="toolbar"><h2>Audit trail</h2><label>Find <input type="search" @input=${(e: Event) => (this.search = (e.target as HTMLInputElement).value)} /></label></div>
      ${this.rows ? html`<oe-table id="audit-table" .columns=${cols} .rows=${this.rows} .filter=${this.search} empty="no action yet"></oe-table>` : html`<p>loading…</p>`}
    </section>`;
  }
}
customElements.define('oe-audit', OeAudit);
