// The in-class mutations as Redis sees them: group pick, mute/unmute, sign-in,
// heartbeat. Each is one Lua script, one round trip, that validates against the
// readable version, changes the state, appends its write-behind record and
// publishes a change message, atomically; a refused mutation writes nothing.
// Here the scripts get their keys (from keys.ts, cached per lesson so the hot
// path builds no strings) and their replies become typed results, or typed
// errors through replyCodes.ts.
import { currentTraceStamp } from '../../model/trace.js';
import type { RedisClient } from './client.js';
import { durably, MEMORY, type Durability } from './durability.js';
import { lessonKeys, type LessonKeys } from './keys.js';
import { MUTATION_CODES, replyError } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const PICK_GROUP = scriptCommand('pickGroup');
const MUTE = scriptCommand('mute');
const SIGN_IN = scriptCommand('signIn');
const HEARTBEAT = scriptCommand('heartbeat');

/** Result of a group pick. */
export interface PickGroupResult {
  lessonId: number;
  uid: number;
  groupId: string;
  /** The group the student left, or null. */
  previousGroupId: string | null;
  /** False when the student was already in that group (nothing written). */
  changed: boolean;
  /** Groups created in the same step because the team ran short of seats. */
  createdGroupIds: string[];
  /** Write-behind version of the change (null when nothing changed). */
  version: number | null;
}

/** Result of a mute/unmute. */
export interface MuteResult {
  lessonId: number;
  roomId: string;
  uid: number | null;
  nodeId: string | null;
  muted: boolean;
  changed: boolean;
  version: number | null;
}

/** Result of a sign-in. */
export interface SignInResult {
  lessonId: number;
  uid: number;
  /** The first sign-in's time (ms); later sign-ins return it unchanged. */
  signedInAt: number;
  first: boolean;
  version: number | null;
}

/** Result of a heartbeat. */
export interface HeartbeatResult {
  lessonId: number;
  uid: number;
  roomId: string;
  partition: number;
  lastSeenAt: number;
  /** True when the student was offline (absent or stale) before this heartbeat. */
  cameOnline: boolean;
  version: number;
}

/** A mute or unmute of exactly one of a student (`uid`) or an org node (`nodeId`) in a room. */
export interface MuteTarget {
  lessonId: number;
  roomId: string;
  uid?: number;
  nodeId?: string;
  muted: boolean;
}

/** Bounds every mutation script is given. */
export interface MutationStoreOptions {
  redis: RedisClient;
  keyPrefix: string;
  /** Expiry of the in-class state keys (the stream itself never expires). */
  ttlSeconds: number;
  /** Unflushed write-behind records of a lesson at which mutations are refused (back pressure). */
  maxStreamLength: number;
  /** Groups a team may grow in class. */
  maxDynamicGroupsPerTeam: number;
  /** Heartbeats older than this are trimmed from a partition's online set. */
  onlineWindowMs: number;
  /** When a change is acknowledged (default: memory, once the master ran it). */
  durability?: Durability;
}

/** The keys of one lesson the mutation scripts take, built once per lesson. */
interface Keys {
  lk: LessonKeys;
  head: string;
  group: string;
  seats: string;
  dyn: string;
  dynKids: string;
  dynSeq: string;
  ver: string;
  signIn: string;
  stream: string;
  channel: string;
}

/** Lessons whose keys stay cached; past this the cache starts over (a rebuild costs a few strings). */
const MAX_CACHED_LESSONS = 10_000;
const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** Runs the in-class mutation scripts of every lesson on one Redis (or Cluster). */
export class MutationStore {
  private readonly keys = new Map<number, Keys>();

  private readonly d: Durability;

  constructor(private readonly o: MutationStoreOptions) {
    this.d = o.durability ?? MEMORY;
  }

