// Policies: the list, and one policy's form (create or edit) with each
// validation error shown beside its field, binding to lessons, a preview of
// what the policy compiles to for a lesson, and the diff of two policies.
import { html, type TemplateResult } from 'lit';
import { api, ApiError } from './api.js';
import { navigate, Page, stamp, type Col } from './ui.js';

const BIZ = ['threeScreen', 'group', 'smallClass', 'selfStudy'];
const STREAM = ['rtmp+longconn', 'rtc+longconn'];
const ORG = ['/lesson', '/lesson/tutor/team/group', '/lesson/tutor/class', '/lesson/lpc/wechatGroup', '/lesson/lpc'];
const MODES = ['minimal', 'simple', 'full'];
const PHASES = ['before', 'in', 'after'];

class OePolicies extends Page {
  static override properties = { list: { state: true }, error: { state: true } };
  declare list: any[] | null;
  declare error: string;
  constructor() {
    super();
    this.list = null;
    this.error = '';
  }
  override connectedCallback(): void {
    super.connectedCallback();
    api('GET', '/api/policies').then((l) => (this.list = l), (e) => (this.error = String(e.message)));
  }
  override render(): TemplateResult {
    const cols: Col<any>[] = [
      { id: 'name', header: 'Name', value: (p) => p.name, cell: (p) => html`<a href="/policies/${p.name}">${p.name}</a>` },
      { id: 'biz', header: 'bizType', value: (p) => p.conf?.bizType ?? null },
      { id: 'stream', header: 'streamPolicy', value: (p) => p.conf?.streamPolicy ?? null },
      { id: 'org', header: 'orgPolicy', value: (p) => p.conf?.orgPolicy ?? null },
      { id: 'mode', header: 'Preload mode', value: (p) => p.conf?.preloadMode ?? null },
      { id: 'lessons', header: 'Lessons bound', value: (p) => p.lessons, num: true },
      { id: 'valid', header: 'Valid', value: (p) => (p.conf ? 'yes' : 'NO') },
      { id: 'updated', header: 'Changed', value: (p) => p.updatedAt, cell: (p) => stamp(p.updatedAt) },
      { id: 'desc', header: 'Description', value: (p) => p.description },
    ];
    return html`<section class="page" id="policies-page">
      <div class="toolbar"><h2>Policies</h2><a class="button primary" href="/policies/new" id="new-policy">New policy</a></div>
      ${this.error ? html`<p class="error">${this.error}</p>` : ''}
      ${this.list ? html`<oe-table id="policies-table" .columns=${cols} .rows=${this.list} empty="no policies yet"></oe-table>` : html`<p>loading…</p>`}
    </section>`;
  }
}
customElements.define('oe-policies', OePolicies);

interface Form {
  name: string;
  description: string;
  bizType: string;
  streamPolicy: string;
  orgPolicy: string;
  preloadMode: string;
  partitionSize: string;
  tutorOnCamera: string[];
  beforeMinutes: string;
  afterMinutes: string;
  groupCapacity: string;
  groupsPerTeam: string;
  expandBelowFreeSeats: string;
}

const blank = (): Form => ({
  name: '',
  description: '',
  bizType: 'group',
  streamPolicy: 'rtc+longconn',
  orgPolicy: '/lesson/tutor/team/group',
  preloadMode: 'full',
  partitionSize: '5000',
  tutorOnCamera: [],
  beforeMinutes: '30',
  afterMinutes: '30',
  groupCapacity: '6',
  groupsPerTeam: '6',
  expandBelowFreeSeats: '6',
});

/** A number field's value as the JSON number typed (text that is no number is sent as is, for the server to name). */
const num = (s: string): unknown => (s.trim() === '' ? undefined : Number.isNaN(Number(s)) ? s : Number(s));

