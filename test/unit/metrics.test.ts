// The request metrics are plain counters materialised into prom-client at
// scrape: the exposition must be what prom-client's own counter/histogram gave.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Metrics } from '../../src/metrics.js';
import { WorkerMetrics } from '../../src/preload/metrics.js';
import { MutationService } from '../../src/services/mutations.js';
import { SignalCache } from '../../src/skiplist/signalCache.js';
import { registerSignalCacheMetrics } from '../../src/skiplist/signalMetrics.js';
import { flusherMetrics } from '../../src/writebehind/metrics.js';

describe('Metrics', () => {
  it('exposes request counts by status and the latency histogram from the per-route records', async () => {
    const m = new Metrics();
    const enter = m.route('http', 'enter');
    enter.observeMs(200, 0.03);
    enter.observeMs(200, 0.3);
    enter.observeMs(404, 2000);
    enter.observeMs('aborted', 10);
    m.observe('grpc', 'Enter', '0', 0.001);
    const text = await m.text();
    expect(text).toContain('orgengine_requests_total{transport="http",route="enter",status="200"} 2');
    expect(text).toContain('orgengine_requests_total{transport="http",route="enter",status="404"} 1');
    expect(text).toContain('orgengine_requests_total{transport="http",route="enter",status="aborted"} 1');
    expect(text).toContain('orgengine_requests_total{transport="grpc",route="Enter",status="0"} 1');
    expect(text).toContain('orgengine_request_seconds_bucket{le="0.0001",transport="http",route="enter"} 1');
    expect(text).toContain('orgengine_request_seconds_bucket{le="0.0005",transport="http",route="enter"} 2');
    expect(text).toContain('orgengine_request_seconds_bucket{le="0.01",transport="http",route="enter"} 3');
    expect(text).toContain('orgengine_request_seconds_bucket{le="1",transport="http",route="enter"} 3');
    expect(text).toContain('orgengine_request_seconds_bucket{le="+Inf",transport="http",route="enter"} 4');
    expect(text).toContain('orgengine_request_seconds_count{transport="http",route="enter"} 4');
    expect(text).toMatch(/orgengine_request_seconds_sum\{transport="http",route="enter"\} 2\.0103/);
    expect(text).toContain('orgengine_request_seconds_bucket{le="0.001",transport="grpc",route="Enter"} 1');
    expect(text).toContain('orgengine_request_seconds_bucket{le="0.0005",transport="grpc",route="Enter"} 0');
    // A second scrape after more requests reports totals, not deltas.
    enter.observeMs(200, 0.03);
    const again = await m.text();
    expect(again).toContain('orgengine_requests_total{transport="http",route="enter",status="200"} 3');
    expect(again).toContain('orgengine_request_seconds_count{transport="http",route="enter"} 5');
    const json = (await m.json()) as { name: string; values: unknown[] }[];
    expect(json.find((x) => x.name === 'orgengine_request_seconds')!.values.length).toBe(2 * (12 + 1 + 2));
  });
});

describe('metric families', () => {
  // Every name, type, help text and label set a scrape shows, pinned so that
  // changing how metrics are registered cannot change what dashboards read.
  it('keep their names, types, help and labels on /metrics', async () => {
    const stats = { hits: { enter: 3 }, misses: { enter: 1 }, invalidations: { version: 2, reset: 0 }, refreshes: { started: 4, failed: 0, skipped: 1 }, cache: {} };
    const m = new Metrics({ reads: () => stats as never, cacheSize: () => ({ entries: 1, bytes: 2, lessons: 3 }) });
    m.route('http', 'enter').observeMs(200, 1);
    m.inFlight = 4;
    const flusher = flusherMetrics(m.registry);
    flusher.retries.inc({ stage: 'mysql' });
    const cache = new SignalCache({
      fetchTail: async () => ({ signals: [], lastSeq: 0, firstSeq: 1, bytes: 0 }),
      buckets: 2,
      roomsPerBucket: 4,
      bytesPerBucket: 1 << 24,
      maxStalenessMs: 100,
      retain: 10,
      maxPayloadBytes: 16,
    });
    registerSignalCacheMetrics(cache, m.registry);
    // Only constructed, never run: the counter is registered in the constructor.
    new MutationService({ redis: null as never, keyPrefix: 't:', ttlSeconds: 60, wb: loadConfig({}).writeBehind, metrics: m.registry });
    expect(await m.text()).toMatchSnapshot();
    // How workers' values merge (not in the text exposition).
    const aggregators = ((await m.json()) as { name: string; aggregator: string }[]).map((x) => `${x.name} ${x.aggregator}`);
    expect(aggregators.filter((a) => !a.endsWith(' sum'))).toEqual(['orgengine_cache_hit_ratio average']);
    const worker = new WorkerMetrics();
    worker.preloads.inc({ result: 'ok' });
    expect(await worker.registry.metrics()).toMatchSnapshot();
  });
});
