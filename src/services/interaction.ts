// The interaction center: sessions in a lesson's rooms and the links of their
// users, moving one way through the state machine of model/interaction.ts.
// Every operation authorises the caller (auth/access.ts interactionActor maps
// its lesson role), registers the lesson for the write-behind flusher and runs
// one Lua script on the lesson's slot (store/redis/interactionStore.ts) that
// checks and applies the transition, the mutual exclusion, the end rule, the
// deadlines, the ledger and the write-behind records atomically, and publishes
// the change on the lesson channel (gateways push it on the room's topic).
//
// UniversalInfo (a room's active sessions with links, states, roles and
// versions) is served from a local cache invalidated through the lesson
// channel; identical concurrent requests for one room share one Redis call,
// and a warm answer is synchronous (no Redis round trip).
import type { Counter, Registry } from 'prom-client';
import type { InteractionConfig, WriteBehindConfig } from '../config.js';
import { authorizeKickRevoke, authorizeLessonRead, authorizeRoomAdmin, authorizeRtcEvent, interactionActor } from '../auth/access.js';
import type { Actor, Caller } from '../auth/caller.js';
import { backendError, OrgError } from '../errors.js';
import { counter, registerMetrics } from '../metrics.js';
import { PERMISSION_MASKS } from '../model/interaction.js';
import type { ChannelMessage } from '../store/redis/channel.js';
import type { RedisClient } from '../store/redis/client.js';
import { durabilityOf } from '../store/redis/durability.js';
import { InteractionStore, type CreateResult, type LinkOp, type LinkResult, type RoomInteractions, type RtcResult, type StrayPeer } from '../store/redis/interactionStore.js';
import { interactionRegistryKey, writeBehindRegistryKey } from '../store/redis/keys.js';
import type { LessonChannels } from '../store/redis/lessonChannels.js';
import { LessonRegistry } from '../writebehind/registry.js';
import type { AdminInput, CreateInput, EndInput, HandleInput, KickInput, LinkInput, RtcEventInput, SeatInput, SwitchInput } from './interactionInputs.js';
import { registeredWrite } from './registeredWrite.js';
import { revokeTokens } from './revocation.js';
import type { SeatOp } from '../model/seats.js';
import type { SeatResult } from '../store/redis/interactionStore.js';
import { SeatTemplates } from './seatTemplates.js';
import type { Pool } from '../store/mysql/pool.js';

export type { CreateResult, LinkResult, RoomInteractions, RtcResult, SeatResult, StrayPeer };

/** What the service needs. */
export interface InteractionServiceOptions {
  redis: RedisClient;
  keyPrefix: string;
  ttlSeconds: number;
  wb: Pick<WriteBehindConfig, 'maxStreamLength' | 'registerEverySeconds'> & Partial<Pick<WriteBehindConfig, 'durability' | 'durabilityReplicas' | 'durabilityTimeoutMs'>>;
  ia: InteractionConfig;
  /** Lesson channel subscriptions (the gateway's); null: UniversalInfo is not cached. */
  channels?: LessonChannels | null;
  registry?: LessonRegistry;
  /** Registers lessons for the timeout checker; built from redis/keyPrefix when not given. */
  checkRegistry?: LessonRegistry;
  now?: () => number;
  metrics?: Registry;
  /** Layout templates; built from redis/keyPrefix/pool when not given. */
  templates?: SeatTemplates;
  /** MySQL, where stored layout templates live (null/absent: the Redis cache only). */
  pool?: Pool | null;
}

/** The result of End. */
export interface EndResult {
  lessonId: number;
  sessionId: string;
  version: number;
}

/** The result of a room admin grant or revoke. */
export interface AdminResult {
  lessonId: number;
  roomId: string;
  uid: number;
  granted: boolean;
  changed: boolean;
  version: number | null;
}

interface CachedRoom {
  value: RoomInteractions;
  at: number;
}

/** Lessons whose UniversalInfo is cached (and subscribed) at most; past it the cache starts over. */
const MAX_CACHED_LESSONS = 10_000;
/** Rooms whose UniversalInfo is cached at most; past it the cache starts over (a refill costs one read per room). */
const MAX_CACHED_ROOMS = 100_000;

/** The interaction center of every lesson, for one Redis (or Cluster). */
export class InteractionService {
  readonly store: InteractionStore;
  readonly templates: SeatTemplates;
  /** The flusher's registry and the timeout checker's: a lesson is in both before its first write. */
  private readonly registries: readonly LessonRegistry[];
  private readonly now: () => number;
  private readonly counter: Counter | null;
  private readonly cache = new Map<string, CachedRoom>();
  private readonly inflight = new Map<string, Promise<RoomInteractions>>();
  /** Rooms invalidated while their read was in flight: that read's answer is not cached. */
  private readonly staleFlights = new Set<string>();
  private readonly lessons = new Set<number>();
  private readonly unlisten: (() => void) | null;
  /** UniversalInfo answers: from the cache, or a Redis read (shared by identical concurrent requests). */
  readonly infoStats = { hits: 0, misses: 0, shared: 0 };

