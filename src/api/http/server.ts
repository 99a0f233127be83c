// The HTTP transport on uWebSockets.js: the route tables of routes/*.ts on one
// uWS app, each registered through the dispatcher (dispatch.ts), which holds
// the uWS discipline for all of them. Routes decode, hand the verified caller
// to a service (which authorises) and encode; nothing here knows a route.
//
// With an internal listener the operator endpoints (/readyz, /metrics) are
// served only there (a second, plaintext uWS app, bound to 127.0.0.1 by
// default) and the public port keeps /healthz. With TLS the public app is a
// uWS SSLApp; reloadTls() builds a new app with the files read again, listens
// on the same port beside the old one (SO_REUSEPORT) and then closes the old
// listener: new connections get the new certificate, open ones finish on theirs.
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { ApiConfig } from '../../config.js';
import type { RevocationService } from '../../services/revocation.js';
import type { RateLimiter } from '../limits.js';
import { readTlsFiles, type TlsFiles } from '../tls.js';
import type { TransportDeps } from '../transport.js';
import { createDispatcher, type Dispatcher } from './dispatch.js';
import { interactionRoutes } from './routes/interaction.js';
import { mutationRoutes } from './routes/mutations.js';
import { healthRoutes, operatorRoutes } from './routes/ops.js';
import { readRoutes } from './routes/reads.js';
import { scoreRoutes } from './routes/scores.js';
import { pushRoutes } from './routes/push.js';
import { signalRoutes } from './routes/signals.js';
import { tokenRoutes } from './routes/tokens.js';
import type { WsMetrics } from '../../services/pushMetrics.js';
import { attachWebSocket } from '../ws/server.js';
import { freePort, nativeUws } from './uws.js';

/** What the HTTP server needs. */
export interface HttpServerDeps extends TransportDeps {
  api: Pick<ApiConfig, 'maxBodyBytes' | 'maxInFlight' | 'membersPageDefault' | 'membersPageMax' | 'retryAfterSeconds' | 'wsMaxPayloadBytes' | 'wsIdleTimeoutSeconds' | 'wsMaxBufferedBytes'>;
  wsMetrics: WsMetrics;
  /** Readiness checks for /readyz. */
  ready(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** The /metrics body (this worker's, or every worker's merged). */
  metricsText(): Promise<{ contentType: string; body: string }>;
  /** Per-caller rate limits, or null (off). */
  limits: RateLimiter | null;
  /** Token revocation for services. */
  revocation: RevocationService;
  /** HTTPS with these files, or null: plaintext. */
  tls: TlsFiles | null;
  /** Serve /readyz and /metrics on a separate listener (listenInternal) instead of the public port. */
  internal: boolean;
}

/** A running HTTP server. */
export interface HttpServer {
  listen(port: number, host?: string): Promise<number>;
  /** Starts the internal listener (operator endpoints); only with `internal`. */
  listenInternal(port: number, host: string): Promise<number>;
  /** Reads the TLS files again and serves new connections with them; throws (serving on) when they are unusable. */
  reloadTls(): Promise<void>;
  /** Stops accepting connections; requests on open connections are still answered (with Connection: close). */
  stopAccepting(): void;
  /** Requests waiting on a service. */
  inFlight(): number;
  /** Open WebSocket connections. */
  webSockets(): number;
  /** Closes every WebSocket with 1001 going away (after stopAccepting, once in-flight requests are done). */
  closeWebSockets(): void;
}

/** One public uWS app with every route (a TLS reload makes a new one). */
interface Generation {
  app: TemplatedApp;
  dispatch: Dispatcher;
  ws: { count(): number; closeAll(): void };
  socket: us_listen_socket | null;
}

/** Builds the uWS app with every route. */
export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const uWS = nativeUws();
  let draining = false;
  const isDraining = (): boolean => draining;
  const generations: Generation[] = [];
  let internalSocket: us_listen_socket | null = null;
  let bound: { port: number; host: string } | null = null;
  const ops = { ready: () => deps.ready(), metricsText: () => deps.metricsText(), draining: isDraining };

