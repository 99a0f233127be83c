// Prometheus metrics: the one way this code base defines and registers them
// (counter/gauge/histogram definitions created on a registry by registerMetrics),
// and the metrics of one gateway worker: requests by route and status, a
// latency histogram, cache hits and misses (and their ratio), invalidations,
// in-flight requests. The request path records into plain per-route counters
// (RouteMetrics: integer adds, a bucket index by a short loop) and prom-client
// sees them only when scraped (collect callbacks), so a request hashes no labels.
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/** One metric, defined by counter(), gauge() or histogram() and created on a registry by registerMetrics. */
export interface MetricDef<M> {
  create(registry: Registry): M;
}

/** A definition without `registers`: the registry is given once, to registerMetrics. */
type Definition<C> = Omit<C, 'registers'>;

/** A counter's definition. */
export function counter<L extends string = never>(def: Definition<CounterConfiguration<L>>): MetricDef<Counter<L>> {
  return { create: (registry) => new Counter({ ...def, registers: [registry] }) };
}

/** A gauge's definition. */
export function gauge<L extends string = never>(def: Definition<GaugeConfiguration<L>>): MetricDef<Gauge<L>> {
  return { create: (registry) => new Gauge({ ...def, registers: [registry] }) };
}

/** A histogram's definition. */
export function histogram<L extends string = never>(def: Definition<HistogramConfiguration<L>>): MetricDef<Histogram<L>> {
  return { create: (registry) => new Histogram({ ...def, registers: [registry] }) };
}

/** The metrics registerMetrics made from a set of definitions, under the same keys. */
export type Registered<D> = { [K in keyof D]: D[K] extends MetricDef<infer M> ? M : never };

/** Creates every metric of `defs` on `registry`, in order, and returns them under the same keys. */
export function registerMetrics<D extends Record<string, MetricDef<unknown>>>(registry: Registry, defs: D): Registered<D> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defs)) out[key] = def.create(registry);
  return out as Registered<D>;
}

/** A fresh registry; with the process's default metrics (CPU, memory, event loop) when asked, once per process that serves /metrics. */
export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Latency buckets in seconds: a warm read is tens of microseconds, a miss about a millisecond. */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Request count by status and latency buckets of one (transport, route), read at scrape. */
export class RouteMetrics {
  /** Count by numeric status (HTTP codes). */
  readonly byCode = new Float64Array(600);
  /** Count by any other status label (gRPC codes as text, 'aborted'). */
  readonly byLabel = new Map<string, number>();
  /** Non-cumulative count per finite bucket of BUCKETS (the +Inf bucket is `count`). */
  readonly buckets = new Float64Array(BUCKETS.length);
  sum = 0;
  count = 0;
  readonly labels: { transport: string; route: string };

  constructor(transport: string, route: string) {
    this.labels = { transport, route };
  }

  /** Records one finished request: its status and latency in milliseconds. */
  observeMs(status: number | string, ms: number): void {
    if (typeof status === 'number' && status >= 0 && status < 600 && Number.isInteger(status)) this.byCode[status] = this.byCode[status]! + 1;
    else {
      const k = String(status);
      this.byLabel.set(k, (this.byLabel.get(k) ?? 0) + 1);
    }
    const seconds = ms / 1000;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    if (i < BUCKETS.length) this.buckets[i] = this.buckets[i]! + 1;
    this.sum += seconds;
    this.count++;
  }
}

interface HistogramEntry {
  labels: object;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/** The local entity cache's counters the gateway exports (the read service's stats). */
export interface CacheCounters {
  hits: Record<string, number>;
  misses: Record<string, number>;
  invalidations: Record<string, number>;
  refreshes?: Record<string, number>;
}

/** Metrics of one worker. */
export class Metrics {
  readonly registry: Registry;
  private readonly routes = new Map<string, RouteMetrics>();
  /** Requests waiting on Redis now (set by the transports). */
  inFlight = 0;