  constructor(private readonly o: InteractionServiceOptions) {
    if (!Number.isInteger(o.wb.maxStreamLength) || o.wb.maxStreamLength < 1) throw new RangeError('InteractionService: wb.maxStreamLength must be a positive integer');
    if (o.ia.defaultCapacity > o.ia.maxCapacity) throw new RangeError('InteractionService: ia.defaultCapacity must be at most ia.maxCapacity');
    this.now = o.now ?? Date.now;
    this.templates =
      o.templates ??
      new SeatTemplates({ redis: o.redis, keyPrefix: o.keyPrefix, pool: o.pool ?? null, maxSeats: o.ia.seatMaxSeats, cacheMs: o.ia.seatTemplateCacheMs, now: this.now });
    this.store = new InteractionStore({
      redis: o.redis,
      keyPrefix: o.keyPrefix,
      ttlSeconds: o.ttlSeconds,
      maxStreamLength: o.wb.maxStreamLength,
      inviteTimeoutMs: o.ia.inviteTimeoutMs,
      connectTimeoutMs: o.ia.connectTimeoutMs,
      maxSessionsPerRoom: o.ia.maxSessionsPerRoom,
      maxPendingPerSession: o.ia.maxPendingPerSession,
      maxRtcEventsPerSession: o.ia.maxRtcEventsPerSession,
      permissionMasks: PERMISSION_MASKS,
      durability: durabilityOf(o.wb),
    });
    this.registries = [
      o.registry ?? new LessonRegistry(o.redis, writeBehindRegistryKey(o.keyPrefix), o.wb.registerEverySeconds * 1000, this.now),
      o.checkRegistry ?? new LessonRegistry(o.redis, interactionRegistryKey(o.keyPrefix), o.wb.registerEverySeconds * 1000, this.now),
    ];
    this.counter = o.metrics
      ? registerMetrics(o.metrics, {
          ops: counter({ name: 'orgengine_interaction_ops_total', help: 'interaction operations by operation and outcome (ok or error code)', labelNames: ['op', 'outcome'] }),
        }).ops
      : null;
    this.unlisten =
      o.channels && o.ia.infoCacheMs > 0
        ? o.channels.listen({
            onMessage: (lessonId, m) => this.onMessage(lessonId, m),
            onDown: (_reason, lessons) => this.dropLessons(lessons),
            onResync: (lessons) => this.dropLessons(lessons),
          })
        : null;
  }

  /** FastCreate: a session in a room with its creator (connecting) and, optionally, one invitation. */
  async fastCreate(c: Caller, input: CreateInput): Promise<CreateResult> {
    const actor = interactionActor(c, input.lessonId, input.by);
    if (actor.uid === 0) throw new OrgError('BAD_REQUEST', 'by: a platform service creates a session for a user; name it', { field: 'by' });
    const chosen = input.templateId ?? null;
    const tpl = await this.templates.get(chosen ?? (input.kind === 'duo' ? this.o.ia.seatDefaultDuo : this.o.ia.seatDefaultMulti));
    if (tpl.template.kind !== input.kind) {
      throw new OrgError('BAD_REQUEST', `templateId: ${tpl.template.id} lays out a ${tpl.template.kind} session, not a ${input.kind}`, { field: 'templateId' });
    }
    // A chosen template sets the capacity to its seats; the default one leaves the capacity as asked.
    const seats = tpl.template.seats.length;
    if (chosen !== null && input.capacity !== null && input.capacity !== seats) {
      throw new OrgError('BAD_REQUEST', `capacity: template ${tpl.template.id} has ${seats} seats; give no capacity or ${seats}`, { field: 'capacity' });
    }
    const capacity = input.kind === 'duo' ? 2 : chosen !== null ? seats : (input.capacity ?? this.o.ia.defaultCapacity);
    if (capacity > this.o.ia.maxCapacity) throw new OrgError('BAD_REQUEST', `capacity: at most ${this.o.ia.maxCapacity} (ORGENGINE_IA_MAX_CAPACITY), got ${capacity}`, { field: 'capacity' });
    return this.run('create', input.lessonId, () =>
      this.store.create(
        input.lessonId,
        { roomId: input.roomId, kind: input.kind, capacity, channelId: input.channelId, invitee: input.invitee, templateId: tpl.template.id, spec: tpl.spec },
        actor,
        this.now(),
      ),
    );
  }

