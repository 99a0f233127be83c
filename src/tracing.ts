// W3C trace context (traceparent) and spans. A traceparent that comes in is
// continued, one that does not is started; its trace id goes into the log lines
// of the work it covers and into the jobs that work enqueues. Spans are
// exported through OpenTelemetry's OTLP exporter only when
// ORGENGINE_OTLP_ENDPOINT is set: the SDK and the exporter are loaded then and
// only then; without it a span is two random ids and nothing else.
import { ROOT_CONTEXT, SpanStatusCode, trace, type Span as OtelSpan, type SpanContext, type Tracer } from '@opentelemetry/api';
import { childContext, type TraceContext } from './model/trace.js';

export { childContext, formatTraceparent, parseTraceparent, type TraceContext } from './model/trace.js';

/** One unit of traced work. */
export interface Span {
  readonly context: TraceContext;
  /** Ends the span; with an error it is marked failed. */
  end(error?: unknown): void;
}

/** Starts spans, exported or not. */
export interface Tracing {
  /** Spans are exported (an OTLP endpoint is configured). */
  readonly exporting: boolean;
  /** `links`: spans this one relates to without being their child (a write-behind batch links the requests it writes). */
  startSpan(name: string, parent: TraceContext | null, attributes?: Record<string, string | number | boolean>, links?: readonly TraceContext[]): Span;
  /** Flushes exported spans and stops the exporter. */
  shutdown(): Promise<void>;
}

/** Spans that are only ids: the trace is carried and logged, nothing is exported. */
export const LOCAL_TRACING: Tracing = {
  exporting: false,
  startSpan(_name, parent) {
    return { context: childContext(parent), end() {} };
  },
  async shutdown() {},
};

const remote = (c: TraceContext): SpanContext => ({ traceId: c.traceId, spanId: c.spanId, traceFlags: c.flags, isRemote: true });

class OtelTracing implements Tracing {
  readonly exporting = true;
  constructor(
    private readonly tracer: Tracer,
    private readonly close: () => Promise<void>,
  ) {}

  startSpan(name: string, parent: TraceContext | null, attributes?: Record<string, string | number | boolean>, links?: readonly TraceContext[]): Span {
    const ctx = parent ? trace.setSpanContext(ROOT_CONTEXT, remote(parent)) : ROOT_CONTEXT;
    const s: OtelSpan = this.tracer.startSpan(name, { attributes, links: links?.map((l) => ({ context: remote(l) })) }, ctx);
    const sc = s.spanContext();
    return {
      context: { traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags },
      end(error?: unknown) {
        if (error !== undefined) {
          s.recordException(error instanceof Error ? error : String(error));
          s.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        }
        s.end();
      },
    };
  }

  shutdown(): Promise<void> {
    return this.close();
  }
}

/**
 * The tracing of one process: exporting to `endpoint` (an OTLP/HTTP traces URL,
 * e.g. http://collector:4318/v1/traces) as `service`, or LOCAL_TRACING when none.
 */
export async function createTracing(endpoint: string | null, service: string): Promise<Tracing> {
  if (!endpoint) return LOCAL_TRACING;
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint }) })],
  });
  return new OtelTracing(provider.getTracer('orgengine'), () => provider.shutdown());
}
