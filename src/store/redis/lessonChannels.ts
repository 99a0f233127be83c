// Listening to lessons' shard channels (SSUBSCRIBE), where the mutation and
// publish scripts announce changes: `signal:<roomId>:<seq>`, `version:<v>`.
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
// here under load). Every wanted channel is subscribed again after each
// (re)connection and retried after a failure, and settled() waits for Redis's
// confirmation rather than sending anything.
//
// Pub/sub is at most once: messages sent while a connection is down are gone.
// Listeners hear onResync() after every reconnection so they can re-check what
// they hold; consumers still need a staleness bound of their own.
import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../../config.js';
import { parseLessonChannelMessage } from '../../model/signal.js';
import type { RedisClient } from './client.js';
import { lessonKeys } from './keys.js';

/** What a lesson channel subscriber reports. */
export interface LessonChannelListener {
  /** A room's signal log reached `seq`. */
  onSignal?(lessonId: number, roomId: string, seq: number): void;
  /** The lesson's readable version switched to `version`. */
  onVersion?(lessonId: number, version: number): void;
  /** The subscription was re-established; messages may have been missed meanwhile. */
  onResync?(): void;
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
}

/** Subscribes to lesson channels on demand (reference counted) and dispatches their messages. */
export class LessonChannelSubscriber {
  private readonly channels = new Map<string, ChannelState>();
  private readonly cluster: boolean;
  private ready = false;
  private connections = 0;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly client: RedisClient,
    private readonly keyPrefix: string,
    private readonly listener: LessonChannelListener,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {
    this.cluster = client instanceof Cluster;
    client.on('smessage', this.onMessage);
    // One server: 'ready' follows each connection. Cluster: 'subscribersReady'
    // follows each (re)start of the per-shard subscribers.
    client.on(this.cluster ? 'subscribersReady' : 'ready', this.onReady);
    for (const ev of this.cluster ? ['-node', '-subscriber'] : ['close']) client.on(ev, this.onDown);
    client.on('error', (e: Error) => this.onError(e));
    if (!this.cluster && (client as Redis).status === 'ready') this.onReady();
  }

  /** Starts (or shares) the subscription to a lesson's channel. */
  add(lessonId: number): void {
    const channel = lessonKeys(this.keyPrefix, lessonId).channel;
    const c = this.channels.get(channel);
    if (c) {
      c.refs++;
      return;
    }
    this.channels.set(channel, { lessonId, refs: 1, confirmed: false });
    if (this.ready) this.subscribe(channel);
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
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.channels.clear();
    this.wake();
    this.client.off('smessage', this.onMessage);
    await this.client.quit().catch(() => undefined);
  }

  private subscribe(channel: string): void {
    this.client.ssubscribe(channel).then(
      () => {
        const c = this.channels.get(channel);
        if (c) c.confirmed = true;
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
      if (!this.ready) return; // the next ready event subscribes everything
      for (const [ch, c] of this.channels) if (!c.confirmed) this.subscribe(ch);
    }, RETRY_MS);
    this.retry.unref();
  }

  private readonly onReady = (): void => {
    if (this.closed) return;
    this.ready = true;
    if (this.connections++ > 0) this.listener.onResync?.();
    // ioredis resubscribes what it knew; channels whose SSUBSCRIBE never got
    // through it does not know, so every wanted channel is sent again (idempotent).
    for (const ch of this.channels.keys()) this.subscribe(ch);
  };

  private readonly onDown = (): void => {
    this.ready = false;
    for (const c of this.channels.values()) c.confirmed = false;
  };

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

  private readonly onMessage = (channel: string, message: string): void => {
    const c = this.channels.get(channel);
    if (!c) return;
    const ev = parseLessonChannelMessage(message);
    if (ev.kind === 'signal') this.listener.onSignal?.(c.lessonId, ev.roomId, ev.seq);
    else if (ev.kind === 'version') this.listener.onVersion?.(c.lessonId, ev.version);
  };
}
