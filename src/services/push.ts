// Live push to long connections (the WebSocket transport): a room's signals,
// a student's own state, org-node broadcasts and version switches, fanned out
// by the transport's native pub/sub topics. This module decides what goes
// where and who may see it; the transport only moves frames.
//
// Fan-out from the local tail: per room with local subscribers there is one
// pump. A lesson channel notification (or the staleness backstop) makes the
// pump read the room's tail through the signal service (the local signal cache:
// one Redis fetch per signal per process, shared with HTTP pollers) and publish
// each new signal once to the room's topic; the transport delivers it to every
// socket subscribed. `pushedSeq` is the highest seq published to the topic.
//
// Recovery (the contract of Centrifugo's offset/epoch history): a subscribe
// with `after` reads the log after it, and in one synchronous step sends the
// signals up to `pushedSeq` and joins the topic. The pump only moves pushedSeq
// in synchronous steps of its own, so everything up to pushedSeq came from the
// replay and everything after it comes from the topic: no gap, no duplicate,
// even while signals are being published. A log trimmed past `after` answers
// `recovered: false` with the first retained seq; a log whose counter is below
// `after` (expired or lost with Redis) answers `restarted: true` and replays the
// new log from its start.
import { authorizeBroadcast, authorizeLessonRead, authorizeRoomSubscribe } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import type { ApiConfig, Config } from '../config.js';
import { backendError, OrgError, type ErrorCode } from '../errors.js';
import { parseEntityId, parseId } from '../model/input.js';
import type { Signal } from '../model/signal.js';
import type { SignalCache } from '../skiplist/signalCache.js';
import type { ChannelMessage } from '../store/redis/channel.js';
import { publishBroadcast } from '../store/redis/broadcastStore.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys } from '../store/redis/keys.js';
import type { LessonChannels } from '../store/redis/lessonChannels.js';
import { readMutedNodes } from '../store/redis/muteStore.js';
import { writePresence, type PresenceGroup } from '../store/redis/presenceStore.js';
import type { EnterView, ReadService } from './reads.js';
import type { SignalPage, SignalService } from './signals.js';

/** Topic names of the transport's pub/sub: a room's signals, a student's state, an org node, a lesson. */
export const TOPIC = {
  room: (lessonId: number, roomId: string): string => `s/${lessonId}/${roomId}`,
  user: (lessonId: number, uid: number): string => `u/${lessonId}/${uid}`,
  node: (lessonId: number, nodeId: string): string => `n/${lessonId}/${nodeId}`,
  lesson: (lessonId: number): string => `l/${lessonId}`,
};

/** A student's own in-class state as pushed in `state` messages. */
export interface StudentState {
  nodeId: string | null;
  groupId: string | null;
  muted: boolean;
  mutedBy: string | null;
  signedInAt: number | null;
}

/** Every message the server sends (JSON text frames; proto/orgengine/v1/push.proto has the same shapes). */
export type ServerMessage =
  | { type: 'signal'; room: string; seq: number; at: number; by: number; data: string }
  | { type: 'subscribed'; id?: string; room: string; lastSeq: number; firstSeq: number; recovered: boolean; restarted: boolean; replayed: number }
  | { type: 'unsubscribed'; id?: string; room: string }
  | { type: 'pong'; id?: string }
  | ({ type: 'state'; lessonId: number; uid: number; cause: 'changed' | 'moved' } & StudentState)
  | { type: 'node'; lessonId: number; nodeId: string; by: number; at: number; data: string }
  | { type: 'lesson'; lessonId: number; version: number | null }
  | { type: 'scores'; lessonId: number; room: string }
  | { type: 'interaction'; lessonId: number; room: string; sessionId: string | null; version: number }
  | { type: 'reset'; room: string; reason: 'restarted' | 'trimmed'; firstSeq: number; lastSeq: number }
  | { type: 'error'; id?: string; code: ErrorCode; message: string };

