// The WebSocket transport: `GET /v1/ws` upgraded on the same uWS app and port
// as HTTP. It authenticates at upgrade (a refused upgrade is an HTTP error
// with the code's status, so nothing is subscribed before the caller is
// known), decodes JSON text frames into commands for the push hub, encodes
// its messages, and lends it uWS's native pub/sub for the fan-out: one
// app.publish reaches every local socket of a topic in C++.
//
// Bounds: a frame over ORGENGINE_WS_MAX_PAYLOAD_BYTES closes the connection
// with 1009 (uWS reads frames up to four times that, so memory stays bounded,
// and cuts a larger one without a close frame: the client sees 1006); a socket whose send buffer passes ORGENGINE_WS_MAX_BUFFERED_BYTES
// is closed with 4008 (checked after every direct send, after every page of
// signals a room's pump publishes, and by a sweep for the rest, since a topic
// publish happens in C++ without us), and uWS itself cuts one at twice
// that, so no slow consumer grows memory without bound. Idle sockets are
// pinged by uWS and closed after ORGENGINE_WS_IDLE_TIMEOUT_SECONDS.
import type { Logger } from 'pino';
import type { HttpResponse, TemplatedApp, WebSocket } from 'uWebSockets.js';
import { bearerToken, type TokenVerifier } from '../../auth/tokens.js';
import type { ApiConfig } from '../../config.js';
import { ERROR_TABLE, OrgError, toOrgError } from '../../errors.js';
import type { WsMetrics } from '../../services/pushMetrics.js';
import type { PushHub, PushSession, PushSocket, ServerMessage } from '../../services/push.js';
import { parseClientCommand } from './protocol.js';
import { encodeError } from '../encoding.js';
import { statusLine } from '../http/dispatch.js';
import { parseQuery } from '../params.js';
import { retryAfterOf, type RateLimiter } from '../limits.js';

/** Close code of a slow consumer (its send buffer passed the bound); reconnect with `after`. */
export const CLOSE_SLOW_CONSUMER = 4008;
/** Close code of a connection whose token was revoked; do not reconnect with the same token. */
export const CLOSE_REVOKED = 4001;
/** Close code of a draining gateway (RFC 6455 going away); reconnect, to another gateway. */
export const CLOSE_GOING_AWAY = 1001;
/** The subprotocol a browser offers beside `bearer.<token>`; echoed back when offered. */
export const SUBPROTOCOL = 'orgengine.v1';

/** Close code of a frame over the limit (RFC 6455 message too big). */
export const CLOSE_TOO_BIG = 1009;
/** uWS reads frames up to this many times the limit (so an oversized frame gets a 1009, not a cut). */
const FRAME_HEADROOM = 4;

/** How often the send buffers of every socket are checked (a topic publish bypasses the per-send check). */
const SWEEP_MS = 250;

interface UserData {
  session: PushSession;
  /** Set when the socket is closed or being closed: uWS throws on any use of a closed socket. */
  closed: boolean;
}

/** What the WebSocket endpoint needs. */
export interface WsDeps {
  app: TemplatedApp;
  hub: PushHub;
  tokens: TokenVerifier;
  metrics: WsMetrics;
  log: Logger;
  api: Pick<ApiConfig, 'wsMaxPayloadBytes' | 'wsIdleTimeoutSeconds' | 'wsMaxBufferedBytes'>;
  /** Per-caller rate limits (an upgrade is charged as a read), or null (off). */
  limits: RateLimiter | null;
  /** True once the server stops accepting: upgrades are refused. */
  draining(): boolean;
}

/** The running endpoint. */
export interface WsEndpoint {
  /** Open connections. */
  count(): number;
  /** Closes every connection with 1001 (drain) and stops the sweep. */
  closeAll(): void;
}

/**
 * The token of an upgrade: `Authorization: Bearer`, else `?token=`, else a
 * `bearer.<token>` entry of Sec-WebSocket-Protocol (browsers cannot set headers).
 */
export function upgradeToken(authorization: string, query: Record<string, string>, protocols: string): string {
  if (authorization !== '') return bearerToken(authorization);
  if (query.token !== undefined) return query.token;
  for (const p of protocols.split(',')) {
    const t = p.trim();
    if (t.startsWith('bearer.')) return t.slice('bearer.'.length);
  }
  throw new OrgError('UNAUTHENTICATED', 'missing token: send Authorization: Bearer, ?token= or Sec-WebSocket-Protocol bearer.<token>');
}

