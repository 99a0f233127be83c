// What the operations console does, transport-neutral: each operation checks
// the caller (operators only), validates its input and reads or acts on Redis,
// MySQL and the preload queues directly, reusing the preload, check, sweep,
// reconcile and policy code the CLI runs. The HTTP layer (http.ts) only decodes,
// calls one of these, audits and encodes.
import type { Logger } from 'pino';
import { authorizeConsole } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import type { Config } from '../config.js';
import { OrgError } from '../errors.js';
import type { AlarmSettings } from '../model/alarms.js';
import { compileLesson } from '../model/compile.js';
import { parseDate, parseEntityId, parseId, parseLimit } from '../model/input.js';
import { parsePolicyConf, validatePolicyConf } from '../model/policy.js';
import { runCheck } from '../preload/check.js';
import { diffPolicies } from '../preload/diff.js';
import type { Jobs } from '../preload/jobs.js';
import { enqueueReopen, sweepDay } from '../preload/schedule.js';
import { dayStatus, type DayStatus } from '../preload/status.js';
import { reconcileLesson } from '../services/reconcile.js';
import { listAudit, openAlarms, recentAlarms, type AlarmRow, type AuditRow } from '../store/mysql/console.js';
import { bindPolicy, getBoundPolicy, getPolicyByName, listPolicies, putPolicy } from '../store/mysql/policies.js';
import type { Pool } from '../store/mysql/pool.js';
import { listChecks } from '../store/mysql/preloadChecks.js';
import { listRuns } from '../store/mysql/preloadRuns.js';
import { roomStatuses } from '../store/mysql/roomStatus.js';
import { readLessonInfo, readLessonSource } from '../store/mysql/source.js';
import type { RedisClient } from '../store/redis/client.js';
import { readNodeView, readOnline } from '../store/redis/edgeReads.js';
import { readInClassState, readSeats, signalSeqs, writeBehindBacklog } from '../store/redis/inClassState.js';
import { lessonKeys } from '../store/redis/keys.js';
import { readHead, readLesson } from '../store/redis/lessonReader.js';
import type { AlarmSettingsStore } from './settings.js';

/** What the console service works with. */
export interface ConsoleDeps {
  pool: Pool;
  redis: RedisClient;
  jobs: Jobs;
  config: Config;
  log: Logger;
  settings: AlarmSettingsStore;
  now?: () => number;
}

/** Shown lists are cut here (the counts stay whole). */
const LIST_MAX = 200;

/** An action that changes something must be confirmed by the operator (`confirm: true`). */
function requireConfirm(body: Record<string, unknown>, what: string): void {
  if (body.confirm !== true) throw new OrgError('BAD_REQUEST', `${what} needs confirmation: send {"confirm": true}`, { fields: ['confirm'] });
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OrgError('BAD_REQUEST', 'expected a JSON object body');
  return body as Record<string, unknown>;
}

function policyName(v: unknown, field = 'policy'): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new OrgError('BAD_REQUEST', `${field}: a policy name of 1-64 chars of [A-Za-z0-9_.-], got ${JSON.stringify(v)}`, { fields: [field] });
  return v;
}

/** The operations console's operations. */
export class ConsoleService {
  private readonly now: () => number;

