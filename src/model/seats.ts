// Mic seats, pure: layout templates (how many seats a session has and what
// each seat can do), their validation, the built-in templates, and the
// compact seat spec the Lua scripts keep in a session's hash
// (store/redis/lua/_interaction.lua reads it). The seat operations themselves
// run in lua/ia_seat.lua; the rule moving occupants when a session switches
// template is written there and stated in the README ("Mic seats").
import { OrgError } from '../errors.js';
import { SESSION_KINDS, type SessionKind } from './interaction.js';

/** A PK side a seat belongs to (scores count per side), or none. */
export const SEAT_SIDES = ['left', 'right'] as const;
/** One of SEAT_SIDES. */
export type SeatSide = (typeof SEAT_SIDES)[number];

/** One seat of a template. */
export interface SeatSpec {
  /** The seat can carry a camera. */
  video: boolean;
  /** The seat can carry a microphone. */
  audio: boolean;
  /** Only the session's creator (the host) may sit here. */
  hostOnly: boolean;
  side: SeatSide | null;
  /** Where a client draws the seat (free text: top, bottom, left, right, ...); null: client's choice. */
  area: string | null;
}

/** A layout template: a session's seats, in order (seat numbers are their indexes). */
export interface SeatTemplate {
  id: string;
  name: string;
  /** The session kind the template lays out (a duo has exactly two seats). */
  kind: SessionKind;
  seats: SeatSpec[];
}

/** Seat operations of lua/ia_seat.lua. */
export const SEAT_OPS = ['take', 'leave', 'move', 'swap', 'lock', 'unlock', 'mute', 'unmute', 'switch'] as const;
/** One seat operation. */
export type SeatOp = (typeof SEAT_OPS)[number];
/** What mute/unmute acts on. */
export const SEAT_MEDIA = ['mic', 'cam'] as const;
/** One of SEAT_MEDIA. */
export type SeatMedia = (typeof SEAT_MEDIA)[number];

/** A template id: 1-32 chars of [a-z0-9._-]. */
export const SEAT_TEMPLATE_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/** A template id from outside input (SEAT_TEMPLATE_ID); BAD_REQUEST naming templateId otherwise. */
export function parseTemplateId(v: unknown): string {
  if (typeof v !== 'string' || !SEAT_TEMPLATE_ID.test(v)) throw new OrgError('BAD_REQUEST', `templateId: expected 1-32 chars of [a-z0-9._-], got ${JSON.stringify(v) ?? 'nothing'}`, { field: 'templateId' });
  return v;
}
const AREA = /^[a-z0-9_-]{1,16}$/;

const seat = (video: boolean, hostOnly: boolean, side: SeatSide | null, area: string | null): SeatSpec => ({ video, audio: true, hostOnly, side, area });

/** PK: two sides of n seats, the host first on the left. */
export function pkTemplate(n: number): SeatTemplate {
  const seats: SeatSpec[] = [];
  for (let i = 0; i < n; i++) seats.push(seat(true, i === 0, 'left', 'left'));
  for (let i = 0; i < n; i++) seats.push(seat(true, false, 'right', 'right'));
  return { id: `pk-${n}`, name: `PK, two sides of ${n}`, kind: n === 1 ? 'duo' : 'multi', seats };
}

/** PK templates built in: pk-1 .. pk-MAX_PK_SIDE. */
export const MAX_PK_SIDE = 8;

/** The templates every deployment has (not stored; a stored template may not take their ids). */
export const BUILTIN_TEMPLATES: ReadonlyMap<string, SeatTemplate> = new Map(
  [
    {
      id: 'voice',
      name: 'Voice room: the host on top, 8 below',
      kind: 'multi',
      seats: [seat(false, true, null, 'top'), ...Array.from({ length: 8 }, () => seat(false, false, null, 'bottom'))],
    } satisfies SeatTemplate,
    {
      id: 'video',
      name: 'Multi-person video: the host on the left, 4 on the right',
      kind: 'multi',
      seats: [seat(true, true, null, 'left'), ...Array.from({ length: 4 }, () => seat(true, false, null, 'right'))],
    } satisfies SeatTemplate,
    { id: 'duo', name: 'Duo: the host on the left, the guest on the right', kind: 'duo', seats: [seat(true, true, 'left', 'left'), seat(true, false, 'right', 'right')] } satisfies SeatTemplate,
    ...Array.from({ length: MAX_PK_SIDE }, (_, i) => pkTemplate(i + 1)),
  ].map((t) => [t.id, t]),
);

const bad = (field: string, msg: string): OrgError => new OrgError('TEMPLATE_INVALID', `${field}: ${msg}`, { field });