/** Registers `GET /v1/ws` on the app (before the HTTP fallback route). */
export function attachWebSocket(deps: WsDeps): WsEndpoint {
  const { app, hub, tokens, metrics, log, api } = deps;
  const open = new Set<WebSocket<UserData>>();
  const maxBuffered = api.wsMaxBufferedBytes;

  const end = (ws: WebSocket<UserData>, ud: UserData, code: number, reason: string): void => {
    if (ud.closed) return;
    ud.closed = true;
    ws.end(code, reason);
  };
  const slow = (ws: WebSocket<UserData>, ud: UserData): void => {
    if (ud.closed) return;
    metrics.slowConsumers.inc();
    end(ws, ud, CLOSE_SLOW_CONSUMER, 'slow consumer');
  };

  hub.setFanout({
    publish(topic, m) {
      const n = app.numSubscribers(topic);
      if (n === 0) return;
      const text = JSON.stringify(m);
      app.publish(topic, text, false);
      metrics.messages.inc({ type: m.type }, n);
      metrics.bytes.inc({ type: m.type }, n * Buffer.byteLength(text));
    },
  });

  const socketOf = (ws: WebSocket<UserData>, ud: UserData): PushSocket => ({
    send(m: ServerMessage) {
      if (ud.closed) return;
      const text = JSON.stringify(m);
      ws.send(text, false);
      metrics.messages.inc({ type: m.type });
      metrics.bytes.inc({ type: m.type }, Buffer.byteLength(text));
      if (ws.getBufferedAmount() > maxBuffered) slow(ws, ud);
    },
    subscribe(t) {
      if (!ud.closed) ws.subscribe(t);
    },
    revoked() {
      end(ws, ud, CLOSE_REVOKED, 'token revoked');
    },
    unsubscribe(t) {
      if (!ud.closed) ws.unsubscribe(t);
    },
    checkBuffered() {
      if (!ud.closed && ws.getBufferedAmount() > maxBuffered) slow(ws, ud);
    },
  });

  const refuse = (res: HttpResponse, e: unknown): void => {
    const err = toOrgError(e);
    if (err.code === 'INTERNAL') log.error({ err: e instanceof Error ? e.stack : String(e) }, 'websocket upgrade failed');
    metrics.refused.inc({ code: err.code });
    res.writeStatus(statusLine(ERROR_TABLE[err.code].http)).writeHeader('content-type', 'application/json');
    const wait = retryAfterOf(err);
    if (wait !== null) res.writeHeader('retry-after', String(wait));
    res.end(encodeError('json', err), true);
  };

  app.ws<UserData>('/v1/ws', {
    maxPayloadLength: FRAME_HEADROOM * api.wsMaxPayloadBytes,
    idleTimeout: api.wsIdleTimeoutSeconds,
    sendPingsAutomatically: true,
    // The hard stop behind the 4008 check: uWS drops and closes at twice the bound.
    maxBackpressure: 2 * maxBuffered,
    closeOnBackpressureLimit: 1,
    upgrade: (res, req, context) => {
      // req is valid only until this handler returns or awaits: copy first.
      const key = req.getHeader('sec-websocket-key');
      const protocols = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const authorization = req.getHeader('authorization');
      const rawQuery = req.getQuery() ?? '';
      const limits = deps.limits;
      const address = limits?.limitsAddresses ? Buffer.from(res.getRemoteAddressAsText()).toString('latin1') : null;
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      let opening: Promise<PushSession>;
      try {
        if (deps.draining()) throw new OrgError('OVERLOADED', 'the gateway is shutting down; reconnect to another');
        const query = parseQuery(rawQuery, ['token', 'lesson']);
        // Revocation is checked like every request's (a promise only while the lesson's list is first loaded).
        const caller = tokens.authenticate(upgradeToken(authorization, query, protocols));
        const lesson = query.lesson ?? null;
        const admitted = (c: Awaited<typeof caller>): Promise<PushSession> => {
          limits?.admit('read', c, address, performance.now());
          return hub.open(c, lesson);
        };
        opening = caller instanceof Promise ? caller.then(admitted) : admitted(caller);
      } catch (e) {
        opening = Promise.reject(e);
      }
      opening.then(
        (session) => {
          if (aborted) return;
          const offered = protocols.split(',').map((p) => p.trim());
          const chosen = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : protocols === '' ? '' : offered[0]!;
          res.cork(() => res.upgrade<UserData>({ session, closed: false }, key, chosen, extensions, context));
        },
        (e: unknown) => {
          if (!aborted) res.cork(() => refuse(res, e));
        },
      );
    },
    open: (ws) => {
      const ud = ws.getUserData();
      // An upgrade that finished reading the student's position after the drain began.
      if (deps.draining()) {
        end(ws, ud, CLOSE_GOING_AWAY, 'going away');
        return;
      }
      open.add(ws);
      hub.attach(ud.session, socketOf(ws, ud));
    },
    message: (ws, message, isBinary) => {
      const ud = ws.getUserData();
      if (message.byteLength > api.wsMaxPayloadBytes) {
        end(ws, ud, CLOSE_TOO_BIG, `frame over ${api.wsMaxPayloadBytes} bytes`);
        return;
      }
      const session = ud.session;
      if (isBinary) {
        metrics.badFrames.inc();
        hub.sendError(session, new OrgError('BAD_REQUEST', 'binary frames are not supported; send JSON text frames'));
        return;
      }
      let cmd;
      try {
        cmd = parseClientCommand(Buffer.from(message).toString('utf8'));
      } catch (e) {
        metrics.badFrames.inc();
        hub.sendError(session, e);
        return;
      }
      hub.handle(session, cmd);
    },
    close: (ws) => {
      open.delete(ws);
      const ud = ws.getUserData();
      ud.closed = true;
      hub.detach(ud.session);
    },
  });

  const sweep = setInterval(() => {
    for (const ws of open) {
      const ud = ws.getUserData();
      if (!ud.closed && ws.getBufferedAmount() > maxBuffered) slow(ws, ud);
    }
  }, SWEEP_MS);
  sweep.unref();

  return {
    count: () => open.size,
    closeAll() {
      clearInterval(sweep);
      for (const ws of [...open]) end(ws, ws.getUserData(), CLOSE_GOING_AWAY, 'going away');
    },
  };
}
