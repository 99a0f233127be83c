// Prometheus view of the signal cache's counters. Values are read from the
// cache's snapshot at scrape time, so the hot path only bumps typed arrays.
// Every series has a `bucket` label: "0".."N-1" per bucket and "all" for the
// total (sum over the numbered buckets, not over "all", to avoid counting twice).
import type { Registry } from 'prom-client';
import { counter, gauge, registerMetrics, type MetricDef } from '../metrics.js';
import type { SignalCache, SignalCacheSnapshot, SignalCacheStats } from './signalCache.js';

const COUNTERS: ReadonlyArray<[keyof SignalCacheStats, string, string]> = [
  ['reads', 'reads', 'signal reads served'],
  ['hits', 'hits', 'signal reads answered from the local cache without waiting for Redis'],
  ['misses', 'misses', 'signal reads that waited for a fetch (started one or joined the one in flight)'],
  ['tailFetches', 'tail_fetches', 'round trips to Redis for a room tail'],
  ['entriesFetched', 'entries_fetched', 'signals received from Redis'],
  ['bytesFetched', 'bytes_fetched', 'bytes of signals received from Redis'],
  ['evictions', 'evictions', 'rooms evicted to stay within the bucket bounds'],
  ['fetchErrors', 'fetch_errors', 'tail fetches that failed (connection, timeout)'],
  ['notifications', 'notifications', 'signal notifications that found their room cached and behind'],
  ['resets', 'resets', 'rooms whose log restarted in Redis (counter went back)'],
];

const GAUGES: ReadonlyArray<[keyof SignalCacheStats, string, string]> = [
  ['redisRequestsSaved', 'redis_requests_saved', 'signal reads minus Redis round trips (requests the cache spared)'],
  ['rooms', 'rooms', 'rooms held in the signal cache'],
  ['bytes', 'bytes', 'estimated bytes held in the signal cache'],
];

function eachSeries(snap: SignalCacheSnapshot, key: keyof SignalCacheStats, fn: (bucket: string, v: number) => void): void {
  snap.buckets.forEach((s, i) => fn(String(i), s[key]));
  fn('all', snap.total[key]);
}

/** Registers the signal cache's counters and gauges on `registry` (names start with `prefix`). */
export function registerSignalCacheMetrics(cache: SignalCache, registry: Registry, prefix = 'orgengine_signal_cache_'): void {
  // A snapshot is a few typed-array reads per bucket; taking one per metric keeps scrapes simple.
  const current = (): SignalCacheSnapshot => cache.snapshot();
  const defs: Record<string, MetricDef<unknown>> = {};
  for (const [key, name, help] of COUNTERS) {
    defs[key] = counter({
      name: `${prefix}${name}_total`,
      help,
      labelNames: ['bucket'],
      collect() {
        this.reset();
        eachSeries(current(), key, (bucket, v) => this.inc({ bucket }, v));
      },
    });
  }
  for (const [key, name, help] of GAUGES) {
    defs[key] = gauge({
      name: `${prefix}${name}`,
      help,
      labelNames: ['bucket'],
      collect() {
        eachSeries(current(), key, (bucket, v) => this.set({ bucket }, v));
      },
    });
  }
  registerMetrics(registry, defs);
}