function flag(o: Record<string, unknown>, k: string, field: string, dflt: boolean | undefined): boolean {
  const v = o[k];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'boolean') throw bad(`${field}.${k}`, `expected true or false, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

/**
 * Validates a template document (parsed JSON). Errors (TEMPLATE_INVALID) name
 * the bad field, e.g. `seats[3].video`. `maxSeats` bounds the seat count.
 */
export function parseTemplate(raw: unknown, maxSeats: number): SeatTemplate {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('template', 'expected a JSON object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['id', 'name', 'kind', 'seats'].includes(k)) throw bad(k, 'unknown field (known: id, name, kind, seats)');
  if (typeof o.id !== 'string' || !SEAT_TEMPLATE_ID.test(o.id)) throw bad('id', `expected 1-32 chars of [a-z0-9._-], got ${JSON.stringify(o.id) ?? 'nothing'}`);
  if (typeof o.name !== 'string' || o.name.length < 1 || o.name.length > 128) throw bad('name', 'expected 1-128 characters');
  if (typeof o.kind !== 'string' || !SESSION_KINDS.includes(o.kind as SessionKind)) throw bad('kind', `expected ${SESSION_KINDS.join(' | ')}, got ${JSON.stringify(o.kind) ?? 'nothing'}`);
  if (!Array.isArray(o.seats) || o.seats.length < 2 || o.seats.length > maxSeats) {
    throw bad('seats', `expected an array of 2..${maxSeats} seats (ORGENGINE_SEAT_MAX_SEATS)`);
  }
  const kind = o.kind as SessionKind;
  if (kind === 'duo' && o.seats.length !== 2) throw bad('seats', `a duo has exactly 2 seats, got ${o.seats.length}`);
  const seats = o.seats.map((s, i): SeatSpec => {
    const f = `seats[${i}]`;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw bad(f, 'expected an object');
    const so = s as Record<string, unknown>;
    for (const k of Object.keys(so)) if (!['video', 'audio', 'hostOnly', 'side', 'area'].includes(k)) throw bad(`${f}.${k}`, 'unknown field (known: video, audio, hostOnly, side, area)');
    const video = flag(so, 'video', f, undefined);
    const audio = flag(so, 'audio', f, undefined);
    if (!video && !audio) throw bad(`${f}.audio`, 'a seat carries audio, video or both');
    const hostOnly = flag(so, 'hostOnly', f, false);
    const side = so.side ?? null;
    if (side !== null && !SEAT_SIDES.includes(side as SeatSide)) throw bad(`${f}.side`, `expected left, right or null, got ${JSON.stringify(side)}`);
    const area = so.area ?? null;
    if (area !== null && (typeof area !== 'string' || !AREA.test(area))) throw bad(`${f}.area`, 'expected 1-16 chars of [a-z0-9_-] or null');
    return { video, audio, hostOnly, side: side as SeatSide | null, area: area as string | null };
  });
  const sides = new Set(seats.map((s) => s.side));
  if (sides.has('left') !== sides.has('right')) throw bad('seats', 'a PK layout has seats on both sides (left and right) or on none');
  return { id: o.id, name: o.name, kind, seats };
}

/** The compact spec a session keeps: per seat "<video><audio><hostOnly><side>" (1/0, 1/0, 1/0, l/r/-), comma-separated. */
export function encodeSpec(t: SeatTemplate): string {
  return t.seats.map((s) => `${s.video ? 1 : 0}${s.audio ? 1 : 0}${s.hostOnly ? 1 : 0}${s.side === 'left' ? 'l' : s.side === 'right' ? 'r' : '-'}`).join(',');
}

/** The seats of a spec (areas are not kept in it). */
export function decodeSpec(spec: string): Array<Omit<SeatSpec, 'area'>> {
  if (spec === '') return [];
  return spec.split(',').map((s) => ({ video: s[0] === '1', audio: s[1] === '1', hostOnly: s[2] === '1', side: s[3] === 'l' ? 'left' : s[3] === 'r' ? 'right' : null }));
}

/** A seat of a session as clients see it. */
export interface SeatView {
  seat: number;
  /** The occupant, or null. */
  uid: number | null;
  locked: boolean;
  /** Microphone on (false: muted, or the seat has no audio). */
  mic: boolean;
  /** Camera on (false: muted, or the seat has no video). */
  cam: boolean;
  video: boolean;
  audio: boolean;
  hostOnly: boolean;
  side: SeatSide | null;
}

/** The seats of a session from its hash fields (tp, sp, q<i> = "uid|locked|mic|cam"). */
export function seatsOf(f: Map<string, string>): SeatView[] {
  return decodeSpec(f.get('sp') ?? '').map((s, i) => {
    const [u = '0', l = '0', m = '0', c = '0'] = (f.get(`q${i}`) ?? '').split('|');
    return { seat: i, uid: u === '0' || u === '' ? null : Number(u), locked: l === '1', mic: m === '1', cam: c === '1', ...s };
  });
}
