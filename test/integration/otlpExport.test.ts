// With ORGENGINE_OTLP_ENDPOINT set, spans reach an OTLP/HTTP receiver (a local
// HTTP server here) in the trace they continue.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createTracing, parseTraceparent } from '../../src/tracing.js';

describe('OTLP export', () => {
  it('exports a span continuing the given trace to the endpoint, on shutdown at the latest', async () => {
    const bodies: Array<{ url: string; type: string; body: Buffer }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c as Buffer));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        bodies.push({ url: req.url ?? '', type: String(req.headers['content-type']), body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const tracing = await createTracing(`http://127.0.0.1:${port}/v1/traces`, 'orgengine-test');
      expect(tracing.exporting).toBe(true);
      const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      const span = tracing.startSpan('console lesson.preload', parent, { 'orgengine.lesson_id': 7 });
      expect(span.context.traceId).toBe(parent!.traceId);
      expect(span.context.spanId).not.toBe(parent!.spanId);
      span.end();
      await tracing.shutdown();
      expect(bodies.length).toBeGreaterThan(0);
      expect(bodies[0]!.url).toBe('/v1/traces');
      // OTLP/HTTP with JSON: the resource (service name), the span, its trace, its parent.
      expect(bodies[0]!.type).toContain('application/json');
      const doc = JSON.parse(bodies.map((b) => b.body.toString('utf8'))[0]!);
      const rs = doc.resourceSpans[0];
      expect(rs.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'orgengine-test' } });
      const s = rs.scopeSpans[0].spans[0];
      expect(s).toMatchObject({ name: 'console lesson.preload', traceId: parent!.traceId, spanId: span.context.spanId, parentSpanId: parent!.spanId });
    } finally {
      server.close();
    }
  });
});
