// The HTTP transport on uWebSockets.js: decode and validate, authenticate and
// authorise, call the read, signal or mutation service, encode. One helper (`handle`) holds the uWS
// discipline for every route: onAborted first, copy what is needed from `req`
// before anything asynchronous, write inside res.cork, and answer every error
// through ERROR_TABLE. Warm reads complete synchronously inside the handler.
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { authorizeStudent, enterUid } from '../../auth/access.js';
import { bearerToken, type Claims, type TokenVerifier } from '../../auth/tokens.js';
import type { ApiConfig } from '../../config.js';
import { ERROR_TABLE, OrgError, toOrgError } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import { assertLessonScope } from '../../services/caller.js';
import { parseHeartbeat, parseMute, parsePickGroup, parseSignIn } from '../../services/mutationInputs.js';
import type { MutationService } from '../../services/mutations.js';
import type { ReadService } from '../../services/reads.js';
import type { SignalService } from '../../services/signals.js';
import { CONTENT_TYPES, encode, encodeError, negotiate, type Format } from '../encoding.js';
import { parseEntityId, parseJsonBody, parseLimit } from '../../model/input.js';
import { parseCursor, parseFlag, parseId, parsePartition, parseQuery } from '../params.js';
import { nativeUws } from './uws.js';

/** What the HTTP server needs. */
export interface HttpServerDeps {
  reads: ReadService;
  signals: SignalService;
  mutations: MutationService;
  tokens: TokenVerifier;
  metrics: Metrics;
  log: Logger;
  api: Pick<ApiConfig, 'maxBodyBytes' | 'maxInFlight' | 'membersPageDefault' | 'membersPageMax'>;
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
  /** Requests waiting on the read service. */
  inFlight(): number;
}

/** What a route hands back: a proto-typed view, or raw text (ops endpoints). */
type Reply = { status: number; proto: string; value: object } | { status: number; contentType: string; text: string };
type MaybeAsync<T> = T | Promise<T>;

/** The request fields a route may use, copied out of uWS's stack-allocated request. */
interface Req {
  params: string[];
  query: string;
  accept: string;
  authorization: string;
  body: Buffer | null;
}

interface Route {
  method: 'get' | 'post' | 'put' | 'del';
  pattern: string;
  /** Metric label. */
  name: string;
  params: number;
  body?: boolean;
  run(r: Req): MaybeAsync<Reply>;
}

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
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const isPromise = <T>(v: MaybeAsync<T>): v is Promise<T> => typeof (v as Promise<T>)?.then === 'function';
const then = <T, U>(v: MaybeAsync<T>, f: (t: T) => U): MaybeAsync<U> => (isPromise(v) ? v.then(f) : f(v));
const ok = (proto: string): ((value: object) => Reply) => {
  const name = `orgengine.v1.${proto}`;
  return (value) => ({ status: 200, proto: name, value });
};
const OK_EnterView = ok('EnterView');
const OK_HeartbeatResult = ok('HeartbeatResult');
const OK_LessonView = ok('LessonView');
const OK_MembersPage = ok('MembersPage');
const OK_MuteResult = ok('MuteResult');
const OK_NodeView = ok('NodeView');
const OK_OnlineView = ok('OnlineView');
const OK_PickGroupResult = ok('PickGroupResult');
const OK_PositionView = ok('PositionView');
const OK_Room = ok('Room');
const OK_SignInResult = ok('SignInResult');
const OK_SignalPage = ok('SignalPage');

/** What routes without a body field accept: nothing, or `{}`. */
const NO_BODY = 'no body (or {})';