  /** A mic seat operation: take, leave, move (one's own seat, or another's with `arrange`), swap, lock, unlock, mute, unmute. */
  async seat(c: Caller, op: Exclude<SeatOp, 'switch'>, input: SeatInput): Promise<SeatResult> {
    const actor = interactionActor(c, input.lessonId, input.by);
    const uid = input.uid ?? (op === 'take' || op === 'leave' || op === 'move' ? actor.uid : null);
    if (uid === 0) throw new OrgError('BAD_REQUEST', `uid: a platform service names the user whose seat it acts on`, { field: 'uid' });
    const second = op === 'swap' ? String(input.other) : (input.media ?? '');
    return this.run(`seat_${op}`, input.lessonId, () =>
      this.store.seat(input.lessonId, { op, sessionId: input.sessionId, uid, seat: input.seat, second, templateId: '', kind: '', spec: '' }, actor, this.now()),
    );
  }

  /** Switches a session's layout template; occupants move by the rule of lua/ia_seat.lua (README "Mic seats"). */
  async switchTemplate(c: Caller, input: SwitchInput): Promise<SeatResult> {
    const actor = interactionActor(c, input.lessonId, input.by);
    const tpl = await this.templates.get(input.templateId);
    if (tpl.template.seats.length > this.o.ia.maxCapacity) {
      throw new OrgError('BAD_REQUEST', `templateId: ${tpl.template.id} has ${tpl.template.seats.length} seats, more than ORGENGINE_IA_MAX_CAPACITY (${this.o.ia.maxCapacity})`, { field: 'templateId' });
    }
    return this.run('seat_switch', input.lessonId, () =>
      this.store.seat(
        input.lessonId,
        { op: 'switch', sessionId: input.sessionId, uid: null, seat: null, second: '', templateId: tpl.template.id, kind: tpl.template.kind, spec: tpl.spec },
        actor,
        this.now(),
      ),
    );
  }

  /** Invite `uid` into a session (initiator, admins). */
  invite(c: Caller, input: LinkInput): Promise<LinkResult> {
    return this.linkOp('invite', c, input, true);
  }

  /** Apply to join a session (the caller itself; a service for `uid`). */
  apply(c: Caller, input: LinkInput): Promise<LinkResult> {
    return this.linkOp('apply', c, input, false);
  }

  /** Accept or reject an invitation (the invitee) or an application (initiator, admins). */
  handle(c: Caller, input: HandleInput): Promise<LinkResult> {
    return this.linkOp(input.accept ? 'accept' : 'reject', c, input, false);
  }

  /** Withdraw one's own invitation or application. */
  cancel(c: Caller, input: LinkInput): Promise<LinkResult> {
    return this.linkOp('cancel', c, input, false);
  }

  /**
   * Remove a seated user (initiator, admins). With `revokeTokens` (services,
   * the lesson's teacher) the user's tokens of the lesson issued until now are
   * refused too, on every gateway within the revocation bound: expelled from
   * class, not only from the session. The kick is applied first; if the
   * revocation then fails the error says so and names the route to retry it.
   */
  async kick(c: Caller, input: LinkInput | KickInput): Promise<LinkResult> {
    const revoke = 'revokeTokens' in input && input.revokeTokens;
    if (revoke) authorizeKickRevoke(c, input.lessonId);
    const r = await this.linkOp('kick', c, input, true);
    if (!revoke) return r;
    try {
      const rv = await revokeTokens(this.o.redis, this.o.keyPrefix, input.lessonId, r.uid, this.now());
      return { ...r, tokensRevokedBefore: rv.before };
    } catch (e) {
      const err = backendError(e);
      throw new OrgError(err.code, `the kick was applied (version ${r.version}) but revoking user ${r.uid}'s tokens failed: ${err.message}; retry with POST /v1/lessons/${input.lessonId}/revocations`, {
        kicked: r,
      });
    }
  }

  /** Give up one's own seat. */
  leave(c: Caller, input: LinkInput): Promise<LinkResult> {
    return this.linkOp('leave', c, input, false);
  }

  /** End a session: every active link goes to ended. */
  async end(c: Caller, input: EndInput): Promise<EndResult> {
    const actor = interactionActor(c, input.lessonId, input.by);
    return this.run('end', input.lessonId, () => this.store.end(input.lessonId, input.sessionId, actor, this.now()));
  }

  /** The RTC service's callback (platform services): idempotent by event id, tolerant of order. */
  async rtcEvent(c: Caller, input: RtcEventInput): Promise<RtcResult> {
    authorizeRtcEvent(c, input.lessonId);
    return this.run('rtc', input.lessonId, () => this.store.rtc(input.lessonId, input, this.now()));
  }

