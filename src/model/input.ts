// Checks of outside input that more than one layer takes: JSON objects (HTTP
// bodies, mutation inputs, change requests), room and node ids, page sizes.
// They live in model, not api, because services and preload validate input
// too and may not import the transport. Each throws BAD_REQUEST naming what is
// wrong; none does I/O.
import { OrgError } from '../errors.js';
import { ENTITY_ID, ENTITY_ID_RULE } from './ids.js';

/** A decoded JSON object's fields. */
export type JsonObject = Record<string, unknown>;

const at = (where: string, k: string): string => (where === '' ? k : `${where}.${k}`);

/**
 * Refuses any field of `o` not in `allowed`, naming it (details.field) and the
 * place (`where`, e.g. 'change.moves[2]'; '' at the top); `hint` is appended.
 */
export function onlyFields(o: JsonObject, where: string, allowed: readonly string[], hint = ''): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new OrgError('BAD_REQUEST', `${at(where, k.slice(0, 64))}: unknown field${hint}`, { field: k.slice(0, 64) });
  }
}

/**
 * `v` as a JSON object (not null, not an array), with only `allowed` fields
 * when given. `where` names it in the message ('' at the top); `hint` is appended.
 */
export function jsonObject(v: unknown, where: string, allowed?: readonly string[], hint = ''): JsonObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new OrgError('BAD_REQUEST', `${where === '' ? '' : `${where}: `}expected an object${hint}`);
  const o = v as JsonObject;
  if (allowed) onlyFields(o, where, allowed, hint);
  return o;
}

/**
 * Parses a request body: JSON text of an object with only `allowed` fields
 * (an empty body is `{}`). `shape` tells the client what to send, in every error.
 */
export function parseJsonBody(body: Buffer | null, allowed: readonly string[], shape: string): JsonObject {
  if (!body || body.length === 0) return {};
  const hint = `; send ${shape}`;
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new OrgError('BAD_REQUEST', `body: not JSON${hint}`);
  }
  return jsonObject(v, 'body', allowed, hint);
}

/** A room or node id (ENTITY_ID); `name` is the field named in the error. */
export function parseEntityId(name: string, raw: unknown): string {
  if (typeof raw !== 'string' || !ENTITY_ID.test(raw)) {
    throw new OrgError('BAD_REQUEST', `${name} must be ${ENTITY_ID_RULE}, got ${JSON.stringify(raw ?? null)}`, { field: name });
  }
  return raw;
}

const DIGITS = /^[0-9]{1,16}$/;

/** Bounds of a page size. */
export interface LimitBounds {
  max: number;
  /** The size when none is given (default: max). */
  def?: number;
  /** Smallest size: 1, or 0 where an empty page means something (a signal read that only wants lastSeq). Default 1. */
  min?: 0 | 1;
}

/**
 * A page size from query text or a decoded number. Absent (undefined, null,
 * '') gives `def`; so does the number 0 where 0 is below `min`, because proto3
 * sends 0 for a field that was not set. Anything else must be an integer from
 * `min` to `max`.
 */
export function parseLimit(raw: unknown, b: LimitBounds): number {
  const min = b.min ?? 1;
  if (raw === undefined || raw === null || raw === '' || (raw === 0 && min > 0)) return b.def ?? b.max;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && DIGITS.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > b.max) throw new OrgError('BAD_REQUEST', `limit must be an integer from ${min} to ${b.max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A positive integer field `k` of a JSON object, given as a number or digits; the error names the field. */
export function positiveField(o: JsonObject, k: string): number {
  const v = o[k];
  const n = typeof v === 'number' ? v : typeof v === 'string' && DIGITS.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new OrgError('BAD_REQUEST', `${k}: expected a positive integer, got ${JSON.stringify(v) ?? 'nothing'}`, { field: k });
  return n;
}

const ID_TEXT = /^[1-9][0-9]{0,15}$/;

/** A positive integer id (lesson id, uid) given as text or a number; `name` is the field named in the error. */
export function parseId(raw: unknown, name: string): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && ID_TEXT.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new OrgError('BAD_REQUEST', `${name} must be a positive integer, got ${JSON.stringify(raw ?? null)}`, { field: name });
  return n;
}

/** A calendar day, YYYY-MM-DD (UTC), that exists. */
export function parseDate(raw: unknown, name: string): string {
  const t = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) ? Date.parse(`${raw}T00:00:00Z`) : NaN;
  // Date.parse rolls 2026-02-30 over into March: the day must read back as given.
  const ok = !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === raw;
  if (!ok) throw new OrgError('BAD_REQUEST', `${name} must be YYYY-MM-DD (a real day), got ${JSON.stringify(raw ?? null)}`, { field: name });
  return raw as string;
}
