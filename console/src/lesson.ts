// One lesson: its policy, rooms with status and online counts per partition,
// the org tree level by level, groups and their fill, muted students and nodes,
// signal rate, write-behind lag and stream length, the preload and check
// history with reports; actions (preload now, re-check, reconcile) after a
// confirmation; charts of online and lag while the page is open.
import { html, type TemplateResult } from 'lit';
import { api, ApiError } from './api.js';
import { badge, confirmAction, dur, hhmm, Page, stamp, type Col } from './ui.js';

/** Points kept per live chart (5 s apart: half an hour). */
const KEEP = 360;

class OeLesson extends Page {
  static override properties = { lessonId: { type: Number }, data: { state: true }, tree: { state: true }, error: { state: true }, note: { state: true }, live: { state: true } };
  declare lessonId: number;
  declare data: any;
  declare tree: any;
  declare error: string;
  declare note: string;
  declare live: boolean;
  private timer: number | undefined;
  private prevSeq = new Map<string, { seq: number; at: number }>();
  private rates = new Map<string, number>();
  private series: number[][] = [[], [], [], []];

  constructor() {
    super();
    this.lessonId = 0;
    this.data = null;
    this.tree = null;
    this.error = '';
    this.note = '';
    this.live = true;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.timer = window.setInterval(() => this.live && void this.load(), 5000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('lessonId') && this.lessonId) {
      this.data = null;
      this.tree = null;
      this.series = [[], [], [], []];
      void this.load();
    }
  }

