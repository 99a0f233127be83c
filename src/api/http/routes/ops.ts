// Operations endpoints: liveness, readiness and metrics. Open (no token): load
// balancers and scrapers call them. /healthz stays on the public port (load
// balancers need it); /readyz and /metrics are operator endpoints, moved to the
// internal listener when one is configured (they tell anyone who asks the
// route names, cache sizes, lesson counts and Redis state).
import type { Route } from '../dispatch.js';

/** What the ops routes need. */
export interface OpsRoutesDeps {
  /** Readiness checks for /readyz. */
  ready(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** The /metrics body (this worker's, or every worker's merged). */
  metricsText(): Promise<{ contentType: string; body: string }>;
  /** True once the server stops accepting: /readyz then says not ready. */
  draining(): boolean;
}

/** GET /healthz: the process answers. */
export function healthRoutes(): Route[] {
  return [
    {
      method: 'get',
      pattern: '/healthz',
      name: 'healthz',
      params: 0,
      open: true,
      run: () => ({ status: 200, contentType: 'application/json', text: '{"status":"ok"}' }),
    },
  ];
}

/** GET /readyz, /metrics: the operator endpoints. */
export function operatorRoutes(deps: OpsRoutesDeps): Route[] {
  return [
    {
      method: 'get',
      pattern: '/readyz',
      name: 'readyz',
      params: 0,
      open: true,
      run: () =>
        deps.ready().then((r) => {
          const ready = r.ok && !deps.draining();
          return { status: ready ? 200 : 503, contentType: 'application/json', text: JSON.stringify({ status: ready ? 'ready' : 'not ready', checks: r.checks }) };
        }),
    },
    {
      method: 'get',
      pattern: '/metrics',
      name: 'metrics',
      params: 0,
      open: true,
      run: () => deps.metricsText().then((m) => ({ status: 200, contentType: m.contentType, text: m.body })),
    },
  ];
}
