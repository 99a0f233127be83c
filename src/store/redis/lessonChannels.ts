// Listening to lessons' shard channels (SSUBSCRIBE), where the mutation and
// publish scripts announce changes: `signal:<roomId>:<seq>`, `version:<v>`.
//
// On a Redis Cluster the subscriber must be a Cluster client created with
// `shardedSubscribers: true` (ioredis >= 5.8): it keeps one subscriber
// connection per master and routes each SSUBSCRIBE to the shard owning the
// channel's slot. With the default single subscriber connection, SSUBSCRIBE for
// a channel of another shard never answers (measured on ioredis 5.9.3 against
// the 3-master test cluster). On one server a plain duplicate connection does.
//
// Pub/sub is at most once: messages sent while a connection is down are gone.
// Listeners hear onResync() after every reconnect so they can re-check what
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

/** Subscribes to lesson channels on demand (reference counted) and dispatches their messages. */
export class LessonChannelSubscriber {
  private readonly channels = new Map<string, { lessonId: number; refs: number }>();
  private readonly readySeen = new Set<string>();
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly keyPrefix: string,
    private readonly listener: LessonChannelListener,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {
    client.on('smessage', this.onMessage);
    // 'ready' on one server, 'subscribersReady' on a Cluster: both follow a
    // (re)subscription, and only the ones after the first mean a gap.
    client.on('ready', () => this.onReady('ready'));
    client.on('subscribersReady', () => this.onReady('subscribersReady'));
    client.on('error', (e: Error) => this.onError(e));
  }

  /** Starts (or shares) the subscription to a lesson's channel. */
  add(lessonId: number): void {
    const channel = lessonKeys(this.keyPrefix, lessonId).channel;
    const c = this.channels.get(channel);
    if (c) {
      c.refs++;
      return;
    }
    this.channels.set(channel, { lessonId, refs: 1 });
    this.client.ssubscribe(channel).catch((e: unknown) => this.onError(e instanceof Error ? e : new Error(String(e))));
  }

  /** Drops one reference to a lesson's channel; unsubscribes with the last. */
  remove(lessonId: number): void {
    const channel = lessonKeys(this.keyPrefix, lessonId).channel;
    const c = this.channels.get(channel);
    if (!c) return;
    if (--c.refs > 0) return;
    this.channels.delete(channel);
    if (!this.closed) this.client.sunsubscribe(channel).catch((e: unknown) => this.onError(e instanceof Error ? e : new Error(String(e))));
  }

  /** Lessons subscribed now. */
  lessons(): number[] {
    return [...this.channels.values()].map((c) => c.lessonId);
  }

  /** Resolves once every channel added so far is subscribed (for tests and start-up). */
  async settled(): Promise<void> {
    // SSUBSCRIBE replies in order per connection; a no-op SSUBSCRIBE of an
    // existing channel per lesson is a cheap barrier on whichever shard holds it.
    await Promise.all([...this.channels.keys()].map((ch) => this.client.ssubscribe(ch)));
  }

  /** Unsubscribes everything and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.channels.clear();
    this.client.off('smessage', this.onMessage);
    await this.client.quit().catch(() => undefined);
  }

  private onReady(event: string): void {
    if (this.readySeen.has(event)) this.listener.onResync?.();
    this.readySeen.add(event);
  }

  private readonly onMessage = (channel: string, message: string): void => {
    const c = this.channels.get(channel);
    if (!c) return;
    const ev = parseLessonChannelMessage(message);
    if (ev.kind === 'signal') this.listener.onSignal?.(c.lessonId, ev.roomId, ev.seq);
    else if (ev.kind === 'version') this.listener.onVersion?.(c.lessonId, ev.version);
  };
}
