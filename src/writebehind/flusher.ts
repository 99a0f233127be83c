// The write-behind flusher: reads every watched lesson's stream with a consumer
// group, writes the records to MySQL in one transaction per cycle (coalesced,
// version-guarded multi-row upserts), commits, then acknowledges and deletes
// them. A record leaves Redis only after MySQL committed it; a crash anywhere
// before that leaves it pending, to be read again by this consumer or claimed
// (XAUTOCLAIM) by another after `claimIdleMs`. Writes are idempotent, so
// replays are harmless.
//
// Which lessons: the registry sorted set (mutating processes add a lesson
// before their first write to it), plus a periodic sweep of the day's lessons
// from MySQL that re-registers any lesson whose stream holds records, so a
// stream can never be orphaned. A lesson idle and empty for `retireAfterMs`
// leaves the registry (only if nobody re-registered it meanwhile) and its empty
// stream is deleted atomically (only if still empty).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { WriteBehindConfig } from '../config.js';
import type { TraceContext } from '../model/trace.js';
import { lessonsAround } from '../store/mysql/lessons.js';
import type { Pool } from '../store/mysql/pool.js';
import { writeStateRows } from '../store/mysql/stateTables.js';
import type { RedisClient } from '../store/redis/client.js';
import { lessonKeys, writeBehindRegistryKey } from '../store/redis/keys.js';
import { ackRecords, forgetLesson, retireStream } from '../store/redis/writeBehindStream.js';
import type { Span, Tracing } from '../tracing.js';
import { flusherMetrics, type FlusherMetrics } from './metrics.js';
import { detectRollback, type RollbackCheck } from './rollback.js';
import { coalesce, decodeRecord, entryTime, type WbRecord } from './records.js';

/** Consumer group every flusher joins. */
export const FLUSH_GROUP = 'orgengine-flush';

/** Options of a flusher. */
export interface FlusherOptions {
  redis: RedisClient;
  pool: Pool;
  keyPrefix: string;
  wb: Pick<WriteBehindConfig, 'readCount' | 'maxBatchRecords' | 'pollMs' | 'idlePollMaxMs' | 'claimIdleMs' | 'retryMaxMs' | 'retireAfterSeconds'>;
  /** Rows per multi-row INSERT. */
  batchRows: number;
  /** Consumer name; unique per process by default. */
  consumer?: string;
  /** Watch exactly these lessons instead of the registry. */
  lessons?: readonly number[];
  /** Re-read the registry this often (ms). */
  registryRefreshMs?: number;
  /** Sweep MySQL's lessons of the day for unregistered streams this often (ms); 0 = never. */
  sweepEveryMs?: number;
  /** Sample stream lengths for the gauges this often (ms). */
  sampleEveryMs?: number;
  /** Compare each watched lesson's Redis version with MySQL's this often (ms; rollback detection); 0 = never. */
  rollbackCheckEveryMs?: number;
  /** Streams read concurrently. */
  concurrency?: number;
  metrics?: Registry;
  log?: Logger;
  /** When it exports, each batch's MySQL write is a span linked to the requests whose records it writes. */
  tracing?: Tracing;
  now?: () => number;
  /** Called after each committed and acknowledged batch (benchmarks, tests). */
  onFlush?: (info: FlushInfo) => void;
}

/** One committed batch. */
export interface FlushInfo {
  records: number;
  rows: number;
  statements: number;
  /** Per record: commit time minus the stream entry's time (ms). */
  lagsMs: number[];
  /** Time spent reading the streams, writing MySQL (through commit) and acknowledging (ms). */
  readMs: number;
  writeMs: number;
  ackMs: number;
}

/** What one cycle did. */
export interface CycleResult {
  records: number;
  rows: number;
  lessons: number;
}

/** A lesson's stream as this flusher reads it: where it is, and how reading it has gone. */
interface WatchedLesson {
  lessonId: number;
  stream: string;
  groupReady: boolean;
  /** Re-read this consumer's own pending records (after a failed write) before new ones. */
  readPending: boolean;
  idleStreak: number;
  idleUntil: number;
  lastClaimAt: number;
  claimCursor: string;
  /** Registry score as last read (string, compared exactly by wb_forget). */
  score: string | null;
}

interface Entry {
  ls: WatchedLesson;
  id: string;
  fields: string[] | null;
}

