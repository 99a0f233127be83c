// In-class mutations: group pick, mute/unmute, sign-in, heartbeat. Each is one
// Lua script (one round trip) that validates against the readable version,
// changes the state, appends its write-behind record and publishes a change
// message, atomically; a refused mutation writes nothing. Transports call these
// methods with a caller and an input from mutationInputs.ts's parsers.
//
// Change messages on the lesson's shard channel (grammar in store/redis/channel.ts),
// exactly what the gateways' read caches need: `state:<uid>` (a student's group,
// own mute or sign-in changed), `mute:<roomId>` (a node was muted or unmuted in
// a room) and `node:<nodeId>` (a group was created in class, and its team, whose
// children grew). Heartbeats publish nothing: no cached read shows them (online
// counts are cached briefly without invalidation).
// Online counts are read by ReadService.online (read_online.lua), not here.
import { Counter, type Registry } from 'prom-client';
import type { WriteBehindConfig } from '../config.js';
import { backendError } from '../errors.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys, writeBehindRegistryKey } from '../store/redis/keys.js';
import { MutationCode, mutationError, type MutationContext } from '../store/redis/mutationCodes.js';
import { LessonRegistry } from '../writebehind/registry.js';
import { assertLessonScope, assertRole, assertSelfIfStudent, type Caller } from './caller.js';
import type { HeartbeatInput, MuteInput, PickGroupInput, SignInInput } from './mutationInputs.js';

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

/** What the service needs. */
export interface MutationServiceOptions {
  redis: RedisClient;
  keyPrefix: string;
  /** Expiry of the in-class state keys (the stream itself never expires). */
  ttlSeconds: number;
  wb: Pick<WriteBehindConfig, 'maxStreamLength' | 'maxDynamicGroupsPerTeam' | 'registerEverySeconds'>;
  /**
   * Heartbeats older than this are trimmed from a partition's online set
   * (ORGENGINE_ONLINE_WINDOW_MS, the window the read API counts with); default 60 s.
   */
  onlineWindowMs?: number;
  /** Registers lessons for the flusher; built from redis/keyPrefix when not given (the gateway shares one with signals). */
  registry?: LessonRegistry;
  now?: () => number;
  metrics?: Registry;
}

interface Keys {
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
  lessonKeys: ReturnType<typeof lessonKeys>;
}

const MAX_CACHED_LESSONS = 10_000;
type Reply = Array<number | string | Buffer>;
const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** The in-class mutations of every lesson, for one Redis (or Cluster). */
export class MutationService {
  private readonly keys = new Map<number, Keys>();
  private readonly registry: LessonRegistry;
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly counter: Counter | null;

