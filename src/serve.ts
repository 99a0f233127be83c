// `orgengine serve`: one gateway in this process, or N gateway processes
// (node:cluster) listening on one port. uWS binds with SO_REUSEPORT on Linux, so
// the kernel spreads connections over the processes. Processes, not worker
// threads: a thread running uWS cannot exit (its loop keeps a poll handle open
// and Node aborts on worker teardown), so threads could never drain and stop.
// gRPC runs in worker 0 only (grpc-js listens through Node's net module, which
// does not share a port here). /metrics on any worker answers with every
// worker's metrics merged. SIGTERM or SIGINT drains: stop accepting, finish
// in-flight, exit. With TLS configured, SIGHUP re-reads the certificate and key
// in every worker (the primary passes it on).
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ConfigError, type Config } from './config.js';
import { freePort } from './api/http/uws.js';
import { startGateway } from './gateway.js';
import { stopSignal } from './main.js';
import { aggregateMetrics } from './metrics.js';

/** How to serve. */
export interface ServeOptions {
  port: number;
  host: string;
  grpcPort: number | null;
  /** Port of the internal listener (/readyz, /metrics), or null: on the public port. */
  internalPort?: number | null;
  workers: number;
  log: Logger;
}

/** The ports a serve listens on. */
export interface ServePorts {
  httpPort: number;
  grpcPort: number | null;
  internalPort: number | null;
}

/** Most worker processes accepted. */
export const MAX_WORKERS = 256;

/** What a worker process is told to run. */
export interface WorkerInit {
  config: Config;
  port: number;
  host: string;
  grpcPort: number | null;
  internalPort: number | null;
  index: number;
}

/** Messages between the primary and a gateway worker process. */
export type WorkerMessage =
  | { type: 'hello' }
  | { type: 'init'; init: WorkerInit }
  | { type: 'listening'; httpPort: number; grpcPort: number | null; internalPort: number | null }
  | { type: 'reload-tls' }
  /** `variable`: the start failed on this configuration variable (a ConfigError). */
  | { type: 'failed'; message: string; variable?: string }
  | { type: 'metrics-request'; id: number }
  | { type: 'metrics-collect'; id: number }
  | { type: 'metrics-json'; id: number; data: unknown[] }
  | { type: 'metrics-text'; id: number; body: string; contentType: string }
  | { type: 'shutdown' };

const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** The worker entry: registers tsx, then runs src/serveWorker.ts. */
const WORKER_EXEC = fileURLToPath(new URL('../bin/gateway-worker.js', import.meta.url));