  constructor(opts: { defaultMetrics?: boolean; reads?: () => CacheCounters | null; cacheSize?: () => { entries: number; bytes: number; lessons: number } | null } = {}) {
    this.registry = createRegistry({ defaultMetrics: opts.defaultMetrics });
    const routes = this.routes;
    const inFlight = () => this.inFlight;
    const reads = opts.reads ?? (() => null);
    const size = opts.cacheSize ?? (() => null);
    registerMetrics(this.registry, {
      requests: counter({
        name: 'orgengine_requests_total',
        help: 'Requests by transport, route and status',
        labelNames: ['transport', 'route', 'status'],
        collect() {
          this.reset();
          for (const r of routes.values()) {
            const { transport, route } = r.labels;
            for (let code = 0; code < r.byCode.length; code++) {
              const n = r.byCode[code]!;
              if (n > 0) this.inc({ transport, route, status: String(code) }, n);
            }
            for (const [status, n] of r.byLabel) this.inc({ transport, route, status }, n);
          }
        },
      }),
      latency: histogram({
        name: 'orgengine_request_seconds',
        help: 'Request latency by transport and route',
        labelNames: ['transport', 'route'],
        buckets: BUCKETS,
        collect() {
          // prom-client has no bulk setter: zero each series, then fill the
          // entry zero() created (it keeps our labels object) from the counts.
          this.reset();
          for (const r of routes.values()) if (r.count > 0) this.zero(r.labels);
          const map = (this as unknown as { hashMap: Record<string, HistogramEntry> }).hashMap;
          const byLabels = new Map<object, HistogramEntry>();
          for (const e of Object.values(map)) byLabels.set(e.labels, e);
          for (const r of routes.values()) {
            const e = byLabels.get(r.labels);
            if (!e) continue;
            for (let i = 0; i < BUCKETS.length; i++) e.bucketValues[BUCKETS[i]!] = r.buckets[i]!;
            e.sum = r.sum;
            e.count = r.count;
          }
        },
      }),
      inFlight: gauge({
        name: 'orgengine_in_flight',
        help: 'Requests waiting on Redis',
        collect() {
          this.set(inFlight());
        },
      }),
      cacheRequests: gauge({
        name: 'orgengine_cache_requests',
        help: 'Local cache lookups by kind and result (counter semantics; summed across workers)',
        labelNames: ['kind', 'result'],
        collect() {
          const s = reads();
          if (!s) return;
          for (const [k, v] of Object.entries(s.hits)) this.set({ kind: k, result: 'hit' }, v);
          for (const [k, v] of Object.entries(s.misses)) this.set({ kind: k, result: 'miss' }, v);
        },
      }),
      cacheHitRatio: gauge({
        name: 'orgengine_cache_hit_ratio',
        help: 'Local cache hits / lookups since start (averaged across workers)',
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
      }),
      cacheInvalidations: gauge({
        name: 'orgengine_cache_invalidations',
        help: 'Channel messages applied by kind, and subscriber resets (counter semantics)',
        labelNames: ['kind'],
        collect() {
          const s = reads();
          if (!s) return;
          for (const [k, v] of Object.entries(s.invalidations)) this.set({ kind: k }, v);
        },
      }),
      cacheRefreshes: gauge({
        name: 'orgengine_cache_refreshes',
        help: 'Background refreshes of entries past their soft TTL: started, failed, skipped for the budget, unchanged (the entry was renewed as it was) (counter semantics)',
        labelNames: ['outcome'],
        collect() {
          const s = reads();
          if (!s?.refreshes) return;
          for (const [k, v] of Object.entries(s.refreshes)) this.set({ outcome: k }, v);
        },
      }),
      cacheSize: gauge({
        name: 'orgengine_cache_size',
        help: 'Local cache entries, estimated bytes and lessons tracked',
        labelNames: ['what'],
        collect() {
          const s = size();
          if (!s) return;
          this.set({ what: 'entries' }, s.entries);
          this.set({ what: 'bytes' }, s.bytes);
          this.set({ what: 'lessons' }, s.lessons);
        },
      }),
    });
  }

  /** The recorder of one (transport, route): resolve once, then call observeMs per request. */
  route(transport: 'http' | 'grpc', route: string): RouteMetrics {
    const k = `${transport}\u0000${route}`;
    let r = this.routes.get(k);
    if (!r) this.routes.set(k, (r = new RouteMetrics(transport, route)));
    return r;
  }

  /** Records one finished request. */
  observe(transport: 'http' | 'grpc', route: string, status: number | string, seconds: number): void {
    this.route(transport, route).observeMs(status, seconds * 1000);
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

/** The gateway's Redis breakers: nodes open now and transitions so far (counted by the guard's listener). */
export function registerBreakerMetrics(registry: Registry, openNodes: () => number, transitions: { open: number; closed: number }): void {
  registerMetrics(registry, {
    open: gauge({
      name: 'orgengine_redis_breaker_open_nodes',
      help: 'Redis nodes whose breaker is open: requests needing them answer 503 BACKEND_UNAVAILABLE at once',
      collect() {
        this.set(openNodes());
      },
    }),
    transitions: counter({
      name: 'orgengine_redis_breaker_transitions_total',
      help: 'Redis breaker state changes by the state entered',
      labelNames: ['to'],
      collect() {
        this.reset();
        this.inc({ to: 'open' }, transitions.open);
        this.inc({ to: 'closed' }, transitions.closed);
      },
    }),
  });
}

/** Rate-limit refusals (api/limits.ts) and token revocations held (auth/revocation.ts). */
export function registerSecurityMetrics(registry: Registry, revocationLessons: () => number): { limited: Counter<'class' | 'by'> } {
  return registerMetrics(registry, {
    limited: counter<'class' | 'by'>({
      name: 'orgengine_rate_limited_total',
      help: 'requests refused with 429 TOO_MANY_REQUESTS, by route class and by what was over its limit (uid or address)',
      labelNames: ['class', 'by'],
    }),
    revocationLessons: gauge({
      name: 'orgengine_revocation_lessons',
      help: 'lessons whose token revocation list this gateway worker holds',
      collect() {
        this.set(revocationLessons());
      },
    }),
  });
}