  constructor(private readonly o: MutationServiceOptions) {
    if (!Number.isInteger(o.wb.maxStreamLength) || o.wb.maxStreamLength < 1) throw new RangeError(`MutationService: wb.maxStreamLength must be a positive integer`);
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1) throw new RangeError(`MutationService: ttlSeconds must be a positive integer`);
    this.now = o.now ?? Date.now;
    this.windowMs = o.onlineWindowMs ?? 60_000;
    if (!Number.isInteger(this.windowMs) || this.windowMs < 1) throw new RangeError(`MutationService: onlineWindowMs must be a positive integer`);
    this.registry = o.registry ?? new LessonRegistry(o.redis, writeBehindRegistryKey(o.keyPrefix), o.wb.registerEverySeconds * 1000, this.now);
    this.counter = o.metrics
      ? new Counter({ name: 'orgengine_mutations_total', help: 'in-class mutations by operation and outcome (ok, noop, error code)', labelNames: ['op', 'outcome'], registers: [o.metrics] })
      : null;
  }

  /** A student joins a group (or is placed automatically); teachers, tutors and services may place any student. */
  async pickGroup(caller: Caller, input: PickGroupInput): Promise<PickGroupResult> {
    assertLessonScope(caller, input.lessonId);
    assertSelfIfStudent(caller, input.uid, 'pick a group');
    const k = this.keysOf(input.lessonId);
    const ctx: MutationContext = { lessonId: input.lessonId, uid: input.uid, nodeId: input.groupId ?? '' };
    const r = await this.run('pickGroup', ctx, () =>
      this.o.redis.oePickGroup1(
        k.head, k.group, k.seats, k.dyn, k.dynKids, k.dynSeq, k.ver, k.stream,
        String(input.uid), input.groupId ?? '', this.now(), this.o.wb.maxStreamLength, this.o.wb.maxDynamicGroupsPerTeam,
        this.o.ttlSeconds, k.channel, input.lessonId,
      ),
    );
    const changed = Number(r[3]) === 1;
    const prev = str(r[2]);
    return {
      lessonId: input.lessonId,
      uid: input.uid,
      groupId: str(r[1]),
      previousGroupId: changed ? (prev === '' ? null : prev) : null,
      changed,
      createdGroupIds: r.slice(5).map(str),
      version: changed ? Number(str(r[4])) : null,
    };
  }

  /** Mutes or unmutes a student, or a whole org node, in a room (teachers, tutors, services). */
  async mute(caller: Caller, input: MuteInput): Promise<MuteResult> {
    assertLessonScope(caller, input.lessonId);
    assertRole(caller, ['teacher', 'tutor', 'service'], input.muted ? 'mute' : 'unmute');
    const k = this.keysOf(input.lessonId);
    const isUid = input.uid !== undefined;
    const target = isUid ? String(input.uid) : input.nodeId!;
    const ctx: MutationContext = { lessonId: input.lessonId, uid: input.uid, roomId: input.roomId, nodeId: input.nodeId };
    const r = await this.run('mute', ctx, () =>
      this.o.redis.oeMute1(
        k.head, k.lessonKeys.stateMuted(input.roomId), k.lessonKeys.stateMutedNodes(input.roomId), k.ver, k.stream,
        input.roomId, isUid ? 'u' : 'n', target, input.muted ? '1' : '0', this.now(), this.o.wb.maxStreamLength, this.o.ttlSeconds, k.channel,
      ),
    );
    const changed = Number(r[1]) === 1;
    return {
      lessonId: input.lessonId,
      roomId: input.roomId,
      uid: isUid ? input.uid! : null,
      nodeId: isUid ? null : input.nodeId!,
      muted: input.muted,
      changed,
      version: changed ? Number(str(r[2])) : null,
    };
  }

  /** Records a student's arrival; the first sign-in wins. Students sign themselves in; staff and services anyone. */
  async signIn(caller: Caller, input: SignInInput): Promise<SignInResult> {
    assertLessonScope(caller, input.lessonId);
    assertSelfIfStudent(caller, input.uid, 'sign in');
    const k = this.keysOf(input.lessonId);
    const r = await this.run('signIn', { lessonId: input.lessonId, uid: input.uid }, () =>
      this.o.redis.oeSignIn1(k.head, k.signIn, k.ver, k.stream, String(input.uid), this.now(), this.o.wb.maxStreamLength, this.o.ttlSeconds, k.channel),
    );
    const first = Number(r[2]) === 1;
    return { lessonId: input.lessonId, uid: input.uid, signedInAt: Number(str(r[1])), first, version: first ? Number(str(r[3])) : null };
  }

  /** A student is online in a room (the student itself, or a platform service on its behalf). */
  async heartbeat(caller: Caller, input: HeartbeatInput): Promise<HeartbeatResult> {
    assertLessonScope(caller, input.lessonId);
    assertRole(caller, ['student', 'service'], 'send heartbeats');
    assertSelfIfStudent(caller, input.uid, 'send heartbeats');
    const k = this.keysOf(input.lessonId);
    const r = await this.run('heartbeat', { lessonId: input.lessonId, uid: input.uid, roomId: input.roomId }, () =>
      this.o.redis.oeHeartbeat1(
        k.head, k.ver, k.stream, String(input.uid), input.roomId, this.now(), this.windowMs, this.o.wb.maxStreamLength, this.o.ttlSeconds,
      ),
    );
    return {
      lessonId: input.lessonId,
      uid: input.uid,
      roomId: input.roomId,
      partition: Number(r[1]),
      lastSeenAt: Number(str(r[2])),
      cameOnline: Number(r[3]) === 1,
      version: Number(str(r[4])),
    };
  }

  /** Registers the lesson for the flusher if due, runs the script, maps its code; counts the outcome. */
  private async run(op: string, ctx: MutationContext, call: () => Promise<Reply>): Promise<Reply> {
    try {
      const reg = this.registry.ensure(ctx.lessonId);
      if (reg) await reg;
      const r = await call();
      if (Number(r[0]) !== MutationCode.OK) throw mutationError(r, ctx);
      this.counter?.inc({ op, outcome: 'ok' });
      return r;
    } catch (e) {
      const err = backendError(e);
      this.counter?.inc({ op, outcome: err.code });
      throw err;
    }
  }

  private keysOf(lessonId: number): Keys {
    let k = this.keys.get(lessonId);
    if (!k) {
      const lk = lessonKeys(this.o.keyPrefix, lessonId);
      k = {
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
        lessonKeys: lk,
      };
      if (this.keys.size >= MAX_CACHED_LESSONS) this.keys.clear();
      this.keys.set(lessonId, k);
    }
    return k;
  }
}
