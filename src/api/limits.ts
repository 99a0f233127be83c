// Per-caller rate limits of the gateway, for every transport: token buckets per
// uid and per route class (reads, mutations, publishes; a service token has one
// bucket of its own, higher class for everything it calls), and one bucket per
// client address over every class. Buckets live in bounded LRU tables (an
// evicted bucket starts full again when its caller returns). The transports
// call take() once per request, from the dispatch discipline and the gRPC
// call wrapper, never per route. A hit allocates nothing: the bucket's two
// fields are updated in place, the clock is the request's own reading.
import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import type { Caller } from '../auth/caller.js';
import type { ApiConfig } from '../config.js';
import { OrgError } from '../errors.js';

/** Route classes with their own rates. */
export type LimitClass = 'read' | 'mutation' | 'publish';

/** Bucket table index per class; service tokens use SERVICE whatever the route. */
const CLASS_INDEX: Record<LimitClass, number> = { read: 0, mutation: 1, publish: 2 };
const SERVICE = 3;
const CLASS_NAMES = ['read', 'mutation', 'publish', 'service'] as const;

/** The settings of the limiter. */
export type RateLimitConfig = Pick<
  ApiConfig,
  | 'rateReadPerSecond'
  | 'rateReadBurst'
  | 'rateMutationPerSecond'
  | 'rateMutationBurst'
  | 'ratePublishPerSecond'
  | 'ratePublishBurst'
  | 'rateServicePerSecond'
  | 'rateServiceBurst'
  | 'rateAddressPerSecond'
  | 'rateAddressBurst'
  | 'rateMaxBuckets'
>;

interface Bucket {
  tokens: number;
  /** Monotonic ms of the last update. */
  at: number;
}

/**
 * Takes one token from `b` (refilled at `perMs` up to `burst` since b.at);
 * returns 0, or the ms until a token is there.
 */
function take(b: Bucket, perMs: number, burst: number, now: number): number {
  let t = b.tokens + (now - b.at) * perMs;
  if (t > burst) t = burst;
  b.at = now;
  if (t >= 1) {
    b.tokens = t - 1;
    return 0;
  }
  b.tokens = t;
  return (1 - t) / perMs;
}

/** Charges one request to `key`'s bucket (a new caller starts with a full one): 0, or the ms to wait. */
function charge<K extends {}>(table: LRUCache<K, Bucket>, key: K, perMs: number, burst: number, now: number): number {
  const b = table.get(key);
  if (b !== undefined) return take(b, perMs, burst, now);
  table.set(key, { tokens: burst - 1, at: now });
  return 0;
}

/** Token buckets per uid and class, and per client address. */
export class RateLimiter {
  private readonly perMs: Float64Array;
  private readonly burst: Float64Array;
  private readonly byUid: Array<LRUCache<number, Bucket>>;
  private readonly byAddress: LRUCache<string, Bucket> | null;
  private readonly addressPerMs: number;
  private readonly addressBurst: number;
  private readonly counters: Array<{ uid: { inc(): void }; address: { inc(): void } }>;

  /** `limited`: the refusal counter (metrics.ts registerRateLimitMetrics). */
  constructor(cfg: RateLimitConfig, limited: Counter<'class' | 'by'>) {
    this.perMs = Float64Array.from([cfg.rateReadPerSecond, cfg.rateMutationPerSecond, cfg.ratePublishPerSecond, cfg.rateServicePerSecond], (r) => r / 1000);
    this.burst = Float64Array.from([cfg.rateReadBurst, cfg.rateMutationBurst, cfg.ratePublishBurst, cfg.rateServiceBurst]);
    this.byUid = CLASS_NAMES.map(() => new LRUCache<number, Bucket>({ max: cfg.rateMaxBuckets }));
    this.addressPerMs = cfg.rateAddressPerSecond / 1000;
    this.addressBurst = cfg.rateAddressBurst;
    this.byAddress = cfg.rateAddressPerSecond > 0 ? new LRUCache<string, Bucket>({ max: cfg.rateMaxBuckets }) : null;
    this.counters = CLASS_NAMES.map((c) => ({ uid: limited.labels(c, 'uid'), address: limited.labels(c, 'address') }));
  }

  /** Whether client addresses are limited (the transport then passes them to admit()). */
  get limitsAddresses(): boolean {
    return this.byAddress !== null;
  }

  /**
   * Lets one request through, or throws TOO_MANY_REQUESTS with the seconds to
   * wait (details.retryAfterSeconds). `caller`: the authenticated caller (null
   * before authentication); `address`: the client's address (null: not
   * limited by address); `now`: the request's monotonic clock reading, ms.
   */
  admit(cls: LimitClass, caller: Caller | null, address: string | null, now: number): void {
    const i = caller !== null && caller.role === 'service' ? SERVICE : CLASS_INDEX[cls];
    if (address !== null && this.byAddress !== null) {
      const wait = charge(this.byAddress, address, this.addressPerMs, this.addressBurst, now);
      if (wait > 0) {
        this.counters[i]!.address.inc();
        throw tooMany(CLASS_NAMES[i]!, 'client address', wait);
      }
    }
    if (caller === null) return;
    const wait = charge(this.byUid[i]!, caller.uid, this.perMs[i]!, this.burst[i]!, now);
    if (wait > 0) {
      this.counters[i]!.uid.inc();
      throw tooMany(CLASS_NAMES[i]!, `uid ${caller.uid}`, wait);
    }
  }
}

function tooMany(cls: string, who: string, waitMs: number): OrgError {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new OrgError('TOO_MANY_REQUESTS', `${who} is over its ${cls} rate limit; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
}

/** The Retry-After seconds of a TOO_MANY_REQUESTS error, or null. */
export function retryAfterOf(e: OrgError): number | null {
  const s = e.code === 'TOO_MANY_REQUESTS' ? e.details?.retryAfterSeconds : undefined;
  return typeof s === 'number' ? s : null;
}
