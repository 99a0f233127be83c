// The console's HTTP server (node:http: an operator tool, not a hot path):
// the JSON API under /api (every call authenticated with an operator token and
// authorised by the service), /metrics, and the built web app. Every call that
// changes something, and every refused call, is written to the audit trail with
// who, what, when, its parameters and its result.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Caller } from '../auth/caller.js';
import { bearerToken, type TokenVerifier } from '../auth/tokens.js';
import { OrgError, toOrgError } from '../errors.js';
import { writeAudit } from '../store/mysql/console.js';
import { formatTraceparent, LOCAL_TRACING, parseTraceparent, type Tracing } from '../tracing.js';
import type { Pool } from '../store/mysql/pool.js';
import type { ConsoleMetrics } from './alarms.js';
import type { ConsoleService } from './service.js';

/** One API call as a handler sees it. */
interface Call {
  caller: Caller;
  /** The traceparent of this call's span: actions pass it on to the jobs they enqueue. */
  traceparent: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

/** One route of the API. */
interface Route {
  method: 'GET' | 'POST' | 'PUT';
  /** Path with :name parameters. */
  path: string;
  /** Name in the audit trail and in metrics. */
  action: string;
  run(s: ConsoleService, c: Call): unknown;
}

/** The console API, one line per operation. */
export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/api/me', action: 'me', run: (s, c) => s.me(c.caller) },
  { method: 'GET', path: '/api/day', action: 'day', run: (s, c) => s.day(c.caller, c.query.get('date') ?? undefined) },
  { method: 'GET', path: '/api/lessons/:id', action: 'lesson', run: (s, c) => s.lesson(c.caller, c.params.id) },
  { method: 'GET', path: '/api/lessons/:id/nodes', action: 'nodes', run: (s, c) => s.nodes(c.caller, c.params.id, c.query.get('node') ?? undefined) },
  { method: 'POST', path: '/api/lessons/:id/preload', action: 'lesson.preload', run: (s, c) => s.preload(c.caller, c.params.id, c.body, c.traceparent) },
  { method: 'POST', path: '/api/lessons/:id/recheck', action: 'lesson.recheck', run: (s, c) => s.recheck(c.caller, c.params.id, c.body, c.traceparent) },
  { method: 'POST', path: '/api/lessons/:id/check', action: 'lesson.check', run: (s, c) => s.checkNow(c.caller, c.params.id, c.body) },
  { method: 'POST', path: '/api/lessons/:id/reconcile', action: 'lesson.reconcile', run: (s, c) => s.reconcile(c.caller, c.params.id, c.body) },
  { method: 'POST', path: '/api/lessons/:id/bind', action: 'lesson.bind', run: (s, c) => s.bind(c.caller, c.params.id, c.body) },
  { method: 'POST', path: '/api/lessons/:id/preview', action: 'lesson.preview', run: (s, c) => s.preview(c.caller, c.params.id, c.body) },
  { method: 'POST', path: '/api/lessons/:id/diff', action: 'lesson.diff', run: (s, c) => s.diff(c.caller, c.params.id, c.body) },
  { method: 'POST', path: '/api/sweep', action: 'sweep', run: (s, c) => s.sweep(c.caller, c.body) },
  { method: 'GET', path: '/api/policies', action: 'policies', run: (s, c) => s.policies(c.caller) },
  { method: 'GET', path: '/api/policies/:name', action: 'policy', run: (s, c) => s.policy(c.caller, c.params.name) },
  { method: 'PUT', path: '/api/policies/:name', action: 'policy.put', run: (s, c) => s.putPolicy(c.caller, c.params.name, c.body) },
  { method: 'GET', path: '/api/settings/alarms', action: 'settings', run: (s, c) => s.alarmSettings(c.caller) },
  { method: 'PUT', path: '/api/settings/alarms', action: 'settings.put', run: (s, c) => s.putAlarmSettings(c.caller, c.body) },
  { method: 'GET', path: '/api/alarms', action: 'alarms', run: (s, c) => s.alarms(c.caller, c.query.get('limit') ?? undefined) },
  { method: 'GET', path: '/api/audit', action: 'audit', run: (s, c) => s.audit(c.caller, c.query.get('limit') ?? undefined, c.query.get('action') ?? undefined) },
];

const compiled = ROUTES.map((r) => ({
  route: r,
  re: new RegExp(`^${r.path.replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`),
}));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** What the server needs. */
export interface ConsoleHttpDeps {
  service: ConsoleService;
  tokens: TokenVerifier;
  pool: Pool;
  metrics: ConsoleMetrics;
  log: Logger;
  staticDir: string;
  maxBodyBytes: number;
  tracing?: Tracing;
  now?: () => number;
}