  const build = (): Generation => {
    if (deps.tls) readTlsFiles(deps.tls);
    const app = deps.tls ? uWS.SSLApp({ cert_file_name: deps.tls.certFile, key_file_name: deps.tls.keyFile }) : uWS.App();
    const dispatch = createDispatcher({ app, tokens: deps.tokens, metrics: deps.metrics, log: deps.log, api: deps.api, limits: deps.limits, draining: isDraining, tracing: deps.tracing });
    dispatch.add(healthRoutes());
    if (!deps.internal) dispatch.add(operatorRoutes(ops));
    dispatch.add(readRoutes(deps));
    dispatch.add(signalRoutes(deps));
    dispatch.add(mutationRoutes(deps));
    dispatch.add(scoreRoutes(deps));
    dispatch.add(pushRoutes(deps));
    dispatch.add(tokenRoutes(deps));
    dispatch.add(interactionRoutes(deps));
    // Before the fallback: uWS would otherwise answer the upgrade request with the 404 route.
    const ws = attachWebSocket({ app, hub: deps.push, tokens: deps.tokens, metrics: deps.wsMetrics, log: deps.log, api: deps.api, limits: deps.limits, draining: isDraining });
    dispatch.fallback();
    return { app, dispatch, ws, socket: null };
  };

  const listenOn = (app: TemplatedApp, host: string, port: number): Promise<{ socket: us_listen_socket; port: number }> =>
    new Promise((resolve, reject) => {
      app.listen(host, port, (s) => {
        if (!s) {
          reject(new Error(`cannot listen on ${host}:${port}`));
          return;
        }
        resolve({ socket: s, port: uWS.us_socket_local_port(s as unknown as Parameters<typeof uWS.us_socket_local_port>[0]) });
      });
    });

  generations.push(build());
  const current = (): Generation => generations[generations.length - 1]!;

  return {
    async listen(port, host = '0.0.0.0') {
      const g = current();
      // A reload binds the port again beside this listener, which needs a port chosen here.
      const l = await listenOn(g.app, host, port === 0 && deps.tls ? await freePort(host) : port);
      g.socket = l.socket;
      bound = { port: l.port, host };
      return l.port;
    },
    async listenInternal(port, host) {
      if (!deps.internal) throw new Error('the HTTP server was built without an internal listener');
      const app = uWS.App();
      const dispatch = createDispatcher({ app, tokens: deps.tokens, metrics: deps.metrics, log: deps.log, api: deps.api, limits: null, draining: isDraining });
      dispatch.add(healthRoutes());
      dispatch.add(operatorRoutes(ops));
      dispatch.fallback();
      const l = await listenOn(app, host, port);
      internalSocket = l.socket;
      return l.port;
    },
    async reloadTls() {
      if (!deps.tls) throw new Error('TLS is not configured');
      if (!bound || draining) return;
      const old = current();
      const g = build();
      const l = await listenOn(g.app, bound.host, bound.port);
      g.socket = l.socket;
      generations.push(g);
      if (old.socket) {
        uWS.us_listen_socket_close(old.socket);
        old.socket = null;
      }
    },
    stopAccepting() {
      draining = true;
      for (const g of generations) {
        if (g.socket) {
          uWS.us_listen_socket_close(g.socket);
          g.socket = null;
        }
      }
      if (internalSocket) {
        uWS.us_listen_socket_close(internalSocket);
        internalSocket = null;
      }
    },
    inFlight: () => generations.reduce((n, g) => n + g.dispatch.inFlight(), 0),
    webSockets: () => generations.reduce((n, g) => n + g.ws.count(), 0),
    closeWebSockets: () => {
      for (const g of generations) g.ws.closeAll();
    },
  };
}