  constructor(private readonly d: ConsoleDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Who is signed in. */
  me(c: Caller): { uid: number; role: string } {
    authorizeConsole(c, 'use the console');
    return { uid: c.uid, role: c.role };
  }

  /** Every lesson of a day with its preload state, duration against the expected one (from the alarm settings), check, and open alarms. */
  async day(c: Caller, date: unknown): Promise<DayStatus & { alarms: AlarmRow[]; settings: AlarmSettings }> {
    authorizeConsole(c, 'read the day');
    const d = parseDate(date, 'date');
    const settings = await this.d.settings.get();
    const st = await dayStatus(this.d.pool, this.d.jobs, d, settings, this.now());
    const ids = new Set(st.lessons.map((l) => l.lessonId));
    const alarms = (await openAlarms(this.d.pool)).filter((a) => a.lessonId === null || ids.has(a.lessonId));
    return { ...st, alarms, settings };
  }

  /** One lesson: policy, rooms with status and online counts, groups, muted, signals, write-behind backlog, preload and check history. */
  async lesson(c: Caller, id: unknown): Promise<Record<string, unknown>> {
    authorizeConsole(c, 'read a lesson');
    const lessonId = parseId(id, 'lesson');
    const { pool, redis, config } = this.d;
    const info = await readLessonInfo(pool, lessonId);
    if (!info) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
    const lk = lessonKeys(config.keyPrefix, lessonId);
    const [bound, head, runs, checks, statuses, backlog, alarms] = await Promise.all([
      getBoundPolicy(pool, lessonId),
      readHead(redis, lk),
      listRuns(pool, lessonId, 20),
      listChecks(pool, lessonId, 20),
      roomStatuses(pool, lessonId),
      writeBehindBacklog(redis, lk),
      openAlarms(pool),
    ]);
    const now = this.now();
    let preloaded: Record<string, unknown> | null = null;
    if (head.version > 0) {
      const { lesson, rooms: stored } = await readLesson(redis, lk);
      // The main room first (its root is the lesson's root node), then the rest by opening time.
      const rooms = [...stored].sort((a, b) => Number(b.roomType === 'main') - Number(a.roomType === 'main') || a.startTime - b.startTime || a.roomId.localeCompare(b.roomId));
      const since = now - config.api.onlineWindowMs;
      const seqs = await signalSeqs(redis, lk, rooms.map((r) => r.roomId));
      const roomViews = [];
      for (const r of rooms) {
        const online = await readOnline(redis, lk, r.roomId, since);
        roomViews.push({ ...r, status: statuses.get(r.roomId) ?? 'scheduled', online: online.online, onlineByPartition: online.partitions, signalSeq: seqs.get(r.roomId) ?? 0 });
      }
      // One pass over the in-class state: picks, sign-ins, groups made in class, and each room's muted sets (no online sets).
      const state = await readInClassState(redis, lk, rooms.map((r) => ({ roomId: r.roomId, partitions: 0 })));
      const seats = await readSeats(redis, lk);
      const groupCap = bound?.policy ? safeConf(bound.policy.confText, config.defaultPartitionSize)?.groups.groupCapacity ?? null : null;
      const mutedStudents = rooms.flatMap((r) => (state.muted.get(r.roomId) ?? []).map((uid) => ({ roomId: r.roomId, uid })));
      const mutedNodes = rooms.flatMap((r) => (state.mutedNodes.get(r.roomId) ?? []).map((nodeId) => ({ roomId: r.roomId, nodeId })));
      preloaded = {
        lesson,
        rooms: roomViews,
        rootNodeId: rooms[0]?.rootNodeId ?? null,
        groups: [...seats.entries()].slice(0, LIST_MAX).map(([groupId, taken]) => ({ groupId, taken: Number(taken), capacity: groupCap })),
        groupCount: seats.size,
        picks: state.groups.size,
        signedIn: state.signIns.size,
        dynamicGroups: state.dynamicNodes.size,
        muted: { students: mutedStudents.slice(0, LIST_MAX), nodes: mutedNodes.slice(0, LIST_MAX), studentCount: mutedStudents.length, nodeCount: mutedNodes.length },
      };
    }
    return {
      lessonId,
      info,
      policy: bound?.policy ? { policyId: bound.policy.policyId, name: bound.policy.name, conf: safeConf(bound.policy.confText, config.defaultPartitionSize) } : null,
      head,
      preloaded,
      writeBehind: { length: backlog.length, lagMs: backlog.oldestAt === null ? 0 : Math.max(0, now - backlog.oldestAt), maxStreamLength: config.writeBehind.maxStreamLength },
      runs,
      checks,
      alarms: alarms.filter((a) => a.lessonId === lessonId),
      now,
    };
  }

  /** One level of a lesson's org tree: a node (the root when none is named), its children and ancestors, with counts. */
  async nodes(c: Caller, id: unknown, node: unknown): Promise<Record<string, unknown>> {
    authorizeConsole(c, 'read the org tree');
    const lessonId = parseId(id, 'lesson');
    const lk = lessonKeys(this.d.config.keyPrefix, lessonId);
    let nodeId = node === undefined || node === '' ? null : parseEntityId('node', node);
    if (nodeId === null) {
      const { rooms } = await readLesson(this.d.redis, lk);
      nodeId = (rooms.find((r) => r.roomType === 'main') ?? rooms[0])?.rootNodeId ?? null;
      if (nodeId === null) throw new OrgError('LESSON_NOT_READY', `lesson ${lessonId} has no rooms`);
    }
    const v = await readNodeView(this.d.redis, lk, nodeId);
    return { version: v.version, node: v.node, ancestors: v.ancestors, children: v.children.slice(0, 1000), childCount: v.children.length };
  }

  /** Preload now: re-enqueues the lesson's preload (and check) ahead of the schedule. */
  async preload(c: Caller, id: unknown, body: unknown, traceparent?: string): Promise<{ lessonId: number; result: 'enqueued' | 'pending' }> {
    authorizeConsole(c, 'preload lessons');
    const lessonId = parseId(id, 'lesson');
    requireConfirm(objectBody(body), 'preload');
    const info = await readLessonInfo(this.d.pool, lessonId);
    if (!info) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
    return { lessonId, result: await enqueueReopen(this.d.jobs, this.d.pool, lessonId, info.startTime, traceparent) };
  }

  /** Re-check: queues one check of the lesson's readable version (a check worker runs it). */
  async recheck(c: Caller, id: unknown, body: unknown, traceparent?: string): Promise<{ lessonId: number; jobId: string }> {
    authorizeConsole(c, 'check lessons');
    const lessonId = parseId(id, 'lesson');
    requireConfirm(objectBody(body), 're-check');
    const info = await readLessonInfo(this.d.pool, lessonId);
    if (!info) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
    const date = new Date(info.startTime).toISOString().slice(0, 10);
    // BullMQ takes custom ids with ':' only in exactly three parts.
    const jobId = `recheck-${this.now()}:${lessonId}:${date}`;
    await this.d.jobs.check.add('check', { lessonId, date, ...(traceparent ? { traceparent } : {}) }, { jobId, attempts: 3, backoff: { type: 'exponential', delay: this.d.config.jobs.checkDelayMs }, removeOnComplete: 100, removeOnFail: 100 });
    return { lessonId, jobId };
  }

  /** Re-check in this process, waiting for the report (for an operator who wants the answer now). */
  async checkNow(c: Caller, id: unknown, body: unknown): Promise<unknown> {
    authorizeConsole(c, 'check lessons');
    const lessonId = parseId(id, 'lesson');
    requireConfirm(objectBody(body), 'check');
    return runCheck({ pool: this.d.pool, redis: this.d.redis, config: this.d.config, log: this.d.log }, lessonId);
  }

  /** Sweeps one day now: re-enqueues what is not ready or failed. */
  async sweep(c: Caller, body: unknown): Promise<unknown> {
    authorizeConsole(c, 'sweep');
    const b = objectBody(body);
    const date = parseDate(b.date, 'date');
    requireConfirm(b, 'sweep');
    const s = await this.d.settings.get();
    return sweepDay(this.d.jobs, this.d.pool, date, s, this.d.log, this.now());
  }

  /** Reconciles the lesson's in-class state between Redis and MySQL (repairs only when asked). */
  async reconcile(c: Caller, id: unknown, body: unknown): Promise<unknown> {
    authorizeConsole(c, 'reconcile');
    const lessonId = parseId(id, 'lesson');
    const b = objectBody(body);
    requireConfirm(b, 'reconcile');
    if (b.repair !== undefined && typeof b.repair !== 'boolean') throw new OrgError('BAD_REQUEST', 'repair: expected true or false', { fields: ['repair'] });
    const { config } = this.d;
    return reconcileLesson(
      { redis: this.d.redis, pool: this.d.pool, keyPrefix: config.keyPrefix, ttlSeconds: config.ttlSeconds, wb: config.writeBehind, batchRows: config.mysqlBatchRows, log: this.d.log, now: this.now },
      lessonId,
      { repair: b.repair === true },
    );
  }

  /** Every policy with its conf (or why it no longer validates) and how many lessons follow it. */
  async policies(c: Caller): Promise<unknown[]> {
    authorizeConsole(c, 'read policies');
    return (await listPolicies(this.d.pool)).map((p) => ({ ...p, conf: safeConf(p.confText, this.d.config.defaultPartitionSize), confText: p.confText }));
  }

  /** One policy by name. */
  async policy(c: Caller, name: unknown): Promise<unknown> {
    authorizeConsole(c, 'read policies');
    const p = await getPolicyByName(this.d.pool, policyName(name, 'name'));
    if (!p) throw new OrgError('POLICY_NOT_FOUND', `no policy named ${JSON.stringify(name)}`);
    return { ...p, conf: safeConf(p.confText, this.d.config.defaultPartitionSize) };
  }

  /** Creates or replaces a policy; POLICY_INVALID names every bad field (details.fields) and nothing is stored. */
  async putPolicy(c: Caller, name: unknown, body: unknown): Promise<unknown> {
    authorizeConsole(c, 'change policies');
    const n = policyName(name, 'name');
    const b = objectBody(body);
    if (b.conf === undefined) throw new OrgError('POLICY_INVALID', 'conf: required', { fields: ['conf'], problems: ['conf: required'] });
    if (b.description !== undefined && typeof b.description !== 'string') throw new OrgError('BAD_REQUEST', 'description: expected text', { fields: ['description'] });
    const r = await putPolicy(this.d.pool, n, b.conf, (b.description as string | undefined) ?? '');
    return { name: n, policyId: r.policyId, conf: r.conf };
  }

  /** Binds a lesson to a policy. */
  async bind(c: Caller, id: unknown, body: unknown): Promise<{ lessonId: number; policyId: number }> {
    authorizeConsole(c, 'bind policies');
    const lessonId = parseId(id, 'lesson');
    const b = objectBody(body);
    const name = policyName(b.policy);
    if (!(await readLessonInfo(this.d.pool, lessonId))) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
    return { lessonId, policyId: await bindPolicy(this.d.pool, lessonId, name) };
  }

  /**
   * What a policy (stored, by name, or a draft conf) compiles to for a lesson:
   * counts of rooms, nodes by kind, positions and member partitions. Writes nothing.
   */
  async preview(c: Caller, id: unknown, body: unknown): Promise<unknown> {
    authorizeConsole(c, 'preview policies');
    const lessonId = parseId(id, 'lesson');
    const b = objectBody(body);
    const { pool, config } = this.d;
    let conf;
    if (b.conf !== undefined) conf = typeof b.conf === 'string' ? parsePolicyConf(b.conf, config.defaultPartitionSize) : validatePolicyConf(b.conf, config.defaultPartitionSize);
    else {
      const p = await getPolicyByName(pool, policyName(b.policy));
      if (!p) throw new OrgError('POLICY_NOT_FOUND', `no policy named ${JSON.stringify(b.policy)}`);
      conf = parsePolicyConf(p.confText, config.defaultPartitionSize);
    }
    const info = await readLessonInfo(pool, lessonId);
    if (!info) throw new OrgError('LESSON_NOT_FOUND', `lesson ${lessonId} does not exist`);
    const topo = compileLesson(await readLessonSource(pool, info), conf, { policyId: 0, maxStudents: config.maxStudentsPerLesson });
    const byKind: Record<string, number> = {};
    for (const n of topo.nodes) byKind[n.kind] = (byKind[n.kind] ?? 0) + 1;
    const byRoomType: Record<string, number> = {};
    for (const r of topo.rooms) byRoomType[r.roomType] = (byRoomType[r.roomType] ?? 0) + 1;
    return { lessonId, conf, counts: topo.counts, nodesByKind: byKind, roomsByType: byRoomType };
  }

  /** `orgengine diff` from the console: the lesson preloaded under two policies in scratch places, every difference. */
  async diff(c: Caller, id: unknown, body: unknown): Promise<unknown> {
    authorizeConsole(c, 'diff policies');
    const lessonId = parseId(id, 'lesson');
    const b = objectBody(body);
    const a = policyName(b.a, 'a');
    const bb = policyName(b.b, 'b');
    return diffPolicies({ pool: this.d.pool, redis: this.d.redis, config: this.d.config, log: this.d.log }, lessonId, a, bb);
  }

  /** The alarm settings in force. */
  async alarmSettings(c: Caller): Promise<AlarmSettings & { configuredWebhooks: string[] }> {
    authorizeConsole(c, 'read alarm settings');
    return { ...(await this.d.settings.get()), configuredWebhooks: this.d.config.console.webhooks };
  }

  /** Changes alarm settings; BAD_REQUEST names every bad field and nothing is stored. */
  async putAlarmSettings(c: Caller, body: unknown): Promise<AlarmSettings> {
    authorizeConsole(c, 'change alarm settings');
    return this.d.settings.put(body, c.uid);
  }

  /** Alarm episodes: open first, then the latest resolved. */
  async alarms(c: Caller, limit: unknown): Promise<{ open: AlarmRow[]; recent: AlarmRow[] }> {
    authorizeConsole(c, 'read alarms');
    const n = parseLimit(limit, { max: 1000, def: 100 });
    return { open: await openAlarms(this.d.pool), recent: await recentAlarms(this.d.pool, n) };
  }

  /** The audit trail, newest first. */
  async audit(c: Caller, limit: unknown, action: unknown): Promise<AuditRow[]> {
    authorizeConsole(c, 'read the audit trail');
    const n = parseLimit(limit, { max: 1000, def: 100 });
    if (action !== undefined && (typeof action !== 'string' || !/^[a-z.-]{1,64}$/.test(action))) throw new OrgError('BAD_REQUEST', 'action: expected an action name', { fields: ['action'] });
    return listAudit(this.d.pool, n, action as string | undefined);
  }
}

/** A stored conf, validated, or null when it no longer validates (shown as such). */
function safeConf(text: string, partitionSize: number) {
  try {
    return parsePolicyConf(text, partitionSize);
  } catch {
    return null;
  }
}
