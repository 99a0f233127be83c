// When a write is acknowledged. `memory`: once the master ran the script (the
// script, its write-behind record and its notice are one atomic step), which a
// master dying before its replica copied the write loses on failover.
// `replica`: the script and a WAIT go in one pipeline on the master's
// connection, and the write is acknowledged only once WAIT says at least N
// replicas have it; a WAIT that times out short is a 503 that says the write
// may or may not have been applied (a retry is safe: every mutation is
// idempotent by value). WAIT cannot run inside a script, hence the pipeline:
// on a Cluster it goes to the node of the script's slot.
import { OrgError } from '../../errors.js';
import type { RedisClient } from './client.js';

/** Replies saying the slot is served elsewhere now (nothing ran). */
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;
/** Sends of one pipeline across a slot move; each is bounded by the command timeout. */
const MAX_ATTEMPTS = 3;
const RETRY_DELAY_MS = 20;

/** The acknowledgement rule of mutation and signal scripts. */
export type Durability = { mode: 'memory' } | { mode: 'replica'; replicas: number; timeoutMs: number };

/** Today's behaviour: acknowledged once the master ran the script. */
export const MEMORY: Durability = { mode: 'memory' };

/**
 * Runs one write script (`send` calls it on the client it is given) under
 * `d`. A reply whose code (first element) is not 0 wrote nothing, so it is
 * returned as is, whatever WAIT says.
 */
export async function durably<R extends unknown[]>(redis: RedisClient, d: Durability, send: (c: RedisClient) => Promise<R>): Promise<R> {
  if (d.mode === 'memory') return send(redis);
  let out: Array<[Error | null, unknown]> | null;
  for (let attempt = 1; ; attempt++) {
    const p = redis.pipeline();
    // On a pipeline the script call only queues it (it returns the pipeline).
    void send(p as unknown as RedisClient);
    p.wait(d.replicas, d.timeoutMs);
    out = await p.exec();
    const first = out?.[0]?.[0];
    // The slot moved (a failover): the script did not run there, and WAIT on the
    // demoted node failed too, so ioredis does not redirect the pipeline itself.
    // Learn the new slot map and send it again.
    if (first && REDIRECTED.test(first.message) && attempt < MAX_ATTEMPTS && 'refreshSlotsCache' in redis) {
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
      continue;
    }
    break;
  }
  if (!out || out.length !== 2) throw new Error('pipeline answered nothing');
  const [[scriptErr, reply], [waitErr, acked]] = out as [[Error | null, R], [Error | null, number]];
  if (scriptErr) throw scriptErr;
  if (Number(reply[0]) !== 0) return reply;
  if (waitErr || Number(acked) < d.replicas) {
    throw new OrgError(
      'BACKEND_UNAVAILABLE',
      `the write was applied on the Redis master but ${waitErr ? 'its replicas could not be asked' : `only ${Number(acked)} of ${d.replicas} replica(s) confirmed it within ${d.timeoutMs} ms`}; it may or may not survive a failover: retry, a retry is safe`,
      { durability: 'replica', replicasConfirmed: waitErr ? null : Number(acked), replicasRequired: d.replicas },
    );
  }
  return reply;
}

/** The durability a configuration asks for (memory when it says nothing). */
export function durabilityOf(wb: { durability?: 'memory' | 'replica'; durabilityReplicas?: number; durabilityTimeoutMs?: number }): Durability {
  if (wb.durability !== 'replica') return MEMORY;
  const replicas = wb.durabilityReplicas ?? 1;
  const timeoutMs = wb.durabilityTimeoutMs ?? 100;
  if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError(`durability: replicas must be a positive integer, got ${replicas}`);
  // WAIT 0 would block until the replicas answer, however long.
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`durability: timeoutMs must be a positive integer, got ${timeoutMs}`);
  return { mode: 'replica', replicas, timeoutMs };
}
