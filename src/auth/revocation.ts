// Token revocation as a gateway holds it: per lesson, the times up to which
// tokens are refused (for one user, or for every token of the lesson), checked
// after the verified-token cache on every request, in memory: no Redis round
// trip per request. A lesson's list is loaded on its first request (that
// request waits for the one read), kept fresh by the lesson channel (a
// revocation is announced in the same step as it is stored) and read again
// when older than `refreshMs` (in the background; the request goes on with
// what is held). So a revocation applies within the channel's delivery, and
// within refreshMs plus one read when its message was lost. The set of lessons
// held is bounded (LRU); an evicted lesson is loaded again on its next request.
// Service tokens for every lesson ('*') are not revocable per lesson: rotate
// the key that signed them (tokens.ts).
import { LRUCache } from 'lru-cache';
import { OrgError } from '../errors.js';
import type { Claims } from './tokens.js';

/** What the gateway wires a revocation holder to: where lists come from and the channel subscription. */
export interface RevocationSource {
  /** The lesson's revocations (one Redis read). */
  load(lessonId: number): Promise<{ all: number; users: Map<number, number> }>;
  /** Start hearing the lesson's channel (messages arrive through apply()). */
  watch(lessonId: number): void;
  /** Stop hearing it. */
  unwatch(lessonId: number): void;
}

/** Options of a Revocations holder. */
export interface RevocationOptions {
  /** Longest a list is trusted without reading it again, ms. */
  refreshMs: number;
  /** Lessons held at once. */
  maxLessons: number;
  /** Monotonic clock in ms (injected by tests). */
  now?: () => number;
  /** A background refresh failed (the list held stays in force). */
  onError?(e: unknown, lessonId: number): void;
}

interface LessonList {
  all: number;
  users: Map<number, number>;
  /** Monotonic ms of the last load. */
  loadedAt: number;
  /** The load in flight, if any. */
  loading: Promise<void> | null;
  /** The first load while it runs: requests arriving meanwhile wait for it too. */
  first: Promise<void> | null;
}

const revoked = (): OrgError => new OrgError('UNAUTHENTICATED', 'token revoked');

/** The revocation lists of the lessons a gateway serves. */
export class Revocations {
  private readonly lessons: LRUCache<number, LessonList>;
  private readonly now: () => number;

  constructor(
    private readonly source: RevocationSource,
    private readonly opts: RevocationOptions,
  ) {
    if (!Number.isInteger(opts.maxLessons) || opts.maxLessons < 1) throw new RangeError(`maxLessons must be a positive integer, got ${opts.maxLessons}`);
    this.now = opts.now ?? (() => performance.now());
    this.lessons = new LRUCache({ max: opts.maxLessons, dispose: (_v, lessonId) => this.source.unwatch(lessonId) });
  }

  /**
   * Nothing when the caller's token stands; throws UNAUTHENTICATED when it is
   * revoked; a promise (settling the same way) when the lesson's list must be
   * loaded first. `now`: the request's monotonic clock reading, if at hand.
   */
  check(c: Claims, now = this.now()): void | Promise<void> {
    if (c.lesson === '*') return;
    const list = this.lessons.get(c.lesson);
    if (list === undefined) return this.loadAndCheck(c);
    if (list.first !== null) return list.first.then(() => this.verdict(list, c));
    if (now - list.loadedAt > this.opts.refreshMs && list.loading === null) this.refresh(c.lesson, list);
    this.verdict(list, c);
  }

  /** A revocation heard on the lesson channel (or made here): applied at once to a list held. */
  apply(lessonId: number, uid: number | null, before: number): void {
    const list = this.lessons.peek(lessonId);
    if (list === undefined) return;
    if (uid === null) list.all = Math.max(list.all, before);
    else list.users.set(uid, Math.max(list.users.get(uid) ?? 0, before));
  }

  /** Messages may have been missed (channel lost, or re-subscribed): these lessons' lists (null: all) are read again on next use. */
  distrust(lessons: readonly number[] | null): void {
    if (lessons === null) {
      for (const list of this.lessons.values()) list.loadedAt = -Infinity;
      return;
    }
    for (const l of lessons) {
      const list = this.lessons.peek(l);
      if (list) list.loadedAt = -Infinity;
    }
  }

  /** Lessons held. */
  size(): number {
    return this.lessons.size;
  }

  /** Drops every list (and its channel subscription). */
  clear(): void {
    this.lessons.clear();
  }

  private verdict(list: LessonList, c: Claims): void {
    const iat = c.iat ?? 0;
    if (iat <= list.all) throw revoked();
    if (list.users.size > 0) {
      const t = list.users.get(c.uid);
      if (t !== undefined && iat <= t) throw revoked();
    }
  }

  private loadAndCheck(c: Claims): Promise<void> {
    const lessonId = c.lesson as number;
    // Held while it loads, so concurrent first requests share one read (and all wait for it).
    const list: LessonList = { all: 0, users: new Map(), loadedAt: -Infinity, loading: null, first: null };
    this.lessons.set(lessonId, list);
    // Subscribed before the read: a revocation stored after the read is heard.
    this.source.watch(lessonId);
    list.first = this.load(lessonId, list).then(
      () => {
        list.first = null;
      },
      (e: unknown) => {
        list.first = null;
        // Not held: the next request tries again (and waits for it).
        if (this.lessons.peek(lessonId) === list) this.lessons.delete(lessonId);
        throw e;
      },
    );
    return list.first.then(() => this.verdict(list, c));
  }

  /** Reads the list again in the background; a failure keeps what is held. */
  private refresh(lessonId: number, list: LessonList): void {
    this.load(lessonId, list).catch((e: unknown) => this.opts.onError?.(e, lessonId));
  }

  private load(lessonId: number, list: LessonList): Promise<void> {
    if (list.loading) return list.loading;
    const started = this.now();
    list.loading = this.source.load(lessonId).then(
      (fresh) => {
        list.loading = null;
        // Merged, not replaced: a message applied while the read was in flight is kept.
        list.all = Math.max(list.all, fresh.all);
        for (const [u, t] of fresh.users) list.users.set(u, Math.max(list.users.get(u) ?? 0, t));
        list.loadedAt = started;
      },
      (e: unknown) => {
        list.loading = null;
        throw e;
      },
    );
    return list.loading;
  }
}
