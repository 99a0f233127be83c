// Circuit breakers, one per backend node, as a small state machine with time
// injected: no I/O, no timers, so every transition is unit-tested without
// sleeping. The integration (which node a command needs, when a connection is
// lost, running the probes) lives beside the client (redis/guard.ts).
//
// A node's breaker opens when its connection is known lost (trip) or after
// `failureThreshold` consecutive failures of commands sent to it (timeouts,
// connection errors); a success in between resets the count. While open,
// requests needing the node are refused at once and one probe at a time,
// every `probeIntervalMs`, decides when it closes. Requests never probe: no
// request waits out a reconnection.
//
// The request path reads `open[i]`, one typed-array lookup.

/** Bounds of a BreakerBoard. */
export interface BreakerOptions {
  /** Consecutive command failures on a node that open its breaker. */
  failureThreshold: number;
  /** Time between the probes of an open node (and a probe's start after it opened). */
  probeIntervalMs: number;
  now?: () => number;
}

/** A state change, for logs and metrics. */
export interface BreakerChange {
  node: string;
  open: boolean;
  /** Why it opened (the failure seen), or 'probe succeeded'. */
  reason: string;
}

/** An open node as /readyz and logs show it. */
export interface OpenNode {
  node: string;
  reason: string;
  openForMs: number;
}

const INITIAL_NODES = 8;

/** The breakers of every node of one backend, indexed by node. */
export class BreakerBoard {
  private readonly index = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly reasons: string[] = [];
  /** 1 while node i's breaker is open: the one array the request path reads. */
  open = new Uint8Array(INITIAL_NODES);
  private failures = new Uint32Array(INITIAL_NODES);
  private openedAt = new Float64Array(INITIAL_NODES);
  private nextProbeAt = new Float64Array(INITIAL_NODES);
  private probing = new Uint8Array(INITIAL_NODES);
  private readonly now: () => number;
  private readonly opts: Required<Omit<BreakerOptions, 'now'>>;
  private readonly listeners: Array<(c: BreakerChange) => void> = [];

  constructor(options: BreakerOptions) {
    const o = { ...options };
    if (!Number.isInteger(o.failureThreshold) || o.failureThreshold < 1) throw new RangeError(`breaker: failureThreshold must be a positive integer, got ${o.failureThreshold}`);
    if (!Number.isFinite(o.probeIntervalMs) || o.probeIntervalMs < 1) throw new RangeError(`breaker: probeIntervalMs must be >= 1, got ${o.probeIntervalMs}`);
    this.opts = { failureThreshold: o.failureThreshold, probeIntervalMs: o.probeIntervalMs };
    this.now = o.now ?? Date.now;
  }

  /** Hears every open and close. */
  onChange(listener: (c: BreakerChange) => void): void {
    this.listeners.push(listener);
  }

  /** The index of a node ('host:port'), assigned on first sight. */
  node(key: string): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.keys.length;
      this.keys.push(key);
      this.reasons.push('');
      if (i >= this.open.length) this.grow();
      this.index.set(key, i);
    }
    return i;
  }

  /** The node's key. */
  keyOf(i: number): string {
    return this.keys[i]!;
  }

  /** True while node i is refused. */
  isOpen(i: number): boolean {
    return this.open[i] === 1;
  }

  /** A command on node i failed because the node did not answer; returns true when this opened the breaker. */
  failure(i: number, reason: string): boolean {
    if (this.open[i] === 1) return false;
    if (++this.failures[i]! < this.opts.failureThreshold) return false;
    this.setOpen(i, reason);
    return true;
  }

  /** A command on node i was answered: the run of failures is over. */
  success(i: number): void {
    if (this.open[i] === 0) this.failures[i] = 0;
  }

  /** Node i's connection is known lost: open now, whatever the count. */
  trip(i: number, reason: string): void {
    if (this.open[i] === 0) this.setOpen(i, reason);
  }

  /**
   * Open nodes whose probe is due and not running; each is marked running and
   * must be answered with probeDone.
   */
  dueProbes(): number[] {
    const t = this.now();
    const due: number[] = [];
    for (let i = 0; i < this.keys.length; i++) {
      if (this.open[i] === 1 && this.probing[i] === 0 && t >= this.nextProbeAt[i]!) {
        this.probing[i] = 1;
        due.push(i);
      }
    }
    return due;
  }

  /** A probe of node i finished: success closes the breaker, failure schedules the next probe. */
  probeDone(i: number, ok: boolean, reason = 'probe failed'): void {
    this.probing[i] = 0;
    if (this.open[i] === 0) return;
    if (ok) {
      this.open[i] = 0;
      this.failures[i] = 0;
      this.reasons[i] = '';
      this.emit({ node: this.keys[i]!, open: false, reason: 'probe succeeded' });
    } else {
      this.reasons[i] = reason;
      this.nextProbeAt[i] = this.now() + this.opts.probeIntervalMs;
    }
  }

  /** True when any breaker is open. */
  anyOpen(): boolean {
    for (let i = 0; i < this.keys.length; i++) if (this.open[i] === 1) return true;
    return false;
  }

  /** The open nodes, with why and for how long. */
  openNodes(): OpenNode[] {
    const t = this.now();
    const out: OpenNode[] = [];
    for (let i = 0; i < this.keys.length; i++) {
      if (this.open[i] === 1) out.push({ node: this.keys[i]!, reason: this.reasons[i]!, openForMs: t - this.openedAt[i]! });
    }
    return out;
  }

  private setOpen(i: number, reason: string): void {
    const t = this.now();
    this.open[i] = 1;
    this.openedAt[i] = t;
    // The first probe soon: a node that was only briefly away closes quickly.
    this.nextProbeAt[i] = t;
    this.reasons[i] = reason;
    this.emit({ node: this.keys[i]!, open: true, reason });
  }

  private emit(c: BreakerChange): void {
    for (const l of this.listeners) l(c);
  }

  private grow(): void {
    const n = this.open.length * 2;
    const g = <A extends Uint8Array | Uint32Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.open = g(this.open, (k) => new Uint8Array(k));
    this.failures = g(this.failures, (k) => new Uint32Array(k));
    this.openedAt = g(this.openedAt, (k) => new Float64Array(k));
    this.nextProbeAt = g(this.nextProbeAt, (k) => new Float64Array(k));
    this.probing = g(this.probing, (k) => new Uint8Array(k));
  }
}
