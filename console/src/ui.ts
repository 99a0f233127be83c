// Shared pieces of the console pages: the base element (light DOM, so the one
// stylesheet applies), a confirmation dialog, a sortable and filterable table
// over @tanstack/table-core, a uPlot chart, and small formatters.
import { LitElement, html, nothing, type TemplateResult } from 'lit';
import {
  constructTable,
  createFilteredRowModel,
  createSortedRowModel,
  columnFilteringFeature,
  filterFn_includesString,
  globalFilteringFeature,
  rowSortingFeature,
  sortFn_alphanumeric,
  sortFn_basic,
  tableFeatures,
} from '@tanstack/table-core';
import { storeReactivityBindings } from '@tanstack/table-core/store-reactivity-bindings';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Pages render into the light DOM: one stylesheet, plain selectors in tests. */
export class Page extends LitElement {
  override createRenderRoot(): HTMLElement {
    return this;
  }
}

/** Asks the operator to confirm an action; resolves true on Confirm. */
export function confirmAction(title: string, text: string): Promise<boolean> {
  return new Promise((resolve) => {
    const d = document.createElement('dialog');
    d.className = 'confirm';
    d.innerHTML = `<h3></h3><p></p><div class="row"><button class="danger" value="yes">Confirm</button><button value="no">Cancel</button></div>`;
    d.querySelector('h3')!.textContent = title;
    d.querySelector('p')!.textContent = text;
    const done = (v: boolean) => {
      d.close();
      d.remove();
      resolve(v);
    };
    d.querySelector('button[value=yes]')!.addEventListener('click', () => done(true));
    d.querySelector('button[value=no]')!.addEventListener('click', () => done(false));
    d.addEventListener('cancel', () => done(false));
    document.body.append(d);
    d.showModal();
  });
}

const features = tableFeatures({
  coreReactivityFeature: storeReactivityBindings(),
  rowSortingFeature,
  sortedRowModel: createSortedRowModel(),
  sortFns: { alphanumeric: sortFn_alphanumeric, basic: sortFn_basic },
  columnFilteringFeature,
  globalFilteringFeature,
  filteredRowModel: createFilteredRowModel(),
  filterFns: { includesString: filterFn_includesString },
});

/** A column of <oe-table>: a value for sorting and filtering, and how to show it. */
export interface Col<T> {
  id: string;
  header: string;
  value: (row: T) => string | number | null;
  cell?: (row: T) => unknown;
  /** Right-align (numbers). */
  num?: boolean;
}

/** A table that sorts by a header click and filters by `filter` (any column containing the text). */
export class OeTable<T = any> extends Page {
  static override properties = { columns: { attribute: false }, rows: { attribute: false }, filter: {}, empty: {} };
  declare columns: Col<T>[];
  declare rows: T[];
  declare filter: string;
  declare empty: string;
  private table: any = null;
  private builtFor: unknown = null;

  constructor() {
    super();
    this.columns = [];
    this.rows = [];
    this.filter = '';
    this.empty = 'nothing to show';
  }

  private build(): any {
    if (this.table && this.builtFor === this.rows) return this.table;
    const sorting = this.table ? this.table.atoms.sorting.get() : [];
    this.table = constructTable({
      features,
      data: this.rows,
      columns: this.columns.map((c) => ({ id: c.id, header: c.header, accessorFn: (r: T) => c.value(r) ?? '', sortUndefined: 'last' })) as any,
      globalFilterFn: 'includesString',
      initialState: { sorting },
    } as any);
    this.builtFor = this.rows;
    return this.table;
  }

  override render(): TemplateResult {
    const t = this.build();
    t.setGlobalFilter(this.filter || undefined);
    const cols = new Map(this.columns.map((c) => [c.id, c]));
    const rows = t.getRowModel().rows;
    return html`<table class="grid">
      <thead>
        <tr>
          ${t.getHeaderGroups()[0].headers.map((h: any) => {
            const dir = h.column.getIsSorted();
            return html`<th class=${cols.get(h.column.id)?.num ? 'num' : ''} @click=${() => {
              h.column.toggleSorting(dir === 'asc');
              this.requestUpdate();
            }}>${cols.get(h.column.id)?.header}${dir === 'asc' ? ' ▲' : dir === 'desc' ? ' ▼' : ''}</th>`;
          })}
        </tr>
      </thead>
      <tbody>
        ${rows.length === 0 ? html`<tr><td class="empty" colspan=${this.columns.length}>${this.empty}</td></tr>` : nothing}
        ${rows.map(
          (r: any) => html`<tr data-row=${String(this.columns[0]?.value(r.original) ?? '')}>
            ${this.columns.map((c) => html`<td class=${c.num ? 'num' : ''}>${c.cell ? c.cell(r.original) : (c.value(r.original) ?? '–')}</td>`)}
          </tr>`,
        )}
      </tbody>
    </table>`;
  }
}
customElements.define('oe-table', OeTable);

