// The interaction timeout checker (CheckLinkTimeoutTask,
// CheckUserRecordTimeoutTask, CheckChannelStatusTask), run as a loop by
// `orgengine worker`: every `checkEveryMs` it takes each lesson of the
// interaction registry under a lease (lua/check_slot.lua with one holder, in
// the lesson's slot), applies the lesson's due deadlines (lua/ia_expire.lua:
// initiated -> timed_out, connecting -> connect_timed_out, with the end rule)
// and reconciles RTC membership with the links (lua/ia_rtc_check.lua).
// Both scripts are idempotent, so two checkers never apply a deadline twice;
// the lease only keeps them from doing the same work. A killed checker's
// leases run out after `checkLeaseMs` and another checker takes its lessons.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { InteractionConfig } from '../config.js';
import { backendError } from '../errors.js';
import { acquireCheckSlot } from '../store/redis/checkSlots.js';
import type { RedisClient } from '../store/redis/client.js';
import { interactionRegistryKey, lessonKeys } from '../store/redis/keys.js';
import type { InteractionService, StrayPeer } from './interaction.js';

/** What a checker needs. */
export interface InteractionCheckerOptions {
  redis: RedisClient;
  service: InteractionService;
  keyPrefix: string;
  ia: Pick<InteractionConfig, 'checkEveryMs' | 'checkBatch' | 'checkLeaseMs'>;
  /** Registry entries older than this are dropped (their keys expired): the state ttl. */
  ttlSeconds: number;
  /** This checker's lease holder name (unique per process by default). */
  holder?: string;
  log?: Logger;
  now?: () => number;
  /** RTC peers reported in a channel without an active link (default: logged). */
  onStrays?: (lessonId: number, strays: StrayPeer[]) => void;
}

/** What one round did. */
export interface CheckRound {
  /** Lessons this checker held the lease of. */
  lessons: number;
  /** Lessons another checker held. */
  skipped: number;
  timedOut: number;
  rtcLeft: number;
  strays: number;
}

/** Due deadline batches applied per lesson per round at most (the rest waits a round). */
const MAX_BATCHES = 20;

/** The leased loop applying interaction deadlines and RTC reconciliation. */
export class InteractionChecker {
  readonly holder: string;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<CheckRound> | null = null;
  private stopped = false;

  constructor(private readonly o: InteractionCheckerOptions) {
    this.holder = o.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.now = o.now ?? Date.now;
  }

  /** One round over every registered lesson. */
  async runOnce(): Promise<CheckRound> {
    const o = this.o;
    const out: CheckRound = { lessons: 0, skipped: 0, timedOut: 0, rtcLeft: 0, strays: 0 };
    const reg = interactionRegistryKey(o.keyPrefix);
    const now = this.now();
    await o.redis.zremrangebyscore(reg, '-inf', now - o.ttlSeconds * 1000);
    for (const id of await o.redis.zrange(reg, 0, -1)) {
      const lessonId = Number(id);
      try {
        const lease = await acquireCheckSlot(o.redis, lessonKeys(o.keyPrefix, lessonId).iaLease, this.holder, o.ia.checkLeaseMs, 1, now);
        if (!lease.granted) {
          out.skipped++;
          continue;
        }
        out.lessons++;
        for (let i = 0; i < MAX_BATCHES; i++) {
          const r = await o.service.expire(lessonId, now, o.ia.checkBatch);
          out.timedOut += r.moved;
          if (r.stillDue === 0 || r.moved === 0) break;
        }
        const rtc = await o.service.rtcCheck(lessonId, now, o.ia.checkBatch);
        out.rtcLeft += rtc.moved;
        out.strays += rtc.strays.length;
        if (rtc.strays.length > 0) {
          if (o.onStrays) o.onStrays(lessonId, rtc.strays);
          else o.log?.warn({ lessonId, strays: rtc.strays.slice(0, 20), count: rtc.strays.length }, 'RTC peers in a channel without an active link');
        }
      } catch (e) {
        // A lesson not (or no longer) preloaded, or its shard away: the next round tries again.
        o.log?.warn({ lessonId, err: backendError(e).message }, 'interaction check of a lesson failed');
      }
    }
    return out;
  }

  /** Runs rounds every checkEveryMs until stop(). */
  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.runOnce();
      this.running
        .catch((e: unknown) => this.o.log?.warn({ err: backendError(e).message }, 'interaction check round failed'))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.o.ia.checkEveryMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops after the round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