/** Serves until SIGTERM/SIGINT; resolves once drained. Reports the bound ports through `onListening`. */
export async function serve(config: Config, opts: ServeOptions, onListening?: (ports: ServePorts) => void): Promise<void> {
  const { log } = opts;
  if (!Number.isInteger(opts.workers) || opts.workers < 1 || opts.workers > MAX_WORKERS) throw new RangeError(`workers must be 1-${MAX_WORKERS}, got ${opts.workers}`);
  const stop = stopSignal();
  const tls = config.api.tlsCertFile !== null;
  const internal = opts.internalPort ?? null;

  if (opts.workers === 1) {
    const gw = await startGateway(config, { port: opts.port, host: opts.host, grpcPort: opts.grpcPort, internalPort: internal, log });
    const onHup = (): void => {
      gw.reloadTls().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'TLS reload failed; serving on with the previous certificate'));
    };
    if (tls) process.on('SIGHUP', onHup);
    log.info({ httpPort: gw.httpPort, grpcPort: gw.grpcPort, internalPort: gw.internalPort }, 'gateway listening');
    onListening?.({ httpPort: gw.httpPort, grpcPort: gw.grpcPort, internalPort: gw.internalPort });
    const signal = await stop;
    log.info({ signal }, 'draining');
    process.off('SIGHUP', onHup);
    await gw.close();
    log.info('stopped');
    return;
  }

  const port = opts.port === 0 ? await freePort(opts.host) : opts.port;
  // Every worker binds the internal port too (SO_REUSEPORT): it must be one known port.
  const internalPort = internal === 0 ? await freePort(config.api.internalHost) : internal;
  cluster.setupPrimary({ exec: WORKER_EXEC, args: [], silent: false });
  const workers: Worker[] = [];
  const collecting = new Map<number, { want: number; got: unknown[][]; requester: Worker; requesterId: number }>();
  let metricsSeq = 0;
  let stopping = false;
  let died!: (e: Error) => void;
  const death = new Promise<never>((_, reject) => (died = reject));
  death.catch(() => undefined);

  const start = (index: number): Promise<ServePorts> => {
    const w = cluster.fork();
    workers[index] = w;
    w.on('exit', (code, signal) => {
      if (!stopping) {
        log.error({ worker: index, code, signal }, 'gateway worker exited unexpectedly; stopping');
        died(new Error(`gateway worker ${index} exited (code ${code}, signal ${signal})`));
      }
    });
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'hello') {
        // Sent once the worker listens for messages; anything sent earlier could be lost.
        w.send({ type: 'init', init: { config, port, host: opts.host, grpcPort: index === 0 ? opts.grpcPort : null, internalPort, index } } satisfies WorkerMessage);
      } else if (m.type === 'metrics-request') {
        const id = ++metricsSeq;
        const live = workers.filter((x) => x && x.isConnected());
        collecting.set(id, { want: live.length, got: [], requester: w, requesterId: m.id });
        for (const x of live) x.send({ type: 'metrics-collect', id } satisfies WorkerMessage);
      } else if (m.type === 'metrics-json') {
        const c = collecting.get(m.id);
        if (!c) return;
        c.got.push(m.data);
        if (c.got.length < c.want) return;
        collecting.delete(m.id);
        aggregateMetrics(c.got).then(
          (body) => c.requester.send({ type: 'metrics-text', id: c.requesterId, body, contentType: METRICS_CONTENT_TYPE } satisfies WorkerMessage),
          (e: unknown) => log.warn({ err: String(e) }, 'metrics aggregation failed'),
        );
      }
    });
    return new Promise((resolve, reject) => {
      const onMsg = (m: WorkerMessage) => {
        if (m.type === 'listening') {
          w.off('message', onMsg);
          resolve({ httpPort: m.httpPort, grpcPort: m.grpcPort, internalPort: m.internalPort });
        } else if (m.type === 'failed') {
          w.off('message', onMsg);
          // A bad setting is the operator's to fix: report it as the config error it was.
          reject(m.variable ? new ConfigError(m.variable, m.message.replace(`${m.variable}: `, '')) : new Error(`gateway worker ${index}: ${m.message}`));
        }
      };
      w.on('message', onMsg);
      w.once('exit', (code) => reject(new Error(`gateway worker ${index} exited with code ${code} before listening`)));
    });
  };

  const shutdown = async (): Promise<void> => {
    stopping = true;
    const exits = workers.filter(Boolean).map((w) => (w.isDead() ? Promise.resolve() : new Promise<void>((resolve) => w.once('exit', () => resolve()))));
    for (const w of workers) if (w?.isConnected()) w.send({ type: 'shutdown' } satisfies WorkerMessage);
    const grace = new Promise<void>((resolve) => setTimeout(resolve, config.api.shutdownGraceMs + 2000).unref());
    await Promise.race([Promise.all(exits), grace]);
    for (const w of workers) if (w && !w.isDead()) w.kill('SIGKILL');
  };

  const onHup = (): void => {
    for (const w of workers) if (w?.isConnected()) w.send({ type: 'reload-tls' } satisfies WorkerMessage);
  };
  if (tls) process.on('SIGHUP', onHup);
  try {
    // Worker 0 first, so a bad config fails once, not N times.
    const first = await start(0);
    await Promise.all(Array.from({ length: opts.workers - 1 }, (_, i) => start(i + 1)));
    log.info({ httpPort: first.httpPort, grpcPort: first.grpcPort, internalPort: first.internalPort, workers: opts.workers }, 'gateway workers listening');
    onListening?.(first);
    const signal = await Promise.race([stop, death]);
    log.info({ signal }, 'draining');
  } finally {
    process.off('SIGHUP', onHup);
    await shutdown();
  }
  log.info('stopped');
}
