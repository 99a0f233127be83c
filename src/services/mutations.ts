// In-class mutations: group pick, mute/unmute, sign-in, heartbeat. Each is one
// Lua script (one round trip) that validates against the readable version,
// changes the state, appends its write-behind record and publishes a change
// message, atomically; a refused mutation writes nothing. Transports call these
// methods with a caller and an input from mutationInputs.ts's parsers; this
// service authorises, registers the lesson for the flusher and counts, and
// store/redis/mutationStore.ts runs the scripts.
//
// Change messages on the lesson's shard channel (grammar in store/redis/channel.ts),
// exactly what the gateways' read caches need: `state:<uid>` (a student's group,
// own mute or sign-in changed), `mute:<roomId>` (a node was muted or unmuted in
// a room) and `node:<nodeId>` (a group was created in class, and its team, whose
// children grew). Heartbeats publish nothing: no cached read shows them (online
// counts are cached briefly without invalidation).
// Online counts are read by ReadService.online (read_online.lua), not here.
import type { Counter, Registry } from 'prom-client';
import type { WriteBehindConfig } from '../config.js';
import { counter, registerMetrics } from '../metrics.js';
import type { RedisClient } from '../store/redis/client.js';
import { writeBehindRegistryKey } from '../store/redis/keys.js';
import { durabilityOf } from '../store/redis/durability.js';
import { MutationStore, type HeartbeatResult, type MuteResult, type PickGroupResult, type SignInResult } from '../store/redis/mutationStore.js';
import { LessonRegistry } from '../writebehind/registry.js';
import { authorizeHeartbeat, authorizeMute, authorizePickGroup, authorizeSignIn } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import { registeredWrite } from './registeredWrite.js';
import type { HeartbeatInput, MuteInput, PickGroupInput, SignInInput } from './mutationInputs.js';

/** The mutations' results, as the store builds them; transports name them from here. */
export type { HeartbeatResult, MuteResult, PickGroupResult, SignInResult };

/** What the service needs. */
export interface MutationServiceOptions {
  redis: RedisClient;
  keyPrefix: string;
  /** Expiry of the in-class state keys (the stream itself never expires). */
  ttlSeconds: number;
  wb: Pick<WriteBehindConfig, 'maxStreamLength' | 'maxDynamicGroupsPerTeam' | 'registerEverySeconds'> &
    Partial<Pick<WriteBehindConfig, 'durability' | 'durabilityReplicas' | 'durabilityTimeoutMs'>>;
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

/** The in-class mutations of every lesson, for one Redis (or Cluster). */
export class MutationService {
  private readonly store: MutationStore;
  /** The flusher's registry: a lesson is registered before its first write (and again when due). */
  private readonly registries: readonly LessonRegistry[];
  private readonly now: () => number;
  private readonly counter: Counter | null;

  constructor(o: MutationServiceOptions) {
    if (!Number.isInteger(o.wb.maxStreamLength) || o.wb.maxStreamLength < 1) throw new RangeError(`MutationService: wb.maxStreamLength must be a positive integer`);
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1) throw new RangeError(`MutationService: ttlSeconds must be a positive integer`);
    this.now = o.now ?? Date.now;
    const onlineWindowMs = o.onlineWindowMs ?? 60_000;
    if (!Number.isInteger(onlineWindowMs) || onlineWindowMs < 1) throw new RangeError(`MutationService: onlineWindowMs must be a positive integer`);
    this.store = new MutationStore({
      redis: o.redis,
      keyPrefix: o.keyPrefix,
      ttlSeconds: o.ttlSeconds,
      maxStreamLength: o.wb.maxStreamLength,
      maxDynamicGroupsPerTeam: o.wb.maxDynamicGroupsPerTeam,
      onlineWindowMs,
      durability: durabilityOf(o.wb),
    });
    this.registries = [o.registry ?? new LessonRegistry(o.redis, writeBehindRegistryKey(o.keyPrefix), o.wb.registerEverySeconds * 1000, this.now)];
    this.counter = o.metrics
      ? registerMetrics(o.metrics, { mutations: counter({ name: 'orgengine_mutations_total', help: 'in-class mutations by operation and outcome (ok, noop, error code)', labelNames: ['op', 'outcome'] }) }).mutations
      : null;
  }

  /** A student joins a group (or is placed automatically); teachers, tutors and services may place any student. */
  async pickGroup(caller: Caller, input: PickGroupInput): Promise<PickGroupResult> {
    authorizePickGroup(caller, input.lessonId, input.uid);
    return this.run('pickGroup', input.lessonId, () => this.store.pickGroup(input.lessonId, input.uid, input.groupId, this.now()));
  }

  /** Mutes or unmutes a student, or a whole org node, in a room (teachers, tutors, services). */
  async mute(caller: Caller, input: MuteInput): Promise<MuteResult> {
    authorizeMute(caller, input.lessonId, input.muted);
    return this.run('mute', input.lessonId, () => this.store.mute(input, this.now()));
  }

  /** Records a student's arrival; the first sign-in wins. Students sign themselves in; staff and services anyone. */
  async signIn(caller: Caller, input: SignInInput): Promise<SignInResult> {
    authorizeSignIn(caller, input.lessonId, input.uid);
    return this.run('signIn', input.lessonId, () => this.store.signIn(input.lessonId, input.uid, this.now()));
  }

  /** A student is online in a room (the student itself, or a platform service on its behalf). */
  async heartbeat(caller: Caller, input: HeartbeatInput): Promise<HeartbeatResult> {
    authorizeHeartbeat(caller, input.lessonId, input.uid);
    return this.run('heartbeat', input.lessonId, () => this.store.heartbeat(input.lessonId, input.uid, input.roomId, this.now()));
  }

  /** Registers the lesson for the flusher if due, runs the mutation, counts the outcome; failures go through backendError. */
  private run<T>(op: string, lessonId: number, call: () => Promise<T>): Promise<T> {
    return registeredWrite(this.registries, this.counter, op, lessonId, call);
  }
}
