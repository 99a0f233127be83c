// The gateway's one connection listening to lessons' shard channels
// (SSUBSCRIBE), where the mutation, preload and publish scripts announce
// changes in the grammar of channel.ts. Several consumers share it (the entity
// cache of the read service, the signal cache): each holds lessons by
// reference and hears every parsed message of the lessons subscribed.
//
// On a Redis Cluster the subscriber must be a Cluster client created with
// `shardedSubscribers: true` (ioredis >= 5.8): it keeps one subscriber
// connection per master and routes each SSUBSCRIBE to the shard owning the
// channel's slot. With the default single subscriber connection, SSUBSCRIBE for
// a channel of another shard never answers (measured on ioredis 5.9.3 against
// the 3-master test cluster). On one server a plain dedicated connection does.
//
// SSUBSCRIBE is sent only once the connection is ready: ioredis 5.8.2-5.x
// writes (S)SUBSCRIBE during the handshake, the reply switches the connection
// to subscriber mode, its own INFO ready check is then refused, and the
// connection is dropped with the subscription lost (redis/ioredis#2037; seen
// under load). Every wanted channel is subscribed again after each
// (re)connection and retried after a failure; a confirmation counts only for
// the connection it was sent on, and settled() waits for confirmations rather
// than sending anything.
//
// Pub/sub is at most once: messages sent while a connection is down are gone.
// Listeners hear onDown() when a connection is lost (drop or distrust what they
// cached), onSubscribed(lesson) when a lesson's messages flow again, and
// onResync() after every reconnection; they still need a staleness bound.
import { Cluster, Command, Redis } from 'ioredis';
import type { RedisTarget } from '../../config.js';
import { parseChannelMessage, type ChannelMessage } from './channel.js';
import { closeRedis, type RedisClient } from './client.js';
import { lessonKeys } from './keys.js';

/** What a consumer of lesson channels hears. */
export interface LessonChannelListener {
  /** A message on the channel of a subscribed lesson (anything unparsable arrives as `lesson`). */
  onMessage?(lessonId: number, message: ChannelMessage): void;
  /** Redis confirmed the lesson's subscription on the current connection: its messages arrive from now on. */
  onSubscribed?(lessonId: number): void;
  /**
   * A subscriber connection was lost: messages published from now until
   * re-subscription are missed. `lessons`: the lessons of the shard lost (a
   * Cluster's shard subscriber), or null for every lesson.
   */
  onDown?(reason: string, lessons: number[] | null): void;
  /** The connection is back after a loss; the lessons named (null: all) are being subscribed again. */
  onResync?(lessons: number[] | null): void;
}

/** Creates a connection dedicated to shard-channel subscriptions for the configured target. */
export function createSubscriberClient(target: RedisTarget, connectionName = 'orgengine-sub'): RedisClient {
  if (target.mode === 'cluster') {
    return new Cluster(target.nodes, { shardedSubscribers: true, redisOptions: { connectionName } });
  }
  return new Redis(target.url, { connectionName });
}

/** Delay before a failed SSUBSCRIBE is tried again (a reconnection retries at once). */
const RETRY_MS = 500;

interface ChannelState {
  lessonId: number;
  refs: number;
  /** Redis confirmed the subscription on the current connection. */
  confirmed: boolean;
  /** Cluster: the master whose shard subscriber confirmed it ('' until then, or on one server). */
  node: string;
  /** Lost with its shard and not confirmed again yet. */
  lost: boolean;
}

/** The Cluster slot of a channel name (the slot of a key of that name). */
const slotOf = (channel: string): number => new Command('get', [channel]).getSlot() ?? 0;

/** Subscribes to lesson channels on demand (reference counted) and dispatches their messages to every listener. */
export class LessonChannels {
  private readonly channels = new Map<string, ChannelState>();
  private readonly listeners: LessonChannelListener[] = [];
  private readonly cluster: boolean;
  private ready = false;
  private downReason = 'connecting';
  /** Bumped by every connection loss: a confirmation sent on an older connection means nothing. */
  private epoch = 0;
  private connections = 0;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly client: RedisClient,
    private readonly keyPrefix: string,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {
    this.cluster = client instanceof Cluster;
    client.on('smessage', this.onMessage);
    // One server: 'ready' follows each connection. Cluster: 'subscribersReady'
    // follows each (re)start of the per-shard subscribers.
    client.on(this.cluster ? 'subscribersReady' : 'ready', this.onReady);
    if (this.cluster) {
      // A shard subscriber's connection ended: '-node' with its node key (the
      // client's ordinary node connections emit '-node' without one). Only
      // that shard's lessons lose their messages; ioredis replaces the
      // subscriber (subscribersReady) once the slot map names a live master.
      client.on('-node', (_r: unknown, nodeKey?: string) => {
        if (typeof nodeKey === 'string') this.onShardDown(nodeKey, `cluster shard subscriber for ${nodeKey} lost`);
      });
      // A subscriber dropped in a topology change (its node no longer a master):
      // the lessons it carried are subscribed again on their new master.
      client.on('-subscriber', () => this.onSubscribersChanged());
    } else {
      client.on('close', () => this.onDown('subscriber connection closed'));
    }
    client.on('error', (e: Error) => this.onError(e));
    if (!this.cluster && (client as Redis).status === 'ready') this.onReady();
  }