  /** A student joins a group (`groupId` null: placed automatically); the team may grow groups. */
  async pickGroup(lessonId: number, uid: number, groupId: string | null, now: number): Promise<PickGroupResult> {
    const k = this.keysOf(lessonId);
    const r = await durably(this.o.redis, this.d, (c) => c[PICK_GROUP](
      k.head, k.group, k.seats, k.dyn, k.dynKids, k.dynSeq, k.ver, k.stream,
      String(uid), groupId ?? '', now, this.o.maxStreamLength, this.o.maxDynamicGroupsPerTeam, this.o.ttlSeconds, k.channel, lessonId, currentTraceStamp(),
    ));
    if (Number(r[0]) !== MUTATION_CODES.OK) throw replyError('pickGroup', r, { lessonId, uid, nodeId: groupId ?? '' });
    const changed = Number(r[3]) === 1;
    const prev = str(r[2]);
    return {
      lessonId,
      uid,
      groupId: str(r[1]),
      previousGroupId: changed ? (prev === '' ? null : prev) : null,
      changed,
      createdGroupIds: r.slice(5).map(str),
      version: changed ? Number(str(r[4])) : null,
    };
  }

  /** Mutes or unmutes a student, or a whole org node, in a room. */
  async mute(m: MuteTarget, now: number): Promise<MuteResult> {
    const k = this.keysOf(m.lessonId);
    const isUid = m.uid !== undefined;
    const r = await durably(this.o.redis, this.d, (c) => c[MUTE](
      k.head, k.lk.stateMuted(m.roomId), k.lk.stateMutedNodes(m.roomId), k.ver, k.stream,
      m.roomId, isUid ? 'u' : 'n', isUid ? String(m.uid) : m.nodeId!, m.muted ? '1' : '0', now, this.o.maxStreamLength, this.o.ttlSeconds, k.channel, currentTraceStamp(),
    ));
    if (Number(r[0]) !== MUTATION_CODES.OK) throw replyError('mute', r, { lessonId: m.lessonId, uid: m.uid, roomId: m.roomId, nodeId: m.nodeId });
    const changed = Number(r[1]) === 1;
    return {
      lessonId: m.lessonId,
      roomId: m.roomId,
      uid: isUid ? m.uid! : null,
      nodeId: isUid ? null : m.nodeId!,
      muted: m.muted,
      changed,
      version: changed ? Number(str(r[2])) : null,
    };
  }

  /** Records a student's arrival; the first sign-in wins. */
  async signIn(lessonId: number, uid: number, now: number): Promise<SignInResult> {
    const k = this.keysOf(lessonId);
    const r = await durably(this.o.redis, this.d, (c) => c[SIGN_IN](k.head, k.signIn, k.ver, k.stream, String(uid), now, this.o.maxStreamLength, this.o.ttlSeconds, k.channel, currentTraceStamp()));
    if (Number(r[0]) !== MUTATION_CODES.OK) throw replyError('signIn', r, { lessonId, uid });
    const first = Number(r[2]) === 1;
    return { lessonId, uid, signedInAt: Number(str(r[1])), first, version: first ? Number(str(r[3])) : null };
  }

  /** A student is online in a room. */
  async heartbeat(lessonId: number, uid: number, roomId: string, now: number): Promise<HeartbeatResult> {
    const k = this.keysOf(lessonId);
    const r = await durably(this.o.redis, this.d, (c) => c[HEARTBEAT](k.head, k.ver, k.stream, String(uid), roomId, now, this.o.onlineWindowMs, this.o.maxStreamLength, this.o.ttlSeconds, currentTraceStamp()));
    if (Number(r[0]) !== MUTATION_CODES.OK) throw replyError('heartbeat', r, { lessonId, uid, roomId });
    return {
      lessonId,
      uid,
      roomId,
      partition: Number(r[1]),
      lastSeenAt: Number(str(r[2])),
      cameOnline: Number(r[3]) === 1,
      version: Number(str(r[4])),
    };
  }

  private keysOf(lessonId: number): Keys {
    let k = this.keys.get(lessonId);
    if (!k) {
      const lk = lessonKeys(this.o.keyPrefix, lessonId);
      k = {
        lk,
        head: lk.head,
        group: lk.stateGroup,
        seats: lk.stateSeats,
        dyn: lk.stateDynamicNodes,
        dynKids: lk.stateDynamicChildren,
        dynSeq: lk.stateDynamicSeq,
        ver: lk.stateVersion,
        signIn: lk.stateSignIn,
        stream: lk.writeBehind,
        channel: lk.channel,
      };
      if (this.keys.size >= MAX_CACHED_LESSONS) this.keys.clear();
      this.keys.set(lessonId, k);
    }
    return k;
  }
}