class OePolicy extends Page {
  static override properties = { name: {}, form: { state: true }, errors: { state: true }, message: { state: true }, preview: { state: true }, diff: { state: true }, policies: { state: true }, busy: { state: true } };
  declare name: string;
  declare form: Form;
  declare errors: Map<string, string>;
  declare message: string;
  declare preview: any;
  declare diff: any;
  declare policies: string[];
  declare busy: boolean;
  private keepMessage = false;

  constructor() {
    super();
    this.name = 'new';
    this.form = blank();
    this.errors = new Map();
    this.message = '';
    this.preview = null;
    this.diff = null;
    this.policies = [];
    this.busy = false;
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if (!changed.has('name')) return;
    this.errors = new Map();
    // A policy just created moves to its own page: its "saved" message goes along.
    if (!this.keepMessage) this.message = '';
    this.keepMessage = false;
    if (this.name === 'new') this.form = blank();
    else
      void api('GET', `/api/policies/${encodeURIComponent(this.name)}`).then(
        (p) => {
          const c = p.conf ?? JSON.parse(p.confText);
          this.form = {
            name: p.name,
            description: p.description,
            bizType: c.bizType,
            streamPolicy: c.streamPolicy,
            orgPolicy: c.orgPolicy,
            preloadMode: c.preloadMode ?? 'full',
            partitionSize: String(c.partitionSize ?? ''),
            tutorOnCamera: c.rooms?.tutorOnCamera ?? [],
            beforeMinutes: String(c.rooms?.beforeMinutes ?? ''),
            afterMinutes: String(c.rooms?.afterMinutes ?? ''),
            groupCapacity: String(c.groups?.groupCapacity ?? ''),
            groupsPerTeam: String(c.groups?.groupsPerTeam ?? ''),
            expandBelowFreeSeats: String(c.groups?.expandBelowFreeSeats ?? ''),
          };
        },
        (e) => (this.message = `${e.code}: ${e.message}`),
      );
    void api('GET', '/api/policies').then((l) => (this.policies = l.map((p: any) => p.name)));
  }

  private conf(): Record<string, unknown> {
    const f = this.form;
    const conf: Record<string, unknown> = {
      bizType: f.bizType,
      streamPolicy: f.streamPolicy,
      orgPolicy: f.orgPolicy,
      preloadMode: f.preloadMode,
      partitionSize: num(f.partitionSize),
      rooms: { tutorOnCamera: f.tutorOnCamera, beforeMinutes: num(f.beforeMinutes), afterMinutes: num(f.afterMinutes) },
    };
    if (f.orgPolicy === '/lesson/tutor/team/group') conf.groups = { groupCapacity: num(f.groupCapacity), groupsPerTeam: num(f.groupsPerTeam), expandBelowFreeSeats: num(f.expandBelowFreeSeats) };
    return conf;
  }

  private async save(e: Event): Promise<void> {
    e.preventDefault();
    this.message = '';
    this.errors = new Map();
    const name = this.form.name.trim();
    if (!name) {
      this.errors = new Map([['name', 'required']]);
      return;
    }
    try {
      await api('PUT', `/api/policies/${encodeURIComponent(name)}`, { conf: this.conf(), description: this.form.description });
      this.message = `Saved policy ${name}.`;
      if (this.name !== name) {
        this.keepMessage = true;
        navigate(`/policies/${encodeURIComponent(name)}`);
      }
    } catch (err) {
      if (err instanceof ApiError) {
        this.errors = err.fieldErrors();
        this.message = `Not saved: ${err.code}`;
      } else this.message = String(err);
    }
  }

  private set<K extends keyof Form>(k: K, v: Form[K]): void {
    this.form = { ...this.form, [k]: v };
  }

  /** A field with its error (from the server, by the conf path) beside it. */
  private field(label: string, path: string, input: TemplateResult): TemplateResult {
    const err = this.errors.get(path);
    return html`<div class="field ${err ? 'invalid' : ''}" data-field=${path}>
      <label>${label}</label>${input}${err ? html`<span class="field-error" data-error-for=${path}>${err}</span>` : ''}
    </div>`;
  }

