// The uWS discipline, written once for every HTTP route. uWS hands a handler a
// request object that is valid only until the handler returns and a response
// that must not be touched after the client has gone, so for every request:
// copy what the route needs out of `req` first; register onAborted before
// anything asynchronous; write inside res.cork when answering later; count the
// request in flight while it waits (and refuse new ones past the bound); turn
// any error into its status and body through ERROR_TABLE. A route that needs a
// token gets it authenticated (verified-token cache, the lesson's revocations
// held in memory) and charged to the caller's rate limit here, once, before it
// runs. Routes are plain table entries (routes/*.ts) that never see uWS.
//
// Warm reads are the hot path: a route that answers synchronously is written
// inside the handler, where uWS has already corked the socket and no abort can
// happen, so it costs one object for the request, no closure, no onAborted.
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { bearerToken, type Claims, type TokenVerifier } from '../../auth/tokens.js';
import type { ApiConfig } from '../../config.js';
import { ERROR_TABLE, OrgError, toOrgError } from '../../errors.js';
import type { Metrics, RouteMetrics } from '../../metrics.js';
import { formatTraceparent, inTrace, parseTraceparent } from '../../model/trace.js';
import type { Span, Tracing } from '../../tracing.js';
import { CONTENT_TYPES, encode, encodeError, negotiate, type Format } from '../encoding.js';
import { retryAfterOf, type LimitClass, type RateLimiter } from '../limits.js';

/** A value, or a promise of it: services answer warm reads synchronously. */
export type MaybeAsync<T> = T | Promise<T>;

/** What a route hands back: a proto-typed view (encoded as the client asked), or raw text (ops endpoints). */
export type Reply = { status: number; proto: string; value: object } | { status: number; contentType: string; text: string };

/** The request fields a route may use, copied out of uWS's stack-allocated request. */
export interface Req {
  /** Path parameters, in pattern order. */
  params: string[];
  query: string;
  accept: string;
  authorization: string;
  /** The whole body (routes declared with `body`), else null. */
  body: Buffer | null;
}

interface RouteHead {
  method: 'get' | 'post' | 'put' | 'del';
  /** uWS pattern, e.g. '/v1/lessons/:lessonId'. */
  pattern: string;
  /** Metric label. */
  name: string;
  /** Number of path parameters to copy. */
  params: number;
  /** Read the whole body (bounded by maxBodyBytes) before running. */
  body?: boolean;
  /** Rate-limit class (default: read for GET, mutation otherwise). */
  limit?: LimitClass;
}

/**
 * One entry of a route table. A route needs a verified token unless it is
 * `open` (health, readiness, metrics); it gets the token's claims and hands
 * them to the service, which authorises.
 */
export type Route = RouteHead &
  ({ open: true; run(r: Req): MaybeAsync<Reply> } | { open?: false; run(r: Req, caller: Claims): MaybeAsync<Reply> });

/** True when `v` is a promise (a cold read, a mutation) rather than a value at hand. */
export const isPromise = <T>(v: MaybeAsync<T>): v is Promise<T> => typeof (v as Promise<T>)?.then === 'function';

/**
 * Applies `f` now to a value at hand, or later to a promised one: keeps warm
 * reads synchronous. (Not named `then`: a module exporting `then` is itself a
 * thenable, and `await import()` of it would call it.)
 */
export const andThen = <T, U>(v: MaybeAsync<T>, f: (t: T) => U): MaybeAsync<U> => (isPromise(v) ? v.then(f) : f(v));

/** A reply builder for one proto message type; build them once per module, not per request. */
export const ok = (proto: string, status = 200): ((value: object) => Reply) => {
  const name = `orgengine.v1.${proto}`;
  return (value) => ({ status, proto: name, value });
};

const STATUS_LINE: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  422: '422 Unprocessable Entity',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

/** The HTTP status line of a status code (also for refused WebSocket upgrades). */
export const statusLine = (status: number): string => STATUS_LINE[status] ?? `${status} Error`;

/** A request on its way: the copied fields and what answering it needs. */
interface Exchange extends Req {
  format: Format;
  t0: number;
  aborted: boolean;
  /** The client's address, read only when the rate limiter limits addresses. */
  address: string | null;
  /** The request's span, set only while spans are exported: otherwise the request object is what it was without tracing. */
  span?: Span;
}