/** A path parameter, percent-decoded; bad escapes are the client's mistake (400), not ours. */
function decodePart(name: string, v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    throw new OrgError('BAD_REQUEST', `${name}: bad percent-encoding in the path`, { field: name });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(text);
}

async function readBody(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new OrgError('PAYLOAD_TOO_LARGE', `request body over ${max} bytes (ORGENGINE_CONSOLE_MAX_BODY_BYTES)`);
    chunks.push(c as Buffer);
  }
  if (n === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new OrgError('BAD_REQUEST', 'body: not JSON');
  }
}

/** Creates the console's HTTP server (not listening yet). */
export function createConsoleServer(d: ConsoleHttpDeps): Server {
  const now = d.now ?? Date.now;
  const root = resolve(d.staticDir);

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const match = compiled.map((c) => ({ c, m: c.re.exec(url.pathname) })).filter((x) => x.m);
    const hit = match.find((x) => x.c.route.method === method);
    const action = hit?.c.route.action ?? `unknown:${method}`;
    // Each call is a span: it continues the caller's trace (traceparent header) or starts one, and answers with its own.
    const span = (d.tracing ?? LOCAL_TRACING).startSpan(`console ${action}`, parseTraceparent(req.headers.traceparent), { 'http.method': method });
    const traceparent = formatTraceparent(span.context);
    const log = d.log.child({ traceId: span.context.traceId });
    let caller: Caller | null = null;
    let params: Record<string, string> = {};
    let body: unknown = undefined;
    let status = 200;
    let result: unknown;
    let failure: unknown;
    try {
      if (match.length === 0) throw new OrgError('NOT_FOUND', `no console API at ${method} ${url.pathname}`);
      if (!hit) throw new OrgError('BAD_REQUEST', `${url.pathname} does not take ${method} (it takes ${match.map((x) => x.c.route.method).join(', ')})`);
      caller = d.tokens.verify(bearerToken(req.headers.authorization));
      params = Object.fromEntries(Object.entries(hit.m!.groups ?? {}).map(([k, v]) => [k, decodePart(k, v)]));
      body = method === 'GET' ? undefined : await readBody(req, d.maxBodyBytes);
      result = await hit.c.route.run(d.service, { caller, traceparent, params, query: url.searchParams, body });
    } catch (e) {
      const err = toOrgError(e);
      failure = err;
      status = err.httpStatus;
      result = { error: err.toJSON() };
      if (status >= 500) log.warn({ action, err: err.message }, 'console call failed');
    }
    span.end(status >= 500 ? failure : undefined);
    d.metrics.m.requests.inc({ route: action, status: String(status) });
    // Changes are audited whatever their outcome; reads only when refused (who tried to look).
    if (method !== 'GET' || status === 401 || status === 403) {
      const code = status < 400 ? 'ok' : (result as { error: { code: string } }).error.code;
      const query = Object.fromEntries(url.searchParams);
      await writeAudit(d.pool, {
        uid: caller?.uid ?? null,
        role: caller?.role ?? null,
        action,
        params: { path: url.pathname, traceId: span.context.traceId, ...params, ...(Object.keys(query).length ? { query } : {}), ...(body === undefined ? {} : { body }) },
        result: code,
        detail: status < 400 ? null : (result as { error: { message: string } }).error.message,
        at: now(),
      }).catch((e: Error) => log.error({ action, err: e.message }, 'audit write failed'));
    }
    res.setHeader('traceparent', traceparent);
    send(res, status, result);
  }

  async function file(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } });
      return;
    }
    // The app routes on the client: any path without a file extension is the app itself.
    let rel: string;
    try {
      rel = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
    } catch {
      send(res, 400, { error: { code: 'BAD_REQUEST', message: 'bad percent-encoding in the path' } });
      return;
    }
    if (extname(rel) === '') rel = '/index.html';
    const path = join(root, rel);
    if (!path.startsWith(root)) {
      send(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } });
      return;
    }
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) {
      const missing = rel === '/index.html';
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(missing ? `the console web app is not built in ${root}: run npm run build:console\n` : 'not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': st.size,
      'cache-control': rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  }

  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://console');
    const work = url.pathname.startsWith('/api/')
      ? api(req, res, url)
      : url.pathname === '/metrics'
        ? d.metrics.registry.metrics().then((t) => void res.writeHead(200, { 'content-type': d.metrics.registry.contentType }).end(t))
        : file(req, res, url);
    work.catch((e: unknown) => {
      d.log.error({ err: (e as Error).message }, 'console request failed');
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
      else res.destroy();
    });
  });
}
