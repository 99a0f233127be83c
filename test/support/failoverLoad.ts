// Load for failover tests and the failover bench: a few workers send uncached
// reads and group picks to a gateway for given lessons and record every
// answer (when, how long, status, code), so a test can ask what happened in a
// window and the bench can print time to 503 and the error window.
import { Command } from 'ioredis';
import type { Topology } from '../../src/model/topology.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { call } from './clients.js';
import { compileTestLesson, loadTopology } from './lesson.js';
import type { ThrowawayCluster } from './throwawayRedis.js';

/** One answered request. */
export interface Sample {
  lessonId: number;
  kind: 'read' | 'pick';
  /** Start, ms since the load began. */
  at: number;
  ms: number;
  status: number;
  code: string | null;
  /** The error message, if any. */
  message?: string;
  /** For an acknowledged pick: the uid and the group it got. */
  uid?: number;
  groupId?: string;
}

/** A running load. */
export interface Load {
  samples: Sample[];
  /** Requests in flight now, and the most seen at once. */
  inFlight(): number;
  peakInFlight(): number;
  /** ms since the load began. */
  now(): number;
  stop(): Promise<void>;
}

/**
 * Waits until a gateway has served a read of every lesson once: a new gateway's
 * first commands wait for its connections and the slot map, which on a busy
 * machine can take longer than the command timeout; load measured before that
 * would count start-up, not failover.
 */
export async function servedOnce(base: string, token: string, lessons: Array<{ lessonId: number; uids: number[] }>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const l of lessons) {
    for (;;) {
      const r = await call(base, `/v1/lessons/${l.lessonId}/students/${l.uids[0]!}/position`, { token }).catch(() => null);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`lesson ${l.lessonId} not served within ${timeoutMs} ms (last status ${r?.status ?? 'no answer'})`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}

/** Starts `workers` loops per lesson alternating a read of a student's position and (if `picks`) an automatic group pick. */
export function startLoad(base: string, token: string, lessons: Array<{ lessonId: number; uids: number[] }>, o: { workers?: number; picks?: boolean } = {}): Load {
  const samples: Sample[] = [];
  const t0 = performance.now();
  let running = true;
  let inFlight = 0;
  let peak = 0;
  const loops: Promise<void>[] = [];
  for (const l of lessons) {
    for (let w = 0; w < (o.workers ?? 4); w++) {
      loops.push(
        (async () => {
          let k = w;
          while (running) {
            const uid = l.uids[k++ % l.uids.length]!;
            const pick = o.picks === true && k % 2 === 0;
            const at = performance.now() - t0;
            inFlight++;
            peak = Math.max(peak, inFlight);
            const r = pick
              ? await call(base, `/v1/lessons/${l.lessonId}/students/${uid}/group`, { token, method: 'POST', body: '{}' }).catch(() => null)
              : await call(base, `/v1/lessons/${l.lessonId}/students/${uid}/position`, { token }).catch(() => null);
            inFlight--;
            const s: Sample = { lessonId: l.lessonId, kind: pick ? 'pick' : 'read', at, ms: performance.now() - t0 - at, status: r?.status ?? 0, code: r?.body?.error?.code ?? null, message: r?.body?.error?.message };
            if (pick && r?.status === 200) {
              s.uid = uid;
              s.groupId = r.body.groupId;
            }
            samples.push(s);
            // A refused request comes back at once: pace the retries a little, as a client honouring Retry-After would not, but without spinning.
            if (r && r.status >= 500) await new Promise((res) => setTimeout(res, 2));
          }
        })(),
      );
    }
  }
  return {
    samples,
    inFlight: () => inFlight,
    peakInFlight: () => peak,
    now: () => performance.now() - t0,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The p-quantile (0-1) of a list of numbers (0 for none). */
export function quantile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

/** A test lesson placed on a known master. */
export interface PlacedLesson {
  lessonId: number;
  slot: number;
  /** Port of the master serving its slot when placed. */
  master: number;
  topo: Topology;
  uids: number[];
}

/** Loads `n` lessons (ids from `firstId` up) whose slots are on `n` different masters of `cluster`. */
export async function lessonsOnDistinctMasters(cluster: ThrowawayCluster, admin: RedisClient, prefix: string, n: number, firstId: number, students = 120): Promise<PlacedLesson[]> {
  const out: PlacedLesson[] = [];
  for (let id = firstId; out.length < n; id++) {
    const slot = new Command('get', [lessonKeys(prefix, id).head]).getSlot()!;
    const master = await cluster.masterOf(slot);
    if (out.some((l) => l.master === master)) continue;
    const topo = compileTestLesson({ lessonId: id, students, tutors: 2, policy: 'group', seed: id });
    await loadTopology(admin, prefix, topo);
    out.push({ lessonId: id, slot, master, topo, uids: topo.positions.map((p) => p.uid) });
  }
  return out;
}
