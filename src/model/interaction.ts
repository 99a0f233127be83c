// The interaction center's rules, pure: session kinds, the one-way link state
// machine, the session roles and the role -> permission table. The Lua scripts
// (store/redis/lua/_interaction.lua) apply the same rules atomically in Redis;
// a unit test reads the Lua tables and compares them with these, so the two
// cannot drift apart. Services and docs name states, roles and permissions
// from here only.

/** A session's kind: two people (stage call, 1v1 PK) or several up to a capacity (voice room). */
export const SESSION_KINDS = ['duo', 'multi'] as const;
/** One of SESSION_KINDS. */
export type SessionKind = (typeof SESSION_KINDS)[number];

/** Every link state. */
export const LINK_STATES = [
  'initiated',
  'connecting',
  'connected',
  'left',
  'kicked',
  'ended',
  'cancelled',
  'rejected',
  'timed_out',
  'connect_timed_out',
] as const;
/** One of LINK_STATES. */
export type LinkState = (typeof LINK_STATES)[number];

/**
 * The transitions a link may make, one way only. `ended` is reached from every
 * active state when its session ends (ending a session ends its active links).
 * A creator's link starts at `connecting` (it needs no acceptance).
 */
export const TRANSITIONS: Readonly<Record<LinkState, readonly LinkState[]>> = {
  initiated: ['connecting', 'cancelled', 'rejected', 'timed_out', 'ended'],
  connecting: ['connected', 'connect_timed_out', 'left', 'kicked', 'ended'],
  connected: ['left', 'kicked', 'ended'],
  left: [],
  kicked: [],
  ended: [],
  cancelled: [],
  rejected: [],
  timed_out: [],
  connect_timed_out: [],
};

/** States in which a link is active: its user is busy in the lesson (mutual exclusion). */
export const ACTIVE_STATES: readonly LinkState[] = ['initiated', 'connecting', 'connected'];
/** States in which a link holds a seat of its session (counted against the capacity). */
export const SEATED_STATES: readonly LinkState[] = ['connecting', 'connected'];

/** True when `from -> to` is allowed. */
export function canTransition(from: LinkState, to: LinkState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** True for a state no transition leaves. */
export function isTerminal(s: LinkState): boolean {
  return TRANSITIONS[s].length === 0;
}

/** Rank of a state along the one-way order (a later state never has a lower rank on any path). */
export function stateRank(s: LinkState): number {
  return s === 'initiated' ? 0 : s === 'connecting' ? 1 : s === 'connected' ? 2 : 3;
}

/** Session roles; a user may hold several. Bits as the Lua scripts use them. */
export const ROLE_BITS = { initiator: 1, participant: 2, admin: 4, audience: 8 } as const;
/** One session role. */
export type SessionRole = keyof typeof ROLE_BITS;
/** Every session role, in bit order. */
export const SESSION_ROLES = Object.keys(ROLE_BITS) as SessionRole[];

/** Permissions, in the order the Lua scripts receive their masks. */
export const PERMISSIONS = ['invite', 'accept', 'reject', 'kick', 'end', 'apply', 'cancel', 'leave', 'respond'] as const;
/** One permission. */
export type Permission = (typeof PERMISSIONS)[number];

/**
 * The system-defined role -> permission table (the one place it is written).
 * accept/reject: answer someone's application; respond: accept or reject an
 * invitation addressed to oneself; cancel: withdraw one's own invitation or
 * application; leave: give up one's own seat.
 */
export const ROLE_PERMISSIONS: Readonly<Record<SessionRole, readonly Permission[]>> = {
  initiator: ['invite', 'accept', 'reject', 'kick', 'end', 'cancel', 'leave', 'respond'],
  admin: ['invite', 'accept', 'reject', 'kick', 'end', 'cancel', 'respond'],
  participant: ['cancel', 'leave', 'respond'],
  audience: ['apply', 'cancel', 'respond'],
};

/** For each permission, the bit mask of the roles holding it. */
export function permissionMask(p: Permission): number {
  let m = 0;
  for (const r of SESSION_ROLES) if (ROLE_PERMISSIONS[r].includes(p)) m |= ROLE_BITS[r];
  return m;
}

/** The masks of every permission in PERMISSIONS order, comma-separated: what the Lua scripts are given. */
export const PERMISSION_MASKS = PERMISSIONS.map(permissionMask).join(',');

/** The roles of a bit mask. */
export function rolesOf(mask: number): SessionRole[] {
  return SESSION_ROLES.filter((r) => (mask & ROLE_BITS[r]) !== 0);
}

/** True when any role of `mask` holds `p`. */
export function allowed(mask: number, p: Permission): boolean {
  return (mask & permissionMask(p)) !== 0;
}

/** Why a session ended. */
export const END_REASONS = ['ended', 'creator_left', 'last_left', 'peer_left'] as const;
/** One of END_REASONS. */
export type EndReason = (typeof END_REASONS)[number];

/** How a link came to be: the session's creator, an invitation or an application. */
export const LINK_ORIGINS = { c: 'creator', i: 'invitation', a: 'application' } as const;
/** One link origin. */
export type LinkOrigin = (typeof LINK_ORIGINS)[keyof typeof LINK_ORIGINS];

/**
 * The end rule, pure: whether a session ends when a link of `uid` left the
 * active states. A duo ends when either side goes, for whatever reason (left,
 * kicked, rejected, timed out, ...); a multi when its creator goes, or when a
 * seated link went and nobody is seated any more.
 */
export function endsSession(kind: SessionKind, creator: number, uid: number, wasSeated: boolean, seatedAfter: number): EndReason | null {
  if (uid === creator) return 'creator_left';
  if (kind === 'duo') return 'peer_left';
  return wasSeated && seatedAfter === 0 ? 'last_left' : null;
}

/** A link as services and clients see it. */
export interface LinkView {
  uid: number;
  state: LinkState;
  origin: LinkOrigin;
  /** Who created the link (the inviter, or the applicant itself). */
  by: number;
  /** Generation: a user linked again after a finished link gets a new one. */
  generation: number;
  roles: SessionRole[];
  updatedAt: number;
}

/** A session as services and clients see it. */
export interface SessionView {
  lessonId: number;
  sessionId: string;
  roomId: string;
  kind: SessionKind;
  capacity: number;
  channelId: string;
  creator: number;
  status: 'active' | 'ended';
  endReason: string | null;
  createdAt: number;
  endedAt: number | null;
  /** Strictly increasing with every change of the session. */
  version: number;
  links: LinkView[];
}
