// The edge gateway's commands: serve it, and mint the tokens it accepts.
import { MAX_TOKEN_TTL_SECONDS, TokenVerifier } from '../auth/tokens.js';
import { requireTokenKeys } from '../config.js';
import { parseRevokeBefore, revokeTokens } from '../services/revocation.js';
import { OrgError } from '../errors.js';
import { createLogger } from '../main.js';
import { ROLES, type Role } from '../auth/caller.js';
import { intOpt, LESSON, portOpt, strOpt, withApp, type Command, type Values } from './command.js';

const MAX_TTL_SECONDS = MAX_TOKEN_TTL_SECONDS;

/** `orgengine serve`. */
const serveCommand: Command = {
  name: 'serve',
  summary: 'run the edge gateway (HTTP on P, gRPC on G); N worker processes share P',
  usage: ['serve --port P [--grpc-port G] [--internal-port I] [--workers N] [--host H]'],
  options: {
    port: { type: 'string', value: 'P', help: 'HTTP port (0: any free port, printed once listening)' },
    'grpc-port': { type: 'string', value: 'G', help: 'gRPC port (0: any free port; default: no gRPC)' },
    'internal-port': {
      type: 'string',
      value: 'I',
      help: 'serve /readyz and /metrics only on this port, bound to ORGENGINE_INTERNAL_HOST (default 127.0.0.1); default: ORGENGINE_INTERNAL_PORT, else on P',
    },
    workers: { type: 'string', value: 'N', help: 'gateway processes sharing the port (default 1)' },
    host: { type: 'string', value: 'H', help: 'address to listen on (default 0.0.0.0)' },
  },
  example: 'ORGENGINE_TOKEN_SECRET=$(openssl rand -hex 32) orgengine serve --port 8080 --grpc-port 9090 --workers 2',
  verboseLogs: true,
  async run({ config, values: v, out }) {
    const port = portOpt(v, 'port');
    const grpcPort = v['grpc-port'] === undefined ? null : portOpt(v, 'grpc-port');
    const internalPort = v['internal-port'] === undefined ? config.api.internalPort : portOpt(v, 'internal-port');
    const workers = intOpt(v, 'workers', 1);
    // Loaded here so other commands (and --help) never load the native HTTP server.
    const { MAX_WORKERS, serve } = await import('../serve.js');
    if (workers < 1 || workers > MAX_WORKERS) throw new OrgError('BAD_REQUEST', `--workers must be 1-${MAX_WORKERS}, got ${workers}`);
    requireTokenKeys(config);
    await serve(config, { port, host: strOpt(v, 'host', '0.0.0.0'), grpcPort, internalPort, workers, log: createLogger(config) }, (ports) =>
      out.result(
        ports,
        `listening http=${ports.httpPort}${ports.grpcPort === null ? '' : ` grpc=${ports.grpcPort}`}${ports.internalPort === null ? '' : ` internal=${ports.internalPort}`} workers=${workers}`,
      ),
    );
    return 0;
  },
};

/** A revocation time: epoch ms, or an ISO-8601 time. */
function beforeOpt(v: Values): number | null {
  const raw = v.before;
  if (raw === undefined) return null;
  const s = String(raw);
  const n = /^[0-9]+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new OrgError('BAD_REQUEST', `--before must be epoch milliseconds or an ISO-8601 time, got ${JSON.stringify(s)}`);
  return n;
}

/** `orgengine token revoke`. */
async function revokeCommand({ config, values: v, out }: Parameters<Command['run']>[0]): Promise<number> {
  if (v.role !== undefined || v.ttl !== undefined) throw new OrgError('BAD_REQUEST', 'token revoke takes --lesson, --uid and --before only');
  const lessonId = intOpt(v, 'lesson');
  const uid = v.uid === undefined ? null : intOpt(v, 'uid');
  if (lessonId < 1 || (uid !== null && uid < 1)) throw new OrgError('BAD_REQUEST', '--lesson and --uid must be positive integers');
  const before = parseRevokeBefore(beforeOpt(v), Date.now());
  const r = await withApp(config, (app) => revokeTokens(app.redis, config.keyPrefix, lessonId, uid, before));
  out.result(r, `revoked ${uid === null ? 'every token' : `the tokens of uid ${uid}`} of lesson ${lessonId} issued at or before ${new Date(r.before).toISOString()}`);
  return 0;
}

/** `orgengine token` and `orgengine token revoke`. */
const tokenCommand: Command = {
  name: 'token',
  summary: 'mint an access token with the signing key, or revoke tokens of a lesson',
  usage: ["token --uid U --role student|teacher|tutor|service|operator --lesson ID|'*' [--ttl SECONDS]", 'token revoke --lesson ID [--uid U] [--before TIME]'],
  options: {
    uid: { type: 'string', value: 'U', help: 'user id the token speaks for (revoke: the user whose tokens are refused; default every user)' },
    role: { type: 'string', value: 'ROLE', help: ROLES.join('|') },
    lesson: { ...LESSON, help: "the lesson it is good for, or '*' for every lesson (revoke: the lesson)" },
    ttl: { type: 'string', value: 'SECONDS', help: `lifetime, 1-${MAX_TTL_SECONDS} (default 3600)` },
    before: { type: 'string', value: 'TIME', help: 'revoke: tokens issued at or before this time (epoch ms or ISO-8601; default now)' },
  },
  subcommands: ['revoke'],
  subcommandOptional: true,
  example: 'orgengine token --uid 42 --role student --lesson 100001 --ttl 600',
  async run(ctx) {
    if (ctx.positionals[0] === 'revoke') return revokeCommand(ctx);
    const { config, values: v, out } = ctx;
    if (v.before !== undefined) throw new OrgError('BAD_REQUEST', '--before is an option of token revoke');
    const role = strOpt(v, 'role');
    if (!(ROLES as readonly string[]).includes(role)) throw new OrgError('BAD_REQUEST', `--role must be one of ${ROLES.join('|')}, got ${JSON.stringify(role)}`);
    const lesson = strOpt(v, 'lesson') === '*' ? ('*' as const) : intOpt(v, 'lesson');
    const ttl = intOpt(v, 'ttl', 3600);
    if (ttl < 1 || ttl > MAX_TTL_SECONDS) throw new OrgError('BAD_REQUEST', `--ttl must be 1-${MAX_TTL_SECONDS} seconds, got ${ttl}`);
    const { keys, signing } = requireTokenKeys(config);
    const tokens = new TokenVerifier({ keys, signing, cacheEntries: 1 });
    const claims = { uid: intOpt(v, 'uid'), role: role as Role, lesson, exp: Math.floor(Date.now() / 1000) + ttl };
    const token = tokens.mint(claims);
    out.result({ token, claims }, token);
    return 0;
  },
};

/** The gateway's commands. */
export const SERVE_COMMANDS: readonly Command[] = [serveCommand, tokenCommand];
