// Writes a compiled lesson into a new version's keys, in pipelined chunks. The
// version stays invisible until the switch script points the head at it.
import type { PreloadMode } from '../../model/policy.js';
import type { Position, RoomSlot, Topology } from '../../model/topology.js';
import type { RedisClient } from './client.js';
import { pack } from './codec.js';
import { positionBucket, type LessonKeys } from './keys.js';
import { ChunkedPipeline } from './pipeline.js';

/** Bounds of a version write. */
export interface WriteVersionOptions {
  ttlSeconds: number;
  fieldsPerCommand: number;
  commandsPerPipeline: number;
  mode: PreloadMode;
}

/** What a version write did. */
export interface WriteVersionResult {
  commands: number;
  keys: number;
  posBuckets: number;
}

/** Number of position hashes for a lesson: each holds at most about one partition of students. */
export function positionBuckets(students: number, partitionSize: number): number {
  return Math.max(1, Math.ceil(students / partitionSize));
}

/** Writes every key of version `version` and its key index. */
export async function writeVersion(
  redis: RedisClient,
  lk: LessonKeys,
  topo: Topology,
  version: number,
  opts: WriteVersionOptions,
): Promise<WriteVersionResult> {
  const vk = lk.version(version);
  const pipe = new ChunkedPipeline(redis, opts.commandsPerPipeline);
  const step = opts.fieldsPerCommand;
  let keys = 1;

  // A key's name enters the version index before any of its data is sent (the
  // pipeline keeps order), so a run that dies midway can still be dropped whole.
  await pipe.add('SADD', [vk.index, vk.index]);
  await pipe.add('EXPIRE', [vk.index, opts.ttlSeconds]);
  const track = async (key: string): Promise<void> => {
    await pipe.add('SADD', [vk.index, key]);
    keys++;
  };

  // Hash fields in chunks of `step` pairs, then one EXPIRE for the key.
  const hset = async (key: string, pairs: Array<string | number | Buffer>): Promise<void> => {
    if (pairs.length === 0) return;
    await track(key);
    for (let i = 0; i < pairs.length; i += step * 2) await pipe.add('HSET', [key, ...pairs.slice(i, i + step * 2)]);
    await pipe.add('EXPIRE', [key, opts.ttlSeconds]);
  };

  const withPositions = opts.mode !== 'minimal';
  const posBuckets = withPositions ? positionBuckets(topo.positions.length, topo.lesson.partitionSize) : 0;
  const l = topo.lesson;
  await hset(vk.lesson, [
    'lessonId', l.lessonId, 'courseId', l.courseId, 'title', l.title, 'teacherUid', l.teacherUid,
    'startTime', l.startTime, 'endTime', l.endTime, 'policyId', l.policyId, 'bizType', l.bizType,
    'streamPolicy', l.streamPolicy, 'orgPolicy', l.orgPolicy, 'preloadMode', opts.mode,
    'partitionSize', l.partitionSize, 'studentCount', l.studentCount, 'roomCount', l.roomCount,
    'nodeCount', l.nodeCount, 'version', version, 'posBuckets', posBuckets,
    // In-class group picks read these (capacity, expansion threshold) in their script.
    ...(topo.groups
      ? ['groupCapacity', topo.groups.groupCapacity, 'groupsPerTeam', topo.groups.groupsPerTeam, 'expandBelowFreeSeats', topo.groups.expandBelowFreeSeats]
      : []),
    // The interaction scripts read the policy's timeouts here (lua/_interaction.lua ia_run).
    ...(topo.interaction?.inviteTimeoutMs ? ['iaInviteMs', topo.interaction.inviteTimeoutMs] : []),
    ...(topo.interaction?.connectTimeoutMs ? ['iaConnectMs', topo.interaction.connectTimeoutMs] : []),
  ]);
  await hset(vk.rooms, topo.rooms.flatMap((r) => [r.roomId, pack(r)]));
  await hset(vk.nodes, topo.nodes.flatMap((n) => [n.nodeId, pack(n)]));
  // Each node's ancestor path as plain text: score roll-ups (award.lua) read it per event.
  await hset(vk.paths, topo.nodes.flatMap((n) => [n.nodeId, n.path]));

  if (withPositions) {
    // Students sharing node and rooms share one encoded value; most do.
    const blobs = new Map<readonly RoomSlot[], Map<string, Buffer>>();
    const blobOf = (p: Position): Buffer => {
      let byNode = blobs.get(p.rooms);
      if (!byNode) blobs.set(p.rooms, (byNode = new Map()));
      let b = byNode.get(p.nodeId);
      if (!b) byNode.set(p.nodeId, (b = pack({ n: p.nodeId, r: p.rooms.map((s) => [s.roomId, s.partition]) })));
      return b;
    };
    const buckets: Array<Array<string | number | Buffer>> = Array.from({ length: posBuckets }, () => []);
    for (const p of topo.positions) buckets[positionBucket(p.uid, posBuckets)]!.push(p.uid, blobOf(p));
    for (let b = 0; b < posBuckets; b++) await hset(vk.positions(b), buckets[b]!);
  }

  if (opts.mode === 'full') {
    // Member partitions: score = join order, so pages come out in join order.
    const members = new Map<string, Array<string | number>>();
    for (const p of topo.positions) {
      for (const s of p.rooms) {
        const key = vk.members(s.roomId, s.partition);
        let list = members.get(key);
        if (!list) members.set(key, (list = []));
        list.push(p.order, p.uid);
      }
    }
    for (const [key, list] of members) {
      await track(key);
      for (let i = 0; i < list.length; i += step * 2) await pipe.add('ZADD', [key, ...list.slice(i, i + step * 2)]);
      await pipe.add('EXPIRE', [key, opts.ttlSeconds]);
    }
  }
  await pipe.flush();
  return { commands: pipe.sent, keys, posBuckets };
}

/** Deletes every key of a version (via its key index), in chunks. Returns keys removed. */
export async function dropVersion(redis: RedisClient, lk: LessonKeys, version: number, chunk = 500): Promise<number> {
  const vk = lk.version(version);
  const names = (await redis.smembers(vk.index)).filter((k) => k !== vk.index);
  let removed = 0;
  for (let i = 0; i < names.length; i += chunk) removed += await redis.unlink(...names.slice(i, i + chunk));
  // The index goes last: if this is interrupted, a later call still finds the rest.
  removed += await redis.unlink(vk.index);
  return removed;
}

/**
 * Deletes a whole preloaded lesson that no reader uses (a scratch copy): its
 * version, then its head, version counter and lock. In-class state is not touched.
 */
export async function dropPreloadedLesson(redis: RedisClient, lk: LessonKeys, version: number): Promise<void> {
  try {
    if (version > 0) await dropVersion(redis, lk, version);
  } finally {
    // One command: the three keys share the lesson's hash tag (one slot).
    await redis.unlink(lk.head, lk.versionSeq, lk.lock);
  }
}