/** Builds the uWS app with every route. */
export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const uWS = nativeUws();
  const app: TemplatedApp = uWS.App();
  const { reads, signals, mutations, tokens, metrics, log, api } = deps;
  let listenSocket: us_listen_socket | null = null;
  let draining = false;
  let inFlight = 0;

  const claimsOf = (r: Req): Claims => tokens.verify(bearerToken(r.authorization));

  const write = (res: HttpResponse, status: number, contentType: string, body: Buffer | string, close: boolean): void => {
    res.cork(() => {
      res.writeStatus(STATUS_LINE[status] ?? `${status} Error`).writeHeader('content-type', contentType).end(body, close || draining);
    });
  };

  const errorStatus = (e: unknown, format: Format, route: string): { status: number; body: Buffer; code: string } => {
    const err = toOrgError(e);
    if (err.code === 'INTERNAL') log.error({ route, err: e instanceof Error ? e.stack : String(e) }, 'request failed');
    return { status: ERROR_TABLE[err.code].http, body: encodeError(format, err), code: err.code };
  };

  /** Writes a reply or an error; returns the status. `cork` is false only inside the uWS handler (already corked). */
  const respond = (res: HttpResponse, format: Format, routeName: string, reply: Reply | null, err: unknown, close: boolean, cork: boolean): number => {
    let status: number;
    let contentType: string;
    let body: Buffer | string;
    if (reply) {
      status = reply.status;
      if ('proto' in reply) {
        contentType = CONTENT_TYPES[format];
        body = encode(format, reply.proto, reply.value);
      } else {
        contentType = reply.contentType;
        body = reply.text;
      }
    } else {
      const e = errorStatus(err, format, routeName);
      status = e.status;
      contentType = CONTENT_TYPES[format];
      body = e.body;
    }
    if (cork) write(res, status, contentType, body, close);
    else res.writeStatus(STATUS_LINE[status] ?? `${status} Error`).writeHeader('content-type', contentType).end(body, close || draining);
    return status;
  };

  const overloaded = (): OrgError => new OrgError('OVERLOADED', `more than ${api.maxInFlight} requests in flight; retry shortly`);

  /** Registers `route` with the shared discipline. */
  const handle = (route: Route): void => {
    const rm = metrics.route('http', route.name);
    const name = route.name;
    const nParams = route.params;

    // Routes without a body: a reply available synchronously (a warm read, an
    // error) is written inside the handler, where uWS has already corked the
    // socket and no abort can happen, so no onAborted, no cork and no closure;
    // onAborted is registered only when the reply will come later.
    const plain = (res: HttpResponse, req: HttpRequest): void => {
      const t0 = performance.now();
      const params: string[] = new Array<string>(nParams);
      for (let i = 0; i < nParams; i++) params[i] = req.getParameter(i) ?? '';
      const accept = req.getHeader('accept');
      const format = negotiate(accept);
      const r: Req = { params, query: req.getQuery() ?? '', accept, authorization: req.getHeader('authorization'), body: null };
      let out: MaybeAsync<Reply>;
      if (inFlight >= api.maxInFlight) {
        rm.observeMs(respond(res, format, name, null, overloaded(), false, false), performance.now() - t0);
        return;
      }
      try {
        out = route.run(r);
      } catch (e) {
        rm.observeMs(respond(res, format, name, null, e, false, false), performance.now() - t0);
        return;
      }
      if (!isPromise(out)) {
        rm.observeMs(respond(res, format, name, out, null, false, false), performance.now() - t0);
        return;
      }
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      inFlight++;
      metrics.inFlight++;
      const settle = (reply: Reply | null, err: unknown): void => {
        inFlight--;
        metrics.inFlight--;
        if (aborted) rm.observeMs('aborted', performance.now() - t0);
        else rm.observeMs(respond(res, format, name, reply, err, false, true), performance.now() - t0);
      };
      out.then(
        (reply) => settle(reply, null),
        (e: unknown) => settle(null, e),
      );
    };

    // Routes with a body: onData is asynchronous, so onAborted first.
    const withBody = (res: HttpResponse, req: HttpRequest): void => {
      const t0 = performance.now();
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const params: string[] = [];
      for (let i = 0; i < nParams; i++) params.push(req.getParameter(i) ?? '');
      const accept = req.getHeader('accept');
      const format = negotiate(accept);
      const r: Req = { params, query: req.getQuery() ?? '', accept, authorization: req.getHeader('authorization'), body: null };

      const finish = (reply: Reply | null, err: unknown, close = false): void => {
        if (aborted) {
          rm.observeMs('aborted', performance.now() - t0);
          return;
        }
        rm.observeMs(respond(res, format, name, reply, err, close, true), performance.now() - t0);
      };

      const dispatch = (): void => {
        if (inFlight >= api.maxInFlight) {
          finish(null, overloaded());
          return;
        }
        let out: MaybeAsync<Reply>;
        try {
          out = route.run(r);
        } catch (e) {
          finish(null, e);
          return;
        }
        if (!isPromise(out)) {
          finish(out, null);
          return;
        }
        inFlight++;
        metrics.inFlight++;
        out.then(
          (reply) => {
            inFlight--;
            metrics.inFlight--;
            finish(reply, null);
          },
          (e: unknown) => {
            inFlight--;
            metrics.inFlight--;
            finish(null, e);
          },
        );
      };

      const declared = req.getHeader('content-length');
      const tooLarge = () => new OrgError('PAYLOAD_TOO_LARGE', `request body exceeds ${api.maxBodyBytes} bytes`);
      if (declared !== '' && Number(declared) > api.maxBodyBytes) {
        finish(null, tooLarge(), true);
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
          finish(null, tooLarge(), true);
          return;
        }
        // uWS neuters the chunk when this callback returns: copy it.
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) {
          done = true;
          r.body = Buffer.concat(chunks, size);
          dispatch();
        }
      });
    };
    app[route.method](route.pattern, route.body ? withBody : plain);
  };

  // ---- ops ----
  handle({
    method: 'get',
    pattern: '/healthz',
    name: 'healthz',
    params: 0,
    run: () => ({ status: 200, contentType: 'application/json', text: '{"status":"ok"}' }),
  });
  handle({
    method: 'get',
    pattern: '/readyz',
    name: 'readyz',
    params: 0,
    run: () =>
      deps.ready().then((r) => ({ status: r.ok && !draining ? 200 : 503, contentType: 'application/json', text: JSON.stringify({ status: r.ok && !draining ? 'ready' : 'not ready', checks: r.checks }) })),
  });
  handle({
    method: 'get',
    pattern: '/metrics',
    name: 'metrics',
    params: 0,
    run: () => deps.metricsText().then((m) => ({ status: 200, contentType: m.contentType, text: m.body })),
  });

  // ---- reads ----
  const lessonScope = (r: Req): number => {
    const c = claimsOf(r);
    const lessonId = parseId('lessonId', r.params[0]);
    assertLessonScope(c, lessonId);
    return lessonId;
  };
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId',
    name: 'lesson',
    params: 1,
    run: (r) => {
      const lessonId = lessonScope(r);
      parseQuery(r.query, []);
      return then(reads.lessonView(lessonId), OK_LessonView);
    },
  });
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId/rooms/:roomId',
    name: 'room',
    params: 2,
    run: (r) => {
      const lessonId = lessonScope(r);
      const roomId = parseEntityId('roomId', r.params[1]);
      parseQuery(r.query, []);
      return then(reads.room(lessonId, roomId), OK_Room);
    },
  });
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId/rooms/:roomId/members',
    name: 'members',
    params: 2,
    run: (r) => {
      const lessonId = lessonScope(r);
      const roomId = parseEntityId('roomId', r.params[1]);
      const q = parseQuery(r.query, ['partition', 'cursor', 'limit']);
      const partition = parsePartition(q.partition);
      const query = { partition, cursor: parseCursor(q.cursor, partition), limit: parseLimit(q.limit, { def: api.membersPageDefault, max: api.membersPageMax }) };
      return then(reads.members(lessonId, roomId, query), OK_MembersPage);
    },
  });
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId/rooms/:roomId/online',
    name: 'online',
    params: 2,
    run: (r) => {
      const lessonId = lessonScope(r);
      const roomId = parseEntityId('roomId', r.params[1]);
      parseQuery(r.query, []);
      return then(reads.online(lessonId, roomId), OK_OnlineView);
    },
  });
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId/nodes/:nodeId',
    name: 'node',
    params: 2,
    run: (r) => {
      const lessonId = lessonScope(r);
      const nodeId = parseEntityId('nodeId', r.params[1]);
      const q = parseQuery(r.query, ['children', 'parent', 'source']);
      const o = { children: parseFlag('children', q.children), parent: parseFlag('parent', q.parent), source: parseFlag('source', q.source) };
      return then(reads.node(lessonId, nodeId, o), OK_NodeView);
    },
  });
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId/students/:uid/position',
    name: 'position',
    params: 2,
    run: (r) => {
      const c = claimsOf(r);
      const lessonId = parseId('lessonId', r.params[0]);
      const uid = parseId('uid', r.params[1]);
      authorizeStudent(c, lessonId, uid);
      parseQuery(r.query, []);
      return then(reads.position(lessonId, uid), OK_PositionView);
    },
  });
  const enter = (c: Claims, lessonId: number, room: string | undefined, uid: number | null): MaybeAsync<Reply> => {
    const who = enterUid(c, lessonId, uid);
    const roomId = room === undefined || room === '' ? '' : parseEntityId('room', room);
    return then(reads.enter(lessonId, who, roomId), OK_EnterView);
  };
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId/enter',
    name: 'enter',
    params: 1,
    run: (r) => {
      const c = claimsOf(r);
      const lessonId = parseId('lessonId', r.params[0]);
      const q = parseQuery(r.query, ['room', 'uid']);
      return enter(c, lessonId, q.room, q.uid === undefined ? null : parseId('uid', q.uid));
    },
  });
  handle({
    method: 'post',
    pattern: '/v1/lessons/:lessonId/enter',
    name: 'enter',
    params: 1,
    body: true,
    run: (r) => {
      const c = claimsOf(r);
      const lessonId = parseId('lessonId', r.params[0]);
      parseQuery(r.query, []);
      const body = parseEnterBody(r.body);
      return enter(c, lessonId, body.room, body.uid);
    },
  });

  // ---- signals ----
  // Any role of the lesson reads; the service checks room, after and limit (raw
  // query text) and that only teachers, tutors and services publish.
  handle({
    method: 'get',
    pattern: '/v1/lessons/:lessonId/rooms/:roomId/signals',
    name: 'signals',
    params: 2,
    run: (r) => {
      const c = claimsOf(r);
      const lessonId = parseId('lessonId', r.params[0]);
      const q = parseQuery(r.query, ['after', 'limit']);
      return then(signals.read(c, lessonId, r.params[1]!, q.after, q.limit), OK_SignalPage);
    },
  });
  handle({
    method: 'post',
    pattern: '/v1/lessons/:lessonId/rooms/:roomId/signals',
    name: 'publish_signal',
    params: 2,
    body: true,
    run: (r) => {
      const c = claimsOf(r);
      const lessonId = parseId('lessonId', r.params[0]);
      parseQuery(r.query, []);
      const body = parseJsonBody(r.body, ['data'], '{"data": string}');
      if (!('data' in body)) throw new OrgError('BAD_REQUEST', 'body needs "data"');
      return signals.publish(c, lessonId, r.params[1]!, body.data).then((s) => ({ status: 201, proto: 'orgengine.v1.PublishedSignal', value: { seq: s.seq, at: s.at } }));
    },
  });

  // ---- in-class mutations ----
  // Ids come from the path, the rest from a small JSON body (unknown fields are
  // refused); the service checks lesson scope and roles (a student acts only for
  // itself and never mutes) and answers with the change's write-behind version.
  handle({
    method: 'post',
    pattern: '/v1/lessons/:lessonId/students/:uid/group',
    name: 'pick_group',
    params: 2,
    body: true,
    run: (r) => {
      const c = claimsOf(r);
      parseQuery(r.query, []);
      const b = parseJsonBody(r.body, ['groupId'], '{"groupId"?: string | null}');
      return mutations.pickGroup(c, parsePickGroup({ lessonId: r.params[0], uid: r.params[1], groupId: b.groupId })).then(OK_PickGroupResult);
    },
  });
  for (const [method, muted] of [['put', true], ['del', false]] as const) {
    const name = muted ? 'mute' : 'unmute';
    handle({
      method,
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/students/:uid/mute',
      name: `${name}_student`,
      params: 3,
      body: true,
      run: (r) => {
        const c = claimsOf(r);
        parseQuery(r.query, []);
        parseJsonBody(r.body, [], NO_BODY);
        return mutations.mute(c, parseMute({ lessonId: r.params[0], roomId: r.params[1], uid: r.params[2], muted })).then(OK_MuteResult);
      },
    });
    handle({
      method,
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/nodes/:nodeId/mute',
      name: `${name}_node`,
      params: 3,
      body: true,
      run: (r) => {
        const c = claimsOf(r);
        parseQuery(r.query, []);
        parseJsonBody(r.body, [], NO_BODY);
        return mutations.mute(c, parseMute({ lessonId: r.params[0], roomId: r.params[1], nodeId: r.params[2], muted })).then(OK_MuteResult);
      },
    });
  }
  handle({
    method: 'post',
    pattern: '/v1/lessons/:lessonId/students/:uid/sign-in',
    name: 'sign_in',
    params: 2,
    body: true,
    run: (r) => {
      const c = claimsOf(r);
      parseQuery(r.query, []);
      parseJsonBody(r.body, [], NO_BODY);
      return mutations.signIn(c, parseSignIn({ lessonId: r.params[0], uid: r.params[1] })).then(OK_SignInResult);
    },
  });
  handle({
    method: 'post',
    pattern: '/v1/lessons/:lessonId/rooms/:roomId/students/:uid/heartbeat',
    name: 'heartbeat',
    params: 3,
    body: true,
    run: (r) => {
      const c = claimsOf(r);
      parseQuery(r.query, []);
      parseJsonBody(r.body, [], NO_BODY);
      return mutations.heartbeat(c, parseHeartbeat({ lessonId: r.params[0], roomId: r.params[1], uid: r.params[2] })).then(OK_HeartbeatResult);
    },
  });

  // uWS answers nothing at all for an unmatched route; this makes it a 404.
  const unmatched = metrics.route('http', 'unmatched');
  app.any('/*', (res, req) => {
    const t0 = performance.now();
    const format = negotiate(req.getHeader('accept'));
    const err = new OrgError('NOT_FOUND', `no route ${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}`);
    write(res, 404, CONTENT_TYPES[format], encodeError(format, err), false);
    unmatched.observeMs(404, performance.now() - t0);
  });

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
    inFlight: () => inFlight,
  };
}

const ENTER_BODY = '{"room"?: string, "uid"?: number}';

/** POST /enter's body: which room, and for staff and services which student. */
function parseEnterBody(body: Buffer | null): { room: string | undefined; uid: number | null } {
  const o = parseJsonBody(body, ['room', 'uid'], ENTER_BODY);
  if (o.room !== undefined && typeof o.room !== 'string') throw new OrgError('BAD_REQUEST', 'room must be a string');
  if (o.uid !== undefined && (typeof o.uid !== 'number' || !Number.isSafeInteger(o.uid) || o.uid < 1)) throw new OrgError('BAD_REQUEST', 'uid must be a positive integer');
  return { room: o.room as string | undefined, uid: (o.uid as number | undefined) ?? null };
}
