// W3C traceparent parsing and formatting, and spans without an exporter.
import { describe, expect, it } from 'vitest';
import { currentTraceId, currentTraceStamp, inTrace, parseTraceStamp } from '../../src/model/trace.js';
import { childContext, formatTraceparent, LOCAL_TRACING, parseTraceparent } from '../../src/tracing.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('traceparent', () => {
  it('reads a valid header and writes it back unchanged', () => {
    const c = parseTraceparent(TP);
    expect(c).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
    expect(formatTraceparent(c!)).toBe(TP);
    expect(parseTraceparent(`  ${TP}  `)).toEqual(c);
  });

  it('takes the first four fields of a later version, and refuses what the spec refuses', () => {
    expect(parseTraceparent(`01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra`)?.flags).toBe(0);
    for (const bad of [
      undefined,
      '',
      'garbage',
      `${TP}-extra`, // version 00 has exactly four fields
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      ['a', 'b'],
    ]) {
      expect(parseTraceparent(bad as never), String(bad)).toBeNull();
    }
  });

  it('a child keeps the trace and its flags with a new span id; no parent starts a sampled trace', () => {
    const parent = parseTraceparent(TP)!;
    const child = childContext(parent);
    expect(child.traceId).toBe(parent.traceId);
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(parent.spanId);
    const root = childContext(null);
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.flags).toBe(1);
    expect(parseTraceparent(formatTraceparent(root))).toEqual(root);
  });

  it('local spans carry the trace and export nothing', async () => {
    const s = LOCAL_TRACING.startSpan('x', parseTraceparent(TP));
    expect(s.context.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    s.end(new Error('ignored'));
    expect(LOCAL_TRACING.exporting).toBe(false);
    await LOCAL_TRACING.shutdown();
  });
});

describe('trace scope', () => {
  it('is empty outside a scope and follows async continuations inside one', async () => {
    expect(currentTraceId()).toBe('');
    expect(currentTraceStamp()).toBe('');
    const ctx = parseTraceparent(TP)!;
    const seen = await inTrace(ctx, async (n: number) => {
      await new Promise((r) => setTimeout(r, 1));
      return [currentTraceId(), currentTraceStamp(), n];
    }, 3);
    expect(seen).toEqual([ctx.traceId, `${ctx.traceId}-${ctx.spanId}`, 3]);
    expect(currentTraceStamp()).toBe('');
    expect(parseTraceStamp(currentTraceStamp())).toBeNull();
    expect(parseTraceStamp(`${ctx.traceId}-${ctx.spanId}`)).toEqual({ traceId: ctx.traceId, spanId: ctx.spanId });
  });
});
