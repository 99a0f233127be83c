// Entry of one gateway worker process (forked by serve.ts through
// bin/gateway-worker.js): waits for its init message, runs a gateway, answers
// the primary's metrics collection, drains on 'shutdown' or a signal.
import { ConfigError } from './config.js';
import { OrgError } from './errors.js';
import { startGateway, type Gateway } from './gateway.js';
import { createLogger } from './main.js';
import type { WorkerMessage } from './serve.js';

const send = (m: WorkerMessage): void => {
  process.send?.(m);
};
const waiting = new Map<number, (m: { body: string; contentType: string }) => void>();
let seq = 0;
/** How long a scrape waits for every worker's metrics. */
const METRICS_TIMEOUT_MS = 2000;
let gw: Gateway | null = null;
let closing = false;

const drainAndExit = (): void => {
  if (closing) return;
  closing = true;
  (gw ? gw.close() : Promise.resolve()).finally(() => process.exit(0));
};
process.on('SIGTERM', drainAndExit);
process.on('SIGINT', drainAndExit);
const reloadTls = (): void => {
  gw?.reloadTls().catch((e: unknown) => process.stderr.write(`TLS reload failed; serving on with the previous certificate: ${e instanceof Error ? e.message : String(e)}\n`));
};
// A hangup reaching a worker (the whole process group signalled) reloads too, rather than killing it.
process.on('SIGHUP', reloadTls);
// The primary is gone: nobody will ask this worker to stop.
process.on('disconnect', drainAndExit);

process.on('message', (m: WorkerMessage) => {
  if (m.type === 'init') {
    const init = m.init;
    const log = createLogger(init.config, { worker: init.index });
    startGateway(init.config, {
      port: init.port,
      host: init.host,
      grpcPort: init.grpcPort,
      internalPort: init.internalPort,
      log,
      defaultMetrics: true,
      connectionTag: `w${init.index}`,
      // One flusher per `serve` is plenty (it pipelines every lesson); more would only add MySQL connections.
      flush: init.index === 0 && init.config.api.flushInGateway,
      // Any worker may get the scrape; the primary merges every worker's metrics.
      metricsText: () =>
        new Promise((resolve, reject) => {
          const id = ++seq;
          const timer = setTimeout(() => {
            waiting.delete(id);
            reject(new OrgError('BACKEND_UNAVAILABLE', 'metrics: the other workers did not answer in time'));
          }, METRICS_TIMEOUT_MS);
          waiting.set(id, (m) => {
            clearTimeout(timer);
            resolve(m);
          });
          send({ type: 'metrics-request', id });
        }),
    }).then(
      (g) => {
        gw = g;
        if (closing) drainAndExit();
        send({ type: 'listening', httpPort: g.httpPort, grpcPort: g.grpcPort, internalPort: g.internalPort });
      },
      (e: unknown) => {
        send({ type: 'failed', message: e instanceof Error ? e.message : String(e), variable: e instanceof ConfigError ? e.variable : undefined });
        process.exit(1);
      },
    );
  } else if (m.type === 'metrics-collect') {
    gw?.metrics.json().then((data) => send({ type: 'metrics-json', id: m.id, data }));
  } else if (m.type === 'metrics-text') {
    waiting.get(m.id)?.({ body: m.body, contentType: m.contentType });
    waiting.delete(m.id);
  } else if (m.type === 'reload-tls') {
    reloadTls();
  } else if (m.type === 'shutdown') {
    drainAndExit();
  }
});

send({ type: 'hello' });
