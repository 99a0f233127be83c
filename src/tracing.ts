// W3C trace context (traceparent) and spans. A traceparent that comes in is
// continued, one that does not is started; its trace id goes into the log lines
// of the work it covers and into the jobs that work enqueues. Spans are
// exported through OpenTelemetry's OTLP exporter only when
// ORGENGINE_OTLP_ENDPOINT is set: the SDK and the exporter are loaded then and
// only then; without it a span is two random ids and nothing else.
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanStatusCode, trace, type Span as OtelSpan, type Tracer } from '@opentelemetry/api';

/** A position in a trace: the W3C traceparent's fields. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** Trace flags (bit 0: sampled). */
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Reads a traceparent header (version 00, or a later version's first four
 * fields). Anything malformed, or all-zero ids, is no context (null): a new
 * trace starts rather than the request failing.
 */
export function parseTraceparent(v: string | string[] | undefined | null): TraceContext | null {
  if (typeof v !== 'string' || v.length > 512) return null;
  const m = TRACEPARENT.exec(v.trim());
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** The traceparent header of a context (version 00). */
export function formatTraceparent(c: TraceContext): string {
  return `00-${c.traceId}-${c.spanId}-${c.flags.toString(16).padStart(2, '0')}`;
}

/** A new span's context under `parent` (same trace), or a new sampled trace. */
export function childContext(parent: TraceContext | null): TraceContext {
  return { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), flags: parent?.flags ?? 1 };
}

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
  startSpan(name: string, parent: TraceContext | null, attributes?: Record<string, string | number | boolean>): Span;
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

class OtelTracing implements Tracing {
  readonly exporting = true;
  constructor(
    private readonly tracer: Tracer,
    private readonly close: () => Promise<void>,
  ) {}

  startSpan(name: string, parent: TraceContext | null, attributes?: Record<string, string | number | boolean>): Span {
    const ctx = parent ? trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true }) : ROOT_CONTEXT;
    const s: OtelSpan = this.tracer.startSpan(name, { attributes }, ctx);
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
