// The breakers of the request-path Redis client (store/breaker.ts) wired into
// ioredis. Every command the client sends passes one check: the node it needs
// (single Redis: the server; Cluster: the master the slot map names for the
// command's slot) must not have an open breaker, else the command is refused
// at once with 503 BACKEND_UNAVAILABLE and never reaches ioredis' reconnect
// back-off, redirection retries or queues. Commands that pass carry a bounded
// timeout. Breakers open on a lost node connection (kill -9, restart: the
// socket closes, no request has to time out first) or on consecutive
// failures; one probe per open node, on its own short-lived connection, closes
// them. On a Cluster every probe round also refreshes the slot map, so once a
// replica is promoted the slot points at a healthy master and its lessons are
// served again without waiting for the dead node.
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../../config.js';
import { backendError, OrgError } from '../../errors.js';
import { BreakerBoard, type BreakerChange, type OpenNode } from '../breaker.js';
import type { RedisClient } from './client.js';

/** Bounds of the guard. */
export interface RedisGuardOptions {
  /** Longest a request-path command may take, redirections and retries included. */
  commandTimeoutMs: number;
  /** Consecutive failed commands on a node that open its breaker. */
  failureThreshold: number;
  /** Time between probes of an open node; also a probe's own connect and PING bound. */
  probeIntervalMs: number;
  now?: () => number;
  onChange?: (c: BreakerChange) => void;
}

/** The minimum of ioredis' Command the guard touches. */
interface CommandLike {
  name: string;
  promise: Promise<unknown>;
  reject(e: Error): void;
  setTimeout(ms: number): void;
  getSlot(): number | null;
}
type SendCommand = (command: CommandLike, stream?: unknown, node?: { slot?: number }) => unknown;

/** Message of a refused request: plain, no client-library internals. */
const OPEN_MESSAGE = 'the Redis node holding this data is unreachable; retry shortly';

/** Breakers and probes of one request-path client. */
export class RedisGuard {
  /** The board (exposed for tests and readiness). */
  readonly board: BreakerBoard;
  private readonly refused: OrgError;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly cluster: Cluster | null;
  private readonly single: number;

  constructor(
    private readonly client: RedisClient,
    private readonly target: RedisTarget,
    private readonly o: RedisGuardOptions,
  ) {
    this.board = new BreakerBoard({ failureThreshold: o.failureThreshold, probeIntervalMs: o.probeIntervalMs, now: o.now });
    if (o.onChange) this.board.onChange(o.onChange);
    // One error object for every refusal: the refused path allocates nothing.
    this.refused = new OrgError('BACKEND_UNAVAILABLE', OPEN_MESSAGE);
    this.cluster = target.mode === 'cluster' ? (client as Cluster) : null;
    this.single = this.cluster ? -1 : this.board.node(singleKey(target));
    this.wrap();
    this.watch();
    this.timer = setInterval(() => this.probeRound(), Math.max(10, Math.floor(o.probeIntervalMs / 2)));
    this.timer.unref();
  }

  /** The open nodes now (held state: no I/O). */
  openNodes(): OpenNode[] {
    return this.board.openNodes();
  }

  /** Stops probing (the client belongs to the caller). */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The breaker index a command needs, or -1 when unknown (keyless commands, no slot map yet). */
  private nodeOf(command: CommandLike, node?: { slot?: number }): number {
    if (!this.cluster) return this.single;
    const slot = node?.slot ?? command.getSlot();
    if (typeof slot !== 'number') return -1;
    const owners = this.cluster.slots[slot];
    return owners && owners[0] ? this.board.node(owners[0]) : -1;
  }

