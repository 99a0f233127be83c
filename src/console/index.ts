// Starts the operations console: its own connections to MySQL, the data Redis
// and the queue Redis, the alarm monitor, and the HTTP server. `orgengine
// console` runs this; tests start it in-process.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { TokenVerifier } from '../auth/tokens.js';
import { requireTokenKeys, type Config } from '../config.js';
import { createApp } from '../main.js';
import { createQueueConnection, Jobs } from '../preload/jobs.js';
import { createTracing, type Tracing } from '../tracing.js';
import { AlarmMonitor, ConsoleMetrics } from './alarms.js';
import { createConsoleServer } from './http.js';
import { ConsoleService } from './service.js';
import { AlarmSettingsStore } from './settings.js';

/** A running console. */
export interface RunningConsole {
  port: number;
  server: Server;
  monitor: AlarmMonitor;
  metrics: ConsoleMetrics;
  close(): Promise<void>;
}

/** Options of startConsole. */
export interface ConsoleOptions {
  port: number;
  host?: string;
  log?: Logger;
  /** Evaluate alarms on the timer (default true). */
  alarms?: boolean;
  /** Spans of API calls (default: from ORGENGINE_OTLP_ENDPOINT). */
  tracing?: Tracing;
  now?: () => number;
}

/** Connects, starts the alarm monitor and listens; close() undoes all of it. */
export async function startConsole(config: Config, o: ConsoleOptions): Promise<RunningConsole> {
  const tracing = o.tracing ?? (await createTracing(config.otlpEndpoint, 'orgengine-console'));
  const { keys, signing } = requireTokenKeys(config);
  const tokens = new TokenVerifier({ keys, signing, cacheEntries: 1000, now: o.now });
  const app = createApp(config, { log: o.log });
  const conn = createQueueConnection(config.jobs.redis, 'orgengine-console');
  const jobs = new Jobs(conn, config.jobs);
  const settings = new AlarmSettingsStore(app.pool, config, o.now);
  const metrics = new ConsoleMetrics();
  const deps = { pool: app.pool, redis: app.redis, jobs, config, log: app.log, settings, now: o.now };
  const service = new ConsoleService(deps);
  const monitor = new AlarmMonitor({ ...deps, metrics });
  const server = createConsoleServer({ service, tokens, pool: app.pool, metrics, log: app.log, staticDir: config.console.staticDir, maxBodyBytes: config.console.maxBodyBytes, tracing, now: o.now });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port, o.host ?? '0.0.0.0', () => res());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  if (o.alarms !== false) monitor.start();
  return {
    port,
    server,
    monitor,
    metrics,
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await monitor.stop();
      await jobs.close();
      await conn.quit().catch(() => undefined);
      await app.close();
      await tracing.shutdown();
    },
  };
}
