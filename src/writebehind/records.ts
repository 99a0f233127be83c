// Write-behind records: what the mutation scripts append to a lesson's stream,
// decoded into MySQL rows, and coalesced so each key is written once per batch
// with its newest version. Pure: no I/O. The tables they go to are described
// in store/mysql/stateTables.ts.
import { ENTITY_ID, entityIdPattern } from '../model/ids.js';
import { LINK_ORIGINS, LINK_STATES, type LinkState } from '../model/interaction.js';
import { SEAT_TEMPLATE_ID } from '../model/seats.js';
import { parseTraceStamp, type TraceStamp } from '../model/trace.js';
import type { Entity } from '../store/mysql/stateTables.js';

/** One decoded stream record, ready to be written. */
export interface WbRecord {
  lessonId: number;
  entity: Entity;
  /** Strictly increasing per lesson; the MySQL upsert keeps the row with the highest. */
  version: number;
  /** Identifies the row within the lesson and entity (coalescing key). */
  key: string;
  /** Column values in the entity table's column order (lesson_id first, version last). */
  row: unknown[];
  /** The trace of the request that made the change (the record's optional `tr`), when it had a valid one. */
  trace?: TraceStamp;
}

/** Largest signal payload a record may carry: what the signal_log TEXT column holds. */
export const MAX_SIGNAL_BYTES = 65_535;

