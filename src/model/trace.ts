// W3C trace context: the traceparent header's fields, read leniently (a bad
// header starts a new trace rather than failing the request) and written back.
// Pure; spans and their export live in src/tracing.ts.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

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


/**
 * The trace of the work running now, for code that does not take a context
 * argument (the store stamps it on write-behind records). Entered by the
 * transports only while spans are exported: with tracing off nothing runs in a
 * scope and currentTraceId() is ''.
 */
const scope = new AsyncLocalStorage<TraceContext>();

/** Runs fn(...args) with `ctx` as the current trace (and every continuation it starts). */
export function inTrace<A extends unknown[], R>(ctx: TraceContext, fn: (...args: A) => R, ...args: A): R {
  return scope.run(ctx, fn, ...args);
}

/** The current trace id (32 lowercase hex), or '' outside a traced scope. */
export function currentTraceId(): string {
  return scope.getStore()?.traceId ?? '';
}

/**
 * The current trace as write-behind records carry it ("<trace id>-<span id>",
 * the traceparent's middle: the span id lets the flusher link its batch to the
 * request), or '' outside a traced scope.
 */
export function currentTraceStamp(): string {
  const c = scope.getStore();
  return c ? `${c.traceId}-${c.spanId}` : '';
}

/** A write-behind record's trace: its trace id and, when stamped, the span that made the change. */
export interface TraceStamp {
  traceId: string;
  spanId: string | null;
}

const STAMP = /^([0-9a-f]{32})(?:-([0-9a-f]{16}))?$/;

/**
 * Reads a record's trace stamp: a trace id, optionally "-<span id>". Anything
 * else (or all-zero ids) is null: a bad stamp is ignored, never an error.
 */
export function parseTraceStamp(v: string | undefined): TraceStamp | null {
  if (v === undefined || v.length > 49) return null;
  const m = STAMP.exec(v);
  if (!m || /^0+$/.test(m[1]!)) return null;
  const spanId = m[2] !== undefined && !/^0+$/.test(m[2]) ? m[2] : null;
  return { traceId: m[1]!, spanId };
}
