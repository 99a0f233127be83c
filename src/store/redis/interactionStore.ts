// The interaction center as Redis sees it: each operation is one Lua script
// (lua/ia_*.lua over lua/_interaction.lua), one round trip on the lesson's
// slot, that checks and applies a link transition with the end rule, the
// mutual exclusion, the deadlines, the write-behind records and the change
// message, atomically; a refused operation writes nothing. Here the scripts
// get their arguments and their replies become typed results or typed errors
// (replyCodes.ts).
import { currentTraceStamp } from '../../model/trace.js';
import type { Actor } from '../../auth/caller.js';
import {
  ROLE_BITS,
  SEATED_STATES,
  LINK_ORIGINS,
  type LinkOrigin,
  type LinkState,
  type LinkView,
  type SessionKind,
  type SessionRole,
  type SessionView,
} from '../../model/interaction.js';
import type { RedisClient } from './client.js';
import { seatsOf, type SeatOp } from '../../model/seats.js';

export type { Actor };
import { durably, MEMORY, type Durability } from './durability.js';
import { lessonKeys } from './keys.js';
import { INTERACTION_CODES, replyError, type CodedScript, type ReplyContext } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const CREATE = scriptCommand('iaCreate');
const LINK = scriptCommand('iaLink');
const END = scriptCommand('iaEnd');
const RTC = scriptCommand('iaRtc');
const EXPIRE = scriptCommand('iaExpire');
const RTC_CHECK = scriptCommand('iaRtcCheck');
const INFO = scriptCommand('iaInfo');
const ADMIN = scriptCommand('iaAdmin');
const REJOURNAL = scriptCommand('iaRejournal');
const SEAT = scriptCommand('iaSeat');

/** The bounds and timeouts every script is given. */
export interface InteractionStoreOptions {
  redis: RedisClient;
  keyPrefix: string;
  ttlSeconds: number;
  maxStreamLength: number;
  inviteTimeoutMs: number;
  connectTimeoutMs: number;
  maxSessionsPerRoom: number;
  maxPendingPerSession: number;
  maxRtcEventsPerSession: number;
  /** model/interaction.ts PERMISSION_MASKS. */
  permissionMasks: string;
  durability?: Durability;
}

/** Link operations of ia_link.lua. */
export type LinkOp = 'invite' | 'apply' | 'accept' | 'reject' | 'cancel' | 'kick' | 'leave';

/** Result of a create. */
export interface CreateResult {
  lessonId: number;
  sessionId: string;
  channelId: string;
  version: number;
}

/** Result of a link operation. */
export interface LinkResult {
  lessonId: number;
  sessionId: string;
  uid: number;
  state: LinkState;
  generation: number;
  sessionStatus: 'active' | 'ended';
  version: number;
  /** Kick with revokeTokens: the user's tokens of the lesson issued at or before it (epoch ms) are refused. */
  tokensRevokedBefore?: number;
}

/** Result of a seat operation. */
export interface SeatResult {
  lessonId: number;
  sessionId: string;
  op: SeatOp;
  /** The seat the operation left the user on (take, move), freed (leave) or acted on; null for a switch. */
  seat: number | null;
  /** The change's version, or null when nothing changed (already so). */
  version: number | null;
}

/** Arguments of one seat operation (lua/ia_seat.lua). */
export interface SeatArgs {
  op: SeatOp;
  sessionId: string;
  /** The user acted on (take, leave, move); null: the caller. */
  uid: number | null;
  seat: number | null;
  /** swap: the second seat; mute/unmute: mic | cam. */
  second: string;
  /** switch: the template id, its kind and seat spec. */
  templateId: string;
  kind: string;
  spec: string;
}

/** Result of an RTC event. */
export interface RtcResult {
  lessonId: number;
  sessionId: string;
  outcome: 'applied' | 'duplicate' | 'stale' | 'unlinked' | 'noop' | 'ended';
  /** The user's link state after the event ('' when it has none). */
  state: LinkState | '';
  /** The change's version, or null when nothing changed. */
  version: number | null;
  /** The session's version after the event (changed or not): what a client orders by. */
  sessionVersion: number;
}

/** A room's interaction state (UniversalInfo). */
export interface RoomInteractions {
  lessonId: number;
  roomId: string;
  /** The version of the room's newest change (0: none yet). */
  version: number;
  admins: number[];
  sessions: SessionView[];
}