function uid(v: string | undefined): number | null {
  if (v === undefined || !/^[1-9][0-9]{0,15}$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

function ms(v: string | undefined): Date | null {
  if (v === undefined || !/^[0-9]{1,16}$/.test(v)) return null;
  return new Date(Number(v));
}

function id(v: string | undefined): string | null {
  return v !== undefined && ENTITY_ID.test(v) ? v : null;
}

/** An optional id: '' (absent) is null, anything else must be an id; undefined when bad. */
function optId(v: string | undefined): string | null | undefined {
  if (v === '') return null;
  return id(v) ?? undefined;
}

/** Idempotency keys of score events: the id alphabet, up to 128 chars. */
export const SCORE_KEY = entityIdPattern(128);

const SCORE_KINDS = new Set(['reward', 'answer', 'gift', 'adjust']);

function int(v: string | undefined): number | null {
  if (v === undefined || !/^-?[0-9]{1,15}$/.test(v)) return null;
  return Number(v);
}

/**
 * Decodes one stream entry's flat field list (e, v, then the entity's fields,
 * and `tr`, the trace stamp, when the change was traced).
 * Returns null for an entry no table can hold; the flusher counts and logs those.
 */
export function decodeRecord(lessonId: number, fields: readonly string[]): WbRecord | null {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const r = decodeEntity(lessonId, f);
  // An optional trace stamp: a malformed one is dropped, never the record.
  if (r !== null && f.tr !== undefined) {
    const trace = parseTraceStamp(f.tr);
    if (trace) r.trace = trace;
  }
  return r;
}

function decodeEntity(lessonId: number, f: Record<string, string>): WbRecord | null {
  const version = f.v !== undefined && /^[0-9]{1,16}$/.test(f.v) ? Number(f.v) : NaN;
  if (!Number.isSafeInteger(version) || version < 1) return null;
  const t = ms(f.t);
  switch (f.e) {
    case 'group': {
      const u = uid(f.u);
      const g = f.g === '' ? null : id(f.g);
      if (u === null || (g === null && f.g !== '') || !t) return null;
      return { lessonId, entity: 'group', version, key: String(u), row: [lessonId, u, g, t, version] };
    }
    case 'node': {
      const n = id(f.n);
      const p = id(f.p);
      const c = uid(f.c);
      const d = f.d !== undefined && /^[0-9]{1,3}$/.test(f.d) ? Number(f.d) : null;
      if (n === null || p === null || c === null || d === null || !t || f.path === undefined || f.path.length > 512) return null;
      return { lessonId, entity: 'node', version, key: n, row: [lessonId, n, p, c, f.path, d, t, version] };
    }
    case 'mute':
    case 'mutenode': {
      const r = id(f.r);
      const target = f.e === 'mute' ? uid(f.u) : id(f.n);
      if (r === null || target === null || (f.m !== '0' && f.m !== '1') || !t) return null;
      return { lessonId, entity: f.e, version, key: `${r}\u0000${target}`, row: [lessonId, r, target, Number(f.m), t, version] };
    }
    case 'signin': {
      const u = uid(f.u);
      const at = f.t === '' ? null : t;
      if (u === null || (at === null && f.t !== '')) return null;
      return { lessonId, entity: 'signin', version, key: String(u), row: [lessonId, u, at, version] };
    }
    case 'online': {
      const r = id(f.r);
      const u = uid(f.u);
      const p = f.p !== undefined && /^[0-9]{1,9}$/.test(f.p) ? Number(f.p) : null;
      if (r === null || u === null || p === null || !t) return null;
      return { lessonId, entity: 'online', version, key: `${r}\u0000${u}`, row: [lessonId, r, u, p, t, version] };
    }
    case 'signal': {
      // A courseware signal for playback (publish_signal.lua); (room, seq) never repeats.
      const r = id(f.r);
      const seq = uid(f.s);
      const by = uid(f.u);
      if (r === null || seq === null || by === null || !t || f.d === undefined || f.d === '' || Buffer.byteLength(f.d) > MAX_SIGNAL_BYTES) return null;
      return { lessonId, entity: 'signal', version, key: `${r}\u0000${seq}`, row: [lessonId, r, seq, t, by, f.d, version] };
    }
    case 'score': {
      // One ledger row (award.lua); the idempotency key never repeats within a lesson.
      // Optional fields (u, s, st, sd, pk, ps) are left out when empty.
      for (const k of ['u', 's', 'st', 'sd', 'pk', 'ps']) f[k] ??= '';
      const key = f.k !== undefined && SCORE_KEY.test(f.k) ? f.k : null;
      const r = id(f.r);
      const session = optId(f.s);
      const u = f.u === '' ? null : uid(f.u);
      const seat = optId(f.st);
      const seatSide = f.sd === '' ? null : f.sd === 'left' || f.sd === 'right' ? f.sd : undefined;
      const n = id(f.n);
      const points = int(f.p);
      const round = f.pk === '' ? null : uid(f.pk);
      const side = f.ps === '' ? null : f.ps === 'a' || f.ps === 'b' ? f.ps : undefined;
      const by = uid(f.b);
      if (key === null || r === null || session === undefined || (u === null && f.u !== '') || seat === undefined || seatSide === undefined) return null;
      if (n === null || f.path === undefined || f.path === '' || f.path.length > 512 || !f.kd || !SCORE_KINDS.has(f.kd) || points === null) return null;
      if ((round === null && f.pk !== '') || side === undefined || by === null || !t) return null;
      return { lessonId, entity: 'score', version, key, row: [lessonId, key, r, session, u, seat, seatSide, n, f.path, f.kd, points, round, side, t, by, version] };
    }
    case 'pk': {
      // A PK round as started, or as ended early (pk_start.lua, pk_end.lua).
      const round = uid(f.id);
      const r = id(f.r);
      const a = id(f.a);
      const b = id(f.b);
      const st = ms(f.st);
      const en = ms(f.en);
      const pa = int(f.pa);
      const pb = int(f.pb);
      if (round === null || r === null || a === null || b === null || !st || !en || pa === null || pb === null) return null;
      if (f.sc === undefined || f.sc.length > 80 || (f.kd !== 'node' && f.kd !== 'seat') || (f.x !== 'run' && f.x !== 'end')) return null;
      return { lessonId, entity: 'pk', version, key: String(round), row: [lessonId, round, f.sc, r, f.kd, a, b, st, en, f.x, pa, pb, version] };
    }
    case 'isess': {
      // An interaction session (lua/_interaction.lua ia_finish): its newest state.
      const s = sessionId(f.s);
      const r = id(f.r);
      const u = uid(f.u);
      const c = f.c !== undefined && /^[0-9]{1,6}$/.test(f.c) ? Number(f.c) : null;
      const at = ms(f.at);
      const et = f.et === '' ? null : ms(f.et);
      if (s === null || r === null || u === null || c === null || !at || (f.k !== 'duo' && f.k !== 'multi') || (f.st !== 'active' && f.st !== 'ended')) return null;
      if ((et === null && f.et !== '') || f.ch === undefined || f.ch === '' || f.ch.length > 128 || (f.why ?? '').length > 16) return null;
      const tp = f.tp ?? '';
      if (tp !== '' && !SEAT_TEMPLATE_ID.test(tp)) return null;
      return { lessonId, entity: 'isession', version, key: s, row: [lessonId, s, r, f.k, c, f.ch, u, f.st, f.why === '' ? null : f.why, at, et, tp, version] };
    }
    case 'ilink': {
      const s = sessionId(f.s);
      const u = uid(f.u);
      const g = f.g !== undefined && /^[1-9][0-9]{0,8}$/.test(f.g) ? Number(f.g) : null;
      const by = f.b === '0' ? 0 : uid(f.b);
      const origin = f.o !== undefined ? LINK_ORIGINS[f.o as keyof typeof LINK_ORIGINS] : undefined;
      if (s === null || u === null || g === null || by === null || !origin || !LINK_STATES.includes(f.st as LinkState) || !t) return null;
      return { lessonId, entity: 'ilink', version, key: `${s}\u0000${u}`, row: [lessonId, s, u, g, f.st, origin, by, t, version] };
    }
    case 'ilev': {
      // One ledger event: (session, seq) never repeats.
      const s = sessionId(f.s);
      const n = f.n !== undefined && /^[1-9][0-9]{0,8}$/.test(f.n) ? Number(f.n) : null;
      const u = uid(f.u);
      const g = f.g !== undefined && /^[1-9][0-9]{0,8}$/.test(f.g) ? Number(f.g) : null;
      const by = f.b === '0' ? 0 : uid(f.b);
      const from = f.f === '' ? '' : LINK_STATES.includes(f.f as LinkState) ? f.f : null;
      if (s === null || n === null || u === null || g === null || by === null || from === null || !LINK_STATES.includes(f.to as LinkState) || !t) return null;
      if (f.why === undefined || !/^[a-z_]{1,16}$/.test(f.why)) return null;
      return { lessonId, entity: 'ilevent', version, key: `${s}\u0000${n}`, row: [lessonId, s, n, u, g, from, f.to, by, f.why, t, version] };
    }
    case 'iseat': {
      // One mic seat change (lua/_interaction.lua seat_put): (session, seq) never repeats.
      const s = sessionId(f.s);
      const n = f.n !== undefined && /^[1-9][0-9]{0,8}$/.test(f.n) ? Number(f.n) : null;
      const q = f.q !== undefined && /^[0-9]{1,4}$/.test(f.q) ? Number(f.q) : null;
      const u = f.u === '0' ? 0 : uid(f.u);
      const by = f.b === '0' ? 0 : uid(f.b);
      const bit = (v: string | undefined): number | null => (v === '0' ? 0 : v === '1' ? 1 : null);
      const l = bit(f.l);
      const m = bit(f.m);
      const c = bit(f.c);
      if (s === null || n === null || q === null || u === null || by === null || l === null || m === null || c === null || !t) return null;
      if (f.op === undefined || !/^[a-z]{1,8}$/.test(f.op)) return null;
      return { lessonId, entity: 'iseat', version, key: `${s}\u0000${n}`, row: [lessonId, s, n, q, u, l, m, c, f.op, by, t, version] };
    }
    case 'iadmin': {
      const r = id(f.r);
      const u = uid(f.u);
      if (r === null || u === null || (f.m !== '0' && f.m !== '1') || !t) return null;
      return { lessonId, entity: 'iadmin', version, key: `${r}\u0000${u}`, row: [lessonId, r, u, Number(f.m), t, version] };
    }
    default:
      return null;
  }
}

/** An interaction session id (s<n>), or null. */
function sessionId(v: string | undefined): string | null {
  return v !== undefined && /^s[1-9][0-9]{0,15}$/.test(v) ? v : null;
}

/**
 * Keeps, for each (lesson, entity, key), only the record with the highest
 * version, so a batch writes every row once. Returns the rows per entity.
 */
export function coalesce(records: Iterable<WbRecord>): Map<Entity, WbRecord[]> {
  const newest = new Map<string, WbRecord>();
  for (const r of records) {
    const k = `${r.lessonId}\u0000${r.entity}\u0000${r.key}`;
    const seen = newest.get(k);
    if (!seen || seen.version < r.version) newest.set(k, r);
  }
  const out = new Map<Entity, WbRecord[]>();
  for (const r of newest.values()) {
    let list = out.get(r.entity);
    if (!list) out.set(r.entity, (list = []));
    list.push(r);
  }
  // Primary-key order, so concurrent flushers lock rows in the same order.
  for (const list of out.values()) list.sort((a, b) => a.lessonId - b.lessonId || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}

/** Milliseconds part of a stream entry id ("<ms>-<seq>"). */
export function entryTime(entryId: string): number {
  const dash = entryId.indexOf('-');
  return Number(dash < 0 ? entryId : entryId.slice(0, dash));
}