  private select(k: keyof Form, path: string, label: string, options: string[]): TemplateResult {
    return this.field(label, path, html`<select name=${k} @change=${(e: Event) => this.set(k, (e.target as HTMLSelectElement).value as any)}>
      ${options.map((o) => html`<option ?selected=${this.form[k] === o}>${o}</option>`)}
    </select>`);
  }

  private number(k: keyof Form, path: string, label: string): TemplateResult {
    return this.field(label, path, html`<input name=${k} inputmode="numeric" .value=${this.form[k] as string} @input=${(e: Event) => this.set(k, (e.target as HTMLInputElement).value as any)} />`);
  }

  private async bind(e: Event): Promise<void> {
    e.preventDefault();
    const lesson = (this.querySelector('#bind-lesson') as HTMLInputElement).value;
    try {
      const r = await api('POST', `/api/lessons/${encodeURIComponent(lesson)}/bind`, { policy: this.form.name });
      this.message = `Lesson ${r.lessonId} bound to ${this.form.name}.`;
    } catch (err) {
      this.message = err instanceof ApiError ? `Not bound: ${err.code}: ${err.message}` : String(err);
    }
  }

  private async doPreview(e: Event): Promise<void> {
    e.preventDefault();
    const lesson = (this.querySelector('#preview-lesson') as HTMLInputElement).value;
    this.preview = null;
    try {
      this.preview = await api('POST', `/api/lessons/${encodeURIComponent(lesson)}/preview`, { conf: this.conf() });
    } catch (err) {
      if (err instanceof ApiError) this.errors = err.fieldErrors();
      this.preview = { error: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) };
    }
  }

  private async doDiff(e: Event): Promise<void> {
    e.preventDefault();
    const lesson = (this.querySelector('#diff-lesson') as HTMLInputElement).value;
    const other = (this.querySelector('#diff-other') as HTMLSelectElement).value;
    this.diff = null;
    this.busy = true;
    try {
      this.diff = await api('POST', `/api/lessons/${encodeURIComponent(lesson)}/diff`, { a: this.form.name, b: other });
    } catch (err) {
      this.diff = { error: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) };
    } finally {
      this.busy = false;
    }
  }

  override render(): TemplateResult {
    const f = this.form;
    const groups = f.orgPolicy === '/lesson/tutor/team/group';
    const saved = this.name !== 'new';
    const pv = this.preview;
    return html`<section class="page" id="policy-page">
      <div class="toolbar"><h2>${saved ? `Policy ${this.name}` : 'New policy'}</h2><a href="/policies">all policies</a></div>
      ${this.message ? html`<p class="note" id="policy-message">${this.message}</p>` : ''}
      <form class="card form" id="policy-form" novalidate @submit=${this.save}>
        ${this.field('Name', 'name', html`<input name="name" .value=${f.name} ?readonly=${saved} @input=${(e: Event) => this.set('name', (e.target as HTMLInputElement).value)} />`)}
        ${this.field('Description', 'description', html`<input name="description" .value=${f.description} @input=${(e: Event) => this.set('description', (e.target as HTMLInputElement).value)} />`)}
        ${this.select('bizType', 'conf.bizType', 'bizType (room flow)', BIZ)}
        ${this.select('streamPolicy', 'conf.streamPolicy', 'streamPolicy', STREAM)}
        ${this.select('orgPolicy', 'conf.orgPolicy', 'orgPolicy (tree shape)', ORG)}
        ${this.select('preloadMode', 'conf.preloadMode', 'preloadMode', MODES)}
        ${this.number('partitionSize', 'conf.partitionSize', 'partitionSize (members per set)')}
        ${this.field(
          'Tutor on camera in',
          'conf.rooms.tutorOnCamera',
          html`<span>${PHASES.map(
            (ph) => html`<label class="check"><input type="checkbox" name="phase-${ph}" .checked=${f.tutorOnCamera.includes(ph)} @change=${(e: Event) =>
              this.set('tutorOnCamera', (e.target as HTMLInputElement).checked ? [...f.tutorOnCamera, ph] : f.tutorOnCamera.filter((x) => x !== ph))} /> ${ph}</label>`,
          )}</span>`,
        )}
        ${this.number('beforeMinutes', 'conf.rooms.beforeMinutes', 'Before-class room opens (minutes)')}
        ${this.number('afterMinutes', 'conf.rooms.afterMinutes', 'After-class room stays (minutes)')}
        ${groups
          ? html`${this.number('groupCapacity', 'conf.groups.groupCapacity', 'Group capacity')}${this.number('groupsPerTeam', 'conf.groups.groupsPerTeam', 'Groups per team')}${this.number(
              'expandBelowFreeSeats',
              'conf.groups.expandBelowFreeSeats',
              'Expand a team below free seats',
            )}`
          : ''}
        ${this.errors.has('conf') ? html`<p class="field-error" data-error-for="conf">${this.errors.get('conf')}</p>` : ''}
        <div class="row"><button class="primary" type="submit" id="policy-save">Save</button></div>
      </form>
      <div class="cards">
        <form class="card" @submit=${this.doPreview}>
          <h3>Preview for a lesson</h3>
          <p class="muted">What this form compiles to for the lesson's source (nothing is written).</p>
          <input id="preview-lesson" placeholder="lesson id" inputmode="numeric" /> <button type="submit" id="preview-go">Preview</button>
          ${pv?.error ? html`<p class="error">${pv.error}</p>` : ''}
          ${pv && !pv.error
            ? html`<table class="grid small" id="preview-result">
                <tr><th>rooms</th><td class="num">${pv.counts.rooms}</td><td>${Object.entries(pv.roomsByType).map(([k, v]) => `${k} ${v}`).join(', ')}</td></tr>
                <tr><th>nodes</th><td class="num">${pv.counts.nodes}</td><td>${Object.entries(pv.nodesByKind).map(([k, v]) => `${k} ${v}`).join(', ')}</td></tr>
                <tr><th>positions</th><td class="num">${pv.counts.positions}</td><td></td></tr>
                <tr><th>room members</th><td class="num">${pv.counts.roomUsers}</td><td></td></tr>
                <tr><th>member partitions</th><td class="num">${pv.counts.memberPartitions}</td><td></td></tr>
              </table>`
            : ''}
        </form>
        ${saved
          ? html`<form class="card" @submit=${this.bind}>
                <h3>Bind to a lesson</h3>
                <input id="bind-lesson" placeholder="lesson id" inputmode="numeric" /> <button type="submit" id="bind-go">Bind</button>
              </form>
              <form class="card" @submit=${this.doDiff}>
                <h3>Diff with another policy</h3>
                <p class="muted">Preloads the lesson under both in scratch keys and databases (orgengine diff).</p>
                <input id="diff-lesson" placeholder="lesson id" inputmode="numeric" />
                <select id="diff-other">${this.policies.filter((p) => p !== this.name).map((p) => html`<option>${p}</option>`)}</select>
                <button type="submit" ?disabled=${this.busy}>${this.busy ? 'diffing…' : 'Diff'}</button>
                ${this.diff?.error ? html`<p class="error">${this.diff.error}</p>` : ''}
                ${this.diff && !this.diff.error
                  ? html`<p><b>${this.diff.differences.count}</b> difference(s): a ${this.diff.a.counts.rooms} rooms / ${this.diff.a.counts.nodes} nodes, b ${this.diff.b.counts.rooms} rooms / ${this.diff.b.counts.nodes} nodes</p>
                      <p>${Object.entries(this.diff.differences.byKind).map(([k, n]) => html`<span class="badge">${k} ${n}</span> `)}</p>
                      <details><summary>samples</summary><pre>${JSON.stringify(this.diff.differences.samples.slice(0, 30), null, 2)}</pre></details>`
                  : ''}
              </form>`
          : ''}
      </div>
    </section>`;
  }
}
customElements.define('oe-policy', OePolicy);
