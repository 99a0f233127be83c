// An in-process LRU bounded by entries and estimated bytes, with a two-stage TTL
// backstop and generation stamps: an entry is served only while the generation
// it was filled under is still current, so invalidating a whole group of entries
// (one lesson, say) is one counter bump instead of a scan. Past its soft TTL an
// entry is still served but reported due for a refresh (the caller refreshes it
// in the background); past the hard TTL it is gone. Imports nothing of ours.
import { LRUCache } from 'lru-cache';

/** Bounds and clock of a GenCache. */
export interface GenCacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** Hard TTL: no entry is served older than this; 0 disables caching altogether (every get misses, set is a no-op). */
  ttlMs: number;
  /**
   * Soft TTL (capped at ttlMs; default ttlMs, i.e. no soft stage): an entry
   * older than this is still served, but lookup reports it due for a refresh.
   */
  softTtlMs?: number;
  /**
   * Share of the TTL (0-0.5) taken off at random per entry, so entries filled
   * together (a class entering at once) do not all expire, and miss, together.
   * It applies to the soft TTL when there is a soft stage, else to the hard one.
   */
  ttlJitter?: number;
  /** Clock in ms (injected by tests). */
  now?: () => number;
  /** Random source in [0, 1) for the jitter (injected by tests). */
  random?: () => number;
}

/** Running totals of a cache. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Misses because the entry's generation was no longer current. */
  staleGen: number;
  sets: number;
  /** Entries started afresh with the value they held (renew). */
  renewals: number;
  evictions: number;
}

/** A held entry as lookup returns it. */
export interface CacheEntry<V> {
  readonly value: V;
  /** Clock time from which the entry is due for a refresh (past its soft TTL). */
  readonly softAt: number;
}

interface Entry<V> extends CacheEntry<V> {
  gen: number;
  bytes: number;
  softAt: number;
}

/** Fixed per-entry overhead added to the caller's byte estimate (key, entry object, LRU slots). */
const ENTRY_OVERHEAD = 96;

/** LRU of generation-stamped values. */
export class GenCache<V extends object> {
  private readonly lru: LRUCache<string, Entry<V>> | null;
  /** Counters since start. */
  readonly stats: CacheStats = { hits: 0, misses: 0, staleGen: 0, sets: 0, renewals: 0, evictions: 0 };
  readonly ttlMs: number;
  /** Soft TTL in effect (equal to ttlMs when there is no soft stage). */
  readonly softTtlMs: number;
  private readonly ttlJitter: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(opts: GenCacheOptions) {
    const o = { ttlJitter: 0, random: Math.random, ...opts };
    if (!(o.ttlJitter >= 0 && o.ttlJitter <= 0.5)) throw new RangeError(`ttlJitter must be from 0 to 0.5, got ${o.ttlJitter}`);
    this.ttlJitter = o.ttlJitter;
    this.random = o.random;
    if (!Number.isInteger(o.maxEntries) || o.maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${o.maxEntries}`);
    if (!Number.isInteger(o.maxBytes) || o.maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer, got ${o.maxBytes}`);
    if (!Number.isFinite(o.ttlMs) || o.ttlMs < 0) throw new RangeError(`ttlMs must be >= 0, got ${o.ttlMs}`);
    this.ttlMs = o.ttlMs;
    const soft = o.softTtlMs ?? o.ttlMs;
    if (!Number.isFinite(soft) || soft < (o.ttlMs > 0 ? 1 : 0)) throw new RangeError(`softTtlMs must be >= 1, got ${soft}`);
    this.softTtlMs = Math.min(soft, o.ttlMs);
    this.now = o.now ?? (() => performance.now());
    this.lru =
      o.ttlMs === 0
        ? null
        : new LRUCache<string, Entry<V>>({
            max: o.maxEntries,
            maxSize: o.maxBytes,
            sizeCalculation: (e, k) => e.bytes + k.length * 2 + ENTRY_OVERHEAD,
            ttl: o.ttlMs,
            ttlResolution: 0,
            updateAgeOnGet: false,
            perf: o.now ? { now: o.now } : undefined,
            dispose: (_v, _k, reason) => {
              if (reason === 'evict') this.stats.evictions++;
            },
          });
  }

