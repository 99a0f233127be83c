// The request metrics are plain counters materialised into prom-client at
// scrape: the exposition must be what prom-client's own counter/histogram gave.
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';

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