/** Every command a client sends. */
export type ClientCommand =
  | { type: 'subscribe'; id?: string; room: string; after: number | null }
  | { type: 'unsubscribe'; id?: string; room: string }
  | { type: 'ping'; id?: string };

/** One connection as the hub sees it; the transport implements it over its socket. */
export interface PushSocket {
  /** Sends one message to this socket only. */
  send(m: ServerMessage): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Closes the socket as a slow consumer if its send buffer is over the bound (topic publishes bypass the per-send check). */
  checkBuffered(): void;
  /** Closes the socket because its token was revoked. */
  revoked(): void;
}

/** The transport's pub/sub: one publish reaches every socket subscribed to the topic. */
export interface PushFanout {
  publish(topic: string, m: ServerMessage): void;
}

/** The part of the configuration the push hub reads. */
export type PushOptions = Pick<Config, 'keyPrefix' | 'ttlSeconds'> & {
  api: Pick<ApiConfig, 'wsMaxSubscriptions' | 'wsMaxConnections' | 'wsPresenceIntervalMs' | 'onlineWindowMs'>;
  signals: Pick<Config['signals'], 'maxReadLimit' | 'maxStalenessMs' | 'retain' | 'maxPayloadBytes'>;
  scores: Pick<Config['scores'], 'noticeMs'>;
};

/** What the hub reports (the transport turns it into metrics). */
export interface PushObserver {
  /** Signals sent by one replay. */
  replayed?(n: number): void;
  /** A signal published to its room topic, `ms` after its publisher stamped it. */
  pushed?(ms: number): void;
  /** A presence write failed (logged by the caller). */
  presenceFailed?(e: unknown): void;
}

/** What the hub needs. */
export interface PushHubDeps {
  redis: RedisClient;
  reads: ReadService;
  signals: SignalService;
  channels: LessonChannels;
  /** The signal cache behind `signals`, if on: asked to check Redis before a replay believes a log restarted. */
  signalCache: SignalCache | null;
  config: PushOptions;
  observer?: PushObserver;
  now?: () => number;
}

// The hub reads on behalf of its sockets, after authorising them itself.
const HUB: Caller = { uid: 1, role: 'service', lesson: '*' };
// Pages a replay or a pump round may read before giving up (a full log is retain / maxReadLimit pages).
const EXTRA_PAGES = 4;
const NO_NODES: readonly string[] = [];

/** One authenticated connection's state: who it is, what it may see, what it subscribed. */
export class PushSession {
  /** Rooms subscribed or being subscribed. */
  readonly rooms = new Set<string>();
  /** Student: rooms of its position -> member partition (null for staff and services). */
  studentRooms: Map<string, number> | null = null;
  /** Student: org nodes on its path (and its group's), whose broadcasts it receives. */
  nodeIds: readonly string[] = NO_NODES;
  state: StudentState | null = null;
  /** The room `state.muted` speaks of (the first room of the student's position, as enter reads it). */
  stateRoom = '';
  /** Room -> the online-set key it counts in (kept, so a later change of position releases the same key). */
  readonly onlineKeys = new Map<string, string>();
  socket: PushSocket | null = null;
  closed = false;

  constructor(
    /** The caller, with its token's issue time (epoch ms; absent: 0) for revocations. */
    readonly caller: Caller & { iat?: number },
    readonly lessonId: number,
  ) {}
}

interface Pump {
  lessonId: number;
  roomId: string;
  topic: string;
  /** Highest seq published to the topic; -1 until the first read. */
  pushedSeq: number;
  /** Bumped when the log restarts: a replay collected against the old log is void. */
  epoch: number;
  /** Highest seq announced. */
  wantSeq: number;
  /** Sessions subscribed (their send buffers are checked after each page published). */
  readonly sessions: Set<PushSession>;
  running: Promise<void> | null;
  again: boolean;
}

interface LessonState {
  sessions: Set<PushSession>;
  students: Map<number, Set<PushSession>>;
  pumps: Map<string, Pump>;
  /** room \0 partition -> uid -> subscriptions counting it online. */
  online: Map<string, Map<number, number>>;
}

