// The policy: how a lesson's source data becomes live rooms and an org tree.
// Validation collects every bad field by its path, so an operator fixes a
// policy in one go instead of one error at a time.
import { OrgError } from '../errors.js';

/** Room flow of the lesson (enter -> ... -> leave). */
export const BIZ_TYPES = ['threeScreen', 'group', 'smallClass', 'selfStudy'] as const;
/** Media transport plus the long connection for signalling. */
export const STREAM_POLICIES = ['rtmp+longconn', 'rtc+longconn'] as const;
/** The org tree shapes the engine compiles. */
export const ORG_POLICIES = [
  '/lesson',
  '/lesson/tutor/team/group',
  '/lesson/tutor/class',
  '/lesson/lpc/wechatGroup',
  '/lesson/lpc',
] as const;
/** How much is preloaded: tree only, + positions, + partitioned member sets. */
export const PRELOAD_MODES = ['minimal', 'simple', 'full'] as const;
/** Phases in which a tutor is on camera; each one is a room per on-camera tutor. */
export const TUTOR_PHASES = ['before', 'in', 'after'] as const;

export type BizType = (typeof BIZ_TYPES)[number];
export type StreamPolicy = (typeof STREAM_POLICIES)[number];
export type OrgPolicy = (typeof ORG_POLICIES)[number];
export type PreloadMode = (typeof PRELOAD_MODES)[number];
export type TutorPhase = (typeof TUTOR_PHASES)[number];

/** Room plan: the main room always exists; tutor rooms per on-camera tutor and phase. */
export interface RoomPlan {
  tutorOnCamera: TutorPhase[];
  /** Minutes the before-class room opens ahead of the lesson start. */
  beforeMinutes: number;
  /** Minutes the after-class room stays open after the lesson end. */
  afterMinutes: number;
}

/** Group sizing for /lesson/tutor/team/group: initial groups and in-class expansion. */
export interface GroupPlan {
  groupCapacity: number;
  groupsPerTeam: number;
  /** Expand a team with new groups when its free seats fall below this (used in class). */
  expandBelowFreeSeats: number;
}

/** A validated policy configuration (all defaults filled in). */
export interface PolicyConf {
  bizType: BizType;
  streamPolicy: StreamPolicy;
  orgPolicy: OrgPolicy;
  preloadMode: PreloadMode;
  partitionSize: number;
  rooms: RoomPlan;
  groups: GroupPlan;
  /** The lesson's interaction timeouts, overriding ORGENGINE_IA_*_TIMEOUT_MS (present only when the policy sets them). */
  interaction?: InteractionPlan;
}

/** A policy's interaction timeouts (ms); null: the global setting. */
export interface InteractionPlan {
  inviteTimeoutMs: number | null;
  connectTimeoutMs: number | null;
}

/** Limits applied to policy fields; exported so docs and tests quote the same numbers. */
export const POLICY_LIMITS = {
  partitionSize: { min: 100, max: 100_000 },
  minutes: { min: 0, max: 24 * 60 },
  groupCapacity: { min: 1, max: 1000 },
  groupsPerTeam: { min: 1, max: 1000 },
  interactionTimeoutMs: { min: 100, max: 3_600_000 },
} as const;

type Problems = string[];

function oneOf<T extends string>(p: Problems, path: string, v: unknown, allowed: readonly T[]): T | undefined {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  p.push(`${path}: expected one of ${allowed.join(' | ')}, got ${JSON.stringify(v)}`);
  return undefined;
}

function int(p: Problems, path: string, v: unknown, def: number, lim: { min: number; max: number }): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    p.push(`${path}: expected an integer, got ${JSON.stringify(v)}`);
    return def;
  }
  if (v < lim.min || v > lim.max) {
    p.push(`${path}: must be between ${lim.min} and ${lim.max}, got ${v}`);
    return def;
  }
  return v;
}

function obj(p: Problems, path: string, v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    p.push(`${path}: expected an object, got ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`);
    return undefined;
  }
  return v as Record<string, unknown>;
}

function unknownKeys(p: Problems, path: string, o: Record<string, unknown>, known: string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) p.push(`${path}.${k}: unknown field`);
}

/**
 * Validates a policy configuration (already parsed from JSON) and fills defaults.
 * Throws POLICY_INVALID listing every bad field by path (e.g. `conf.rooms.tutorOnCamera[1]`).
 */