  /**
   * The entry stored under `key` if it was filled under generation `gen` and is
   * younger than the hard TTL; `softAt` says from when it is due for a refresh.
   */
  lookup(key: string, gen: number): CacheEntry<V> | undefined {
    const e = this.lru?.get(key);
    if (e === undefined) {
      this.stats.misses++;
      return undefined;
    }
    if (e.gen !== gen) {
      this.stats.staleGen++;
      this.stats.misses++;
      this.lru!.delete(key);
      return undefined;
    }
    this.stats.hits++;
    return e;
  }

  /** The value stored under `key` if it was filled under generation `gen` and has not expired. */
  get(key: string, gen: number): V | undefined {
    return this.lookup(key, gen)?.value;
  }

  /** True when a looked-up entry is past its soft TTL. */
  due(e: CacheEntry<V>): boolean {
    return this.now() >= e.softAt;
  }

  /** Like get, but counts nothing (for reads that are not requests, e.g. composing a view). */
  peek(key: string, gen: number): V | undefined {
    const e = this.lru?.get(key);
    return e !== undefined && e.gen === gen ? e.value : undefined;
  }

  /**
   * Stores `value` filled under generation `gen`; `bytes` estimates its size.
   * `ttlMs` may shorten the TTL; such an entry has no soft stage (it is never
   * served past it).
   */
  set(key: string, value: V, gen: number, bytes: number, ttlMs?: number): void {
    if (!this.lru) return;
    if (ttlMs !== undefined && ttlMs <= 0) return;
    this.stats.sets++;
    const [soft, ttl] = this.lifetimes(ttlMs);
    this.lru.set(key, { value, gen, bytes: Math.max(0, Math.ceil(bytes)), softAt: this.now() + soft }, ttl === this.ttlMs ? undefined : { ttl });
  }

  /**
   * Starts the entry under `key` afresh, as if its value had just been stored
   * again (new soft and hard TTL), keeping the very same value: for a refresh
   * that loaded what the entry already holds, so the cache keeps its objects
   * (and everything memoised on them) instead of replacing them with equal
   * new ones. False, and nothing changes, unless the entry is held under `gen`.
   */
  renew(key: string, gen: number): boolean {
    const e = this.lru?.peek(key);
    if (e === undefined || e.gen !== gen) return false;
    this.stats.renewals++;
    const [soft] = this.lifetimes(undefined);
    e.softAt = this.now() + soft;
    this.lru!.set(key, e);
    return true;
  }

  /** [soft, hard] TTL of an entry stored now (jitter applied). */
  private lifetimes(ttlMs: number | undefined): [number, number] {
    let ttl = ttlMs === undefined ? this.ttlMs : Math.min(ttlMs, this.ttlMs);
    let soft = ttlMs === undefined ? this.softTtlMs : ttl;
    const jitter = this.ttlJitter > 0 ? 1 - this.ttlJitter * this.random() : 1;
    if (soft < ttl) soft = Math.max(1, Math.round(soft * jitter));
    else soft = ttl = Math.max(1, Math.round(ttl * jitter));
    return [soft, ttl];
  }

  delete(key: string): void {
    this.lru?.delete(key);
  }

  clear(): void {
    this.lru?.clear();
  }

  /** Entries held now. */
  get size(): number {
    return this.lru?.size ?? 0;
  }

  /** Estimated bytes held now. */
  get bytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }
}

/** One load in flight per key: concurrent misses for the same key share one promise. */
export class SingleFlight<V> {
  private readonly pending = new Map<string, Promise<V>>();

  /** Runs `load` unless a load for `key` is already running, whose result is shared. */
  run(key: string, load: () => Promise<V>): Promise<V> {
    const p = this.pending.get(key);
    if (p) return p;
    let first: Promise<V>;
    try {
      first = load();
    } catch (e) {
      first = Promise.reject(e);
    }
    const started = first.finally(() => this.pending.delete(key));
    this.pending.set(key, started);
    return started;
  }

  /** True while a load for `key` is running. */
  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** Loads running now. */
  get size(): number {
    return this.pending.size;
  }
}
