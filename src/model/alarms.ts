// Alarms of the operations console: their settings (validated field by field,
// like a policy, so the console shows each error beside its field) and the pure
// rule that turns what the console observed into the conditions that fire.
import { OrgError } from '../errors.js';

/** Kinds of alarm, each with its own condition. */
export const ALARM_KINDS = ['preload-failed', 'preload-overrun', 'check-mismatch', 'wb-lag', 'wb-backpressure', 'gateway-not-ready'] as const;
/** One of ALARM_KINDS. */
export type AlarmKind = (typeof ALARM_KINDS)[number];

/** What operators set on the alarm settings page (defaults come from the config). */
export interface AlarmSettings {
  /** Expected preload duration: fixed part (ms) and per 1,000 students (ms). */
  expectedBaseMs: number;
  expectedMsPer1kStudents: number;
  /** A preload is overrun when it takes longer than this times its expected duration. */
  overrunFactor: number;
  /** A lesson's oldest unflushed write-behind record older than this (ms) fires wb-lag. */
  wbLagMs: number;
  /** A lesson's write-behind stream this long fires wb-backpressure. */
  wbStreamLength: number;
  /** A check with at least this many mismatches fires check-mismatch. */
  checkMismatches: number;
  /** Webhook URLs told of every raise and resolve (besides the configured ones). */
  webhooks: string[];
}

/** Bounds of the settings' numbers; exported so the page and the docs quote the same ones. */
export const ALARM_LIMITS = {
  expectedBaseMs: { min: 0, max: 3_600_000 },
  expectedMsPer1kStudents: { min: 0, max: 3_600_000 },
  overrunFactor: { min: 0.1, max: 100 },
  wbLagMs: { min: 1, max: 86_400_000 },
  wbStreamLength: { min: 1, max: 10_000_000 },
  checkMismatches: { min: 1, max: 1_000_000 },
  webhooks: { max: 20 },
} as const;

const NUMBER_FIELDS = ['expectedBaseMs', 'expectedMsPer1kStudents', 'overrunFactor', 'wbLagMs', 'wbStreamLength', 'checkMismatches'] as const;

/**
 * Validates settings sent by an operator over `base` (fields left out keep
 * their value there). Throws BAD_REQUEST listing every bad field, by name, in
 * `details.fields` and `details.problems`.
 */