/** An RTC peer in a channel with no active link. */
export interface StrayPeer {
  sessionId: string;
  uid: number;
}

const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
const flag = (b: boolean): '0' | '1' => (b ? '1' : '0');
const verOf = (v: unknown): number | null => {
  const s = str(v);
  return s === '' ? null : Number(s);
};

function flatToMap(flat: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const a = flat as unknown[];
  for (let i = 0; i + 1 < a.length; i += 2) out.set(str(a[i]), str(a[i + 1]));
  return out;
}

/** Roles of `uid` in a session (the same rule as _interaction.lua ia_roles, for users shown rather than callers). */
function rolesFor(uid: number, creator: number, state: LinkState, isAdmin: boolean): SessionRole[] {
  const out: SessionRole[] = [];
  if (uid === creator) out.push('initiator');
  if (SEATED_STATES.includes(state)) out.push('participant');
  if (isAdmin) out.push('admin');
  out.push('audience');
  return out.sort((a, b) => ROLE_BITS[a] - ROLE_BITS[b]);
}

/** A session and its links from their hashes. */
export function sessionView(lessonId: number, sessionId: string, f: Map<string, string>, links: Map<string, string>, isAdmin: (uid: number) => boolean): SessionView {
  const creator = Number(f.get('by'));
  const out: LinkView[] = [];
  for (const [u, v] of links) {
    const [state, o, by, g, at] = v.split('|') as [LinkState, keyof typeof LINK_ORIGINS, string, string, string];
    const uid = Number(u);
    out.push({
      uid,
      state,
      origin: LINK_ORIGINS[o] as LinkOrigin,
      by: Number(by),
      generation: Number(g),
      roles: rolesFor(uid, creator, state, isAdmin(uid)),
      updatedAt: Number(at),
    });
  }
  out.sort((a, b) => a.uid - b.uid);
  const et = f.get('et');
  return {
    lessonId,
    sessionId,
    roomId: f.get('r') ?? '',
    kind: (f.get('k') ?? 'duo') as SessionKind,
    capacity: Number(f.get('c') ?? 0),
    channelId: f.get('ch') ?? '',
    creator,
    status: f.get('st') === 'ended' ? 'ended' : 'active',
    endReason: f.get('why') ?? null,
    createdAt: Number(f.get('at') ?? 0),
    endedAt: et ? Number(et) : null,
    version: Number(f.get('v') ?? 0),
    links: out,
    template: f.get('tp') ?? '',
    seats: seatsOf(f),
  };
}

/** Runs the interaction scripts of every lesson on one Redis (or Cluster). */
export class InteractionStore {
  private readonly d: Durability;
  private readonly heads = new Map<number, string>();

  constructor(private readonly o: InteractionStoreOptions) {
    this.d = o.durability ?? MEMORY;
  }

  private head(lessonId: number): string {
    let h = this.heads.get(lessonId);
    if (h === undefined) {
      if (this.heads.size >= 10_000) this.heads.clear();
      h = lessonKeys(this.o.keyPrefix, lessonId).head;
      this.heads.set(lessonId, h);
    }
    return h;
  }

  private check(script: CodedScript, r: unknown[], ctx: ReplyContext): void {
    if (Number(r[0]) !== INTERACTION_CODES.OK) throw replyError(script, r, ctx);
  }

