// Fewer socket writes on a Redis connection. ioredis writes every command to
// its socket as it is sent, so an event-loop turn that sends 40 cold enters,
// or a batch of background refreshes, makes 40 write syscalls, each of which
// also runs the loopback TCP path and wakes Redis. Here the socket is corked
// at a turn's first command and uncorked after `maxBatch` commands or from
// setImmediate (after the poll phase, where uWS delivers requests), whichever
// comes first: the commands leave in order in one writev, Redis reads them in
// one go and answers them in one write. The bound keeps Redis working while
// the gateway still parses the rest of the turn's requests (uncorking only at
// the end of the turn left one side idle while the other worked: 0.82x the
// throughput; a bound of 4: 1.12-1.34x in three paired runs of
// `npm run bench -- --scenario coalesce`).
// Unlike ioredis' autopipelining there is no per-command bookkeeping: one
// counter per command, one setImmediate per batch.
import type { Socket } from 'node:net';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.js';

const PATCHED = Symbol('orgengine.coalesced');

/** Wraps one socket's write so the writes of one turn leave in writevs of up to `maxBatch` writes each. */
export function coalesceSocketWrites(socket: Socket, maxBatch: number): void {
  if (!Number.isInteger(maxBatch) || maxBatch < 2) throw new RangeError(`maxBatch must be an integer >= 2, got ${maxBatch}`);
  const s = socket as Socket & { [PATCHED]?: true };
  if (s[PATCHED]) return;
  s[PATCHED] = true;
  let corked = false;
  let held = 0;
  const flush = (): void => {
    if (!corked) return;
    corked = false;
    held = 0;
    // A socket closed meanwhile has nothing left to send.
    if (!socket.destroyed) socket.uncork();
  };
  const write = socket.write;
  socket.write = function coalescedWrite(this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    const r = write.apply(this, args);
    if (++held >= maxBatch) flush();
    return r;
  } as Socket['write'];
}

/** Coalesces the writes of every connection `client` opens, now and after reconnects (every node of a Cluster). */
export function coalesceWrites(client: RedisClient, maxBatch: number): void {
  const hook = (conn: Redis): void => {
    const patch = (): void => {
      const stream = (conn as unknown as { stream?: Socket }).stream;
      if (stream && typeof stream.cork === 'function') coalesceSocketWrites(stream, maxBatch);
    };
    conn.on('connect', patch);
    patch();
  };
  if (client instanceof Cluster) {
    client.on('+node', hook);
    for (const n of client.nodes('all')) hook(n);
  } else {
    hook(client as Redis);
  }
}