/** One series of <oe-chart>. */
export interface Series {
  label: string;
  color: string;
  /** Draw points only (durations of separate lessons), not a line. */
  points?: boolean;
}

/** A uPlot chart over time (x in seconds since epoch). */
export class OeChart extends Page {
  static override properties = { data: { attribute: false }, series: { attribute: false }, title: {}, unit: {}, log: { type: Boolean }, empty: {}, window: { type: Number } };
  declare data: number[][];
  declare series: Series[];
  declare title: string;
  declare unit: string;
  /** A log scale on y (values far apart, e.g. durations against their expected duration). */
  declare log: boolean;
  /** Shown instead of an empty chart. */
  declare empty: string;
  /** Seconds the x axis spans at least, ending at the last point (live charts: 0 = just the data). */
  declare window: number;
  private plot: uPlot | null = null;
  private shape = '';

  constructor() {
    super();
    this.data = [[]];
    this.series = [];
    this.title = '';
    this.unit = '';
    this.log = false;
    this.empty = 'no data yet';
    this.window = 0;
  }

  override render(): TemplateResult {
    const none = (this.data[0]?.length ?? 0) === 0;
    return html`${none ? html`<p class="chart-empty"><b>${this.title}</b><br />${this.empty}</p>` : ''}<div class="chart" ?hidden=${none}></div>`;
  }

  override updated(): void {
    if ((this.data[0]?.length ?? 0) === 0) return;
    const host = this.querySelector('.chart') as HTMLElement;
    const shape = this.series.map((s) => s.label).join('|');
    if (!this.plot || shape !== this.shape) {
      this.plot?.destroy();
      this.shape = shape;
      const unit = this.unit;
      this.plot = new uPlot(
        {
          title: this.title,
          width: Math.max(320, host.clientWidth || 640),
          height: 220,
          // Times read in UTC, like every time on the console's pages.
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
          scales: {
            x: { time: true, ...(this.window > 0 ? { range: (_u: uPlot, min: number, max: number): [number, number] => [Math.min(min, max - this.window), max] } : {}) },
            ...(this.log ? { y: { distr: 3 } } : {}),
          },
          // One line of UTC time per tick (uPlot's default adds a date line that collides on narrow charts).
          axes: [{ space: 90, values: (_u: uPlot, splits: number[]) => splits.map((v) => new Date(v * 1000).toISOString().slice(11, this.window > 0 ? 19 : 16)) }, { label: unit, size: 70 }],
          series: [
            {},
            ...this.series.map((s) => ({
              label: s.label,
              stroke: s.color,
              width: 2,
              ...(s.points ? { paths: () => null, points: { show: true, size: 7, fill: s.color } } : { points: { show: false } }),
            })),
          ],
        },
        this.data as uPlot.AlignedData,
        host,
      );
    } else this.plot.setData(this.data as uPlot.AlignedData);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.plot?.destroy();
    this.plot = null;
  }
}
customElements.define('oe-chart', OeChart);

/** A time of day (UTC), HH:MM. */
export const hhmm = (ms: number | null | undefined): string => (ms ? new Date(ms).toISOString().slice(11, 16) : '–');
/** A date and time (UTC), YYYY-MM-DD HH:MM:SS. */
export const stamp = (ms: number | null | undefined): string => (ms ? new Date(ms).toISOString().slice(0, 19).replace('T', ' ') : '–');
/** Milliseconds as ms or s. */
export const dur = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '–' : ms < 10_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);
/** A badge for a state word; its class names the state. */
export const badge = (s: string | null | undefined): TemplateResult => html`<span class="badge ${s ?? 'none'}">${s ?? '–'}</span>`;
/** Today, YYYY-MM-DD (UTC). */
export const today = (): string => new Date().toISOString().slice(0, 10);

let goto: ((path: string) => void) | null = null;
/** Registers how the app renders a path (the router). */
export function onNavigate(fn: (path: string) => void): void {
  goto = fn;
}
/** Navigates inside the app: pushes history and renders the route. */
export function navigate(path: string): void {
  history.pushState({}, '', path);
  goto?.(path.split('?')[0]!);
}
