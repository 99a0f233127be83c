// The day: every lesson of a date with its preload state, duration against the
// expected one, check result and alarms; filters, live refresh, a chart of the
// preload durations over the day, and the sweep action.
import { html, type TemplateResult } from 'lit';
import { api, ApiError } from './api.js';
import { badge, confirmAction, dur, hhmm, Page, today, type Col } from './ui.js';

const STATES = ['unscheduled', 'queued', 'running', 'ready', 'checked', 'check-failed', 'failed'];

class OeDay extends Page {
  static override properties = { date: { state: true }, data: { state: true }, state: { state: true }, search: { state: true }, live: { state: true }, error: { state: true }, note: { state: true } };
  declare date: string;
  declare data: any;
  declare state: string;
  declare search: string;
  declare live: boolean;
  declare error: string;
  declare note: string;
  private timer: number | undefined;
  private rows: any[] = [];
  private rowsOf: unknown = null;

  constructor() {
    super();
    const q = new URLSearchParams(location.search);
    this.date = q.get('date') ?? today();
    this.state = q.get('state') ?? '';
    this.search = '';
    this.live = true;
    this.data = null;
    this.error = '';
    this.note = '';
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    this.timer = window.setInterval(() => this.live && void this.load(), 5000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
  }

  private async load(): Promise<void> {
    try {
      this.data = await api('GET', `/api/day?date=${encodeURIComponent(this.date)}`);
      this.error = '';
    } catch (e) {
      this.error = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  }

  private setDate(d: string): void {
    this.date = d;
    history.replaceState({}, '', `/day?date=${d}${this.state ? `&state=${this.state}` : ''}`);
    this.data = null;
    void this.load();
  }

  private async sweep(): Promise<void> {
    if (!(await confirmAction(`Sweep ${this.date}?`, 'Re-enqueues every lesson of the day that is not ready or whose preload or check failed.'))) return;
    try {
      const r = await api('POST', '/api/sweep', { date: this.date, confirm: true });
      this.note = `Swept ${r.date}: ${r.lessons} lesson(s), re-enqueued ${r.requeued.length}, busy ${r.busy.length}.`;
      void this.load();
    } catch (e) {
      this.note = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  }

  private columns(alarmsBy: Map<number, any[]>): Col<any>[] {
    return [
      { id: 'lesson', header: 'Lesson', value: (l) => l.lessonId, cell: (l) => html`<a href="/lessons/${l.lessonId}">${l.lessonId}</a>` },
      { id: 'start', header: 'Start (UTC)', value: (l) => l.startTime, cell: (l) => hhmm(l.startTime) },
      { id: 'students', header: 'Students', value: (l) => l.students, num: true },
      { id: 'state', header: 'Preload', value: (l) => l.state, cell: (l) => badge(l.state) },
      {
        id: 'duration',
        header: 'Duration / expected',
        value: (l) => l.preloadMs,
        num: true,
        cell: (l) => {
          if (l.preloadMs === null) return html`– / ${dur(l.expectedMs)}`;
          const ratio = l.preloadMs / Math.max(1, l.expectedMs);
          return html`<span class=${l.overrun ? 'over' : ''}>${dur(l.preloadMs)} / ${dur(l.expectedMs)}</span>
            <span class="bar"><span style="width:${Math.min(100, ratio * 100)}%" class=${l.overrun ? 'over' : ''}></span></span>`;
        },
      },
      { id: 'check', header: 'Check', value: (l) => l.checkStatus, cell: (l) => html`${badge(l.checkStatus)}${l.mismatches ? html` <span class="over">${l.mismatches} mismatch(es)</span>` : ''}` },
      { id: 'rooms', header: 'Rooms', value: (l) => l.rooms, num: true },
      { id: 'nodes', header: 'Nodes', value: (l) => l.nodes, num: true },
      { id: 'version', header: 'Version', value: (l) => l.version, num: true },
      {
        id: 'alarms',
        header: 'Alarms',
        value: (l) => (alarmsBy.get(l.lessonId) ?? []).map((a) => a.kind).join(' '),
        cell: (l) => (alarmsBy.get(l.lessonId) ?? []).map((a) => html`<span class="badge alarm" title=${a.message}>${a.kind}</span> `),
      },
      { id: 'error', header: 'Error', value: (l) => l.error, cell: (l) => (l.error ? html`<span class="error small">${l.error}</span>` : '') },
    ];
  }

  override render(): TemplateResult {
    const d = this.data;
    const alarmsBy = new Map<number, any[]>();
    for (const a of d?.alarms ?? []) if (a.lessonId !== null) alarmsBy.set(a.lessonId, [...(alarmsBy.get(a.lessonId) ?? []), a]);
    if (d && this.rowsOf !== d) {
      this.rowsOf = d;
      this.rows = d.lessons;
    }
    const shown = this.state ? this.rows.filter((l) => l.state === this.state) : this.rows;
    const withTimes = (d?.lessons ?? []).filter((l: any) => l.preloadMs !== null).sort((a: any, b: any) => a.startTime - b.startTime);
    // At least 1 ms: the scale is logarithmic.
    const chart = [withTimes.map((l: any) => l.startTime / 1000), withTimes.map((l: any) => Math.max(1, l.preloadMs)), withTimes.map((l: any) => Math.max(1, l.expectedMs))];
    const global = (d?.alarms ?? []).filter((a: any) => a.lessonId === null);
    return html`<section class="page" id="day-page">
      <div class="toolbar">
        <h2>Day</h2>
        <label>Date <input type="date" id="day-date" .value=${this.date} @change=${(e: Event) => this.setDate((e.target as HTMLInputElement).value)} /></label>
        <label>State
          <select id="day-state" @change=${(e: Event) => (this.state = (e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            ${STATES.map((s) => html`<option value=${s} ?selected=${s === this.state}>${s}</option>`)}
          </select>
        </label>
        <label>Find <input type="search" id="day-search" placeholder="lesson, state, error…" @input=${(e: Event) => (this.search = (e.target as HTMLInputElement).value)} /></label>
        <label class="check"><input type="checkbox" id="day-live" .checked=${this.live} @change=${(e: Event) => (this.live = (e.target as HTMLInputElement).checked)} /> live (5 s)</label>
        <button class="danger" id="sweep" @click=${() => this.sweep()}>Sweep day…</button>
      </div>
      ${this.error ? html`<p class="error">${this.error}</p>` : ''}
      ${this.note ? html`<p class="note" id="day-note">${this.note}</p>` : ''}
      ${global.map((a: any) => html`<p class="alarm-banner">${a.kind}: ${a.message}</p>`)}
      ${d
        ? html`<div class="totals" id="day-totals">
              <span><b>${d.lessons.length}</b> lessons</span>
              ${Object.entries(d.totals).map(([s, n]) => html`<span>${badge(s)} <b>${n}</b></span>`)}
              <span>expected = ${d.settings.expectedBaseMs} ms + ${d.settings.expectedMsPer1kStudents} ms / 1k students; overrun over ${d.settings.overrunFactor}×</span>
            </div>
            <div class="card">
              <oe-chart title="Preload durations over the day (by lesson start, log scale)" unit="ms" log empty="no preload has run for this day yet" .data=${chart} .series=${[
                { label: 'preload ms', color: '#2563eb', points: true },
                { label: 'expected ms', color: '#9ca3af', points: true },
              ]}></oe-chart>
            </div>
            <oe-table id="day-table" .columns=${this.columns(alarmsBy)} .rows=${shown} .filter=${this.search} empty="no lessons start on this day"></oe-table>`
        : html`<p>loading…</p>`}
    </section>`;
  }
}
customElements.define('oe-day', OeDay);
