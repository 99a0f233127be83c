// A preload run's hold on a lesson in Redis: begin (take the lock, get a new
// version number), switch (make the fully written version the one readers use,
// the single step that turns a preload visible), end (release the lock). One
// script each (lua/begin_preload.lua, switch_version.lua, end_preload.lua);
// their refusals become typed errors in replyCodes.ts.
import type { RedisClient } from './client.js';
import type { LessonKeys } from './keys.js';
import { REPLY_CODES, replyError } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const BEGIN_PRELOAD = scriptCommand('beginPreload');
const SWITCH_VERSION = scriptCommand('switchVersion');
const END_PRELOAD = scriptCommand('endPreload');

/** How a run takes the lock. */
export interface BeginOptions {
  /** Lock token of this run. */
  token: string;
  lockMs: number;
  runId: number;
  now: number;
  /** Expiry of the head and the version counter. */
  ttlSeconds: number;
  /** A lock held by a token starting with this is taken over (an earlier attempt of the same job). */
  takeOverPrefix?: string;
  /** Recorded on the head, so a retry can tell that this job's run already switched. */
  jobKey?: string;
}

/** What begin handed out. */
export interface Begun {
  /** The version this run writes. */
  version: number;
  /** The lesson's change counter now; the switch refuses if a change bumps it meanwhile. */
  changeSeq: number;
  /** The stalled attempt whose lock was taken over (its pending version and run), if any. */
  takenOver: { version: number; runId: number } | null;
}

/** Takes the lesson's preload lock and hands out a new version; PRELOAD_IN_PROGRESS when another run holds it. */
export async function beginPreload(redis: RedisClient, lk: LessonKeys, o: BeginOptions): Promise<Begun> {
  const reply = await redis[BEGIN_PRELOAD](lk.head, lk.lock, lk.versionSeq, o.token, o.lockMs, o.runId, o.now, o.ttlSeconds, o.takeOverPrefix ?? '', o.jobKey ?? '');
  const [code, version, changeSeq, staleVersion, staleRun] = reply;
  if (code !== REPLY_CODES.beginPreload.OK) throw replyError('beginPreload', reply, { lessonId: lk.lessonId });
  return { version, changeSeq, takenOver: staleVersion > 0 || staleRun > 0 ? { version: staleVersion, runId: staleRun } : null };
}

/** How a run switches. */
export interface SwitchOptions {
  version: number;
  token: string;
  runId: number;
  now: number;
  ttlSeconds: number;
  /** The change counter begin returned; omitted, no change fences the switch. */
  changeSeq?: number;
}

/**
 * Makes `version` the one readers use and returns the version it replaced (0
 * for none). PRELOAD_IN_PROGRESS when the lock is no longer this run's or a
 * newer version is readable; SOURCE_CHANGED when a change reached the lesson
 * since begin.
 */
export async function switchVersion(redis: RedisClient, lk: LessonKeys, o: SwitchOptions): Promise<number> {
  const reply = await redis[SWITCH_VERSION](lk.head, lk.lock, o.version, o.token, o.runId, o.now, o.ttlSeconds, lk.channel, o.changeSeq ?? '');
  if (reply[0] !== REPLY_CODES.switchVersion.OK) throw replyError('switchVersion', reply, { lessonId: lk.lessonId, version: o.version });
  return reply[1];
}

/**
 * Releases the lock if `token` still holds it; after a failed run the head goes
 * back to ready (an older version is readable) or failed. True when it was ours.
 */
export async function endPreload(redis: RedisClient, lk: LessonKeys, token: string, failed: boolean, now: number): Promise<boolean> {
  return (await redis[END_PRELOAD](lk.head, lk.lock, token, failed ? 1 : 0, now)) === 1;
}

/** The token holding the lesson's preload lock, or null. */
export async function preloadLockHolder(redis: RedisClient, lk: LessonKeys): Promise<string | null> {
  return redis.get(lk.lock);
}

/** The head fields a preload run, its retry and a check look at. */
export interface PreloadHead {
  /** The readable version (0: none). */
  version: number;
  /** The version a run is writing (0: none in flight). */
  pendingVersion: number;
  /** The run that switched the readable version in (or is writing one). */
  runId: number | null;
  /** Bumped by every change; compared as text. */
  changeSeq: string;
  /** The preload job that wrote the head last. */
  job: string | null;
}

/** The lesson head as the preload sees it. */
export async function readPreloadHead(redis: RedisClient, lk: LessonKeys): Promise<PreloadHead> {
  const [version, pending, runId, changeSeq, job] = await redis.hmget(lk.head, 'version', 'pendingVersion', 'runId', 'changeSeq', 'job');
  return {
    version: version ? Number(version) : 0,
    pendingVersion: pending ? Number(pending) : 0,
    runId: runId ? Number(runId) : null,
    changeSeq: changeSeq ?? '0',
    job: job ?? null,
  };
}