/** What the dispatcher needs. */
export interface DispatcherDeps {
  app: TemplatedApp;
  tokens: TokenVerifier;
  metrics: Metrics;
  log: Logger;
  api: Pick<ApiConfig, 'maxBodyBytes' | 'maxInFlight' | 'retryAfterSeconds'>;
  /** Per-caller rate limits, or null (off). */
  limits: RateLimiter | null;
  /** True once the server stops accepting: every answer then closes its connection. */
  draining(): boolean;
  /** Spans of requests, only when they are exported (W3C traceparent in, traceparent out). */
  tracing?: Tracing;
}

/** Registers routes on a uWS app with the shared discipline. */
export interface Dispatcher {
  /** Registers every route of a table. */
  add(routes: readonly Route[]): void;
  /** Answers every request no route matched with 404 (uWS would answer nothing); register last. */
  fallback(): void;
  /** Requests waiting on a service. */
  inFlight(): number;
}

/** Builds the dispatcher of one uWS app. */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { app, tokens, metrics, log, api, draining, limits } = deps;
  const byAddress = limits !== null && limits.limitsAddresses;
  const tracer = deps.tracing?.exporting ? deps.tracing : null;
  let inFlight = 0;

  const overloaded = (): OrgError => new OrgError('OVERLOADED', `more than ${api.maxInFlight} requests in flight; retry shortly`);
  const tooLarge = (): OrgError => new OrgError('PAYLOAD_TOO_LARGE', `request body exceeds ${api.maxBodyBytes} bytes`);

  const retryAfter = String(api.retryAfterSeconds);
  /** `retry`: the Retry-After seconds of an answer the client may retry unchanged (a 503, a 429), else null. */
  const send = (res: HttpResponse, status: number, contentType: string, body: Buffer | string, close: boolean, retry: string | null = null, span: Span | null = null): void => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', contentType);
    if (retry !== null) res.writeHeader('retry-after', retry);
    if (span) res.writeHeader('traceparent', formatTraceparent(span.context));
    res.end(body, close || draining());
  };

  const exchange = (res: HttpResponse, req: HttpRequest, nParams: number, t0: number, name: string): Exchange => {
    const params: string[] = new Array<string>(nParams);
    for (let i = 0; i < nParams; i++) params[i] = req.getParameter(i) ?? '';
    const accept = req.getHeader('accept');
    const address = byAddress ? Buffer.from(res.getRemoteAddressAsText()).toString('latin1') : null;
    const x: Exchange = { params, query: req.getQuery() ?? '', accept, authorization: req.getHeader('authorization'), body: null, format: negotiate(accept), t0, aborted: false, address };
    if (tracer) x.span = tracer.startSpan(`HTTP ${name}`, parseTraceparent(req.getHeader('traceparent')), { 'http.route': name });
    return x;
  };

  const register = (route: Route): void => {
    const rm: RouteMetrics = metrics.route('http', route.name);
    const name = route.name;
    const nParams = route.params;
    const cls: LimitClass = route.limit ?? (route.method === 'get' ? 'read' : 'mutation');
    // Decided once per route, not per request. A token is verified (cache),
    // checked against the lesson's revocations (memory; a promise only while
    // the list is first loaded) and charged to the caller's rate limit.
    const invoke: (x: Exchange) => MaybeAsync<Reply> = route.open
      ? route.run
      : (x) => {
          const c = tokens.authenticate(bearerToken(x.authorization), x.t0);
          if (isPromise(c)) {
            return c.then((caller) => {
              limits?.admit(cls, caller, x.address, performance.now());
              return route.run(x, caller);
            });
          }
          if (limits !== null) limits.admit(cls, c, x.address, x.t0);
          return route.run(x, c);
        };

    /** Writes a reply or an error and records it. `cork` is false only inside the uWS handler (corked already). */
    const respond = (res: HttpResponse, x: Exchange, reply: Reply | null, err: unknown, close: boolean, cork: boolean): void => {
      if (x.aborted) {
        rm.observeMs('aborted', performance.now() - x.t0);
        if (tracer) x.span?.end('aborted');
        return;
      }
      let status: number;
      let contentType: string;
      let body: Buffer | string;
      let retry: string | null = null;
      if (reply) {
        status = reply.status;
        if ('proto' in reply) {
          contentType = CONTENT_TYPES[x.format];
          body = encode(x.format, reply.proto, reply.value);
        } else {
          contentType = reply.contentType;
          body = reply.text;
        }
      } else {
        const e = toOrgError(err);
        if (e.code === 'INTERNAL') log.error({ route: name, ...(x.span ? { traceId: x.span.context.traceId } : {}), err: err instanceof Error ? err.stack : String(err) }, 'request failed');
        status = ERROR_TABLE[e.code].http;
        const wait = retryAfterOf(e);
        if (wait !== null) retry = String(wait);
        else if (ERROR_TABLE[e.code].temporary && status === 503) retry = retryAfter;
        contentType = CONTENT_TYPES[x.format];
        body = encodeError(x.format, e);
      }
      const span = tracer ? (x.span ?? null) : null;
      if (cork) res.cork(() => send(res, status, contentType, body, close, retry, span));
      else send(res, status, contentType, body, close, retry, span);
      rm.observeMs(status, performance.now() - x.t0);
      span?.end(status >= 500 ? err : undefined);
    };

    const settle = (res: HttpResponse, x: Exchange, reply: Reply | null, err: unknown): void => {
      inFlight--;
      metrics.inFlight--;
      respond(res, x, reply, err, false, true);
    };

    /**
     * Runs the route on a request whose body (if any) is in. `inHandler`: still
     * inside the uWS handler, so a reply at hand is written uncorked and
     * onAborted is registered only if the reply will come later.
     */
    const run = (res: HttpResponse, x: Exchange, inHandler: boolean): void => {
      if (inFlight >= api.maxInFlight) {
        respond(res, x, null, overloaded(), false, !inHandler);
        return;
      }
      let out: MaybeAsync<Reply>;
      try {
        // Only while spans are exported does the route run in the request's trace scope (write-behind records carry it).
        out = tracer && x.span ? inTrace(x.span.context, invoke, x) : invoke(x);
      } catch (e) {
        respond(res, x, null, e, false, !inHandler);
        return;
      }
      if (!isPromise(out)) {
        respond(res, x, out, null, false, !inHandler);
        return;
      }
      if (inHandler) {
        res.onAborted(() => {
          x.aborted = true;
        });
      }
      inFlight++;
      metrics.inFlight++;
      out.then(
        (reply) => settle(res, x, reply, null),
        (e: unknown) => settle(res, x, null, e),
      );
    };

    const plain = (res: HttpResponse, req: HttpRequest): void => {
      run(res, exchange(res, req, nParams, performance.now(), name), true);
    };

    // The body arrives in later callbacks: onAborted before anything else happens.
    const withBody = (res: HttpResponse, req: HttpRequest): void => {
      const x = exchange(res, req, nParams, performance.now(), name);
      res.onAborted(() => {
        x.aborted = true;
      });
      const declared = req.getHeader('content-length');
      if (declared !== '' && Number(declared) > api.maxBodyBytes) {
        respond(res, x, null, tooLarge(), true, true);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      res.onData((chunk, isLast) => {
        if (done) return;
        size += chunk.byteLength;
        if (size > api.maxBodyBytes) {
          done = true;
          respond(res, x, null, tooLarge(), true, true);
          return;
        }
        // uWS neuters the chunk when this callback returns: copy it.
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) {
          done = true;
          x.body = Buffer.concat(chunks, size);
          run(res, x, false);
        }
      });
    };

    app[route.method](route.pattern, route.body ? withBody : plain);
  };

  return {
    add(routes) {
      for (const r of routes) register(r);
    },
    fallback() {
      const unmatched = metrics.route('http', 'unmatched');
      app.any('/*', (res, req) => {
        const t0 = performance.now();
        const format = negotiate(req.getHeader('accept'));
        const err = new OrgError('NOT_FOUND', `no route ${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}`);
        send(res, 404, CONTENT_TYPES[format], encodeError(format, err), false);
        unmatched.observeMs(404, performance.now() - t0);
      });
    },
    inFlight: () => inFlight,
  };
}
