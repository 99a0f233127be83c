// Prometheus metrics of one gateway worker: requests by route and status, a
// latency histogram, cache hits and misses (and their ratio), invalidations,
// in-flight requests. Label children are resolved once per (route, status) so
// the request path does no label hashing.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReadStats } from './services/reads.js';

/** Latency buckets in seconds: a warm read is tens of microseconds, a miss about a millisecond. */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

interface Child {
  inc(): void;
}
interface Observer {
  observe(v: number): void;
}

/** Metrics of one worker. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'transport' | 'route' | 'status'>;
  private readonly latency: Histogram<'transport' | 'route'>;
  private readonly counters = new Map<string, Child>();
  private readonly observers = new Map<string, Observer>();
  /** Requests waiting on Redis now (set by the transports). */
  inFlight = 0;

  constructor(opts: { defaultMetrics?: boolean; reads?: () => ReadStats | null; cacheSize?: () => { entries: number; bytes: number; lessons: number } | null } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'orgengine_requests_total', help: 'Requests by transport, route and status', labelNames: ['transport', 'route', 'status'], registers });
    this.latency = new Histogram({ name: 'orgengine_request_seconds', help: 'Request latency by transport and route', labelNames: ['transport', 'route'], buckets: BUCKETS, registers });
    const self = this;
    new Gauge({
      name: 'orgengine_in_flight',
      help: 'Requests waiting on Redis',
      registers,
      collect() {
        this.set(self.inFlight);
      },
    });
    const reads = opts.reads ?? (() => null);
    new Gauge({
      name: 'orgengine_cache_requests',
      help: 'Local cache lookups by kind and result (counter semantics; summed across workers)',
      labelNames: ['kind', 'result'],
      registers,
      collect() {
        const s = reads();
        if (!s) return;
        for (const [k, v] of Object.entries(s.hits)) this.set({ kind: k, result: 'hit' }, v);
        for (const [k, v] of Object.entries(s.misses)) this.set({ kind: k, result: 'miss' }, v);
      },
    });
    new Gauge({
      name: 'orgengine_cache_hit_ratio',
      help: 'Local cache hits / lookups since start (averaged across workers)',
      registers,
      aggregator: 'average',
      collect() {
        const s = reads();
        if (!s) return;
        let hits = 0;
        let all = 0;
        for (const v of Object.values(s.hits)) hits += v;
        for (const v of Object.values(s.misses)) all += v;
        all += hits;
        this.set(all === 0 ? 0 : hits / all);
      },
    });
    new Gauge({
      name: 'orgengine_cache_invalidations',
      help: 'Channel messages applied by kind, and subscriber resets (counter semantics)',
      labelNames: ['kind'],
      registers,
      collect() {
        const s = reads();
        if (!s) return;
        for (const [k, v] of Object.entries(s.invalidations)) this.set({ kind: k }, v);
      },
    });
    const size = opts.cacheSize ?? (() => null);
    new Gauge({
      name: 'orgengine_cache_size',
      help: 'Local cache entries, estimated bytes and lessons tracked',
      labelNames: ['what'],
      registers,
      collect() {
        const s = size();
        if (!s) return;
        this.set({ what: 'entries' }, s.entries);
        this.set({ what: 'bytes' }, s.bytes);
        this.set({ what: 'lessons' }, s.lessons);
      },
    });
  }

  /** Records one finished request. */
  observe(transport: 'http' | 'grpc', route: string, status: number | string, seconds: number): void {
    const ck = `${transport}\u0000${route}\u0000${status}`;
    let c = this.counters.get(ck);
    if (!c) this.counters.set(ck, (c = this.requests.labels(transport, route, String(status))));
    c.inc();
    const ok = `${transport}\u0000${route}`;
    let o = this.observers.get(ok);
    if (!o) this.observers.set(ok, (o = this.latency.labels(transport, route)));
    o.observe(seconds);
  }

  /** Text exposition of this worker's metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** This worker's metrics as JSON (to aggregate across workers). */
  json(): Promise<unknown[]> {
    return this.registry.getMetricsAsJSON();
  }

  /** Content type of the text exposition. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Merges several workers' JSON metrics into one text exposition. */
export async function aggregateMetrics(perWorker: unknown[][]): Promise<string> {
  const reg = AggregatorRegistry.aggregate(perWorker as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  return reg.metrics();
}