  private wrap(): void {
    const c = this.client as unknown as { sendCommand: SendCommand };
    const send = c.sendCommand.bind(this.client) as SendCommand;
    const board = this.board;
    const timeout = this.o.commandTimeoutMs;
    const conn = this.client as Redis;
    const single = !this.cluster;
    // The outcome handlers of each node, made once: not two closures per command.
    const outcome: Array<[() => void, (e: unknown) => void]> = [];
    const outcomeOf = (i: number): [() => void, (e: unknown) => void] =>
      (outcome[i] ??= [
        () => board.success(i),
        (e: unknown) => {
          if (e !== this.refused && backendError(e).code === 'BACKEND_UNAVAILABLE') board.failure(i, plainReason(e));
        },
      ]);
    c.sendCommand = (command, stream, node) => {
      const i = this.nodeOf(command, node);
      // One server: the handshake of a reconnection (ready check, names) goes
      // through here too and must pass; requests in that phase are refused by
      // ioredis itself (no offline queue), just as fast.
      if (i >= 0 && board.open[i] === 1 && !(single && conn.status === 'connect')) {
        command.reject(this.refused);
        return command.promise;
      }
      command.setTimeout(timeout);
      const out = send(command, stream, node);
      if (i >= 0) {
        const [ok, failed] = outcomeOf(i);
        command.promise.then(ok, failed);
      }
      return out;
    };
  }

  /**
   * Connection losses open breakers before any request has to fail on them,
   * once a probe confirms the node is away: ioredis also drops node
   * connections for its own reasons (slot map resets), which must not refuse
   * a healthy node's lessons. A dead node refuses the probe's connection at
   * once, so confirming costs about a millisecond.
   */
  private watch(): void {
    if (this.cluster) {
      // A node connection that ended (ioredis does not reconnect cluster nodes on its own).
      this.cluster.on('-node', (r: Redis) => {
        const key = `${r.options.host}:${r.options.port}`;
        if (this.isMaster(key)) this.confirmLoss(key, 'connection to the node lost');
      });
    } else {
      this.client.on('close', () => this.confirmLoss(this.board.keyOf(this.single), 'connection lost'));
    }
  }

  private confirmLoss(key: string, reason: string): void {
    if (this.closed) return;
    const i = this.board.node(key);
    if (this.board.isOpen(i)) return;
    this.probe(key).then(
      (ok) => {
        if (ok !== true) this.board.trip(i, `${reason}; ${ok}`);
      },
      (e: unknown) => this.board.trip(i, `${reason}; ${plainReason(e)}`),
    );
  }

  private isMaster(key: string): boolean {
    const slots = this.cluster!.slots;
    for (let s = 0; s < slots.length; s++) if (slots[s]?.[0] === key) return true;
    return false;
  }

  private probeRound(): void {
    if (this.closed) return;
    const due = this.board.dueProbes();
    if (due.length === 0) return;
    // A promoted replica shows up in the slot map: its slots are served again.
    if (this.cluster) this.cluster.refreshSlotsCache();
    for (const i of due) {
      this.probe(this.board.keyOf(i)).then(
        (ok) => this.board.probeDone(i, ok === true, ok === true ? '' : ok),
        (e: unknown) => this.board.probeDone(i, false, plainReason(e)),
      );
    }
  }

  /** PING on a fresh connection; true, or why not. */
  private async probe(key: string): Promise<true | string> {
    const bound = this.o.probeIntervalMs;
    const probeOpts: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: Math.max(bound, 50),
      commandTimeout: Math.max(bound, 50),
      connectionName: 'orgengine-probe',
    };
    let r: Redis;
    if (this.cluster) {
      const [host, port] = splitKey(key);
      const base = this.cluster.options.redisOptions ?? {};
      r = new Redis({ ...base, ...probeOpts, host, port });
    } else {
      r = new Redis((this.target as { url: string }).url, probeOpts);
    }
    r.on('error', () => undefined);
    try {
      await r.connect();
      const pong = await r.ping();
      if (pong !== 'PONG') return `unexpected PING reply ${pong}`;
      // One server: the request connection itself must be back, not just the server.
      if (!this.cluster && (this.client as Redis).status !== 'ready') return 'reconnecting';
      return true;
    } finally {
      r.disconnect();
    }
  }
}

const singleKey = (t: RedisTarget): string => (t.mode === 'single' ? t.url.replace(/^rediss?:\/\/([^@/]*@)?/, '').replace(/\/.*$/, '') : 'cluster');

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

/** Why a node failed, without ioredis' wording reaching a client (only logs and /readyz see it). */
function plainReason(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return /timed out/i.test(m) ? 'commands timed out' : `unreachable (${m.slice(0, 80)})`;
}