  private async load(): Promise<void> {
    try {
      const d = await api('GET', `/api/lessons/${this.lessonId}`);
      const now = d.now as number;
      for (const r of d.preloaded?.rooms ?? []) {
        const prev = this.prevSeq.get(r.roomId);
        if (prev && now > prev.at) this.rates.set(r.roomId, ((r.signalSeq - prev.seq) * 1000) / (now - prev.at));
        this.prevSeq.set(r.roomId, { seq: r.signalSeq, at: now });
      }
      const online = (d.preloaded?.rooms ?? []).reduce((s: number, r: any) => s + r.online, 0);
      const push = (i: number, v: number) => {
        this.series[i]!.push(v);
        if (this.series[i]!.length > KEEP) this.series[i]!.shift();
      };
      push(0, now / 1000);
      push(1, online);
      push(2, d.writeBehind.lagMs);
      push(3, d.writeBehind.length);
      this.series = this.series.map((s) => [...s]);
      // The tree follows the readable version: a lesson preloaded (again) since it was read shows its new tree.
      if (!this.tree || this.tree.error || this.tree.version !== d.head.version) void this.openNode(this.tree?.error ? null : (this.tree?.node?.nodeId ?? null));
      this.data = d;
      this.error = '';
    } catch (e) {
      this.error = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  }

  private async openNode(nodeId: string | null): Promise<void> {
    try {
      this.tree = await api('GET', `/api/lessons/${this.lessonId}/nodes${nodeId ? `?node=${encodeURIComponent(nodeId)}` : ''}`);
    } catch (e) {
      this.tree = { error: e instanceof ApiError ? `${e.code}: ${e.message}` : String(e) };
    }
  }

  private async act(kind: 'preload' | 'recheck' | 'reconcile', title: string, text: string): Promise<void> {
    if (!(await confirmAction(title, text))) {
      this.note = `${title.replace(/\?$/, '')}: cancelled`;
      return;
    }
    try {
      const r = await api('POST', `/api/lessons/${this.lessonId}/${kind}`, { confirm: true });
      this.note =
        kind === 'preload'
          ? `Preload ${r.result === 'enqueued' ? 'enqueued ahead of the schedule' : 'already queued or running'}.`
          : kind === 'recheck'
            ? `Check queued as job ${r.jobId}.`
            : `Reconcile: ${Object.values(r.differing as Record<string, number>).reduce((a, b) => a + b, 0)} difference(s), ${r.unflushed} unflushed record(s).`;
      void this.load();
    } catch (e) {
      this.note = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  }

  private roomColumns(): Col<any>[] {
    return [
      { id: 'room', header: 'Room', value: (r) => r.roomId },
      { id: 'type', header: 'Type', value: (r) => r.roomType },
      { id: 'status', header: 'Status', value: (r) => r.status, cell: (r) => badge(r.status) },
      { id: 'time', header: 'Open (UTC)', value: (r) => r.startTime, cell: (r) => `${hhmm(r.startTime)}–${hhmm(r.endTime)}` },
      { id: 'members', header: 'Members', value: (r) => r.memberCount, num: true },
      { id: 'online', header: 'Online', value: (r) => r.online, num: true },
      { id: 'parts', header: 'Online by partition', value: (r) => (r.onlineByPartition ?? []).join(' / ') },
      { id: 'seq', header: 'Signals', value: (r) => r.signalSeq, num: true },
      { id: 'rate', header: 'Signals/s', value: (r) => this.rates.get(r.roomId) ?? null, num: true, cell: (r) => (this.rates.has(r.roomId) ? this.rates.get(r.roomId)!.toFixed(2) : '–') },
    ];
  }

  private treeView(): TemplateResult {
    const t = this.tree;
    if (!t) return html`<p>loading…</p>`;
    if (t.error) return html`<p class="muted">${t.error}</p>`;
    const cols: Col<any>[] = [
      { id: 'node', header: 'Node', value: (n) => n.nodeId, cell: (n) => ((n.childIds ?? []).length > 0 ? html`<button class="link" data-node=${n.nodeId} @click=${() => this.openNode(n.nodeId)}>${n.nodeId}</button>` : n.nodeId) },
      { id: 'kind', header: 'Kind', value: (n) => n.kind },
      { id: 'size', header: 'Students here', value: (n) => n.size, num: true },
      { id: 'cap', header: 'Capacity', value: (n) => n.capacity, num: true },
      { id: 'children', header: 'Children', value: (n) => (n.childIds ?? []).length, num: true },
      { id: 'source', header: 'Source', value: (n) => n.sourceId },
    ];
    return html`<div class="crumbs" id="tree-crumbs">
        ${[...t.ancestors, t.node].map((n: any, i: number, all: any[]) =>
          i === all.length - 1 ? html`<b>${n.nodeId}</b>` : html`<button class="link" @click=${() => this.openNode(n.nodeId)}>${n.nodeId}</button> / `,
        )}
        <span class="muted">(${t.node.kind}, ${t.childCount} children, ${t.node.size} students here)</span>
      </div>
      <oe-table id="tree-table" .columns=${cols} .rows=${t.children} empty="a leaf: no children"></oe-table>`;
  }

  override render(): TemplateResult {
    const d = this.data;
    if (!d) return html`<section class="page">${this.error ? html`<p class="error">${this.error}</p>` : html`<p>loading…</p>`}</section>`;
    const p = d.preloaded;
    const wb = d.writeBehind;
    const runCols: Col<any>[] = [
      { id: 'run', header: 'Run', value: (r) => r.runId, num: true },
      { id: 'status', header: 'Status', value: (r) => r.status, cell: (r) => badge(r.status) },
      { id: 'mode', header: 'Mode', value: (r) => r.mode },
      { id: 'version', header: 'Version', value: (r) => r.version, num: true },
      { id: 'counts', header: 'Rooms / nodes / positions', value: (r) => (r.counts ? `${r.counts.rooms} / ${r.counts.nodes} / ${r.counts.positions}` : null) },
      { id: 'ms', header: 'Duration', value: (r) => r.durationMs, num: true, cell: (r) => dur(r.durationMs) },
      { id: 'error', header: 'Error', value: (r) => (r.errorCode ? `${r.errorCode}: ${r.errorMessage}` : null) },
    ];
    const checkCols: Col<any>[] = [
      { id: 'check', header: 'Check', value: (c) => c.checkId, num: true },
      { id: 'status', header: 'Status', value: (c) => c.status, cell: (c) => badge(c.status) },
      { id: 'run', header: 'Run', value: (c) => c.runId, num: true },
      { id: 'mismatches', header: 'Mismatches', value: (c) => c.mismatches, num: true },
      { id: 'ms', header: 'Duration', value: (c) => c.durationMs, num: true, cell: (c) => dur(c.durationMs) },
      { id: 'at', header: 'Started', value: (c) => c.startedAt, cell: (c) => stamp(c.startedAt) },
      { id: 'report', header: 'Report', value: () => null, cell: (c) => (c.report ? html`<details><summary>report</summary><pre>${JSON.stringify(c.report, null, 2)}</pre></details>` : '–') },
    ];
    const groupCols: Col<any>[] = [
      { id: 'group', header: 'Group', value: (g) => g.groupId },
      { id: 'taken', header: 'Seats taken', value: (g) => g.taken, num: true },
      {
        id: 'fill',
        header: 'Fill',
        value: (g) => (g.capacity ? g.taken / g.capacity : null),
        cell: (g) => (g.capacity ? html`<span class="bar"><span style="width:${Math.min(100, (100 * g.taken) / g.capacity)}%"></span></span> ${g.taken}/${g.capacity}` : g.taken),
      },
    ];
    return html`<section class="page" id="lesson-page">
      <div class="toolbar">
        <h2>Lesson ${d.lessonId}</h2>
        <span id="lesson-status">${badge(d.head.status ?? 'not preloaded')}</span>
        <span>v${d.head.version || '–'}</span>
        <label class="check"><input type="checkbox" .checked=${this.live} @change=${(e: Event) => (this.live = (e.target as HTMLInputElement).checked)} /> live (5 s)</label>
        <button class="primary" id="act-preload" @click=${() => this.act('preload', `Preload lesson ${d.lessonId} now?`, 'Enqueues its preload (and the check after it) ahead of every scheduled lesson. In-class state is never touched.')}>Preload now…</button>
        <button id="act-recheck" @click=${() => this.act('recheck', `Re-check lesson ${d.lessonId}?`, 'Queues a check of Redis and MySQL against the source recompiled.')}>Re-check…</button>
        <button id="act-reconcile" @click=${() => this.act('reconcile', `Reconcile lesson ${d.lessonId}?`, 'Compares its in-class state in Redis with MySQL (no repair).')}>Reconcile…</button>
      </div>
      ${this.error ? html`<p class="error">${this.error}</p>` : ''}
      ${this.note ? html`<p class="note" id="lesson-note">${this.note}</p>` : ''}
      ${d.alarms.map((a: any) => html`<p class="alarm-banner">${a.kind}: ${a.message} (since ${stamp(a.raisedAt)})</p>`)}
      <div class="cards">
        <div class="card">
          <h3>${d.info.title}</h3>
          <p>${stamp(d.info.startTime)} – ${hhmm(d.info.endTime)} UTC · teacher ${d.info.teacherUid}</p>
          <p>Policy: ${d.policy ? html`<a href="/policies/${d.policy.name}">${d.policy.name}</a>
                <span class="muted">${d.policy.conf ? `${d.policy.conf.bizType}, ${d.policy.conf.streamPolicy}, ${d.policy.conf.orgPolicy}, ${d.policy.conf.preloadMode}` : '(no longer valid)'}</span>` : html`<span class="error">none bound</span>`}</p>
        </div>
        <div class="card" id="wb-card">
          <h3>Write-behind</h3>
          <p>stream length <b>${wb.length}</b> / ${wb.maxStreamLength} (back pressure)</p>
          <p>lag <b>${dur(wb.lagMs)}</b> (oldest unflushed record)</p>
        </div>
        ${p
          ? html`<div class="card">
              <h3>In class</h3>
              <p>students ${p.lesson.studentCount} · rooms ${p.lesson.roomCount} · nodes ${p.lesson.nodeCount}</p>
              <p>signed in ${p.signedIn} · group picks ${p.picks} · groups created in class ${p.dynamicGroups}</p>
              <p>muted: ${p.muted.studentCount} student(s), ${p.muted.nodeCount} node(s)</p>
            </div>`
          : html`<div class="card"><h3>Not preloaded</h3><p>No readable version in Redis yet.</p></div>`}
      </div>
      <div class="cards">
        <div class="card grow"><oe-chart title="Online (all rooms), while this page is open" unit="students" window="300" .data=${[this.series[0], this.series[1]]} .series=${[{ label: 'online', color: '#16a34a' }]}></oe-chart></div>
        <div class="card grow"><oe-chart title="Write-behind lag and stream length" unit="ms / records" window="300" .data=${[this.series[0], this.series[2], this.series[3]]} .series=${[{ label: 'lag ms', color: '#dc2626' }, { label: 'stream length', color: '#7c3aed' }]}></oe-chart></div>
      </div>
      ${p
        ? html`<h3>Rooms</h3><oe-table id="rooms-table" .columns=${this.roomColumns()} .rows=${p.rooms}></oe-table>
            <h3>Org tree</h3>${this.treeView()}
            <h3>Groups (${p.groupCount})</h3><oe-table id="groups-table" .columns=${groupCols} .rows=${p.groups} empty="no group picked yet"></oe-table>
            <h3>Muted</h3>
            <p id="muted">${p.muted.students.map((m: any) => html`<span class="badge">${m.uid} @ ${m.roomId}</span> `)}${p.muted.nodes.map((m: any) => html`<span class="badge">node ${m.nodeId} @ ${m.roomId}</span> `)}${p.muted.studentCount + p.muted.nodeCount === 0 ? 'nobody is muted' : ''}</p>`
        : ''}
      <h3>Preload runs</h3><oe-table id="runs-table" .columns=${runCols} .rows=${d.runs} empty="never preloaded"></oe-table>
      <h3>Checks</h3><oe-table id="checks-table" .columns=${checkCols} .rows=${d.checks} empty="never checked"></oe-table>
    </section>`;
  }
}
customElements.define('oe-lesson', OeLesson);