const nodesOf = (v: EnterView): string[] => {
  const ids = new Set<string>();
  for (const p of [v.node?.path, v.group?.path]) if (p) for (const id of p.split('/')) if (id) ids.add(id);
  return [...ids];
};

const stateOf = (v: EnterView): StudentState => ({ nodeId: v.node?.nodeId ?? null, groupId: v.group?.nodeId ?? null, muted: v.muted, mutedBy: v.mutedBy, signedInAt: v.signedInAt });

const sameState = (a: StudentState, b: StudentState): boolean =>
  a.nodeId === b.nodeId && a.groupId === b.groupId && a.muted === b.muted && a.mutedBy === b.mutedBy && a.signedInAt === b.signedInAt;

const signalMessage = (room: string, s: Signal): ServerMessage => ({ type: 'signal', room, seq: s.seq, at: s.at, by: s.by, data: s.data });

/** Live push: sessions, subscription rules, the per-room pumps, recovery, state, broadcasts and presence. */
export class PushHub {
  private readonly lessons = new Map<number, LessonState>();
  private readonly opts: PushOptions;
  private readonly now: () => number;
  private readonly unlisten: () => void;
  private readonly timers: NodeJS.Timeout[] = [];
  private fanout: PushFanout | null = null;
  private connections = 0;
  /** Upgrades authorised but not yet open (a student's position is being read): they count against the bound. */
  private opening = 0;
  private subscriptions = 0;
  private closed = false;
  /** Rooms (topic -> timer) whose trailing `scores` push, one notice interval after a notice, is scheduled. */
  private readonly scoreTrailing = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: PushHubDeps) {
    this.opts = deps.config;
    this.now = deps.now ?? Date.now;
    this.unlisten = deps.channels.listen({
      onMessage: (lessonId, m) => this.onChannel(lessonId, m),
      onSubscribed: (lessonId) => this.kickLesson(lessonId),
      onResync: () => {
        for (const id of this.lessons.keys()) this.kickLesson(id);
      },
    });
    // The backstop for notifications lost to a reconnect: every pump checks its
    // room at the signal cache's staleness bound (a cache hit while fresh).
    const backstop = setInterval(() => {
      for (const id of this.lessons.keys()) this.kickLesson(id);
    }, Math.max(100, this.opts.signals.maxStalenessMs));
    const presence = setInterval(() => void this.writePresence(), this.opts.api.wsPresenceIntervalMs);
    backstop.unref();
    presence.unref();
    this.timers.push(backstop, presence);
  }

  /** Connects the transport's pub/sub (set once, before the first session attaches). */
  setFanout(f: PushFanout): void {
    this.fanout = f;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections;
  }

  /** Room subscriptions across connections. */
  get subscriptionCount(): number {
    return this.subscriptions;
  }

  /**
   * Authorises a new connection for `lessonParam` (the `lesson` query value;
   * absent: the token's lesson) and loads what its subscriptions will be checked
   * against: a student's rooms and org path, read once here so no frame costs a
   * Redis round trip. Throws FORBIDDEN for another lesson, OVERLOADED past the bound.
   */
  async open(caller: Caller & { iat?: number }, lessonParam: string | null): Promise<PushSession> {
    let lessonId: number;
    if (lessonParam === null || lessonParam === '') {
      if (caller.lesson === '*') throw new OrgError('BAD_REQUEST', 'a token for every lesson must name one: /v1/ws?lesson=<id>');
      lessonId = caller.lesson;
    } else {
      lessonId = /^[1-9][0-9]{0,15}$/.test(lessonParam) ? Number(lessonParam) : NaN;
      if (!Number.isSafeInteger(lessonId)) throw new OrgError('BAD_REQUEST', `lesson must be a positive integer, got ${JSON.stringify(lessonParam.slice(0, 32))}`);
    }
    authorizeLessonRead(caller, lessonId);
    this.checkCapacity();
    const s = new PushSession(caller, lessonId);
    if (caller.role !== 'student') return s;
    this.opening++;
    try {
      this.applyView(s, await this.deps.reads.enter(caller, lessonId, null, ''));
    } finally {
      this.opening--;
    }
    return s;
  }

  private checkCapacity(): void {
    if (this.closed) throw new OrgError('OVERLOADED', 'the gateway is shutting down; reconnect to another');
    const max = this.opts.api.wsMaxConnections;
    if (this.connections + this.opening >= max) throw new OrgError('OVERLOADED', `this gateway worker holds its maximum of ${max} WebSocket connections; retry shortly`);
  }

  /** The connection is open: joins its lesson, user and org-node topics. */
  attach(s: PushSession, socket: PushSocket): void {
    s.socket = socket;
    this.connections++;
    let L = this.lessons.get(s.lessonId);
    if (!L) {
      L = { sessions: new Set(), students: new Map(), pumps: new Map(), online: new Map() };
      this.lessons.set(s.lessonId, L);
      this.deps.channels.add(s.lessonId);
    }
    L.sessions.add(s);
    socket.subscribe(TOPIC.lesson(s.lessonId));
    if (s.caller.role === 'student') {
      let set = L.students.get(s.caller.uid);
      if (!set) L.students.set(s.caller.uid, (set = new Set()));
      set.add(s);
      socket.subscribe(TOPIC.user(s.lessonId, s.caller.uid));
      for (const n of s.nodeIds) socket.subscribe(TOPIC.node(s.lessonId, n));
    }
  }

  /** The connection closed: releases its rooms and presence, and the lesson with its last connection. */
  detach(s: PushSession): void {
    if (s.closed) return;
    s.closed = true;
    if (!s.socket) return;
    this.connections--;
    const L = this.lessons.get(s.lessonId);
    if (!L) return;
    for (const room of s.rooms) this.release(L, s, room);
    s.rooms.clear();
    L.sessions.delete(s);
    const set = L.students.get(s.caller.uid);
    if (set) {
      set.delete(s);
      if (set.size === 0) L.students.delete(s.caller.uid);
    }
    if (L.sessions.size === 0) {
      this.lessons.delete(s.lessonId);
      this.deps.channels.remove(s.lessonId);
    }
  }

  /** Runs one client command; failures go back to the socket as `error` messages. */
  handle(s: PushSession, cmd: ClientCommand): void {
    if (s.closed || !s.socket) return;
    if (cmd.type === 'ping') {
      s.socket.send(cmd.id === undefined ? { type: 'pong' } : { type: 'pong', id: cmd.id });
      return;
    }
    if (cmd.type === 'unsubscribe') {
      const L = this.lessons.get(s.lessonId);
      if (!L || !s.rooms.has(cmd.room)) {
        this.sendError(s, new OrgError('BAD_REQUEST', `not subscribed to room ${cmd.room}`), cmd.id);
        return;
      }
      s.rooms.delete(cmd.room);
      this.release(L, s, cmd.room);
      s.socket.send({ type: 'unsubscribed', room: cmd.room, ...(cmd.id === undefined ? {} : { id: cmd.id }) });
      return;
    }
    this.subscribe(s, cmd).catch((e: unknown) => this.sendError(s, e, cmd.id));
  }

  /** Sends an error message (bad frames, refused commands); the connection stays up. */
  sendError(s: PushSession, e: unknown, id?: string): void {
    if (s.closed || !s.socket) return;
    const err = backendError(e);
    s.socket.send({ type: 'error', code: err.code, message: err.message, ...(id === undefined ? {} : { id }) });
  }

  private async subscribe(s: PushSession, cmd: Extract<ClientCommand, { type: 'subscribe' }>): Promise<void> {
    const room = parseEntityId('room', cmd.room);
    authorizeRoomSubscribe(s.caller, s.lessonId, room, s.studentRooms);
    if (s.rooms.has(room)) throw new OrgError('BAD_REQUEST', `already subscribed to room ${room}; unsubscribe first`);
    const max = this.opts.api.wsMaxSubscriptions;
    if (s.rooms.size >= max) throw new OrgError('LIMIT_EXCEEDED', `a connection may subscribe to at most ${max} rooms`, { max });
    const L = this.lessons.get(s.lessonId)!;
    s.rooms.add(room);
    let p = L.pumps.get(room);
    if (!p) {
      p = { lessonId: s.lessonId, roomId: room, topic: TOPIC.room(s.lessonId, room), pushedSeq: -1, epoch: 0, wantSeq: 0, sessions: new Set(), running: null, again: false };
      L.pumps.set(room, p);
    }
    p.sessions.add(s);
    this.subscriptions++;
    this.markOnline(L, s, room, +1);
    try {
      await this.join(s, p, cmd.after, cmd.id);
    } catch (e) {
      if (s.rooms.delete(room)) this.release(L, s, room);
      throw e;
    }
  }

  // The recovery contract (see the head of this file).
  private async join(s: PushSession, p: Pump, after: number | null, id: string | undefined): Promise<void> {
    const limit = this.opts.signals.maxReadLimit;
    if (p.pushedSeq < 0) {
      const head = await this.read(p, 0, 0);
      if (p.pushedSeq < 0) p.pushedSeq = head.lastSeq;
    }
    let cursor = after ?? p.pushedSeq;
    let recovered = true;
    let restarted = false;
    let firstSeq = -1;
    let suspectRestart = false;
    let replay: Signal[] = [];
    let epoch = p.epoch;
    const pages = Math.ceil(this.opts.signals.retain / limit) + EXTRA_PAGES;
    for (let i = 0; i < pages; i++) {
      const page = await this.read(p, cursor, limit);
      if (s.closed || !s.rooms.has(p.roomId)) return;
      if (epoch === p.epoch && page.lastSeq < cursor && !suspectRestart) {
        // Below what the client saw: either this gateway's copy is behind (the
        // client read another gateway) or the log restarted. Make the cache
        // check Redis once before believing a restart.
        suspectRestart = true;
        this.deps.signalCache?.notify(p.lessonId, p.roomId, cursor);
        continue;
      }
      if (epoch !== p.epoch || page.lastSeq < cursor) {
        // The log restarted (before or during the replay): the client's seqs mean nothing now; replay the new log from 0.
        restarted = true;
        recovered = false;
        epoch = p.epoch;
        cursor = 0;
        replay = [];
        firstSeq = -1;
        continue;
      }
      if (firstSeq < 0) firstSeq = page.firstSeq;
      if (page.truncated) recovered = false;
      for (const sig of page.signals) {
        if (sig.seq > p.pushedSeq) break;
        replay.push(sig);
        cursor = sig.seq;
      }
      if (cursor > p.pushedSeq) {
        // The client is ahead of this gateway's topic (it read another gateway): let the pump catch up first.
        p.wantSeq = Math.max(p.wantSeq, cursor);
        await this.kick(p);
        continue;
      }
      // Not yet at pushedSeq: the page was full, or the pump moved on during the read.
      if (cursor < p.pushedSeq && page.signals.length > 0) continue;
      // One synchronous step: the reply, the replay up to pushedSeq, then the topic.
      const socket = s.socket!;
      socket.send({
        type: 'subscribed',
        room: p.roomId,
        lastSeq: p.pushedSeq,
        firstSeq,
        recovered,
        restarted,
        replayed: replay.length,
        ...(id === undefined ? {} : { id }),
      });
      for (const sig of replay) socket.send(signalMessage(p.roomId, sig));
      socket.subscribe(p.topic);
      this.deps.observer?.replayed?.(replay.length);
      return;
    }
    throw new OrgError('BACKEND_UNAVAILABLE', `room ${p.roomId}: the replay did not catch up with the live log; subscribe again`);
  }

  private read(p: Pump, after: number, limit: number): Promise<SignalPage> {
    return Promise.resolve(this.deps.signals.read(HUB, p.lessonId, p.roomId, after, limit));
  }

  private release(L: LessonState, s: PushSession, room: string): void {
    s.socket?.unsubscribe(TOPIC.room(s.lessonId, room));
    this.markOnline(L, s, room, -1);
    this.subscriptions--;
    const p = L.pumps.get(room);
    p?.sessions.delete(s);
    if (p && p.sessions.size === 0) L.pumps.delete(room);
  }

  // --- pumps ---

  private kickLesson(lessonId: number): void {
    const L = this.lessons.get(lessonId);
    if (L) for (const p of L.pumps.values()) void this.kick(p);
  }

  /** Runs the room's pump (or asks the running one to go again); resolves when it is idle. */
  private kick(p: Pump): Promise<void> {
    if (p.running) {
      p.again = true;
      return p.running;
    }
    p.running = this.pump(p)
      .catch(() => undefined) // a failed read is retried by the next notification or the backstop
      .finally(() => {
        p.running = null;
      });
    return p.running;
  }

  private async pump(p: Pump): Promise<void> {
    const limit = this.opts.signals.maxReadLimit;
    const rounds = Math.ceil(this.opts.signals.retain / limit) + EXTRA_PAGES;
    for (let i = 0; i < rounds; i++) {
      p.again = false;
      if (p.pushedSeq < 0) return; // the first subscriber's join sets the start
      const page = await this.read(p, p.pushedSeq, limit);
      const fanout = this.fanout;
      if (!fanout) return;
      if (page.lastSeq < p.pushedSeq) {
        // The log restarted: live subscribers are told, then get the new log from its start.
        fanout.publish(p.topic, { type: 'reset', room: p.roomId, reason: 'restarted', firstSeq: page.firstSeq, lastSeq: page.lastSeq });
        p.pushedSeq = 0;
        p.epoch++;
        p.wantSeq = 0;
        continue;
      }
      if (page.truncated) {
        // This gateway fell more than a whole retained log behind: say so rather than skip silently.
        fanout.publish(p.topic, { type: 'reset', room: p.roomId, reason: 'trimmed', firstSeq: page.firstSeq, lastSeq: page.lastSeq });
      }
      const now = this.now();
      for (const sig of page.signals) {
        fanout.publish(p.topic, signalMessage(p.roomId, sig));
        p.pushedSeq = sig.seq;
        this.deps.observer?.pushed?.(now - sig.at);
      }
      // Once per page, not per signal: a slow consumer is closed before its buffer grows further.
      if (page.signals.length > 0) for (const sub of p.sessions) sub.socket?.checkBuffered();
      if (!page.more && !p.again && p.wantSeq <= p.pushedSeq) return;
      if (!page.more && page.signals.length === 0 && !p.again) return;
    }
  }

  // --- lesson channel ---

  private onChannel(lessonId: number, m: ChannelMessage): void {
    const L = this.lessons.get(lessonId);
    if (!L || !this.fanout) return;
    switch (m.kind) {
      case 'signal': {
        const p = L.pumps.get(m.roomId);
        if (p) {
          p.wantSeq = Math.max(p.wantSeq, m.seq);
          void this.kick(p);
        }
        return;
      }
      case 'state':
      case 'pos':
        if (L.students.has(m.uid)) void this.refreshStudent(lessonId, m.uid, m.kind === 'pos' ? 'moved' : 'changed');
        return;
      case 'mute':
        void this.refreshRoomMutes(lessonId, m.roomId);
        return;
      case 'score':
        this.pushScores(lessonId, m.roomId);
        return;
      case 'interaction':
        // The room's interaction state moved to `version`: clients order it with what UniversalInfo answered.
        this.fanout.publish(TOPIC.room(lessonId, m.roomId), { type: 'interaction', lessonId, room: m.roomId, sessionId: m.sessionId, version: m.version });
        return;
      case 'broadcast':
        this.fanout.publish(TOPIC.node(lessonId, m.nodeId), { type: 'node', lessonId, nodeId: m.nodeId, by: m.by, at: m.at, data: m.data });
        return;
      case 'revoke':
        // Connections opened with a token the revocation covers are closed (a
        // service token for every lesson is not revocable per lesson).
        for (const s of [...L.sessions]) {
          if (s.caller.lesson === '*' || (m.uid !== null && s.caller.uid !== m.uid) || (s.caller.iat ?? 0) > m.before) continue;
          s.socket?.revoked();
        }
        return;
      case 'version':
      case 'lesson':
        this.fanout.publish(TOPIC.lesson(lessonId), { type: 'lesson', lessonId, version: m.kind === 'version' ? m.version : null });
        this.kickLesson(lessonId);
        return;
      default:
        return;
    }
  }

  /**
   * A room's scores changed (awards: at most one notice per interval; a PK round
   * started or ended; totals repaired): tells its subscribers now, and once more
   * when the interval is over, since awards later in it announce nothing.
   */
  private pushScores(lessonId: number, roomId: string): void {
    const topic = TOPIC.room(lessonId, roomId);
    this.fanout?.publish(topic, { type: 'scores', lessonId, room: roomId });
    if (this.scoreTrailing.has(topic)) return;
    const t = setTimeout(() => {
      this.scoreTrailing.delete(topic);
      this.fanout?.publish(topic, { type: 'scores', lessonId, room: roomId });
    }, this.opts.scores.noticeMs);
    t.unref();
    this.scoreTrailing.set(topic, t);
  }

  /** Re-reads a student's state after a change announced for it; pushes it to its sockets when it differs. */
  private async refreshStudent(lessonId: number, uid: number, cause: 'changed' | 'moved'): Promise<void> {
    let view: EnterView;
    try {
      view = await this.deps.reads.enter(HUB, lessonId, uid, '');
    } catch {
      return; // the student's next reconnect reads it again
    }
    const sessions = this.lessons.get(lessonId)?.students.get(uid);
    if (!sessions || sessions.size === 0 || !this.fanout) return;
    const next = stateOf(view);
    let changed = false;
    for (const s of sessions) {
      if (!s.state || !sameState(s.state, next)) changed = true;
      const before = s.nodeIds;
      this.applyView(s, view);
      const now = new Set(s.nodeIds);
      for (const n of before) if (!now.has(n)) s.socket?.unsubscribe(TOPIC.node(lessonId, n));
      for (const n of s.nodeIds) if (!before.includes(n)) s.socket?.subscribe(TOPIC.node(lessonId, n));
    }
    if (changed) this.fanout.publish(TOPIC.user(lessonId, uid), { type: 'state', lessonId, uid, cause, ...next });
  }

  private applyView(s: PushSession, v: EnterView): void {
    s.studentRooms = new Map(v.rooms.map((r) => [r.room.roomId, r.partition]));
    s.nodeIds = nodesOf(v);
    s.state = stateOf(v);
    s.stateRoom = v.roomId;
  }

  /**
   * The org nodes muted in a room changed: one read of the room's muted nodes,
   * then each local student's mute is recomputed from its own path the way
   * enter.lua does (itself first, then the first muted node from the root down),
   * and pushed to those whose mute changed.
   */
  private async refreshRoomMutes(lessonId: number, roomId: string): Promise<void> {
    const affected = (): PushSession[] => {
      const L = this.lessons.get(lessonId);
      const out: PushSession[] = [];
      if (L) for (const set of L.students.values()) for (const s of set) if (s.stateRoom === roomId && s.state) out.push(s);
      return out;
    };
    if (affected().length === 0) return;
    let muted: Set<string>;
    try {
      muted = await readMutedNodes(this.deps.redis, lessonKeys(this.opts.keyPrefix, lessonId), roomId);
    } catch {
      return; // the students' next reconnect reads their mute again
    }
    const pushed = new Set<number>();
    for (const s of affected()) {
      const st = s.state!;
      const by = st.mutedBy === 'self' ? 'self' : (s.nodeIds.find((n) => muted.has(n)) ?? null);
      if (by === st.mutedBy) continue;
      s.state = { ...st, muted: by !== null, mutedBy: by };
      if (pushed.has(s.caller.uid) || !this.fanout) continue;
      pushed.add(s.caller.uid);
      this.fanout.publish(TOPIC.user(lessonId, s.caller.uid), { type: 'state', lessonId, uid: s.caller.uid, cause: 'changed', ...s.state });
    }
  }

  // --- org-node broadcasts ---

  /**
   * Sends `data` to every student at or under `nodeId` connected to any gateway
   * (teachers and services anywhere in the lesson, tutors within their subtree).
   */
  async broadcast(caller: Caller, lessonId: number, nodeId: string, data: unknown): Promise<{ lessonId: number; nodeId: string; at: number }> {
    parseId(lessonId, 'lesson id');
    parseEntityId('nodeId', nodeId);
    authorizeLessonRead(caller, lessonId);
    if (typeof data !== 'string' || data.length === 0) throw new OrgError('BAD_REQUEST', 'broadcast data must be a non-empty string');
    const max = this.opts.signals.maxPayloadBytes;
    const bytes = Buffer.byteLength(data);
    if (bytes > max) throw new OrgError('PAYLOAD_TOO_LARGE', `broadcast data is ${bytes} bytes, the limit is ${max}`, { bytes, max });
    const view = await this.deps.reads.node(HUB, lessonId, nodeId, { children: false, parent: false, source: false });
    authorizeBroadcast(caller, lessonId, view.node.path);
    const at = this.now();
    try {
      await publishBroadcast(this.deps.redis, lessonKeys(this.opts.keyPrefix, lessonId), { nodeId, by: caller.uid, at, data });
    } catch (e) {
      throw backendError(e);
    }
    return { lessonId, nodeId, at };
  }

  // --- presence ---

  private markOnline(L: LessonState, s: PushSession, room: string, delta: 1 | -1): void {
    let key: string | undefined;
    if (delta > 0) {
      const part = s.studentRooms?.get(room);
      if (part === undefined) return; // staff and services are not members
      key = `${room}\0${part}`;
      s.onlineKeys.set(room, key);
    } else {
      key = s.onlineKeys.get(room);
      if (key === undefined) return;
      s.onlineKeys.delete(room);
    }
    let m = L.online.get(key);
    if (!m) {
      if (delta < 0) return;
      L.online.set(key, (m = new Map()));
    }
    const n = (m.get(s.caller.uid) ?? 0) + delta;
    if (n > 0) m.set(s.caller.uid, n);
    else m.delete(s.caller.uid);
    if (m.size === 0) L.online.delete(key);
  }

  /** Writes every lesson's WebSocket members into the online sets: one script call per lesson. */
  async writePresence(): Promise<void> {
    const now = this.now();
    const writes: Array<Promise<unknown>> = [];
    for (const [lessonId, L] of this.lessons) {
      if (L.online.size === 0) continue;
      const groups: PresenceGroup[] = [];
      for (const [key, m] of L.online) {
        const [roomId, part] = key.split('\0') as [string, string];
        groups.push({ roomId, partition: Number(part), uids: [...m.keys()] });
      }
      const lk = lessonKeys(this.opts.keyPrefix, lessonId);
      writes.push(writePresence(this.deps.redis, lk, groups, now, this.opts.api.onlineWindowMs, this.opts.ttlSeconds).catch((e: unknown) => this.deps.observer?.presenceFailed?.(e)));
    }
    await Promise.all(writes);
  }

  /** Stops the timers and the channel listener, and releases every lesson (the transport closes the sockets). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const t of this.scoreTrailing.values()) clearTimeout(t);
    this.scoreTrailing.clear();
    this.unlisten();
    for (const id of this.lessons.keys()) this.deps.channels.remove(id);
    this.lessons.clear();
  }
}