export function validatePolicyConf(input: unknown, defaultPartitionSize = 5000): PolicyConf {
  const p: Problems = [];
  const c = obj(p, 'conf', input);
  if (!c) throw policyInvalid(p);
  unknownKeys(p, 'conf', c, ['bizType', 'streamPolicy', 'orgPolicy', 'preloadMode', 'partitionSize', 'rooms', 'groups', 'interaction']);

  const bizType = oneOf(p, 'conf.bizType', c.bizType, BIZ_TYPES);
  const streamPolicy = oneOf(p, 'conf.streamPolicy', c.streamPolicy, STREAM_POLICIES);
  const orgPolicy = oneOf(p, 'conf.orgPolicy', c.orgPolicy, ORG_POLICIES);
  const preloadMode = c.preloadMode === undefined ? 'full' : oneOf(p, 'conf.preloadMode', c.preloadMode, PRELOAD_MODES);
  const partitionSize = int(p, 'conf.partitionSize', c.partitionSize, defaultPartitionSize, POLICY_LIMITS.partitionSize);

  const r = obj(p, 'conf.rooms', c.rooms);
  const rooms: RoomPlan = { tutorOnCamera: [], beforeMinutes: 30, afterMinutes: 30 };
  if (r) {
    unknownKeys(p, 'conf.rooms', r, ['tutorOnCamera', 'beforeMinutes', 'afterMinutes']);
    if (r.tutorOnCamera !== undefined) {
      if (!Array.isArray(r.tutorOnCamera)) {
        p.push(`conf.rooms.tutorOnCamera: expected an array of ${TUTOR_PHASES.join(' | ')}`);
      } else {
        const seen = new Set<string>();
        r.tutorOnCamera.forEach((ph, i) => {
          const v = oneOf(p, `conf.rooms.tutorOnCamera[${i}]`, ph, TUTOR_PHASES);
          if (v && seen.has(v)) p.push(`conf.rooms.tutorOnCamera[${i}]: duplicate phase ${JSON.stringify(v)}`);
          if (v) seen.add(v);
        });
        // Keep a canonical phase order so room ids and counts never depend on input order.
        rooms.tutorOnCamera = TUTOR_PHASES.filter((ph) => seen.has(ph));
      }
    }
    rooms.beforeMinutes = int(p, 'conf.rooms.beforeMinutes', r.beforeMinutes, 30, POLICY_LIMITS.minutes);
    rooms.afterMinutes = int(p, 'conf.rooms.afterMinutes', r.afterMinutes, 30, POLICY_LIMITS.minutes);
  }

  const g = obj(p, 'conf.groups', c.groups);
  const groups: GroupPlan = { groupCapacity: 6, groupsPerTeam: 6, expandBelowFreeSeats: 6 };
  if (g) {
    unknownKeys(p, 'conf.groups', g, ['groupCapacity', 'groupsPerTeam', 'expandBelowFreeSeats']);
    if (c.groups !== undefined && orgPolicy !== undefined && orgPolicy !== '/lesson/tutor/team/group') {
      p.push(`conf.groups: only meaningful with orgPolicy /lesson/tutor/team/group, not ${orgPolicy}`);
    }
    groups.groupCapacity = int(p, 'conf.groups.groupCapacity', g.groupCapacity, 6, POLICY_LIMITS.groupCapacity);
    groups.groupsPerTeam = int(p, 'conf.groups.groupsPerTeam', g.groupsPerTeam, 6, POLICY_LIMITS.groupsPerTeam);
    groups.expandBelowFreeSeats = int(p, 'conf.groups.expandBelowFreeSeats', g.expandBelowFreeSeats, groups.groupCapacity, {
      min: 0,
      max: groups.groupCapacity * groups.groupsPerTeam,
    });
  }

  let interaction: InteractionPlan | undefined;
  if (c.interaction !== undefined) {
    const ia = obj(p, 'conf.interaction', c.interaction);
    if (ia) {
      unknownKeys(p, 'conf.interaction', ia, ['inviteTimeoutMs', 'connectTimeoutMs']);
      const ms = (k: 'inviteTimeoutMs' | 'connectTimeoutMs') =>
        ia[k] === undefined || ia[k] === null ? null : int(p, `conf.interaction.${k}`, ia[k], 0, POLICY_LIMITS.interactionTimeoutMs);
      interaction = { inviteTimeoutMs: ms('inviteTimeoutMs'), connectTimeoutMs: ms('connectTimeoutMs') };
    }
  }

  if (p.length > 0 || !bizType || !streamPolicy || !orgPolicy || !preloadMode) throw policyInvalid(p);
  return { bizType, streamPolicy, orgPolicy, preloadMode, partitionSize, rooms, groups, ...(interaction ? { interaction } : {}) };
}

/** Parses policy JSON text and validates it; malformed JSON is POLICY_INVALID too. */
export function parsePolicyConf(text: string, defaultPartitionSize = 5000): PolicyConf {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new OrgError('POLICY_INVALID', `conf: malformed JSON (${(e as Error).message})`, { fields: ['conf'] });
  }
  return validatePolicyConf(parsed, defaultPartitionSize);
}

function policyInvalid(problems: Problems): OrgError {
  return new OrgError('POLICY_INVALID', `invalid policy: ${problems.join('; ')}`, {
    fields: problems.map((s) => s.slice(0, s.indexOf(':'))),
    problems,
  });
}
