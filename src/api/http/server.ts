// The HTTP transport on uWebSockets.js: the route tables of routes/*.ts on one
// uWS app, each registered through the dispatcher (dispatch.ts), which holds
// the uWS discipline for all of them. Routes decode, hand the verified caller
// to a service (which authorises) and encode; nothing here knows a route.
import type { us_listen_socket } from 'uWebSockets.js';
import type { ApiConfig } from '../../config.js';
import type { TransportDeps } from '../transport.js';
import { createDispatcher } from './dispatch.js';
import { mutationRoutes } from './routes/mutations.js';
import { opsRoutes } from './routes/ops.js';
import { readRoutes } from './routes/reads.js';
import { pushRoutes } from './routes/push.js';
import { signalRoutes } from './routes/signals.js';
import type { WsMetrics } from '../../services/pushMetrics.js';
import { attachWebSocket } from '../ws/server.js';
import { nativeUws } from './uws.js';

/** What the HTTP server needs. */
export interface HttpServerDeps extends TransportDeps {
  api: Pick<ApiConfig, 'maxBodyBytes' | 'maxInFlight' | 'membersPageDefault' | 'membersPageMax' | 'retryAfterSeconds' | 'wsMaxPayloadBytes' | 'wsIdleTimeoutSeconds' | 'wsMaxBufferedBytes'>;
  wsMetrics: WsMetrics;
  /** Readiness checks for /readyz. */
  ready(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** The /metrics body (this worker's, or every worker's merged). */
  metricsText(): Promise<{ contentType: string; body: string }>;
}

/** A running HTTP server. */
export interface HttpServer {
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting connections; requests on open connections are still answered (with Connection: close). */
  stopAccepting(): void;
  /** Requests waiting on a service. */
  inFlight(): number;
  /** Open WebSocket connections. */
  webSockets(): number;
  /** Closes every WebSocket with 1001 going away (after stopAccepting, once in-flight requests are done). */
  closeWebSockets(): void;
}

/** Builds the uWS app with every route. */
export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const uWS = nativeUws();
  const app = uWS.App();
  let listenSocket: us_listen_socket | null = null;
  let draining = false;
  const isDraining = (): boolean => draining;

  const dispatch = createDispatcher({ app, tokens: deps.tokens, metrics: deps.metrics, log: deps.log, api: deps.api, draining: isDraining, tracing: deps.tracing });
  dispatch.add(opsRoutes({ ready: () => deps.ready(), metricsText: () => deps.metricsText(), draining: isDraining }));
  dispatch.add(readRoutes(deps));
  dispatch.add(signalRoutes(deps));
  dispatch.add(mutationRoutes(deps));
  dispatch.add(pushRoutes(deps));
  // Before the fallback: uWS would otherwise answer the upgrade request with the 404 route.
  const ws = attachWebSocket({ app, hub: deps.push, tokens: deps.tokens, metrics: deps.wsMetrics, log: deps.log, api: deps.api, draining: isDraining });
  dispatch.fallback();

  return {
    listen(port, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        app.listen(host, port, (s) => {
          if (!s) {
            reject(new Error(`cannot listen on ${host}:${port}`));
            return;
          }
          listenSocket = s;
          resolve(uWS.us_socket_local_port(s as unknown as Parameters<typeof uWS.us_socket_local_port>[0]));
        });
      });
    },
    stopAccepting() {
      draining = true;
      if (listenSocket) {
        uWS.us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
    },
    inFlight: dispatch.inFlight,
    webSockets: ws.count,
    closeWebSockets: ws.closeAll,
  };
}