  /** Grant or revoke a user's admin role in a room's interactions (teacher, services). */
  async setAdmin(c: Caller, input: AdminInput): Promise<AdminResult> {
    authorizeRoomAdmin(c, input.lessonId);
    const r = await this.run('admin', input.lessonId, () => this.store.setAdmin(input.lessonId, input.roomId, input.uid, input.granted, this.now()));
    return { lessonId: input.lessonId, roomId: input.roomId, uid: input.uid, granted: input.granted, ...r };
  }

  /**
   * UniversalInfo: a room's active sessions with links, states, roles and
   * versions. Warm: synchronous from the local cache. Cold: one Redis read,
   * shared by every identical request arriving meanwhile.
   */
  universalInfo(c: Caller, lessonId: number, roomId: string): Promise<RoomInteractions> | RoomInteractions {
    authorizeLessonRead(c, lessonId);
    const key = `${lessonId}\u0000${roomId}`;
    const ttl = this.o.ia.infoCacheMs;
    if (ttl > 0 && this.unlisten) {
      const hit = this.cache.get(key);
      if (hit && this.now() - hit.at < ttl) {
        this.infoStats.hits++;
        return hit.value;
      }
    }
    const running = this.inflight.get(key);
    if (running) {
      this.infoStats.shared++;
      return running;
    }
    this.infoStats.misses++;
    const cacheable = ttl > 0 && this.unlisten !== null && this.subscribed(lessonId);
    const p = this.store.info(lessonId, roomId).then(
      (v) => {
        this.inflight.delete(key);
        const stale = this.staleFlights.delete(key);
        if (cacheable && !stale) {
          if (this.cache.size >= MAX_CACHED_ROOMS) this.cache.clear();
          this.cache.set(key, { value: v, at: this.now() });
        }
        return v;
      },
      (e: unknown) => {
        this.inflight.delete(key);
        this.staleFlights.delete(key);
        throw backendError(e);
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  /** Applies up to `limit` due deadlines of a lesson (the timeout checker). */
  expire(lessonId: number, now: number, limit: number): Promise<{ moved: number; stillDue: number; version: number | null }> {
    return this.store.expire(lessonId, now, limit);
  }

  /** Reconciles RTC membership with links in a lesson (the timeout checker). */
  rtcCheck(lessonId: number, now: number, limit: number): Promise<{ moved: number; strays: StrayPeer[]; version: number | null }> {
    return this.store.rtcCheck(lessonId, now, this.o.ia.rtcGraceMs, limit);
  }

  /** Stops listening to the lesson channels and releases their subscriptions. */
  close(): void {
    this.unlisten?.();
    for (const id of this.lessons) this.o.channels?.remove(id);
    this.lessons.clear();
    this.cache.clear();
  }

  private async linkOp(op: LinkOp, c: Caller, input: LinkInput, needsUid: boolean): Promise<LinkResult> {
    const actor: Actor = interactionActor(c, input.lessonId, input.by);
    const uid = input.uid ?? (needsUid ? null : actor.uid);
    if (uid === null || uid === 0) throw new OrgError('BAD_REQUEST', `uid: ${op} needs the user whose link it acts on`, { field: 'uid' });
    return this.run(op, input.lessonId, () => this.store.link(input.lessonId, op, input.sessionId, uid, actor, this.now()));
  }

  /** Registers the lesson for the flusher if due, runs the operation, counts the outcome. */
  private run<T>(op: string, lessonId: number, call: () => Promise<T>): Promise<T> {
    return registeredWrite(this.registries, this.counter, op, lessonId, call);
  }

  /** Subscribes the lesson's channel on first use; true once its messages flow (only then is caching safe). */
  private subscribed(lessonId: number): boolean {
    const channels = this.o.channels!;
    if (!this.lessons.has(lessonId)) {
      if (this.lessons.size >= MAX_CACHED_LESSONS) {
        for (const id of this.lessons) channels.remove(id);
        this.lessons.clear();
        this.cache.clear();
      }
      this.lessons.add(lessonId);
      channels.add(lessonId);
    }
    return channels.isSubscribed(lessonId);
  }

  private invalidate(key: string): void {
    this.cache.delete(key);
    if (this.inflight.has(key)) this.staleFlights.add(key);
  }

  private onMessage(lessonId: number, m: ChannelMessage): void {
    if (!this.lessons.has(lessonId)) return;
    if (m.kind === 'interaction') this.invalidate(`${lessonId}\u0000${m.roomId}`);
    else if (m.kind === 'version' || m.kind === 'lesson' || m.kind === 'room') this.dropLessons([lessonId]);
  }

  private dropLessons(lessons: number[] | null): void {
    const set = lessons ? new Set(lessons) : null;
    for (const key of [...this.cache.keys(), ...this.inflight.keys()]) {
      if (!set || set.has(Number(key.slice(0, key.indexOf('\u0000'))))) this.invalidate(key);
    }
  }
}
