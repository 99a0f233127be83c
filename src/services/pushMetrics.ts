// The metrics of live push (one worker's WebSocket connections), defined
// through the one metrics helper. Gauges are read at scrape time from the hub;
// counters and histograms are fed by the transport and the hub's observer.
import type { Registry } from 'prom-client';
import { counter, gauge, histogram, registerMetrics, type Registered } from '../metrics.js';
import type { PushHub } from './push.js';

const METRICS = {
  connections: gauge({ name: 'orgengine_ws_connections', help: 'open WebSocket connections of this worker' }),
  subscriptions: gauge({ name: 'orgengine_ws_subscriptions', help: 'room subscriptions across this worker\'s WebSocket connections' }),
  messages: counter<'type'>({ name: 'orgengine_ws_messages_pushed_total', help: 'messages delivered to WebSocket clients (a topic publish counts each subscriber)', labelNames: ['type'] }),
  bytes: counter<'type'>({ name: 'orgengine_ws_bytes_pushed_total', help: 'bytes of messages delivered to WebSocket clients', labelNames: ['type'] }),
  slowConsumers: counter({ name: 'orgengine_ws_slow_consumer_closes_total', help: 'connections closed with 4008 (slow consumer) because their send buffer passed ORGENGINE_WS_MAX_BUFFERED_BYTES' }),
  refused: counter<'code'>({ name: 'orgengine_ws_upgrades_refused_total', help: 'WebSocket upgrades refused, by error code', labelNames: ['code'] }),
  badFrames: counter({ name: 'orgengine_ws_bad_frames_total', help: 'client frames answered with an error message' }),
  replay: histogram({ name: 'orgengine_ws_replay_signals', help: 'signals replayed by one subscribe with after', buckets: [0, 1, 10, 100, 1000, 10000] }),
  delay: histogram({
    name: 'orgengine_ws_push_delay_seconds',
    help: 'signal publish (its at stamp) to its publish on the local room topic',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
};

/** The WebSocket metrics of one worker. */
export type WsMetrics = Registered<typeof METRICS>;

/** Creates the WebSocket metrics on a registry. */
export function registerWsMetrics(registry: Registry, hub: () => PushHub | null): WsMetrics {
  const m = registerMetrics(registry, METRICS);
  // Gauges read at scrape time: nothing on the push path touches them.
  const conns = m.connections as unknown as { collect?: () => void };
  const subs = m.subscriptions as unknown as { collect?: () => void };
  conns.collect = () => m.connections.set(hub()?.connectionCount ?? 0);
  subs.collect = () => m.subscriptions.set(hub()?.subscriptionCount ?? 0);
  return m;
}

