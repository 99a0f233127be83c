// The breaker state machine with injected time: no sleeping, no I/O.
import { describe, expect, it } from 'vitest';
import { BreakerBoard, type BreakerChange } from '../../src/store/breaker.js';

function board(failureThreshold = 3, probeIntervalMs = 100) {
  let t = 1000;
  const changes: BreakerChange[] = [];
  const b = new BreakerBoard({ failureThreshold, probeIntervalMs, now: () => t });
  b.onChange((c) => changes.push(c));
  return { b, changes, advance: (ms: number) => (t += ms) };
}

describe('BreakerBoard', () => {
  it('opens after the threshold of consecutive failures; a success in between resets the count', () => {
    const { b, changes } = board(3);
    const i = b.node('127.0.0.1:7000');
    expect(b.failure(i, 'timed out')).toBe(false);
    expect(b.failure(i, 'timed out')).toBe(false);
    b.success(i);
    expect(b.failure(i, 'timed out')).toBe(false);
    expect(b.failure(i, 'timed out')).toBe(false);
    expect(b.isOpen(i)).toBe(false);
    expect(b.failure(i, 'timed out')).toBe(true);
    expect(b.isOpen(i)).toBe(true);
    expect(b.open[i]).toBe(1);
    expect(changes).toEqual([{ node: '127.0.0.1:7000', open: true, reason: 'timed out' }]);
    // Further failures while open change nothing.
    expect(b.failure(i, 'timed out')).toBe(false);
  });

  it('trips at once on a lost connection and keeps nodes independent', () => {
    const { b } = board(5);
    const a = b.node('a:1');
    const c = b.node('c:1');
    b.trip(a, 'connection lost');
    expect([b.isOpen(a), b.isOpen(c)]).toEqual([true, false]);
    expect(b.openNodes()).toEqual([{ node: 'a:1', reason: 'connection lost', openForMs: 0 }]);
    expect(b.anyOpen()).toBe(true);
  });

  it('runs one probe at a time per open node, every probe interval, and closes on success', () => {
    const { b, changes, advance } = board(1, 100);
    const i = b.node('n:1');
    b.failure(i, 'refused');
    expect(b.dueProbes()).toEqual([i]); // the first probe at once
    expect(b.dueProbes()).toEqual([]); // in flight: no second one
    b.probeDone(i, false, 'still refused');
    expect(b.dueProbes()).toEqual([]);
    advance(99);
    expect(b.dueProbes()).toEqual([]);
    advance(1);
    expect(b.dueProbes()).toEqual([i]);
    expect(b.openNodes()[0]).toMatchObject({ reason: 'still refused', openForMs: 100 });
    b.probeDone(i, true);
    expect(b.isOpen(i)).toBe(false);
    expect(changes.map((c) => c.open)).toEqual([true, false]);
    // Closed again: a new run of failures is needed to open it.
    expect(b.failure(i, 'x')).toBe(true);
  });

  it('grows past its initial node count without losing state', () => {
    const { b } = board(1);
    for (let n = 0; n < 40; n++) b.node(`h:${n}`);
    b.trip(b.node('h:3'), 'lost');
    b.trip(b.node('h:39'), 'lost');
    b.node('h:40');
    expect(b.openNodes().map((o) => o.node)).toEqual(['h:3', 'h:39']);
    expect(b.keyOf(b.node('h:39'))).toBe('h:39');
  });

  it('refuses bad options, naming them', () => {
    expect(() => new BreakerBoard({ failureThreshold: 0, probeIntervalMs: 10 })).toThrow(/failureThreshold/);
    expect(() => new BreakerBoard({ failureThreshold: 1, probeIntervalMs: 0 })).toThrow(/probeIntervalMs/);
  });
});
