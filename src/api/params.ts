// Validation of the outside input only the transports take (path ids as text,
// query strings, flags, members cursors), shared by HTTP and gRPC. Checks that
// services and preload need too (JSON objects, room and node ids, page sizes)
// are in model/input.ts. A bad value is a 400 BAD_REQUEST naming the
// parameter, never a crash.
import { OrgError } from '../errors.js';

const INT = /^[1-9][0-9]{0,15}$/;
const CURSOR = /^([0-9]{1,6})\.([0-9]{1,15})$/;

/** Largest partition number accepted (partitions hold >= 100 members; lessons <= 10M students). */
export const MAX_PARTITION = 100_000;

/** A positive integer id (lesson id, uid) from text. */
export function parseId(name: string, raw: string | undefined): number {
  if (raw === undefined || !INT.test(raw)) throw new OrgError('BAD_REQUEST', `${name} must be a positive integer, got ${JSON.stringify(raw ?? null)}`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new OrgError('BAD_REQUEST', `${name} is out of range: ${raw}`);
  return n;
}

/** A positive integer id given as a number (gRPC). */
export function checkId(name: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new OrgError('BAD_REQUEST', `${name} must be a positive integer, got ${JSON.stringify(n)}`);
  return n;
}

/** A boolean flag: 1/true or 0/false (absent = false). */
export function parseFlag(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true' || raw === '') return true;
  throw new OrgError('BAD_REQUEST', `${name} must be 1|0|true|false, got ${JSON.stringify(raw)}`);
}

/** A partition number, 0..MAX_PARTITION, or null when absent. */
export function parsePartition(raw: string | number | undefined | null): number | null {
  if (raw === undefined || raw === null) return null;
  const n = typeof raw === 'number' ? raw : /^(0|[1-9][0-9]{0,5})$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PARTITION) throw new OrgError('BAD_REQUEST', `partition must be an integer from 0 to ${MAX_PARTITION}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A members cursor "<partition>.<order>" from a previous page, or null when absent/empty. */
export function parseCursor(raw: string | undefined, partition: number | null): { partition: number; order: number } | null {
  if (raw === undefined || raw === '') return null;
  const m = CURSOR.exec(raw);
  if (!m) throw new OrgError('BAD_REQUEST', `cursor must be a nextCursor from a previous page, got ${JSON.stringify(raw)}`);
  const c = { partition: Number(m[1]), order: Number(m[2]) };
  if (c.partition > MAX_PARTITION) throw new OrgError('BAD_REQUEST', `cursor partition out of range: ${raw}`);
  if (partition !== null && c.partition !== partition) throw new OrgError('BAD_REQUEST', `cursor ${raw} belongs to partition ${c.partition}, not ${partition}`);
  return c;
}

/** Parses a query string strictly: only `allowed` names, each at most once, well-formed escapes. */
export function parseQuery(q: string, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (q.length === 0) return out;
  if (q.length > 2048) throw new OrgError('BAD_REQUEST', 'query string too long');
  // Most queries carry no escapes: skip decoding then (it showed in warm-path profiles).
  const plain = q.indexOf('%') < 0 && q.indexOf('+') < 0;
  for (const part of q.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let k: string;
    let v: string;
    if (plain) {
      k = eq < 0 ? part : part.slice(0, eq);
      v = eq < 0 ? '' : part.slice(eq + 1);
    } else {
      try {
        k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
        v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
      } catch {
        throw new OrgError('BAD_REQUEST', `malformed query parameter ${JSON.stringify(part.slice(0, 64))}`);
      }
    }
    if (!allowed.includes(k)) {
      throw new OrgError('BAD_REQUEST', `unknown query parameter ${JSON.stringify(k.slice(0, 64))}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`);
    }
    if (k in out) throw new OrgError('BAD_REQUEST', `query parameter ${k} given twice`);
    out[k] = v;
  }
  return out;
}
