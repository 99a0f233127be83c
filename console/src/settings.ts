// Alarm settings: expected-duration factors, write-behind thresholds, check
// mismatches and webhook URLs, each validation error beside its field.
import { html, type TemplateResult } from 'lit';
import { api, ApiError } from './api.js';
import { Page } from './ui.js';

const FIELDS: Array<[string, string, string]> = [
  ['expectedBaseMs', 'Expected preload duration: base (ms)', 'fixed part of the expected duration'],
  ['expectedMsPer1kStudents', 'Expected preload duration: per 1,000 students (ms)', 'added per 1,000 enrolled students'],
  ['overrunFactor', 'Overrun factor', 'a preload longer than this × expected raises preload-overrun'],
  ['wbLagMs', 'Write-behind lag threshold (ms)', 'oldest unflushed record older than this raises wb-lag'],
  ['wbStreamLength', 'Write-behind stream length threshold', 'a lesson stream this long raises wb-backpressure'],
  ['checkMismatches', 'Check mismatches threshold', 'a check with at least this many mismatches raises check-mismatch'],
];

class OeSettings extends Page {
  static override properties = { values: { state: true }, errors: { state: true }, message: { state: true }, configured: { state: true } };
  declare values: Record<string, string>;
  declare errors: Map<string, string>;
  declare message: string;
  declare configured: string[];
  constructor() {
    super();
    this.values = {};
    this.errors = new Map();
    this.message = '';
    this.configured = [];
  }
  override connectedCallback(): void {
    super.connectedCallback();
    void api('GET', '/api/settings/alarms').then((s) => {
      this.configured = s.configuredWebhooks;
      this.values = { ...Object.fromEntries(FIELDS.map(([k]) => [k, String(s[k])])), webhooks: s.webhooks.join('\n') };
    });
  }
  private async save(e: Event): Promise<void> {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    for (const [k] of FIELDS) body[k] = this.values[k]?.trim() === '' || Number.isNaN(Number(this.values[k])) ? this.values[k] : Number(this.values[k]);
    body.webhooks = (this.values.webhooks ?? '').split('\n').map((s) => s.trim()).filter(Boolean);
    try {
      await api('PUT', '/api/settings/alarms', body);
      this.errors = new Map();
      this.message = 'Saved.';
    } catch (err) {
      this.errors = err instanceof ApiError ? err.fieldErrors() : new Map();
      this.message = err instanceof ApiError ? `Not saved: ${err.code}` : String(err);
    }
  }
  override render(): TemplateResult {
    const webhookErrors = [...this.errors].filter(([k]) => k.startsWith('webhooks'));
    return html`<section class="page" id="settings-page">
      <div class="toolbar"><h2>Alarm settings</h2></div>
      ${this.message ? html`<p class="note" id="settings-message">${this.message}</p>` : ''}
      <form class="card form" novalidate @submit=${this.save}>
        ${FIELDS.map(([k, label, help]) => {
          const err = this.errors.get(k);
          return html`<div class="field ${err ? 'invalid' : ''}" data-field=${k}>
            <label>${label}</label>
            <input name=${k} .value=${this.values[k] ?? ''} @input=${(e: Event) => (this.values = { ...this.values, [k]: (e.target as HTMLInputElement).value })} />
            ${err ? html`<span class="field-error" data-error-for=${k}>${err}</span>` : html`<span class="muted small">${help}</span>`}
          </div>`;
        })}
        <div class="field ${webhookErrors.length ? 'invalid' : ''}" data-field="webhooks">
          <label>Webhook URLs (one per line)</label>
          <textarea name="webhooks" rows="3" .value=${this.values.webhooks ?? ''} @input=${(e: Event) => (this.values = { ...this.values, webhooks: (e.target as HTMLTextAreaElement).value })}></textarea>
          ${webhookErrors.map(([k, m]) => html`<span class="field-error" data-error-for=${k}>${k}: ${m}</span>`)}
          <span class="muted small">Also notified, from ORGENGINE_ALARM_WEBHOOKS: ${this.configured.length ? this.configured.join(', ') : 'none'}. Each alarm sends one JSON message when raised and one when resolved.</span>
        </div>
        <div class="row"><button class="primary" type="submit" id="settings-save">Save</button></div>
      </form>
    </section>`;
  }
}
customElements.define('oe-settings', OeSettings);