type StreamEntries = Array<[string, string[] | null]>;

interface Batch {
  entries: Entry[];
  readMs: number;
}

const errMsg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Distinct traces of one batch named in its log lines and linked from its span, at most. */
export const MAX_BATCH_TRACES = 16;

/** The distinct traces a batch's records carry (first MAX_BATCH_TRACES). */
function batchTraces(records: readonly WbRecord[]): TraceContext[] {
  const out: TraceContext[] = [];
  for (const r of records) {
    const t = r.trace;
    if (t === undefined || out.some((o) => o.traceId === t.traceId)) continue;
    // A stamp without its span id still names the trace; its link then points at no span in particular.
    out.push({ traceId: t.traceId, spanId: t.spanId ?? '', flags: 1 });
    if (out.length === MAX_BATCH_TRACES) break;
  }
  return out;
}

/** Reads lesson streams and writes them behind to MySQL. */
export class Flusher {
  readonly consumer: string;
  readonly metrics: FlusherMetrics;
  private readonly o: Required<Pick<FlusherOptions, 'registryRefreshMs' | 'sweepEveryMs' | 'sampleEveryMs' | 'concurrency' | 'rollbackCheckEveryMs'>>;
  private nextRollbackCheck = 0;
  /** Lessons found rolled back (alarmed once until they are no longer). */
  private readonly rolledBack = new Set<number>();
  private readonly registryKey: string;
  private readonly now: () => number;
  private readonly lessons = new Map<number, WatchedLesson>();
  private nextRefresh = 0;
  private nextSweep = 0;
  private nextSample = 0;
  private rotate = 0;
  private failures = 0;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private acking: Promise<void> = Promise.resolve();

