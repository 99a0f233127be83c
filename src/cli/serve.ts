// The edge gateway's commands: serve it, and mint the tokens it accepts.
import { TokenVerifier } from '../auth/tokens.js';
import { requireTokenSecret } from '../config.js';
import { OrgError } from '../errors.js';
import { createLogger } from '../main.js';
import { ROLES, type Role } from '../auth/caller.js';
import { intOpt, strOpt, type Command } from './command.js';

const MAX_TTL_SECONDS = 366 * 86400;

function portOpt(v: Parameters<typeof intOpt>[0], name: string): number {
  const p = intOpt(v, name);
  if (p < 0 || p > 65535) throw new OrgError('BAD_REQUEST', `--${name} must be 0-65535, got ${p}`);
  return p;
}

/** `orgengine serve`. */
const serveCommand: Command = {
  name: 'serve',
  summary: 'run the edge gateway (HTTP on P, gRPC on G); N worker processes share P',
  usage: ['serve --port P [--grpc-port G] [--workers N] [--host H]'],
  options: {
    port: { type: 'string', value: 'P', help: 'HTTP port (0: any free port, printed once listening)' },
    'grpc-port': { type: 'string', value: 'G', help: 'gRPC port (0: any free port; default: no gRPC)' },
    workers: { type: 'string', value: 'N', help: 'gateway processes sharing the port (default 1)' },
    host: { type: 'string', value: 'H', help: 'address to listen on (default 0.0.0.0)' },
  },
  example: 'ORGENGINE_TOKEN_SECRET=$(openssl rand -hex 32) orgengine serve --port 8080 --grpc-port 9090 --workers 2',
  verboseLogs: true,
  async run({ config, values: v, out }) {
    const port = portOpt(v, 'port');
    const grpcPort = v['grpc-port'] === undefined ? null : portOpt(v, 'grpc-port');
    const workers = intOpt(v, 'workers', 1);
    // Loaded here so other commands (and --help) never load the native HTTP server.
    const { MAX_WORKERS, serve } = await import('../serve.js');
    if (workers < 1 || workers > MAX_WORKERS) throw new OrgError('BAD_REQUEST', `--workers must be 1-${MAX_WORKERS}, got ${workers}`);
    requireTokenSecret(config);
    await serve(config, { port, host: strOpt(v, 'host', '0.0.0.0'), grpcPort, workers, log: createLogger(config) }, (ports) =>
      out.result(ports, `listening http=${ports.httpPort}${ports.grpcPort === null ? '' : ` grpc=${ports.grpcPort}`} workers=${workers}`),
    );
    return 0;
  },
};

/** `orgengine token`. */
const tokenCommand: Command = {
  name: 'token',
  summary: 'mint an access token (needs ORGENGINE_TOKEN_SECRET)',
  usage: ["token --uid U --role student|teacher|tutor|service|operator --lesson ID|'*' [--ttl SECONDS]"],
  options: {
    uid: { type: 'string', value: 'U', help: 'user id the token speaks for' },
    role: { type: 'string', value: 'ROLE', help: ROLES.join('|') },
    lesson: { type: 'string', value: 'ID', help: "the lesson it is good for, or '*' for every lesson" },
    ttl: { type: 'string', value: 'SECONDS', help: `lifetime, 1-${MAX_TTL_SECONDS} (default 3600)` },
  },
  example: 'orgengine token --uid 42 --role student --lesson 100001 --ttl 600',
  async run({ config, values: v, out }) {
    const role = strOpt(v, 'role');
    if (!(ROLES as readonly string[]).includes(role)) throw new OrgError('BAD_REQUEST', `--role must be one of ${ROLES.join('|')}, got ${JSON.stringify(role)}`);
    const lesson = strOpt(v, 'lesson') === '*' ? ('*' as const) : intOpt(v, 'lesson');
    const ttl = intOpt(v, 'ttl', 3600);
    if (ttl < 1 || ttl > MAX_TTL_SECONDS) throw new OrgError('BAD_REQUEST', `--ttl must be 1-${MAX_TTL_SECONDS} seconds, got ${ttl}`);
    const tokens = new TokenVerifier({ secret: requireTokenSecret(config), cacheEntries: 1 });
    const claims = { uid: intOpt(v, 'uid'), role: role as Role, lesson, exp: Math.floor(Date.now() / 1000) + ttl };
    const token = tokens.mint(claims);
    out.result({ token, claims }, token);
    return 0;
  },
};

/** The gateway's commands. */
export const SERVE_COMMANDS: readonly Command[] = [serveCommand, tokenCommand];