export function validateAlarmSettings(input: unknown, base: AlarmSettings): AlarmSettings {
  const problems: string[] = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw settingsInvalid(['settings: expected an object']);
  const o = input as Record<string, unknown>;
  const out: AlarmSettings = { ...base, webhooks: [...base.webhooks] };
  for (const k of Object.keys(o)) if (!(NUMBER_FIELDS as readonly string[]).includes(k) && k !== 'webhooks') problems.push(`${k}: unknown field`);
  for (const f of NUMBER_FIELDS) {
    const v = o[f];
    if (v === undefined) continue;
    const lim = ALARM_LIMITS[f];
    const whole = f !== 'overrunFactor';
    if (typeof v !== 'number' || !Number.isFinite(v) || (whole && !Number.isInteger(v))) problems.push(`${f}: expected ${whole ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
    else if (v < lim.min || v > lim.max) problems.push(`${f}: must be between ${lim.min} and ${lim.max}, got ${v}`);
    else out[f] = v;
  }
  if (o.webhooks !== undefined) {
    if (!Array.isArray(o.webhooks)) problems.push('webhooks: expected a list of http(s) URLs');
    else if (o.webhooks.length > ALARM_LIMITS.webhooks.max) problems.push(`webhooks: at most ${ALARM_LIMITS.webhooks.max} URLs, got ${o.webhooks.length}`);
    else {
      const urls: string[] = [];
      o.webhooks.forEach((u, i) => {
        const bad = webhookProblem(u);
        if (bad) problems.push(`webhooks[${i}]: ${bad}`);
        else urls.push(u as string);
      });
      out.webhooks = urls;
    }
  }
  if (problems.length > 0) throw settingsInvalid(problems);
  return out;
}

function webhookProblem(u: unknown): string | null {
  if (typeof u !== 'string' || u.length > 2048) return `expected an http(s) URL, got ${JSON.stringify(u)?.slice(0, 80)}`;
  try {
    const p = new URL(u).protocol;
    return p === 'http:' || p === 'https:' ? null : `expected an http(s) URL, got ${p}`;
  } catch {
    return `not a URL: ${JSON.stringify(u).slice(0, 80)}`;
  }
}

function settingsInvalid(problems: string[]): OrgError {
  return new OrgError('BAD_REQUEST', `invalid alarm settings: ${problems.join('; ')}`, {
    fields: problems.map((s) => s.slice(0, s.indexOf(':'))),
    problems,
  });
}

/** A condition that holds now: the alarm `key` fires while it is returned. */
export interface AlarmCondition {
  /** kind + subject, e.g. `check-mismatch:100001`; one episode per key at a time. */
  key: string;
  kind: AlarmKind;
  lessonId: number | null;
  message: string;
}

/** One lesson as the console saw it (the day status, with the expected duration from the settings). */
export interface ObservedLesson {
  lessonId: number;
  state: string;
  preloadMs: number | null;
  expectedMs: number;
  runStatus: string | null;
  checkStatus: string | null;
  mismatches: number | null;
  error: string | null;
}

/** A lesson's write-behind stream: its length and the age of its oldest record. */
export interface ObservedStream {
  lessonId: number;
  length: number;
  oldestAgeMs: number | null;
}

/** A gateway's /readyz answer. */
export interface ObservedGateway {
  url: string;
  ready: boolean;
  detail: string;
}

/** What the console observed in one evaluation. */
export interface Observation {
  lessons: readonly ObservedLesson[];
  streams: readonly ObservedStream[];
  gateways: readonly ObservedGateway[];
}

/** The conditions that hold in `o` under `s`, one per key. */
export function alarmConditions(o: Observation, s: AlarmSettings): AlarmCondition[] {
  const out = new Map<string, AlarmCondition>();
  const add = (kind: AlarmKind, subject: string | number, lessonId: number | null, message: string) => out.set(`${kind}:${subject}`, { key: `${kind}:${subject}`, kind, lessonId, message });
  for (const l of o.lessons) {
    if (l.state === 'failed') add('preload-failed', l.lessonId, l.lessonId, `lesson ${l.lessonId}: preload failed${l.error ? ` (${l.error})` : ''}`);
    const limit = l.expectedMs * s.overrunFactor;
    // A run that is still going is judged by how long it has run so far; a finished one by what it took.
    if (l.preloadMs !== null && l.preloadMs > limit && (l.runStatus === 'running' || l.runStatus === 'succeeded')) {
      add('preload-overrun', l.lessonId, l.lessonId, `lesson ${l.lessonId}: preload ${l.runStatus === 'running' ? 'running for' : 'took'} ${l.preloadMs} ms, over ${Math.round(limit)} ms (${s.overrunFactor} x expected)`);
    }
    if (l.checkStatus === 'failed' && (l.mismatches ?? 0) >= s.checkMismatches) {
      add('check-mismatch', l.lessonId, l.lessonId, `lesson ${l.lessonId}: check found ${l.mismatches} mismatch(es)`);
    }
  }
  for (const st of o.streams) {
    if (st.oldestAgeMs !== null && st.oldestAgeMs > s.wbLagMs) add('wb-lag', st.lessonId, st.lessonId, `lesson ${st.lessonId}: oldest unflushed write-behind record is ${st.oldestAgeMs} ms old (threshold ${s.wbLagMs} ms)`);
    if (st.length >= s.wbStreamLength) add('wb-backpressure', st.lessonId, st.lessonId, `lesson ${st.lessonId}: write-behind stream holds ${st.length} records (threshold ${s.wbStreamLength})`);
  }
  for (const g of o.gateways) if (!g.ready) add('gateway-not-ready', g.url, null, `gateway ${g.url} is not ready: ${g.detail}`);
  return [...out.values()];
}
