// The Grafana dashboard and the Prometheus alert rules in ops/ query only
// metrics the code exports: every registry the processes build is built here
// and its families listed (histograms with their _bucket, _sum and _count).
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConsoleMetrics } from '../../src/console/alarms.js';
import { Metrics, registerBreakerMetrics } from '../../src/metrics.js';
import { WorkerMetrics } from '../../src/preload/metrics.js';
import { MutationService } from '../../src/services/mutations.js';
import { registerWsMetrics } from '../../src/services/pushMetrics.js';
import { SignalCache } from '../../src/skiplist/signalCache.js';
import { registerSignalCacheMetrics } from '../../src/skiplist/signalMetrics.js';
import { flusherMetrics } from '../../src/writebehind/metrics.js';

/** Every series name the processes export. */
async function exported(): Promise<Set<string>> {
  const gateway = new Metrics({ reads: () => ({ hits: {}, misses: {}, invalidations: {}, cache: {} }) as never, cacheSize: () => ({ entries: 0, bytes: 0, lessons: 0 }) });
  flusherMetrics(gateway.registry);
  registerSignalCacheMetrics(
    new SignalCache({ fetchTail: async () => ({ signals: [], lastSeq: 0, firstSeq: 1, bytes: 0 }), buckets: 1, roomsPerBucket: 1, bytesPerBucket: 1 << 20, maxStalenessMs: 1, retain: 1, maxPayloadBytes: 1 }),
    gateway.registry,
  );
  new MutationService({ redis: null as never, keyPrefix: 't:', ttlSeconds: 60, wb: loadConfig({}).writeBehind, metrics: gateway.registry });
  registerWsMetrics(gateway.registry, () => null);
  registerBreakerMetrics(gateway.registry, () => 0, { open: 0, closed: 0 });
  const registries: Registry[] = [gateway.registry, new WorkerMetrics().registry, new ConsoleMetrics().registry];
  const names = new Set<string>();
  for (const r of registries) {
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
  }
  return names;
}

const queried = (text: string): string[] => [...new Set(text.match(/\borgengine_[a-z0-9_]+/g) ?? [])];

describe('ops/ dashboards and alert rules', async () => {
  const names = await exported();
  const dashboard = readFileSync(new URL('../../ops/grafana/orgengine.json', import.meta.url), 'utf8');
  const rules = readFileSync(new URL('../../ops/prometheus/orgengine-alerts.yml', import.meta.url), 'utf8');

  it('finds the exported metrics (the check below could fail)', () => {
    expect(names.has('orgengine_requests_total')).toBe(true);
    expect(names.has('orgengine_request_seconds_bucket')).toBe(true);
    expect(names.has('orgengine_alarms_firing')).toBe(true);
    expect(names.has('orgengine_no_such_metric')).toBe(false);
  });

  it('the Grafana dashboard is JSON and queries only exported metrics', () => {
    const d = JSON.parse(dashboard) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    const exprs = d.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(exprs.length).toBeGreaterThan(10);
    const used = queried(exprs.join('\n'));
    expect(used.length).toBeGreaterThan(15);
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });

  it('the alert rules query only exported metrics', () => {
    const exprs = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
    expect(exprs.length).toBeGreaterThan(5);
    const used = queried(exprs.join('\n'));
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });
});