  constructor(private readonly opts: FlusherOptions) {
    const w = opts.wb;
    for (const [k, v] of Object.entries({ readCount: w.readCount, maxBatchRecords: w.maxBatchRecords, pollMs: w.pollMs, batchRows: opts.batchRows })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Flusher: ${k} must be a positive integer, got ${v}`);
    }
    this.o = {
      registryRefreshMs: opts.registryRefreshMs ?? 500,
      sweepEveryMs: opts.sweepEveryMs ?? 60_000,
      sampleEveryMs: opts.sampleEveryMs ?? 5000,
      rollbackCheckEveryMs: opts.rollbackCheckEveryMs ?? 30_000,
      concurrency: opts.concurrency ?? 32,
    };
    this.consumer = opts.consumer ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.registryKey = writeBehindRegistryKey(opts.keyPrefix);
    this.now = opts.now ?? Date.now;
    this.metrics = flusherMetrics(opts.metrics);
    for (const id of opts.lessons ?? []) this.track(id, null);
  }

  /** Starts the background loop (idempotent). */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Stops after the batch in flight and the one already read are committed and acknowledged (or, on failure, left pending). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  /** Lesson ids currently watched. */
  watched(): number[] {
    return [...this.lessons.keys()];
  }

  /**
   * The background loop, pipelined: the next batch is read while the current
   * one is written to MySQL, and a batch is acknowledged while the next one is
   * written. Safe because order does not matter (versions decide) and nothing
   * is acknowledged before its commit.
   */
  private async run(): Promise<void> {
    let next: Promise<Batch> | null = null;
    while (!this.stopping) {
      try {
        const batch = await (next ?? this.collect());
        next = null;
        if (batch.entries.length === 0) {
          await this.sleep(this.opts.wb.pollMs);
          continue;
        }
        next = this.collect();
        next.catch(() => undefined); // surfaces when awaited next round
        await this.flushEntries(batch, false);
        this.failures = 0;
      } catch (e) {
        // A prefetched batch stays pending for this consumer: re-read from the pending list.
        if (next) await next.catch(() => undefined);
        next = null;
        for (const ls of this.lessons.values()) ls.readPending = true;
        this.failures++;
        const wait = Math.min(this.opts.wb.retryMaxMs, 50 * 2 ** Math.min(this.failures, 16)) * (0.5 + Math.random() / 2);
        this.opts.log?.warn({ err: errMsg(e), failures: this.failures, retryInMs: Math.round(wait) }, 'write-behind flush failed; retrying');
        await this.sleep(wait);
      }
    }
    // Shutting down: write what was already read, so it is not left to a claim.
    const last = next ? await next.catch(() => null) : null;
    if (last && last.entries.length > 0) {
      await this.flushEntries(last, true).catch((e: unknown) => this.opts.log?.warn({ err: errMsg(e) }, 'write-behind final flush failed; records stay pending'));
    }
    await this.acking;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /**
   * Flushes until every watched stream (or the given lessons') is empty, or the
   * deadline passes. Returns true when drained. Idle back-off is ignored.
   */
  async drain(timeoutMs: number, lessonIds?: readonly number[]): Promise<boolean> {
    const deadline = this.now() + timeoutMs;
    for (const id of lessonIds ?? []) this.track(id, null);
    for (;;) {
      for (const ls of this.lessons.values()) ls.idleUntil = 0;
      let r: CycleResult | null = null;
      try {
        r = await this.cycle();
      } catch (e) {
        this.opts.log?.warn({ err: errMsg(e) }, 'write-behind drain cycle failed; retrying');
      }
      if (r && r.records === 0) {
        const ids = lessonIds ?? this.watched();
        const lens = await Promise.all(ids.map((id) => this.opts.redis.xlen(lessonKeys(this.opts.keyPrefix, id).writeBehind)));
        if (lens.every((n) => n === 0)) return true;
      }
      if (this.now() >= deadline) return false;
      await new Promise((res) => setTimeout(res, r && r.records > 0 ? 0 : this.opts.wb.pollMs));
    }
  }

  /** One pass: read due lessons, write one transaction, acknowledge. Throws on failure (records stay pending). */
  async cycle(): Promise<CycleResult> {
    const r = await this.flushEntries(await this.collect(), true);
    return r;
  }

  /** Reads the due lessons' streams, up to maxBatchRecords entries. */
  private async collect(): Promise<Batch> {
    const t0 = performance.now();
    const now = this.now();
    if (now >= this.nextRefresh) await this.refresh(now);
    if (now >= this.nextSample) await this.sample(now);
    if (this.o.rollbackCheckEveryMs > 0 && now >= this.nextRollbackCheck) await this.checkRollbacks(now);

    const all = [...this.lessons.values()];
    const due: WatchedLesson[] = [];
    for (let i = 0; i < all.length; i++) {
      const ls = all[(i + this.rotate) % all.length]!;
      if (ls.idleUntil <= now) due.push(ls);
    }
    this.rotate = all.length > 0 ? (this.rotate + 1) % all.length : 0;

    const entries: Entry[] = [];
    const w = this.opts.wb;
    for (let i = 0; i < due.length && entries.length < w.maxBatchRecords; i += this.o.concurrency) {
      const chunk = due.slice(i, i + this.o.concurrency);
      const count = Math.max(1, Math.min(w.readCount, Math.floor((w.maxBatchRecords - entries.length) / chunk.length)));
      const got = await Promise.all(chunk.map((ls) => this.read(ls, now, count)));
      for (const list of got) for (const e of list) entries.push(e);
    }
    return { entries, readMs: performance.now() - t0 };
  }

  /**
   * Writes one batch in a transaction, then acknowledges it: awaited when
   * `waitAck`, else in the background (at most one acknowledgement in flight).
   */
  private async flushEntries({ entries, readMs }: Batch, waitAck: boolean): Promise<CycleResult> {
    if (entries.length === 0) {
      await this.acking;
      return { records: 0, rows: 0, lessons: 0 };
    }
    const records: WbRecord[] = [];
    const touched = new Set<WatchedLesson>();
    for (const e of entries) {
      touched.add(e.ls);
      if (e.fields === null) continue; // deleted while pending: nothing to write, just acknowledge
      const r = decodeRecord(e.ls.lessonId, e.fields);
      if (r) records.push(r);
      else {
        this.metrics.badRecords.inc();
        this.opts.log?.error({ lessonId: e.ls.lessonId, id: e.id, fields: e.fields }, 'write-behind record no table can hold; acknowledged without writing');
      }
    }

    const traces = batchTraces(records);
    const traceIds = traces.map((t) => t.traceId);
    const tracing = this.opts.tracing?.exporting ? this.opts.tracing : null;
    const span: Span | null = tracing
      ? tracing.startSpan('write-behind batch', null, { 'orgengine.wb.records': entries.length, 'orgengine.wb.lessons': touched.size, 'orgengine.wb.trace_ids': traceIds.join(',') }, traces.filter((t) => t.spanId !== ''))
      : null;
    const t1 = performance.now();
    let sink;
    try {
      sink = await writeStateRows(this.opts.pool, coalesce(records), this.opts.batchRows, (n) => this.metrics.insertRows.observe(n));
    } catch (e) {
      for (const ls of touched) ls.readPending = true;
      this.metrics.retries.inc({ stage: 'mysql' });
      span?.end(e);
      this.opts.log?.warn({ err: errMsg(e), lessons: [...touched].map((ls) => ls.lessonId), records: entries.length, traceIds }, 'write-behind batch not written; records stay pending');
      throw e;
    }
    const committed = this.now();
    const t2 = performance.now();
    this.metrics.writeSeconds.observe((t2 - t1) / 1000);
    span?.end();
    if (this.opts.log?.isLevelEnabled('debug')) {
      this.opts.log.debug({ lessons: [...touched].map((ls) => ls.lessonId), records: entries.length, rows: sink.rows, traceIds }, 'write-behind batch written');
    }

    const byLesson = new Map<WatchedLesson, string[]>();
    for (const e of entries) {
      let ids = byLesson.get(e.ls);
      if (!ids) byLesson.set(e.ls, (ids = []));
      ids.push(e.id);
    }
    const info: FlushInfo = { records: entries.length, rows: sink.rows, statements: sink.statements, lagsMs: [], readMs, writeMs: t2 - t1, ackMs: 0 };
    const ack = async () => {
      const t3 = performance.now();
      try {
        await Promise.all(
          [...byLesson].map(([ls, ids]) => ackRecords(this.opts.redis, ls.stream, FLUSH_GROUP, ids)),
        );
      } catch (e) {
        // Committed but not acknowledged: read again and re-upserted, which changes nothing.
        for (const ls of touched) ls.readPending = true;
        this.metrics.retries.inc({ stage: 'ack' });
        throw e;
      }
      info.ackMs = performance.now() - t3;
      const lags = new Array<number>(entries.length);
      for (let i = 0; i < entries.length; i++) {
        const lag = Math.max(0, committed - entryTime(entries[i]!.id));
        lags[i] = lag;
        this.metrics.lag.observe(lag / 1000);
      }
      info.lagsMs = lags;
      this.metrics.records.inc(entries.length);
      this.metrics.batchRecords.observe(entries.length);
      this.opts.onFlush?.(info);
    };
    // One acknowledgement in flight at a time. If it fails, the lessons re-read their
    // pending records (the catch in ack), so nothing committed stays unacknowledged.
    await this.acking;
    const p = ack();
    this.acking = p.catch((e: unknown) => {
      this.opts.log?.warn({ err: errMsg(e) }, 'write-behind acknowledge failed; records will be re-read');
    });
    if (waitAck) await p;
    return { records: entries.length, rows: sink.rows, lessons: byLesson.size };
  }

  private track(lessonId: number, score: string | null): WatchedLesson {
    let ls = this.lessons.get(lessonId);
    if (!ls) {
      ls = {
        lessonId,
        stream: lessonKeys(this.opts.keyPrefix, lessonId).writeBehind,
        groupReady: false,
        // A new consumer has no pending records, but reading '0' once is cheap and
        // also covers a restart that reuses a consumer name.
        readPending: true,
        idleStreak: 0,
        idleUntil: 0,
        lastClaimAt: 0,
        claimCursor: '0-0',
        score,
      };
      this.lessons.set(lessonId, ls);
      this.metrics.lessons.set(this.lessons.size);
    } else if (score !== null) ls.score = score;
    return ls;
  }

  /** Reads one lesson: claims idle consumers' records when due, then own pending or new records. */
  private async read(ls: WatchedLesson, now: number, count: number): Promise<Entry[]> {
    const redis = this.opts.redis;
    if (!ls.groupReady) {
      try {
        // From id 0: a stream written before any flusher saw it is read whole. No
        // MKSTREAM: a registered lesson that never wrote keeps no empty stream.
        await redis.xgroup('CREATE', ls.stream, FLUSH_GROUP, '0');
        ls.groupReady = true;
      } catch (e) {
        const msg = errMsg(e);
        if (msg.includes('BUSYGROUP')) ls.groupReady = true;
        else if (!msg.includes('requires the key to exist')) throw e;
      }
      if (!ls.groupReady) {
        this.idle(ls, now);
        return [];
      }
    }
    const out: Entry[] = [];
    // Claimed records are ours from then on, so reading our pending list may return them again.
    const seen = new Set<string>();
    try {
      const claimEvery = Math.max(10, Math.floor(this.opts.wb.claimIdleMs / 2));
      if (now - ls.lastClaimAt >= claimEvery) {
        ls.lastClaimAt = now;
        const r = (await redis.xautoclaim(ls.stream, FLUSH_GROUP, this.consumer, this.opts.wb.claimIdleMs, ls.claimCursor, 'COUNT', count)) as [
          string,
          StreamEntries,
          string[]?,
        ];
        ls.claimCursor = r[0];
        for (const [id, fields] of r[1]) {
          seen.add(id);
          out.push({ ls, id, fields });
        }
        if (r[1].length > 0) this.metrics.claimed.inc(r[1].length);
        if (ls.claimCursor === '0-0') await this.dropIdleConsumers(ls);
      }
      const res = (await redis.xreadgroup('GROUP', FLUSH_GROUP, this.consumer, 'COUNT', count, 'STREAMS', ls.stream, ls.readPending ? '0' : '>')) as
        | Array<[string, StreamEntries]>
        | null;
      const got = res?.[0]?.[1] ?? [];
      for (const [id, fields] of got) if (!seen.has(id)) out.push({ ls, id, fields });
      if (ls.readPending && got.length === 0) ls.readPending = false;
    } catch (e) {
      if (errMsg(e).includes('NOGROUP')) {
        // The stream was retired and written again since: recreate the group next time.
        ls.groupReady = false;
        return out;
      }
      throw e;
    }
    if (out.length === 0 && !ls.readPending) {
      this.idle(ls, now);
    } else {
      ls.idleStreak = 0;
      ls.idleUntil = 0;
    }
    return out;
  }

  /** Backs off polling a lesson that had nothing to read. */
  private idle(ls: WatchedLesson, now: number): void {
    ls.idleStreak++;
    ls.idleUntil = now + Math.min(this.opts.wb.idlePollMaxMs, this.opts.wb.pollMs * 2 ** Math.min(ls.idleStreak, 16));
  }

  /** Removes consumers of other processes that own nothing and have been idle long (dead flushers). */
  private async dropIdleConsumers(ls: WatchedLesson): Promise<void> {
    const info = (await this.opts.redis.xinfo('CONSUMERS', ls.stream, FLUSH_GROUP)) as unknown[][];
    for (const c of info) {
      const f: Record<string, unknown> = {};
      for (let i = 0; i + 1 < c.length; i += 2) f[String(c[i])] = c[i + 1];
      const name = String(f.name);
      if (name !== this.consumer && Number(f.pending) === 0 && Number(f.idle) > this.opts.wb.claimIdleMs * 10) {
        await this.opts.redis.xgroup('DELCONSUMER', ls.stream, FLUSH_GROUP, name);
      }
    }
  }

  /** Syncs the watched lessons with the registry, retires idle ones, sweeps MySQL when due. */
  private async refresh(now: number): Promise<void> {
    this.nextRefresh = now + this.o.registryRefreshMs;
    if (this.opts.lessons) return;
    const redis = this.opts.redis;
    const flat = await redis.zrange(this.registryKey, 0, -1, 'WITHSCORES');
    const inRegistry = new Set<number>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const id = Number(flat[i]);
      if (!Number.isSafeInteger(id) || id < 1) continue;
      inRegistry.add(id);
      this.track(id, flat[i + 1]!);
    }
    // Another flusher retired these (their streams were empty then); a new write re-registers.
    for (const id of [...this.lessons.keys()]) if (!inRegistry.has(id)) this.lessons.delete(id);

    const retireBefore = now - this.opts.wb.retireAfterSeconds * 1000;
    for (const ls of [...this.lessons.values()]) {
      if (ls.score === null || Number(ls.score) >= retireBefore || ls.idleStreak === 0 || ls.readPending) continue;
      if (!(await forgetLesson(redis, this.registryKey, ls.lessonId, ls.score))) continue;
      if (await retireStream(redis, ls.stream)) {
        this.lessons.delete(ls.lessonId);
        this.opts.log?.info({ lessonId: ls.lessonId }, 'write-behind stream retired');
      } else {
        await redis.zadd(this.registryKey, now, String(ls.lessonId));
        ls.score = String(now);
      }
    }
    if (this.o.sweepEveryMs > 0 && now >= this.nextSweep) {
      this.nextSweep = now + this.o.sweepEveryMs;
      await this.sweep(now);
    }
    this.metrics.lessons.set(this.lessons.size);
  }

  /** Registers any lesson of the surrounding days whose stream holds records but is not watched. */
  private async sweep(now: number): Promise<void> {
    const day = 86_400_000;
    const missing = (await lessonsAround(this.opts.pool, now - 2 * day, now + day)).filter((id) => !this.lessons.has(id));
    for (let i = 0; i < missing.length; i += this.o.concurrency) {
      const chunk = missing.slice(i, i + this.o.concurrency);
      const lens = await Promise.all(chunk.map((id) => this.opts.redis.xlen(lessonKeys(this.opts.keyPrefix, id).writeBehind)));
      for (let j = 0; j < chunk.length; j++) {
        if (lens[j]! > 0) {
          await this.opts.redis.zadd(this.registryKey, now, String(chunk[j]));
          this.track(chunk[j]!, String(now));
          this.opts.log?.warn({ lessonId: chunk[j], records: lens[j] }, 'write-behind stream found by the sweep, not the registry');
        }
      }
    }
  }

  /**
   * Rollback detection over the watched lessons: Redis's version counter below
   * MySQL's newest state version means Redis lost acknowledged writes. Raises
   * the alarm (error log, counter, gauge) once per lesson until it clears;
   * `orgengine reconcile --lesson ID --repair --from mysql` puts MySQL's state back.
   */
  async checkRollbacks(now: number): Promise<RollbackCheck[]> {
    this.nextRollbackCheck = now + this.o.rollbackCheckEveryMs;
    const found: RollbackCheck[] = [];
    const all = [...this.lessons.values()];
    for (let i = 0; i < all.length; i += this.o.concurrency) {
      const chunk = all.slice(i, i + this.o.concurrency);
      const checks = await Promise.all(chunk.map((ls) => detectRollback(this.opts.redis, this.opts.pool, lessonKeys(this.opts.keyPrefix, ls.lessonId))));
      for (const c of checks) {
        if (!c.rolledBack) {
          this.rolledBack.delete(c.lessonId);
          continue;
        }
        found.push(c);
        if (this.rolledBack.has(c.lessonId)) continue;
        this.rolledBack.add(c.lessonId);
        this.metrics.rollbacks.inc();
        this.opts.log?.error(
          { lessonId: c.lessonId, redisVersion: c.redisVersion, mysqlVersion: c.mysqlVersion },
          'in-class state in Redis is older than MySQL (Redis lost acknowledged writes); repair: orgengine reconcile --lesson ID --repair --from mysql',
        );
      }
    }
    this.metrics.rolledBackLessons.set(this.rolledBack.size);
    return found;
  }

  /** Samples stream lengths and the oldest record's age for the gauges. */
  private async sample(now: number): Promise<void> {
    this.nextSample = now + this.o.sampleEveryMs;
    let total = 0;
    let max = 0;
    let oldest = 0;
    const all = [...this.lessons.values()];
    for (let i = 0; i < all.length; i += this.o.concurrency) {
      const chunk = all.slice(i, i + this.o.concurrency);
      const lens = await Promise.all(chunk.map((ls) => this.opts.redis.xlen(ls.stream)));
      for (let j = 0; j < chunk.length; j++) {
        const n = lens[j]!;
        total += n;
        max = Math.max(max, n);
        if (n > 0) {
          const first = await this.opts.redis.xrange(chunk[j]!.stream, '-', '+', 'COUNT', 1);
          if (first[0]) oldest = Math.max(oldest, now - entryTime(first[0][0]));
        }
      }
    }
    this.metrics.streamLength.set(total);
    this.metrics.streamLengthMax.set(max);
    this.metrics.oldest.set(oldest / 1000);
  }
}