  /** FastCreate: a session with its creator's link and, optionally, one invitation. */
  async create(
    lessonId: number,
    s: { roomId: string; kind: SessionKind; capacity: number; channelId: string | null; invitee: number | null; templateId: string; spec: string },
    creator: Actor,
    now: number,
  ): Promise<CreateResult> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[CREATE](
      this.head(lessonId), s.roomId, s.kind, s.capacity, s.channelId ?? '', s.invitee === null ? '' : String(s.invitee), String(creator.uid),
      flag(creator.admin), flag(creator.tutor), flag(creator.service), o.permissionMasks, now, o.inviteTimeoutMs, o.connectTimeoutMs,
      o.maxStreamLength, o.ttlSeconds, o.maxSessionsPerRoom, o.maxPendingPerSession, `L${lessonId}-`, s.templateId, s.spec, currentTraceStamp(),
    ));
    this.check('iaCreate', r, { lessonId, roomId: s.roomId, uid: s.invitee ?? creator.uid });
    return { lessonId, sessionId: str(r[1]), version: Number(str(r[2])), channelId: str(r[3]) };
  }

  /** One link operation (invite, apply, accept, reject, cancel, kick, leave) on user `uid`'s link. */
  async link(lessonId: number, op: LinkOp, sessionId: string, uid: number, actor: Actor, now: number): Promise<LinkResult> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[LINK](
      this.head(lessonId), op, sessionId, String(uid), String(actor.uid), flag(actor.admin), flag(actor.tutor), flag(actor.service), o.permissionMasks,
      now, o.inviteTimeoutMs, o.connectTimeoutMs, o.maxStreamLength, o.ttlSeconds, o.maxPendingPerSession, currentTraceStamp(),
    ));
    this.check('iaLink', r, { lessonId, uid, sessionId });
    return {
      lessonId,
      sessionId,
      uid,
      version: Number(str(r[1])),
      sessionStatus: str(r[2]) === 'ended' ? 'ended' : 'active',
      state: str(r[3]) as LinkState,
      generation: Number(r[4]),
    };
  }

  /** One mic seat operation; a refused one writes nothing. */
  async seat(lessonId: number, a: SeatArgs, actor: Actor, now: number): Promise<SeatResult> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[SEAT](
      this.head(lessonId), a.op, a.sessionId, a.uid === null ? '' : String(a.uid), a.seat === null ? '' : String(a.seat), a.second, String(actor.uid),
      flag(actor.admin), flag(actor.tutor), flag(actor.service), o.permissionMasks, now, o.maxStreamLength, o.ttlSeconds, a.templateId, a.kind, a.spec,
      currentTraceStamp(),
    ));
    this.check('iaSeat', r, { lessonId, uid: a.uid ?? actor.uid, sessionId: a.sessionId });
    const seat = str(r[2]);
    return { lessonId, sessionId: a.sessionId, op: a.op, seat: seat === '' ? null : Number(seat), version: verOf(r[1]) };
  }

  /** Ends a session and every active link of it. */
  async end(lessonId: number, sessionId: string, actor: Actor, now: number): Promise<{ lessonId: number; sessionId: string; version: number }> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[END](
      this.head(lessonId), sessionId, String(actor.uid), flag(actor.admin), flag(actor.tutor), flag(actor.service), o.permissionMasks, now, o.maxStreamLength, o.ttlSeconds, currentTraceStamp(),
    ));
    this.check('iaEnd', r, { lessonId, sessionId });
    return { lessonId, sessionId, version: Number(str(r[1])) };
  }

  /** An RTC callback: `uid` joined, is still in (alive) or left `channelId`. */
  async rtc(lessonId: number, e: { channelId: string; uid: number; event: 'joined' | 'alive' | 'left'; eventId: string; at: number }, now: number): Promise<RtcResult> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[RTC](
      this.head(lessonId), e.channelId, String(e.uid), e.event, e.eventId, e.at, now, o.connectTimeoutMs, o.maxStreamLength, o.ttlSeconds, o.maxRtcEventsPerSession, currentTraceStamp(),
    ));
    this.check('iaRtc', r, { lessonId, uid: e.uid, sessionId: e.channelId });
    return { lessonId, sessionId: str(r[1]), version: verOf(r[2]), outcome: str(r[3]) as RtcResult['outcome'], state: str(r[4]) as LinkState | '', sessionVersion: Number(str(r[5] ?? '0')) };
  }

  /** Applies up to `limit` due deadlines of a lesson; returns how many links timed out and how many deadlines are still due. */
  async expire(lessonId: number, now: number, limit: number): Promise<{ moved: number; stillDue: number; version: number | null }> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[EXPIRE](this.head(lessonId), now, limit, o.maxStreamLength, o.ttlSeconds));
    this.check('iaExpire', r, { lessonId });
    return { moved: Number(r[1]), version: verOf(r[2]), stillDue: Number(r[3]) };
  }

  /** Reconciles RTC membership with link states in up to `limit` active sessions. */
  async rtcCheck(lessonId: number, now: number, graceMs: number, limit: number): Promise<{ moved: number; strays: StrayPeer[]; version: number | null }> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[RTC_CHECK](this.head(lessonId), now, graceMs, limit, o.maxStreamLength, o.ttlSeconds));
    this.check('iaRtcCheck', r, { lessonId });
    const flat = (r[3] as unknown[]).map(str);
    const strays: StrayPeer[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) strays.push({ sessionId: flat[i]!, uid: Number(flat[i + 1]) });
    return { moved: Number(r[1]), version: verOf(r[2]), strays };
  }

  /** A room's active sessions with their links, states, roles and versions. */
  async info(lessonId: number, roomId: string): Promise<RoomInteractions> {
    const r = await this.o.redis[INFO](this.head(lessonId), roomId);
    this.check('iaInfo', r, { lessonId, roomId });
    const admins = (r[2] as unknown[]).map((x) => Number(str(x))).sort((a, b) => a - b);
    const lessonTeacher = Number(str(r[3]));
    const roomTeacher = Number(str(r[4]));
    const adminSet = new Set(admins);
    const isAdmin = (uid: number) => adminSet.has(uid) || uid === lessonTeacher || uid === roomTeacher;
    const sessions: SessionView[] = [];
    for (let i = 5; i + 2 < r.length; i += 3) {
      sessions.push(sessionView(lessonId, str(r[i]), flatToMap(r[i + 1]), flatToMap(r[i + 2]), isAdmin));
    }
    return { lessonId, roomId, version: Number(str(r[1])), admins, sessions };
  }

  /** One session with its links (any status), or null. Reads two hashes of the lesson's slot in one round trip. */
  async session(lessonId: number, sessionId: string): Promise<SessionView | null> {
    const lk = lessonKeys(this.o.keyPrefix, lessonId);
    const [[, f], [, l]] = (await this.o.redis.multi().hgetall(lk.iaSession(sessionId)).hgetall(lk.iaLinks(sessionId)).exec()) as [[unknown, Record<string, string>], [unknown, Record<string, string>]];
    if (!f || Object.keys(f).length === 0) return null;
    return sessionView(lessonId, sessionId, new Map(Object.entries(f)), new Map(Object.entries(l ?? {})), () => false);
  }

  /** Every session the lesson ever had (s1..s<seq>, those whose keys have not expired), with links: reconcile, tests. */
  async allSessions(lessonId: number): Promise<SessionView[]> {
    const n = Number((await this.o.redis.get(lessonKeys(this.o.keyPrefix, lessonId).iaSeq)) ?? 0);
    const out: SessionView[] = [];
    for (let i = 1; i <= n; i++) {
      const s = await this.session(lessonId, `s${i}`);
      if (s) out.push(s);
    }
    return out;
  }

  /** Writes sessions' current Redis state as fresh write-behind records (reconcile's repair); returns how many. Null: back pressure. */
  async rejournal(lessonId: number, sessionIds: readonly string[], now: number): Promise<number | null> {
    const o = this.o;
    const r = await o.redis[REJOURNAL](this.head(lessonId), now, o.maxStreamLength, o.ttlSeconds, ...sessionIds);
    if (Number(r[0]) === INTERACTION_CODES.BACKPRESSURE) return null;
    this.check('iaRejournal', r, { lessonId });
    return Number(r[1]);
  }

  /** The granted admins of each of `roomIds` (one round trip: the sets share the lesson's slot). */
  async admins(lessonId: number, roomIds: readonly string[]): Promise<Map<string, number[]>> {
    const lk = lessonKeys(this.o.keyPrefix, lessonId);
    const m = this.o.redis.multi();
    for (const r of roomIds) m.smembers(lk.iaAdmins(r));
    const res = ((await m.exec()) ?? []) as Array<[unknown, string[]]>;
    return new Map(roomIds.map((r, i) => [r, (res[i]?.[1] ?? []).map(Number).sort((a, b) => a - b)]));
  }

  /** Grants (`on`) or revokes a user's admin role in a room. */
  async setAdmin(lessonId: number, roomId: string, uid: number, on: boolean, now: number): Promise<{ changed: boolean; version: number | null }> {
    const o = this.o;
    const r = await durably(o.redis, this.d, (c) => c[ADMIN](this.head(lessonId), roomId, String(uid), flag(on), now, o.maxStreamLength, o.ttlSeconds, currentTraceStamp()));
    this.check('iaAdmin', r, { lessonId, roomId, uid });
    return { changed: Number(r[1]) === 1, version: verOf(r[2]) };
  }
}