  /** Adds a consumer; returns a function that removes it. */
  listen(listener: LessonChannelListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Starts (or shares) the subscription to a lesson's channel. */
  add(lessonId: number): void {
    const channel = lessonKeys(this.keyPrefix, lessonId).channel;
    const c = this.channels.get(channel);
    if (c) {
      c.refs++;
      return;
    }
    this.channels.set(channel, { lessonId, refs: 1, confirmed: false, node: '', lost: false });
    if (this.ready && !this.closed) this.subscribe(channel);
  }

  /** Drops one reference to a lesson's channel; unsubscribes with the last. */
  remove(lessonId: number): void {
    const channel = lessonKeys(this.keyPrefix, lessonId).channel;
    const c = this.channels.get(channel);
    if (!c) return;
    if (--c.refs > 0) return;
    this.channels.delete(channel);
    this.wake();
    if (this.ready && !this.closed) this.client.sunsubscribe(channel).catch((e: unknown) => this.fail(e));
  }

  /** Whether the lesson's messages arrive now (subscription confirmed on the current connection). */
  isSubscribed(lessonId: number): boolean {
    return this.channels.get(lessonKeys(this.keyPrefix, lessonId).channel)?.confirmed === true;
  }

  /** 'ok' while messages flow, else what is wrong (held state, for /readyz). */
  health(): string {
    if (this.closed) return 'closed';
    if (!this.ready) return `not subscribed: ${this.downReason}`;
    let lost = 0;
    for (const c of this.channels.values()) if (c.lost) lost++;
    return lost > 0 ? `degraded: ${lost} lesson(s) not subscribed since ${this.downReason}` : 'ok';
  }

  /** Lessons subscribed (or being subscribed) now. */
  lessons(): number[] {
    return [...this.channels.values()].map((c) => c.lessonId);
  }

  /** Resolves once Redis has confirmed every channel added so far (for tests and start-up). */
  settled(): Promise<void> {
    if (this.allConfirmed()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Unsubscribes everything and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.channels.clear();
    this.listeners.length = 0;
    this.wake();
    this.client.off('smessage', this.onMessage);
    await closeRedis(this.client);
  }

  private subscribe(channel: string): void {
    const epoch = this.epoch;
    this.client.ssubscribe(channel).then(
      () => {
        const c = this.channels.get(channel);
        // A reply from before a loss proves nothing about the new connection; the next ready re-sends.
        if (!c || c.confirmed || epoch !== this.epoch || !this.ready) return;
        c.confirmed = true;
        c.lost = false;
        if (this.cluster) c.node = (this.client as Cluster).slots[slotOf(channel)]?.[0] ?? '';
        for (const l of this.listeners) l.onSubscribed?.(c.lessonId);
        this.wake();
      },
      (e: unknown) => {
        this.fail(e);
        this.scheduleRetry();
      },
    );
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.ready || this.closed) return; // the next ready event subscribes everything
      for (const [ch, c] of this.channels) if (!c.confirmed) this.subscribe(ch);
    }, RETRY_MS);
    this.retry.unref();
  }

  private readonly onReady = (): void => {
    if (this.closed) return;
    this.ready = true;
    if (this.connections++ > 0) {
      // One server: everything was lost. Cluster: the lessons of the shards lost.
      const lessons = this.cluster ? [...this.channels.values()].filter((c) => !c.confirmed).map((c) => c.lessonId) : null;
      if (lessons === null || lessons.length > 0) for (const l of this.listeners) l.onResync?.(lessons);
    }
    // ioredis resubscribes what it knew; channels whose SSUBSCRIBE never got
    // through it does not know, so every wanted channel is sent again (idempotent).
    for (const [ch, c] of this.channels) if (!c.confirmed) this.subscribe(ch);
  };

  private onDown(reason: string): void {
    if (this.closed) return;
    this.ready = false;
    this.downReason = reason;
    this.epoch++;
    for (const c of this.channels.values()) c.confirmed = false;
    for (const l of this.listeners) l.onDown?.(reason, null);
  }

  /** One shard's subscriber is gone: only the lessons it carried are affected. */
  private onShardDown(nodeKey: string, reason: string): void {
    if (this.closed) return;
    const lessons: number[] = [];
    for (const c of this.channels.values()) {
      if (c.node !== nodeKey || !c.confirmed) continue;
      c.confirmed = false;
      c.lost = true;
      lessons.push(c.lessonId);
    }
    this.downReason = reason;
    if (lessons.length > 0) for (const l of this.listeners) l.onDown?.(reason, lessons);
    this.scheduleRetry();
  }

  /** Subscribers were dropped in a reset: lessons on nodes no longer subscribed are lost. */
  private onSubscribersChanged(): void {
    const group = (this.client as unknown as { shardedSubscribers?: { shardedSubscribers?: Map<string, unknown> } }).shardedSubscribers?.shardedSubscribers;
    // Without ioredis' map, which shard went is unknown: treat it as every shard.
    if (!(group instanceof Map)) return this.onDown('cluster shard subscriber lost');
    const gone = new Set<string>();
    for (const c of this.channels.values()) if (c.confirmed && c.node !== '' && !group.has(c.node)) gone.add(c.node);
    for (const node of gone) this.onShardDown(node, `cluster shard subscriber for ${node} replaced`);
  }

  private fail(e: unknown): void {
    this.onError(e instanceof Error ? e : new Error(String(e)));
  }

  private allConfirmed(): boolean {
    for (const c of this.channels.values()) if (!c.confirmed) return false;
    return true;
  }

  private wake(): void {
    if (this.waiters.length === 0 || !this.allConfirmed()) return;
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private readonly onMessage = (channel: string, raw: string): void => {
    const c = this.channels.get(channel);
    if (!c) return;
    const m = parseChannelMessage(raw);
    for (const l of this.listeners) l.onMessage?.(c.lessonId, m);
  };
}
