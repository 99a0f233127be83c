// A bare /metrics endpoint over node:http for processes that run no gateway
// (preload workers, `orgengine flush`); the gateway serves /metrics itself.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * Serves GET /metrics of `metrics.registry` on `port` (0 picks a free one). `beforeScrape`
 * refreshes collected gauges; a failure there is ignored and the rest served.
 */
export async function serveMetrics(metrics: { registry: Registry }, port: number, beforeScrape?: () => Promise<void>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const { registry } = metrics;
    void (async () => {
      await beforeScrape?.().catch(() => undefined);
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(body);
    })().catch((e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(e)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : port };
}
